import { cp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { runCli } from "../../cli/program.js";
import { EXAMPLE, tempDir } from "../helpers/temp-repo.js";

/**
 * Throw-away pull requests on the islandflow example: `main` is the example (Docker owns every scope), the
 * branch `pr` carries the edits. Author, committer and dates are fixed so commit ids, and so the rendered
 * plans, are the same on every run.
 */
const FIXED = {
  GIT_AUTHOR_NAME: "tack test",
  GIT_AUTHOR_EMAIL: "test@tack.invalid",
  GIT_COMMITTER_NAME: "tack test",
  GIT_COMMITTER_EMAIL: "test@tack.invalid",
  GIT_AUTHOR_DATE: "2026-05-18T09:00:00Z",
  GIT_COMMITTER_DATE: "2026-05-18T09:00:00Z",
};

export type Edit = (repo: string) => Promise<void>;

/** Replace exact text in a repo file; fails when the text is not there (so a drifting example is noticed). */
export function replace(file: string, from: string | RegExp, to: string, count?: number): Edit {
  return async (repo) => {
    const p = path.join(repo, file);
    const text = await readFile(p, "utf8");
    const re = typeof from === "string" ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "g") : new RegExp(from.source, from.flags.includes("g") ? from.flags : from.flags + "g");
    const hits = text.match(re)?.length ?? 0;
    if (!hits || (count !== undefined && hits !== count)) throw new Error(`replace: ${String(from)} found ${hits} time(s) in ${file}`);
    await writeFile(p, text.replace(re, to));
  };
}

// Plain git with a fixed environment: simple-git refuses GIT_* variables (its environment guard).
const gitIn = (repo: string) => (...args: string[]) => execa("git", ["-c", "commit.gpgsign=false", ...args], { cwd: repo, env: { ...FIXED, GIT_CONFIG_NOSYSTEM: "1", HOME: repo } });

export async function prRepo(head: Edit[], base: Edit[] = []): Promise<string> {
  const repo = path.join(await tempDir(), "islandflow");
  await cp(EXAMPLE, repo, { recursive: true });
  const git = gitIn(repo);
  await git("init", "-q", "-b", "main");
  for (const e of base) await e(repo);
  await git("add", ".");
  await git("commit", "-q", "-m", "base");
  await git("checkout", "-q", "-b", "pr");
  for (const e of head) await e(repo);
  await git("add", ".");
  await git("commit", "-q", "--allow-empty", "-m", "pull request");
  return repo;
}

/** Commit edits on top of `branch` (main moving on after the pull request branched off), then go back to `pr`. */
export async function commitOn(repo: string, branch: string, edits: Edit[], message: string): Promise<void> {
  const git = gitIn(repo);
  await git("checkout", "-q", branch);
  for (const e of edits) await e(repo);
  await git("add", ".");
  await git("commit", "-q", "-m", message);
  await git("checkout", "-q", "pr");
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function tack(argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, stdout: out.join("\n") + (out.length ? "\n" : ""), stderr: err.join("\n") };
}

export function prPlan(repo: string, format: "markdown" | "json" | "text", ...extra: string[]): Promise<CliRun> {
  return tack(["plan", "--repo", repo, "--base", "main", "--head", "pr", "--format", format, ...extra]);
}
