import { lstat, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";

/**
 * The repo is input, not code: every path it names must stay inside it (no `..`, no absolute path, no symlink
 * leading out) and every file it makes tack read is size-bounded. A refused file is an error, never a crash.
 */

export const MAX_DESIRED_STATE_BYTES = 1024 * 1024; // tack.yaml and host files
export const MAX_REFERENCED_FILE_BYTES = 256 * 1024; // unit files, compose files

export class RepoFileError extends Error {}

/** A file that is not valid UTF-8 (YAML requires it; so do unit and compose files): where the first bad byte is. */
export class InvalidUtf8Error extends RepoFileError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${file} is not valid UTF-8: byte ${line}:${column} is not part of a UTF-8 character (save the file as UTF-8)`);
  }
}

/** Byte offset of the first byte that does not belong to a well-formed UTF-8 sequence, or -1. */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > buf.length) return i;
    for (let k = 1; k < len; k++) if ((buf[i + k]! & 0xc0) !== 0x80) return i;
    // Overlong 3/4-byte forms, UTF-16 surrogates and code points above U+10FFFF are not UTF-8 either.
    const b1 = buf[i + 1] ?? 0;
    if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f) || (b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 > 0x8f)) return i;
    i += len;
  }
  return -1;
}

/** Decode a repo file as UTF-8, refusing (with line and column) what is not: stray Latin-1 bytes in a comment, say. */
export function decodeUtf8(buf: Uint8Array, relPath: string): string {
  const bad = firstInvalidUtf8(buf);
  if (bad >= 0) {
    const before = buf.subarray(0, bad);
    const line = before.filter((c) => c === 0x0a).length + 1;
    const column = bad - before.lastIndexOf(0x0a);
    throw new InvalidUtf8Error(relPath, line, column);
  }
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("utf8");
}

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
  return decodeUtf8(await readFile(abs), relPath);
}

/** Read a repo file as bytes (age files may be binary), confined and size-bounded. */
export async function readRepoBytes(repoRoot: string, relPath: string, maxBytes = MAX_REFERENCED_FILE_BYTES): Promise<Buffer> {
  const abs = await confinedPath(repoRoot, relPath);
  const st = await stat(abs);
  if (!st.isFile()) throw new RepoFileError(`"${relPath}" is not a regular file`);
  if (st.size > maxBytes) throw new RepoFileError(`file "${relPath}" is ${st.size} bytes, over the limit of ${maxBytes} bytes`);
  return readFile(abs);
}
