import type { Dirent } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";

export interface RevisionEntry {
  /** Path inside the revision, `/`-separated, e.g. `units/api.service`. */
  rel: string;
  abs: string;
  entry: Dirent;
}

/**
 * The files and symlinks of a revision directory, depth first in name order, `.git` left out: what a revision's
 * content hash covers (reconcile's dirRevision) and what the webhook fast path compares (unchanged-runtime.ts).
 */
export async function* revisionFiles(dir: string, rel = ""): AsyncGenerator<RevisionEntry> {
  const entries = (await readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.name === ".git") continue;
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) yield* revisionFiles(dir, p);
    else if (entry.isFile() || entry.isSymbolicLink()) yield { rel: p, abs: path.join(dir, p), entry };
  }
}
