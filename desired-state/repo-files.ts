import { lstat, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";

/**
 * The repo is input, not code: every path it names must stay inside it (no `..`, no absolute path, no symlink
 * leading out) and every file it makes tack read is size-bounded. A refused file is an error, never a crash.
 */

export const MAX_DESIRED_STATE_BYTES = 1024 * 1024; // tack.yaml and host files
export const MAX_REFERENCED_FILE_BYTES = 256 * 1024; // unit files, compose files

export class RepoFileError extends Error {}

/** Resolve a repo-relative path, refusing anything that would leave the repo. Returns the absolute path. */
export async function confinedPath(repoRoot: string, relPath: string): Promise<string> {
  if (relPath.includes("\0")) throw new RepoFileError(`path "${relPath}" contains a NUL byte`);
  if (path.isAbsolute(relPath)) throw new RepoFileError(`path "${relPath}" must be relative to the repo`);
  const normal = path.posix.normalize(relPath.replace(/\\/g, "/"));
  if (normal === ".." || normal.startsWith("../") || relPath.split(/[\\/]/).includes("..")) {
    throw new RepoFileError(`path "${relPath}" leaves the repo ("..")`);
  }
  const root = await realpath(repoRoot);
  const abs = path.join(root, normal);
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    // Missing: still refuse a dangling symlink pointing out of the repo.
    const l = await lstat(abs).catch(() => undefined);
    if (l?.isSymbolicLink()) throw new RepoFileError(`path "${relPath}" is a dangling symlink`);
    throw new RepoFileError(`file "${relPath}" does not exist in the repo`);
  }
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw new RepoFileError(`path "${relPath}" is a symlink leading out of the repo (to ${real})`);
  }
  return real;
}

/** Read a repo file, confined and size-bounded. */
export async function readRepoFile(repoRoot: string, relPath: string, maxBytes = MAX_REFERENCED_FILE_BYTES): Promise<string> {
  const abs = await confinedPath(repoRoot, relPath);
  const st = await stat(abs);
  if (!st.isFile()) throw new RepoFileError(`"${relPath}" is not a regular file`);
  if (st.size > maxBytes) {
    throw new RepoFileError(`file "${relPath}" is ${st.size} bytes, over the limit of ${maxBytes} bytes`);
  }
  return readFile(abs, "utf8");
}
