import { cp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../../core/errors.js";
import { CF_TOKEN, islandflowHost, type IslandflowHost } from "../../sandbox/islandflow-host.js";
import { tack } from "../pr-plan/pr-repo.js";

/**
 * Secrets in the repo, encrypted with age (issue 20), on the sandbox host: files encrypted with Debian's `age` CLI
 * are decrypted by tack with the host's identity (default path, in the state dir), written with mode 0600, read by
 * the api's unit (EnvironmentFile=); a new secret restarts the api behind its gate; a wrong key, a tampered file
 * and a missing identity change nothing; a hand edit of the target is healed; the Cloudflare token comes from an
 * age secret; and no plaintext reaches a plan, a PR plan, the journal, the state dir or an event.
 */

const V1 = "first-pw-3b9f1c";
const V2 = "second-pw-8e2d70";
const WRONG = "wrong-key-pw-55aa01";
const PR = "pull-request-pw-c4e9";
const BROKEN = "broken-pw-d00d42";
const PLAINTEXTS = [V1, V2, WRONG, PR, BROKEN, CF_TOKEN];

const line = (v: string) => `ISLANDFLOW_DB_PASSWORD=${v}\n`;

describe("secrets: age files in the repo, decrypted on the host", () => {
  let h: IslandflowHost;
  let recipient: string;
  let target: string;
  let seen: string;
  const outputs: string[] = [];
  const ageFile = () => path.join(h.repo, "secrets", "api.env.age");
  const encrypt = (plaintext: string, to: string, out: string, armor = true) => execa("age", [...(armor ? ["-a"] : []), "-r", to, "-o", out], { input: plaintext });
  const apply = async () => {
    const out = await h.apply();
    outputs.push(JSON.stringify(out));
    return out;
  };

  beforeAll(async () => {
    h = await islandflowHost();
    // This host's identity, where tack looks by default (no --age-identity): the state dir.
    await rm(path.join(h.stateDir, "age-identity.txt"));
    await execa("age-keygen", ["-o", path.join(h.stateDir, "age-identity.txt")]);
    recipient = (await execa("age-keygen", ["-y", path.join(h.stateDir, "age-identity.txt")])).stdout.trim();
    await writeFile(path.join(h.repo, "secrets", "recipients.txt"), `${recipient}\n`);
    await encrypt(line(V1), recipient, ageFile());
    // The Cloudflare token as a secret too (binary age file): tack decrypts it for its own use and writes its target.
    await encrypt(`${CF_TOKEN}\n`, recipient, path.join(h.repo, "secrets", "cf-token.age"), false);
    target = path.join(h.dataRoot, "secrets", "api.env");
    const tokenFile = path.join(h.dataRoot, "cf", "token");
    await h.edit(/(\n {2}files:\n)/, `$1    - { source: secrets/cf-token.age, target: ${tokenFile} }\n`);
    await h.edit("token: { env: CLOUDFLARE_API_TOKEN }", `token: { file: ${tokenFile} }`);
    delete process.env.CLOUDFLARE_API_TOKEN;
    // The api's unit records the password it was started with.
    seen = path.join(h.dataRoot, "seen-password");
    // The api's unit records the password it was started with, and refuses to start with a "broken" one.
    await h.edit(
      "ExecStart=",
      // (by its prefix only: the unit file is in the repo, the plans and the snapshots, so it must not hold the plaintext)
      `ExecStartPre=/bin/busybox sh -c 'echo "$ISLANDFLOW_DB_PASSWORD" > ${seen}'\nExecStartPre=/bin/busybox sh -c 'case "$ISLANDFLOW_DB_PASSWORD" in broken-*) exit 1;; esac'\nExecStart=`,
      "units/islandflow-api.service",
    );
    await h.setOwners({ api: "native" });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("converges: the unit sees the value, the file is 0600 root, DNS went through with the token from its secret", async () => {
    const out = await apply();
    expect(out.status, out.error).toBe("applied");
    const st = await stat(target);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(0);
    expect(await readFile(target, "utf8")).toBe(line(V1));
    expect((await readFile(seen, "utf8")).trim()).toBe(V1);
    expect(await readFile(path.join(h.dataRoot, "cf", "token"), "utf8")).toBe(`${CF_TOKEN}\n`);
    expect(h.cf.records("example.org").map((r) => r.name).sort()).toEqual(["api.flow.example.org", "flow.example.org"]);
    expect((await h.plan()).plan.changes).toEqual([]);
  });

  it("a new secret restarts the api behind its gate, in its scope's runtime-start", async () => {
    await encrypt(line(V2), recipient, ageFile());
    h.events.splice(0);
    const out = await apply();
    expect(out.status, out.error).toBe("applied");
    expect((await readFile(seen, "utf8")).trim()).toBe(V2);
    const done = h.events.flatMap((e) => (e.type === "exec" && e.purpose === "apply" && e.event.type === "step-done" ? [`${e.event.step.phase}[${e.event.step.scope ?? ""}] ${e.event.step.kind ?? "gate"}`] : []));
    expect(done).toEqual(["runtime-start[api] secret.file", "runtime-start[api] systemd.unit", "health[api] gate"]);
    const unit = out.plan!.changes.find((c) => c.ref.kind === "systemd.unit");
    expect(unit?.fields).toEqual([{ field: "restart", from: null, to: "secret changed" }]);
  });

  it("a secret the api cannot start with fails its restart step, and the run is rolled back: the old secret, the api restarted", async () => {
    const good = await readFile(ageFile());
    await encrypt(line(BROKEN), recipient, ageFile());
    const out = await apply();
    expect(out.status, out.error).toBe("rolled-back");
    expect(out.error).toMatch(/islandflow-api\.service|health/);
    expect(await readFile(target, "utf8")).toBe(line(V2));
    expect((await readFile(seen, "utf8")).trim()).toBe(V2);
    await writeFile(ageFile(), good);
    expect((await apply()).status).toBe("no-changes");
  });

  it("a wrong key, a tampered file and a missing identity are refused before any step: the host is unchanged", async () => {
    const good = await readFile(ageFile());
    const runs = h.journal.lastRun()?.id;
    const other = path.join(h.stateDir, "other-identity.txt");
    await execa("age-keygen", ["-o", other]);
    await encrypt(line(WRONG), (await execa("age-keygen", ["-y", other])).stdout.trim(), ageFile());
    const wrong = await h.apply().catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(UserError);
    expect((wrong as Error).message).toMatch(/secrets\/api\.env\.age: this host's age identity .* cannot decrypt it: it was encrypted to 1 recipient\(s\) \(stanzas: X25519\)/);
    outputs.push((wrong as Error).message);

    await encrypt(line(WRONG), recipient, ageFile(), false);
    const bytes = await readFile(ageFile());
    bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0x01;
    await writeFile(ageFile(), bytes);
    const tampered = await h.apply().catch((e: unknown) => e);
    expect(tampered).toBeInstanceOf(UserError);
    expect((tampered as Error).message).toMatch(/secrets\/api\.env\.age: the age file is truncated or was tampered with/);
    outputs.push((tampered as Error).message);

    await writeFile(ageFile(), good);
    await rename(path.join(h.stateDir, "age-identity.txt"), path.join(h.stateDir, "moved.txt"));
    const missing = await h.apply().catch((e: unknown) => e);
    await rename(path.join(h.stateDir, "moved.txt"), path.join(h.stateDir, "age-identity.txt"));
    expect((missing as Error).constructor.name).toBe("HostError");
    expect((missing as Error).message).toContain("age-identity.txt cannot be read (ENOENT)");

    expect(h.journal.lastRun()?.id).toBe(runs);
    expect(await readFile(target, "utf8")).toBe(line(V2));
    expect((await readFile(seen, "utf8")).trim()).toBe(V2);
  });

  it("a hand edit of the target is seen by hash, shown without content, and healed with a restart", async () => {
    await writeFile(target, "ISLANDFLOW_DB_PASSWORD=edited-by-hand\n");
    await writeFile(seen, "stale\n");
    const { plan } = await h.plan();
    const change = plan.changes.find((c) => c.ref.kind === "secret.file");
    expect(change?.fields).toEqual([{ field: "content", from: "edited on the host", to: expect.stringMatching(/^age [0-9a-f]{12} \(content hidden\)$/) }]);
    expect(JSON.stringify(plan.changes)).not.toContain("edited-by-hand");
    const out = await apply();
    expect(out.status, out.error).toBe("applied");
    expect(await readFile(target, "utf8")).toBe(line(V2));
    expect((await readFile(seen, "utf8")).trim()).toBe(V2);
  });

  it("a PR plan shows the change with no plaintext; no output, event, journal or state file holds one", async () => {
    const git = (repo: string, ...args: string[]) => execa("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "commit.gpgsign=false", ...args]);
    const repo = path.join(path.dirname(h.repo), "pr-repo");
    await cp(h.repo, repo, { recursive: true });
    await git(repo, "init", "-q", "-b", "main");
    await git(repo, "add", ".");
    await git(repo, "commit", "-q", "-m", "base");
    await git(repo, "checkout", "-q", "-b", "pr");
    await encrypt(line(PR), recipient, path.join(repo, "secrets", "api.env.age"));
    await git(repo, "commit", "-q", "-am", "rotate the api's password");
    for (const format of ["markdown", "json", "text"]) {
      const r = await tack(["plan", "--repo", repo, "--base", "main", "--head", "pr", "--format", format]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`${h.dataRoot}/secrets/api.env`);
      expect(r.stdout).toContain("content hidden");
      outputs.push(r.stdout, r.stderr);
    }
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile()) files.push(p);
      }
    };
    await walk(h.stateDir);
    expect(files.some((f) => /\.(db|sqlite)/.test(f) || f.includes("journal"))).toBe(true);
    const haystack: [string, string][] = [
      ...outputs.map((o, i): [string, string] => [`output ${i}`, o]),
      ["events", JSON.stringify(h.events)],
      ["commands", JSON.stringify(h.runner.history)],
      ...(await Promise.all(files.map(async (f): Promise<[string, string]> => [f, await readFile(f, "latin1")]))),
    ];
    for (const secret of PLAINTEXTS) for (const [where, text] of haystack) expect(text.includes(secret), `a plaintext (${secret.slice(0, 6)}…) leaked into ${where}`).toBe(false);
  });
});
