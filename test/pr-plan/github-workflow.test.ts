import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import * as fs from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MARKDOWN_MARKER } from "../../reports/render-plan.js";
import { tempDir } from "../helpers/temp-repo.js";
import { commitOn, prRepo, replace } from "./pr-repo.js";

/**
 * examples/github-actions/tack-plan.yml, exercised piece by piece: its Plan step runs in bash against a
 * throw-away PR (with `npx` pointing at this checkout's sources (scripts/tack-from-source.js)), and its github-script runs against an
 * in-memory issue-comments store, so the one-comment-per-PR behaviour and the failing step are checked.
 */

const ROOT = path.resolve(import.meta.dirname, "../..");
const WORKFLOW = path.join(ROOT, "examples/github-actions/tack-plan.yml");

interface Step { name?: string; uses?: string; id?: string; if?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> }
interface Workflow { on: Record<string, unknown>; permissions: Record<string, string>; env: Record<string, string>; jobs: { plan: { steps: Step[] } } }

async function workflow(): Promise<Workflow> {
  return parse(await readFile(WORKFLOW, "utf8")) as Workflow;
}

const step = (w: Workflow, name: string) => w.jobs.plan.steps.find((s) => s.name === name || s.uses?.startsWith(name))!;

/** Run the Plan step's shell in `repo`, as Actions would (bash -e), with npx resolving to this checkout. */
async function runPlanStep(w: Workflow, repo: string, base: string, head: string): Promise<{ exitcode: string; md: string }> {
  const shim = path.join(await tempDir(), "bin");
  await mkdir(shim);
  await writeFile(path.join(shim, "npx"), `#!/bin/sh\n[ "$1" = --no-install ] && [ "$2" = tack ] || exit 127\nshift 2\nexec node ${JSON.stringify(path.join(ROOT, "scripts/tack-from-source.js"))} "$@"\n`);
  await chmod(path.join(shim, "npx"), 0o755);
  const output = path.join(shim, "github-output");
  await writeFile(output, "");
  await execa("bash", ["-e", "-c", step(w, "Plan").run!], {
    cwd: repo,
    env: { PATH: `${shim}:${process.env.PATH}`, GITHUB_OUTPUT: output, BASE_SHA: base, HEAD_SHA: head, ...w.env },
  });
  const exitcode = /exitcode=(\d+)/.exec(await readFile(output, "utf8"))?.[1] ?? "";
  return { exitcode, md: await readFile(path.join(repo, "tack-plan.md"), "utf8") };
}

interface Comment { id: number; body: string; user: { type: string } }

/** The github-script step with a minimal issues API kept in memory. */
async function runCommentScript(w: Workflow, dir: string, comments: Comment[], exitcode: string): Promise<void> {
  const script = String(step(w, "actions/github-script").with!.script);
  const rel = (p: string) => path.resolve(dir, p);
  const fsInDir = { existsSync: (p: string) => fs.existsSync(rel(p)), readFileSync: (p: string, enc: BufferEncoding) => fs.readFileSync(rel(p), enc) };
  const github = {
    paginate: async (fn: (a: unknown) => Promise<{ data: Comment[] }>, args: unknown) => (await fn(args)).data,
    rest: {
      issues: {
        listComments: async () => ({ data: comments.map((c) => ({ ...c })) }),
        updateComment: async (a: { comment_id: number; body: string }) => {
          comments.find((c) => c.id === a.comment_id)!.body = a.body;
        },
        createComment: async (a: { body: string }) => {
          comments.push({ id: comments.length + 1, body: a.body, user: { type: "Bot" } });
        },
      },
    },
  };
  const context = { repo: { owner: "o", repo: "r" }, issue: { number: 7 } };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
  await new AsyncFunction("github", "context", "require", "process", script)(github, context, (m: string) => (m === "fs" ? fsInDir : undefined), { env: { EXITCODE: exitcode } });
}

