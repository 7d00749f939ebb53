import { execa } from "execa";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleGit } from "simple-git";
import { UserError } from "../core/errors.js";

/**
 * A revision of a git repo, unpacked into a temp dir (`git archive`, so nothing of the work tree leaks in).
 * The desired state loader then reads it like any directory, with the same confinement rules.
 */
export interface CheckedOutRevision {
  dir: string;
  revision: string;
  cleanup(): Promise<void>;
}

export async function resolveRevision(repo: string, rev: string): Promise<string> {
  try {
    return (await simpleGit(repo).revparse(["--verify", `${rev}^{commit}`])).trim();
  } catch (err) {
    throw new UserError(`${rev} is not a commit in ${repo}: ${(err as Error).message.split("\n")[0]}`);
  }
}

/**
 * The best common ancestor of two commits: what `git diff base...head` compares head with. A pull request plan
 * starts from it, so commits that landed on the base branch after the branch point are not shown as the PR
 * undoing them.
 */
export async function mergeBase(repo: string, base: string, head: string): Promise<string> {
  const [b, h] = await Promise.all([resolveRevision(repo, base), resolveRevision(repo, head)]);
  const r = await execa("git", ["-C", repo, "merge-base", b, h], { reject: false });
  if (r.exitCode === 0 && r.stdout.trim()) return r.stdout.trim();
  if (r.exitCode === 1) throw new UserError(`${base} and ${head} have no common ancestor in ${repo}: plan against ${base} itself with --base-exact`);
  throw new UserError(`git merge-base ${base} ${head} failed in ${repo}: ${r.stderr.split("\n")[0]}`);
}

export async function checkoutRevision(repo: string, rev: string, subPath = "."): Promise<CheckedOutRevision> {
  const revision = await resolveRevision(repo, rev);
  const dir = await mkdtemp(path.join(tmpdir(), "tack-rev-"));
  try {
    const archive = execa("git", ["-C", repo, "archive", "--format=tar", revision], { buffer: false, stdout: "pipe" });
    const untar = execa("tar", ["-x", "-C", dir], { stdin: "pipe" });
    archive.stdout!.pipe(untar.stdin!);
    await Promise.all([archive, untar]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new UserError(`cannot unpack ${rev} of ${repo}: ${(err as Error).message.split("\n")[0]}`);
  }
  const root = path.join(dir, subPath);
  if (!root.startsWith(dir)) throw new UserError(`--path ${subPath} leaves the repo`);
  return { dir: root, revision, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
