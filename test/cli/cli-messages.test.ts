import { existsSync } from "node:fs";
import { cp, rename } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { Journal } from "../../run/journal.js";
import { edit, EXAMPLE, tempDir, tempRepo } from "../helpers/temp-repo.js";
import { prRepo, replace, tack } from "../pr-plan/pr-repo.js";

/**
 * Hints and flags that must not lie (issue 22, point 5): each message names the real key, each flag either works
 * or is refused, read-only commands create nothing, and JSON output is a document even when the input is bad.
 */

// No agent listens on port 1: status, suspend and resume fall back to the state DB at once.
const NO_AGENT = ["--listen", "127.0.0.1:1"];

describe("hints and flags that tell the truth", () => {
  it("the ssh-lockout hint names policy.safety.allowSshLockout, in text as in markdown", async () => {
    const repo = await prRepo([replace("tack.yaml", "      - { allow: tcp, port: 22, comment: ssh }\n", "", 1)]);
    for (const format of ["text", "markdown"]) {
      const r = await tack(["plan", "--repo", repo, "--base", "main", "--head", "pr", "--format", format]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("set policy.safety.allowSshLockout: true");
      expect(r.stdout).not.toMatch(/policy\.allowSshLockout/);
    }
    const text = await tack(["plan", "--repo", repo, "--base", "main", "--head", "pr"]);
    expect(text.stdout).toMatch(/error: ssh-lockout: .*\n {4}hint: Keep a rule such as/);
  });

  it("--out is refused with --offline and with --repo instead of being ignored", async () => {
    const dir = await tempDir();
    const offline = await tack(["plan", EXAMPLE, "--offline", "--out", path.join(dir, "p.json")]);
    expect(offline.code).toBe(1);
    expect(offline.stderr).toMatch(/--out saves a live plan .*--offline/);
    const repo = await prRepo([]);
    const pr = await tack(["plan", "--repo", repo, "--base", "main", "--head", "pr", "--out", path.join(dir, "p.json")]);
    expect(pr.code).toBe(1);
    expect(pr.stderr).toMatch(/--out .*pull request plan \(--repo\) cannot be saved/);
    expect(existsSync(path.join(dir, "p.json"))).toBe(false);
  });

  it("plan --format json of an invalid directory prints the status: invalid document (offline and live)", async () => {
    const repo = await tempRepo();
    await edit(path.join(repo, "tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: natve");
    const state = path.join(await tempDir(), "state");
    for (const extra of [["--offline"], ["--state-dir", state]]) {
      const r = await tack(["plan", repo, "--format", "json", ...extra]);
      expect(r.code).toBe(1);
      const doc = JSON.parse(r.stdout) as { status: string; formatVersion: number; findings: { path: string; location: { file: string; line: number } }[] };
      expect(doc).toMatchObject({ formatVersion: 1, status: "invalid", host: null, blocking: true });
      expect(doc.findings[0]).toMatchObject({ path: "scopes.api.owner", location: { file: "tack.yaml", line: 22 } });
    }
    // The desired state is checked before the host is looked at: nothing was observed or created.
    expect(existsSync(state)).toBe(false);
    const text = await tack(["plan", repo, "--offline"]);
    expect(text.stdout).toBe("");
    expect(text.stderr).toMatch(/tack\.yaml:22:12 scopes\.api\.owner: must be one of native, docker, none/);
  });

  it("status is read-only, and its JSON keeps appliedRevision without an agent", async () => {
    const state = path.join(await tempDir(), "state");
    const none = await tack(["status", "--state-dir", state, "--format", "json", ...NO_AGENT]);
    expect(none.code).toBe(0);
    expect(JSON.parse(none.stdout)).toEqual({ agent: "not running", desiredRevision: null, appliedRevision: null });
    expect(existsSync(state)).toBe(false);
    const text = await tack(["status", "--state-dir", state, ...NO_AGENT]);
    expect(text.stdout).toContain(`none in ${state}`);
    expect(existsSync(state)).toBe(false);

    const j = new Journal(state);
    j.setRevision("0123456789abcdef0123456789abcdef01234567", "good");
    j.close();
    const good = JSON.parse((await tack(["status", "--state-dir", state, "--format", "json", ...NO_AGENT])).stdout) as { appliedRevision: string };
    expect(good.appliedRevision).toBe("0123456789abcdef0123456789abcdef01234567");
  });

  it("suspend --for 0s is refused; a second suspend says what it replaces; resume says when nothing is suspended", async () => {
    const state = ["--state-dir", path.join(await tempDir(), "state"), ...NO_AGENT];
    const zero = await tack(["suspend", "--for", "0s", "--reason", "x", ...state]);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/--for 0s: a suspension must last longer than 0s \(to end one now, use tack resume\)/);

    expect((await tack(["resume", ...state])).stdout).toMatch(/^Nothing to resume: the agent is not suspended/);
    const first = await tack(["suspend", "--for", "1h", "--reason", "hotfix INC-1", ...state]);
    expect(first.stdout).not.toContain("replaces");
    const second = await tack(["suspend", "--for", "2h", "--reason", "hotfix INC-2", ...state]);
    expect(second.stdout).toMatch(/^This replaces the suspension until \S+ by \S+: hotfix INC-1/);
    const resumed = await tack(["resume", ...state]);
    expect(resumed.stdout).toMatch(/^Ending the suspension until \S+ by \S+: hotfix INC-2\nResumed/);
    expect((await tack(["resume", ...state])).stdout).toMatch(/^Nothing to resume/);
  });

  it("validate: a missing directory says so; a path to tack.yaml works", async () => {
    const gone = await tack(["validate", "/nonexistent/infra"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe("error: /nonexistent/infra does not exist: give the desired-state directory (the one holding tack.yaml)");
    const file = await tack(["validate", path.join(EXAMPLE, "tack.yaml")]);
    expect(file.code).toBe(0);
    expect(file.stdout).toMatch(/^valid: vps-1/);
    const other = await tack(["validate", path.join(EXAMPLE, "units/islandflow-api.service")]);
    expect(other.stderr).toMatch(/is not a directory: give the desired-state directory, or its tack\.yaml/);
  });

  it("with --path infra, pull request findings say infra/tack.yaml:line", async () => {
    const repo = await prRepo([replace("tack.yaml", "      - { allow: tcp, port: 22, comment: ssh }\n", "", 1)]);
    // Move the desired state under infra/ on both branches.
    const git = (...a: string[]) => execa("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "commit.gpgsign=false", ...a]);
    for (const branch of ["main", "pr"]) {
      await git("checkout", "-q", branch);
      const tmp = path.join(await tempDir(), "infra");
      await cp(repo, tmp, { recursive: true, filter: (p) => !p.includes(`${path.sep}.git`) });
      await git("rm", "-q", "-r", ".");
      await rename(tmp, path.join(repo, "infra"));
      await git("add", ".");
      await git("commit", "-q", "-m", `move to infra on ${branch}`);
    }
    const r = await tack(["plan", "--repo", repo, "--path", "infra", "--base", "main", "--head", "pr", "--format", "json"]);
    const doc = JSON.parse(r.stdout) as { findings: { id: string; location: { file: string } | null }[] };
    expect(doc.findings.find((f) => f.id === "ssh-lockout")?.location?.file).toBe("infra/tack.yaml");
    await git("checkout", "-q", "pr");
    await edit(path.join(repo, "infra/tack.yaml"), "  api:\n    owner: docker", "  api:\n    owner: natve");
    await git("commit", "-q", "-am", "typo");
    const bad = await tack(["plan", "--repo", repo, "--path", "infra", "--base", "main", "--head", "pr"]);
    expect(bad.stdout).toMatch(/^ {2}infra\/tack\.yaml:22:12 scopes\.api\.owner/m);
  });
});