describe("examples/github-actions/tack-plan.yml", () => {
  it("runs on pull requests with full history and a maintained Node LTS, and may write PR comments", async () => {
    const w = await workflow();
    expect(Object.keys(w.on)).toEqual(["pull_request"]);
    expect(w.permissions["pull-requests"]).toBe("write");
    expect(step(w, "actions/checkout").uses).toBe("actions/checkout@v5");
    expect(step(w, "actions/checkout").with).toEqual({ "fetch-depth": 0 });
    expect(step(w, "actions/setup-node").with).toEqual({ "node-version": 24 });
    expect(step(w, "Plan").run).toContain("--format markdown");
  });

  it("posts the plan once, updates that comment on the next push, and fails the job on a blocking finding", async () => {
    const w = await workflow();
    const repo = await prRepo([replace("tack.yaml", "      - { allow: tcp, port: 22, comment: ssh }\n", "", 1)]);
    const { exitcode, md } = await runPlanStep(w, repo, "main", "pr");
    expect(exitcode).toBe("1");
    expect(md.startsWith(MARKDOWN_MARKER)).toBe(true);
    expect(md).toContain("ssh-lockout");

    const comments: Comment[] = [{ id: 1, body: "LGTM", user: { type: "User" } }, { id: 2, body: `${MARKDOWN_MARKER} quoted by a person`, user: { type: "User" } }];
    await runCommentScript(w, repo, comments, exitcode);
    await runCommentScript(w, repo, comments, exitcode);
    const ours = comments.filter((c) => c.user.type === "Bot");
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body).toBe(md);

    const fail = step(w, "Fail on a blocking finding");
    expect(fail.if).toBe("steps.plan.outputs.exitcode != '0' && steps.plan.outputs.exitcode != '2'");
    const failed = await execa("bash", ["-e", "-c", fail.run!.replace(/\$\{\{ steps\.plan\.outputs\.exitcode \}\}/g, exitcode)], { reject: false });
    expect(failed.exitCode).toBe(1);
  }, 60_000);

  it("installs tack with npm ci only when package.json depends on it, else from TACK_PACKAGE, else fails clearly", async () => {
    const w = await workflow();
    const install = async (pkg: object | undefined, tackPackage: string) => {
      const dir = await tempDir();
      const log = path.join(dir, "npm.log");
      await mkdir(path.join(dir, "bin"));
      await writeFile(path.join(dir, "bin", "npm"), `#!/bin/sh\necho "$@" >> ${JSON.stringify(log)}\n`);
      await chmod(path.join(dir, "bin", "npm"), 0o755);
      if (pkg) {
        await writeFile(path.join(dir, "package.json"), JSON.stringify(pkg));
        await writeFile(path.join(dir, "package-lock.json"), "{}");
      }
      const r = await execa("bash", ["-e", "-c", step(w, "Install tack").run!], { cwd: dir, reject: false, env: { PATH: `${dir}/bin:${process.env.PATH}`, TACK_PACKAGE: tackPackage } });
      return { code: r.exitCode, npm: fs.existsSync(log) ? (await readFile(log, "utf8")).trim() : "", out: r.stdout };
    };
    const pinned = "git+https://git.example.org/tack.git#0123456789abcdef0123456789abcdef01234567";
    expect(await install({ devDependencies: { tack: pinned } }, "")).toMatchObject({ code: 0, npm: "ci" });
    // A package.json that only mentions "tack" (a script, a description) does not pin it.
    const mentions = { description: "our \"tack\" config", scripts: { plan: "tack plan" } };
    expect(await install(mentions, pinned)).toMatchObject({ code: 0, npm: `install --no-save --no-package-lock ${pinned}` });
    const none = await install(undefined, "");
    expect(none.code).toBe(1);
    expect(none.npm).toBe("");
    expect(none.out).toContain("set TACK_PACKAGE");
    expect(w.env.TACK_VERSION).toBeUndefined();
  }, 30_000);

  it("plans from the merge-base when the base branch moved on (base.sha is the base branch's tip)", async () => {
    const w = await workflow();
    const repo = await prRepo([replace("tack.yaml", /( {2}api:\n {4}owner: )docker/, "$1native", 1)]);
    await commitOn(repo, "main", [replace("tack.yaml", "\nsecrets:", "\n    - { name: new.example.org, type: CNAME, content: flow.example.org, proxied: true }\nsecrets:", 1)], "main moves on");
    const { exitcode, md } = await runPlanStep(w, repo, "main", "pr");
    expect(exitcode).toBe("2");
    expect(md).toContain("1 cutover");
    expect(md).not.toContain("new.example.org");
  }, 30_000);

  it("a PR with changes and nothing blocking: exit code 2 passes, and a tack crash still leaves a comment", async () => {
    const w = await workflow();
    const repo = await prRepo([replace("tack.yaml", /^(\s+)owner: docker$/gm, "$1owner: native", 4)]);
    const { exitcode, md } = await runPlanStep(w, repo, "main", "pr");
    expect(exitcode).toBe("2");
    expect(md).toContain("4 cutovers");

    const broken = await runPlanStep(w, repo, "main", "no-such-branch");
    expect(broken.exitcode).toBe("1");
    const comments: Comment[] = [];
    await runCommentScript(w, repo, comments, broken.exitcode);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toMatch(/^<!-- tack-plan -->\n\*\*tack plan failed \(exit 1\)\*\*[\s\S]*no-such-branch is not a commit/);
  }, 60_000); // three CLI processes (tsx start-up) on a shared 2-core machine
});
