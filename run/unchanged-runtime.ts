import { createHash } from "node:crypto";
import { readFile, readlink } from "node:fs/promises";
import path from "node:path";
import type { ResourceKind } from "../core/refs.js";
import type { ResolvedHost } from "../core/resources.js";
import { KINDS } from "../kinds/index.js";
import { revisionFiles } from "./revision-files.js";

/**
 * The agent's fast path for a commit that leaves the runtimes alone (an edge-only change, issue 18): when every
 * runtime kind wants exactly what it wanted in the last good revision, the runtimes are planned as converged on
 * it (each kind's assumeConverged, as an offline plan does) instead of observed — observing Compose is its
 * `config` and `config --hash` calls, which miss their cache at every new revision (the checkout dir is part of
 * their key), up to seconds with docker-compose v1.
 *
 * What stays true: the edge, firewall and DNS layers are observed as always, so their guards see the host (the
 * bridge → port UFW path is checked against UFW's rules and the scope's owner, which is the desired one the last
 * good revision converged); the edge's own probe through NPM still reaches the real upstream. What it cannot see
 * is runtime drift since the last drift check: the caller runs a full drift check right after (agent/applier.ts).
 *
 * "Exactly what it wanted": every file of the revision other than the desired-state YAML (units, compose files,
 * env files, ...) is byte-identical, and each runtime kind's desired resources are equal once the revision's own
 * directory (it names compose's working dir) is set aside. Anything else, or no good revision: observe it all.
 */
export async function unchangedRuntimeKinds(
  dir: string,
  resolved: ResolvedHost,
  last: { dir: string; resolve: () => Promise<ResolvedHost> } | undefined,
): Promise<ResourceKind[]> {
  if (!last || path.resolve(last.dir) === path.resolve(dir)) return [];
  const runtime = KINDS.filter((k) => k.layer === "runtime" && k.manages(resolved));
  if (runtime.length === 0) return [];
  const [now, before] = await Promise.all([otherFiles(dir), otherFiles(last.dir)]);
  if (!now || !before || !sameMap(now, before)) return [];
  let lastResolved: ResolvedHost;
  try {
    lastResolved = await last.resolve();
  } catch {
    return []; // the last good revision no longer loads here (e.g. a fact changed): observe everything
  }
  for (const k of runtime) {
    if (!k.manages(lastResolved)) return [];
    if (canonical(k.desired(resolved), dir) !== canonical(k.desired(lastResolved), last.dir)) return [];
  }
  return runtime.map((k) => k.kind);
}

/** The revision's own directory stands for itself: two checkouts of the same content compare equal. */
function canonical(value: unknown, dir: string): string {
  return JSON.stringify(value).replaceAll(JSON.stringify(path.resolve(dir)).slice(1, -1), "<revision>");
}

const isDesiredStateFile = (rel: string) => rel === "tack.yaml" || /^hosts\/[^/]+\.ya?ml$/.test(rel);

/** Content hash of every file but the desired-state YAML, by path; undefined if something cannot be read. */
async function otherFiles(dir: string): Promise<Map<string, string> | undefined> {
  const out = new Map<string, string>();
  try {
    for await (const { rel, abs, entry } of revisionFiles(dir)) {
      if (entry.isSymbolicLink()) out.set(rel, `link ${await readlink(abs)}`); // snapshots keep links as links
      else if (!isDesiredStateFile(rel)) out.set(rel, createHash("sha256").update(await readFile(abs)).digest("hex"));
    }
    return out;
  } catch {
    return undefined;
  }
}

function sameMap(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}
