import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { simpleGit } from "simple-git";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../../cli/program.js";
import { ExecaRunner } from "../../core/runner.js";
import { startDaemon, type DaemonOptions, type RunningDaemon } from "../../agent/daemon.js";
import { Journal } from "../../run/journal.js";
import { sandbox } from "../../sandbox/sandbox-env.js";
import { waitFor } from "./daemon-host.js";

/**
 * The agent's sources and guards on a UFW-only sandbox host (fast): a plain directory watched with chokidar,
 * a force-pushed branch refused unless allowed, unsigned commits held, a flapping rule no longer corrected,
 * and tack rollback after the agent stopped.
 */
const sb = sandbox({ parts: ["ufw"] });
const REPO_ROOT = path.resolve(import.meta.dirname, "../..");
const runner = new ExecaRunner();

function yaml(ports: number[], comment = "svc"): string {
  const rules = ports.map((p) => `      - { allow: tcp, port: ${p}, comment: ${comment}-${p} }`).join("\n");
  return `apiVersion: tack/v1
kind: Host
metadata: { name: sandbox-1 }
firewall:
  ufw:
    rules:
      - { allow: tcp, port: 22, comment: ssh }
${rules}
`;
}

async function ufwAdded(): Promise<string> {
  return (await runner.run("ufw", ["show", "added"])).stdout;
}

let daemons: RunningDaemon[] = [];
const logs: string[] = [];
async function start(o: Partial<DaemonOptions> & { repo: string; stateDir: string }): Promise<RunningDaemon> {
  const d = await startDaemon({ listen: "127.0.0.1:0", intervalMs: 1000, watchDebounceMs: 300, log: (l) => logs.push(l), ...o });
  daemons.push(d);
  return d;
}
afterEach(async () => {
  for (const d of daemons) await d.stop();
  daemons = [];
  // Leave no rule of this file for the next test.
  for (let i = 0; i < 30; i++) {
    const nums = (await runner.run("ufw", ["status", "numbered"])).stdout.split("\n").filter((l) => /tack:/.test(l) && /\b(5\d\d\d)\b/.test(l));
    const m = /^\[\s*(\d+)\]/.exec(nums[0] ?? "");
    if (!m) break;
    await runner.run("ufw", ["--force", "delete", m[1]!], { mutates: true });
  }
});

async function gitRepo(base: string) {
  const remote = path.join(base, "remote.git");
  const work = path.join(base, "work");
  await simpleGit().raw(["init", "--bare", "--initial-branch=main", remote]);
  await simpleGit().clone(remote, work);
  const git = simpleGit(work);
  await git.addConfig("user.email", "dev@example.org").addConfig("user.name", "dev");
  await git.raw(["checkout", "-B", "main"]);
  const commit = async (text: string, msg: string) => {
    await writeFile(path.join(work, "tack.yaml"), text);
    await git.add(".").commit(msg);
    return (await git.revparse(["HEAD"])).trim();
  };
  return { remote, work, git, commit };
}

