import { existsSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { simpleGit } from "simple-git";
import { TransientError, UserError } from "../core/errors.js";
import type { Runner } from "../core/runner.js";
import { checkoutRevision } from "../run/git-revision.js";
import { dirRevision } from "../run/reconcile.js";

/**
 * Where the agent's desired state comes from: a git branch (cloned and fetched into `<state-dir>/repo`, each
 * revision unpacked with `git archive` so nothing of a work tree leaks in), or, for development, a plain
 * directory whose revision is its content hash.
 */
export interface Checkout {
  dir: string;
  cleanup(): Promise<void>;
}

export interface DesiredSource {
  readonly kind: "git" | "dir";
  readonly description: string;
  /** Bring the source up to date; returns the head revision. */
  sync(): Promise<string>;
  checkout(revision: string): Promise<Checkout>;
  /** Does `revision` descend from `ancestor`? undefined when it cannot be told (unknown commit, plain dir). */
  descends(ancestor: string, revision: string): Promise<boolean | undefined>;
  /** `git verify-commit` verdict; undefined when not checked. */
  verify(revision: string): Promise<{ ok: boolean; detail: string } | undefined>;
}

export interface SourceOptions {
  repo: string;
  branch: string;
  path: string;
  stateDir: string;
  runner: Runner;
  verifySignatures?: boolean;
  /** ssh allowed-signers file (gpg.format=ssh) for verify-commit. */
  allowedSignersFile?: string;
  /** GNUPGHOME holding the trusted GPG keyring for verify-commit. */
  gpgHome?: string;
}

/** A plain directory (no .git inside, not a bare repo) is watched as is; anything else is a git remote. */
export function isPlainDirectory(repo: string): boolean {
  if (!existsSync(repo) || !statSync(repo).isDirectory()) return false;
  const bare = existsSync(path.join(repo, "HEAD")) && existsSync(path.join(repo, "objects"));
  return !bare && !existsSync(path.join(repo, ".git"));
}

function confined(root: string, sub: string): string {
  const dir = path.resolve(root, sub);
  if (dir !== root && !dir.startsWith(root + path.sep)) throw new UserError(`--path ${sub} leaves the repo`);
  return dir;
}

export class DirSource implements DesiredSource {
  readonly kind = "dir" as const;
  readonly root: string;
  constructor(private readonly opts: SourceOptions) {
    this.root = confined(path.resolve(opts.repo), opts.path);
  }
  get description(): string {
    return `directory ${this.root}`;
  }
  sync(): Promise<string> {
    return dirRevision(this.root);
  }
  async checkout(): Promise<Checkout> {
    // applyRevision snapshots the directory itself; nothing to unpack.
    return { dir: this.root, cleanup: async () => undefined };
  }
  async descends(): Promise<boolean | undefined> {
    return undefined;
  }
  async verify(): Promise<{ ok: boolean; detail: string } | undefined> {
    return this.opts.verifySignatures ? { ok: false, detail: "a plain directory has no commit signatures" } : undefined;
  }
}

export class GitSource implements DesiredSource {
  readonly kind = "git" as const;
  readonly gitDir: string;
  constructor(private readonly opts: SourceOptions) {
    this.gitDir = path.join(opts.stateDir, "repo");
  }
  get description(): string {
    return `${this.opts.repo} branch ${this.opts.branch}${this.opts.path !== "." ? ` path ${this.opts.path}` : ""}`;
  }
  private get ref(): string {
    return `refs/remotes/origin/${this.opts.branch}`;
  }

  async sync(): Promise<string> {
    if (!existsSync(path.join(this.gitDir, "HEAD"))) {
      await mkdir(this.gitDir, { recursive: true, mode: 0o700 });
      await simpleGit(this.gitDir).init(true);
    }
    const git = simpleGit(this.gitDir);
    try {
      // A forced refspec: a rewound branch is fetched too, and the rewind check decides what to do with it.
      await git.fetch([this.opts.repo, `+refs/heads/${this.opts.branch}:${this.ref}`, "--no-tags", "--prune"]);
    } catch (err) {
      throw new TransientError(`git fetch of ${this.description} failed: ${(err as Error).message.split("\n")[0]}`, { cause: err });
    }
    return (await git.revparse(["--verify", `${this.ref}^{commit}`])).trim();
  }

  async checkout(revision: string): Promise<Checkout> {
    const c = await checkoutRevision(this.gitDir, revision, this.opts.path);
    return { dir: c.dir, cleanup: c.cleanup };
  }

  async descends(ancestor: string, revision: string): Promise<boolean | undefined> {
    if (!/^[0-9a-f]{40}$/.test(ancestor)) return undefined; // the applied revision came from a plain directory
    const r = await this.opts.runner.run("git", ["-C", this.gitDir, "merge-base", "--is-ancestor", ancestor, revision], { okExitCodes: [0, 1, 128] });
    if (r.exitCode === 128) return undefined; // the applied commit is not in this repo (another remote)
    return r.exitCode === 0;
  }

  async verify(revision: string): Promise<{ ok: boolean; detail: string } | undefined> {
    if (!this.opts.verifySignatures) return undefined;
    const args = ["-C", this.gitDir];
    if (this.opts.allowedSignersFile) args.push("-c", `gpg.ssh.allowedSignersFile=${path.resolve(this.opts.allowedSignersFile)}`);
    args.push("verify-commit", "--raw", revision);
    const env = this.opts.gpgHome ? { GNUPGHOME: path.resolve(this.opts.gpgHome) } : undefined;
    const r = await this.opts.runner.run("git", args, { okExitCodes: [0, 1, 128], ...(env ? { env } : {}) });
    const detail = (r.stderr.trim().split("\n").find((l) => l.trim()) ?? "").trim();
    return r.exitCode === 0 ? { ok: true, detail: detail || "good signature" } : { ok: false, detail: detail || "no signature" };
  }
}

export function openSource(opts: SourceOptions): DesiredSource {
  return isPlainDirectory(opts.repo) ? new DirSource(opts) : new GitSource(opts);
}