describe("the agent's sources and guards (UFW only)", () => {
  it("follows a plain directory: a saved edit is applied (chokidar, debounced); its revision is the content hash", async () => {
    const base = await mkdtemp(path.join(sb.dir, "dirsrc-"));
    const repo = path.join(base, "repo");
    await mkdir(repo);
    await writeFile(path.join(repo, "tack.yaml"), yaml([51001]));
    const d = await start({ repo, stateDir: path.join(base, "state"), intervalMs: 10 * 60_000 });
    // The rule is in UFW before the run has finished (journal, revision marked): wait for both.
    await waitFor("first apply", async () => (await ufwAdded()).includes("51001") && d.status().appliedRevision !== undefined, 60_000);
    expect(d.status().appliedRevision).toMatch(/^dir-[0-9a-f]{12}$/);
    const first = d.status().appliedRevision;
    const t0 = Date.now();
    await writeFile(path.join(repo, "tack.yaml"), yaml([51001, 51002]));
    await waitFor("the edit applied", async () => (await ufwAdded()).includes("51002"), 30_000);
    const ms = Date.now() - t0;
    console.log(`directory source: save-to-applied ${ms} ms`);
    expect(ms).toBeLessThan(20_000); // the poll interval is 10 min: only the watcher can have seen it
    await waitFor("applied revision updated", async () => d.status().appliedRevision !== first, 10_000);
    // The source's reconcile may be followed by the drift check a runtime-unchanged commit owes (run/unchanged-runtime.ts).
    expect(d.status().recentReconciles.some((r) => r.triggers.includes("source"))).toBe(true);
  });

  it("refuses a force-pushed branch that does not descend from the applied commit, unless --allow-rewind", async () => {
    const base = await mkdtemp(path.join(sb.dir, "rewind-"));
    const r = await gitRepo(base);
    const c1 = await r.commit(yaml([52001]), "one");
    await r.git.push("origin", "main");
    const stateDir = path.join(base, "state");
    let d = await start({ repo: r.remote, stateDir });
    await waitFor("c1 applied", async () => d.status().appliedRevision === c1, 60_000);
    // Rewrite history: an orphan commit with a different rule, force-pushed.
    await r.git.raw(["checkout", "--orphan", "rewritten"]);
    const c2 = await r.commit(yaml([52002]), "rewritten");
    await r.git.push(["--force", "origin", "rewritten:main"]);
    const st = await waitFor("the rewind held", async () => (d.status().held ? d.status() : undefined), 30_000);
    expect(st.held).toMatch(/does not descend .*--allow-rewind/);
    expect(st.desiredRevision).toBe(c2);
    expect(st.appliedRevision).toBe(c1);
    expect(await ufwAdded()).not.toContain("52002");
    expect(await d.metrics.metrics()).toMatch(/tack_reconcile_total\{result="refused"\} 1/);
    await d.stop();
    d = await start({ repo: r.remote, stateDir, allowRewind: true });
    await waitFor("c2 applied with --allow-rewind", async () => d.status().appliedRevision === c2, 60_000);
    expect(await ufwAdded()).toContain("52002");
    expect(await ufwAdded()).not.toContain("52001");
  });

  it("--verify-signatures: an unsigned commit is reported, not applied; a commit signed by an allowed SSH key is applied", async () => {
    const base = await mkdtemp(path.join(sb.dir, "verify-"));
    const r = await gitRepo(base);
    const c1 = await r.commit(yaml([53001]), "unsigned");
    await r.git.push("origin", "main");
    const d = await start({ repo: r.remote, stateDir: path.join(base, "state"), verifySignatures: true, allowedSignersFile: path.join(base, "allowed_signers") });
    const st = await waitFor("held", async () => (d.status().held ? d.status() : undefined), 60_000);
    expect(st.held).toMatch(new RegExp(`${c1} has no trusted signature`));
    expect(st.appliedRevision).toBeUndefined();
    expect(await ufwAdded()).not.toContain("53001");

    // A commit signed with an SSH key that the allowed signers file trusts is applied.
    const key = path.join(base, "signing-key");
    await runner.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dev", "-f", key]);
    const pub = (await readFile(`${key}.pub`, "utf8")).trim();
    await writeFile(path.join(base, "allowed_signers"), `dev@example.org ${pub}\n`);
    await r.git.addConfig("gpg.format", "ssh").addConfig("user.signingkey", `${key}.pub`).addConfig("commit.gpgsign", "true");
    const c2 = await r.commit(yaml([53002]), "signed");
    await r.git.push("origin", "main");
    await d.trigger("webhook");
    await waitFor("the signed commit applied", async () => d.status().appliedRevision === c2, 60_000);
    expect(await ufwAdded()).toContain("53002");
    expect(d.status().held).toBeUndefined();
  });

  it("a rule deleted by hand over and over is corrected N times, then reported as flapping and left alone", async () => {
    const base = await mkdtemp(path.join(sb.dir, "flap-"));
    const r = await gitRepo(base);
    const c1 = await r.commit(yaml([54001, 54002]), "flap");
    await r.git.push("origin", "main");
    const d = await start({ repo: r.remote, stateDir: path.join(base, "state"), intervalMs: 10 * 60_000, driftIntervalMs: 1000, flap: { limit: 2, windowMs: 10 * 60_000 } });
    await waitFor("applied", async () => d.status().appliedRevision === c1, 60_000);
    const deleteRule = () => runner.run("ufw", ["--force", "delete", "allow", "54001/tcp"], { mutates: true });
    for (let i = 1; i <= 2; i++) {
      await deleteRule();
      await waitFor(`correction ${i}`, async () => (await ufwAdded()).includes("54001"), 30_000);
    }
    await deleteRule();
    const st = await waitFor("flapping reported", async () => (d.status().flapping.length && d.status().drift["ufw.rule"] ? d.status() : undefined), 30_000);
    expect(st.flapping[0]).toMatchObject({ ref: expect.stringContaining("54001") as unknown, corrections: 2 });
    await new Promise((res) => setTimeout(res, 3000)); // several drift checks later it is still not corrected
    expect(await ufwAdded()).not.toContain("54001");
    expect(await d.metrics.metrics()).toMatch(/tack_drift_resources\{kind="ufw.rule"\} 1/);
    const out: string[] = [];
    const code = await runCli(["status", "--state-dir", path.join(base, "state")], { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(code).toBe(0);
    expect(out.join("\n")).toMatch(/flapping: .*54001.* no longer corrected/);
    // Other drift is still corrected, and the flapping rule is still left alone.
    await runner.run("ufw", ["--force", "delete", "allow", "54002/tcp"], { mutates: true });
    await waitFor("54002 corrected", async () => (await ufwAdded()).includes("54002"), 30_000);
    expect(await ufwAdded()).not.toContain("54001");
  });

  it("observe mode: a change is reported as drift (status and metric), never applied", async () => {
    const base = await mkdtemp(path.join(sb.dir, "observe-"));
    const r = await gitRepo(base);
    const c1 = await r.commit(yaml([57001]), "enforced");
    await r.git.push("origin", "main");
    const d = await start({ repo: r.remote, stateDir: path.join(base, "state") });
    await waitFor("c1", async () => d.status().appliedRevision === c1, 60_000);
    const c2 = await r.commit(yaml([57001, 57002]) + "policy: { mode: observe }\n", "observe only");
    await r.git.push("origin", "main");
    const st = await waitFor("drift reported", async () => (d.status().desiredRevision === c2 && d.status().drift["ufw.rule"] ? d.status() : undefined), 30_000);
    expect(st.driftDetails.join("\n")).toMatch(/57002/);
    await d.trigger("drift");
    expect(await ufwAdded()).not.toContain("57002");
    expect(await d.metrics.metrics()).toMatch(/tack_drift_resources\{kind="ufw.rule"\} 1/);
  });

  it("tack rollback goes through the running agent; with the agent stopped it runs locally; the agent then keeps it", async () => {
    const base = await mkdtemp(path.join(sb.dir, "rollback-"));
    const r = await gitRepo(base);
    const stateDir = path.join(base, "state");
    const c1 = await r.commit(yaml([55001]), "one");
    await r.git.push("origin", "main");
    let d = await start({ repo: r.remote, stateDir });
    await waitFor("c1", async () => d.status().appliedRevision === c1, 60_000);
    const c2 = await r.commit(yaml([55002]), "two");
    await r.git.push("origin", "main");
    await waitFor("c2", async () => d.status().appliedRevision === c2, 60_000);
    const c3 = await r.commit(yaml([55003]), "three");
    await r.git.push("origin", "main");
    await waitFor("c3", async () => d.status().appliedRevision === c3, 60_000);

    // A real `tack rollback` in another process, while the agent runs: the agent does it (it holds the lock).
    const cli = await runner.run("node", ["--import", "tsx", path.join(REPO_ROOT, "cli/main.ts"), "rollback", "--state-dir", stateDir], { okExitCodes: [0, 1] });
    expect(cli.exitCode, cli.stdout + cli.stderr).toBe(0);
    expect(cli.stdout).toContain(`Rolled back from ${c3} to ${c2} (by the agent).`);
    expect(await ufwAdded()).toContain("55002");
    expect(await ufwAdded()).not.toContain("55003");
    expect(d.status().appliedRevision).toBe(c2);
    expect(d.status().lastReconcile).toMatchObject({ triggers: ["rollback"], result: "success", revision: c2 });
    expect(d.journal.revision(c3)?.status).toBe("failed");
    await d.trigger("poll");
    expect(d.status().appliedRevision).toBe(c2);
    // Nothing earlier than what is applied: the agent answers 400 and the CLI says why.
    const again = await runner.run("node", ["--import", "tsx", path.join(REPO_ROOT, "cli/main.ts"), "rollback", "--to", "0000000", "--state-dir", stateDir], { okExitCodes: [0, 1] });
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/no snapshot of 0000000/);

    await d.stop();
    const out: string[] = [];
    const o = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
    expect(await runCli(["rollback", "--state-dir", stateDir], o), out.join("\n")).toBe(0);
    expect(out.join("\n")).toContain(`Rolled back from ${c2} to ${c1}.`);
    expect(await ufwAdded()).toContain("55001");
    expect(await ufwAdded()).not.toContain("55002");
    const j = new Journal(stateDir);
    expect(j.revision(c2)?.status).toBe("failed");
    expect(j.lastGoodRevision()).toBe(c1);
    j.close();
    d = await start({ repo: r.remote, stateDir });
    await waitFor("reconciled", async () => d.status().lastReconcile, 60_000);
    await d.trigger("poll");
    expect(d.status().appliedRevision).toBe(c1);
    expect(d.status().held).toMatch(/marked failed; keeping/);
    expect(await ufwAdded()).not.toContain("55003");
  });
});

describe("crash recovery at start", () => {
  it("an agent killed mid-run: the next start rolls the run back, then applies its revision once more", async () => {
    const { execa } = await import("execa");
    const base = await mkdtemp(path.join(sb.dir, "crash-"));
    const r = await gitRepo(base);
    const stateDir = path.join(base, "state");
    const c1 = await r.commit(yaml([58001]), "one");
    await r.git.push("origin", "main");
    let d = await start({ repo: r.remote, stateDir });
    await waitFor("c1", async () => d.status().appliedRevision === c1, 60_000);
    await d.stop();
    daemons = [];
    const c2 = await r.commit(yaml([58001, 58002]), "two");
    await r.git.push("origin", "main");
    const crashed = await execa("node", ["--import", "tsx", path.join(REPO_ROOT, "cli/main.ts"), "daemon", "--repo", r.remote, "--listen", "127.0.0.1:0", "--state-dir", stateDir], {
      reject: false,
      env: { TACK_FAULT_KILL_BEFORE_PHASE: "firewall-open" },
      timeout: 120_000,
    });
    expect(crashed.signal).toBe("SIGKILL");
    let j = new Journal(stateDir);
    const interrupted = j.unfinishedRuns();
    j.close();
    expect(interrupted.map((x) => x.revision)).toEqual([c2]);

    d = await start({ repo: r.remote, stateDir });
    await waitFor("c2 applied after recovery", async () => d.status().appliedRevision === c2, 60_000);
    expect(await ufwAdded()).toContain("58002");
    j = d.journal;
    const runs = j.db.prepare("SELECT kind, status, revision FROM runs WHERE id >= ? ORDER BY id").all(interrupted[0]!.id);
    expect(runs).toEqual([
      { kind: "apply", status: "interrupted", revision: c2 },
      { kind: "rollback", status: "succeeded", revision: c2 },
      { kind: "apply", status: "succeeded", revision: c2 },
    ]);
    expect(d.status().lastError).toBeUndefined();
  });
});

describe("tack daemon as a process", () => {
  it("serves tack status through its listener, and exits 0 on SIGTERM, releasing the lock", async () => {
    const { execa } = await import("execa");
    const { existsSync } = await import("node:fs");
    const base = await mkdtemp(path.join(sb.dir, "process-"));
    const repo = path.join(base, "repo");
    const stateDir = path.join(base, "state");
    await mkdir(repo);
    await writeFile(path.join(repo, "tack.yaml"), yaml([56001]));
    const secret = path.join(base, "secret");
    await writeFile(secret, "a-webhook-secret-of-some-length\n", { mode: 0o600 });
    const child = execa("node", ["--import", "tsx", path.join(REPO_ROOT, "cli/main.ts"), "daemon", "--repo", repo, "--listen", "127.0.0.1:0", "--state-dir", stateDir, "--webhook-secret-file", secret, "--interval", "1m"], { reject: false });
    try {
      const out: string[] = [];
      const o = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
      await waitFor("applied, seen through tack status", async () => {
        out.length = 0;
        if (!existsSync(path.join(stateDir, "state.db"))) return undefined;
        await runCli(["status", "--state-dir", stateDir], o);
        return out.join("\n").includes("applied revision: dir-") && out.join("\n").includes("agent:            running");
      }, 60_000);
      expect(out.join("\n")).toMatch(/last reconcile: +(success|no-changes)/);
      expect(await ufwAdded()).toContain("56001");
    } finally {
      child.kill("SIGTERM");
    }
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/SIGTERM: finishing the current step/);
    expect(existsSync(path.join(stateDir, "tack.lock"))).toBe(false);
    const out: string[] = [];
    await runCli(["status", "--state-dir", stateDir], { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(out.join("\n")).toMatch(/agent: +not running/);
    expect(out.join("\n")).toMatch(/applied revision: dir-/);
  });
});
