import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { packageVersion } from "../core/package-info.js";
import { StateCache } from "../core/state-cache.js";
import type { HostDoc } from "./schema.js";

/**
 * Parsed desired-state files kept in `<state-dir>/cache/desired-state.json` (core/state-cache.ts), so a fresh
 * `tack plan` neither parses the YAML nor validates it with zod again (at bench size c that was about 1 s of a
 * no-op: a 540 KB tack.yaml) — nor loads zod at all (parse-host-file.ts is imported on a miss only).
 *
 * Key: the file's name and exact text, and the code that parsed it — tack's version and the identity (size,
 * mtime) of this module's file and of the schema beside it when there is one (sources, or plain tsc output),
 * so an edited schema or a rebuilt bundle misses instead of reading an entry shaped by other code.
 * Kept: only files that parsed with no finding at all (the Host documents' values), and only when their JSON
 * copy is the very same value (no undefined, no non-JSON value), so a hit is exactly what a parse would give.
 * Semantic checks and resolution are not cached: they read other files (units, compose files) every time.
 */
const ENTRIES = 4;
const FORMAT = "tack parsed desired state v1";

let codeIdentity: string | undefined;

function codeId(): string {
  if (codeIdentity !== undefined) return codeIdentity;
  const here = import.meta.filename;
  const files = [here, ...[".ts", ".js"].map((ext) => path.join(path.dirname(here), `schema${ext}`))];
  const ids = files.map((f) => {
    try {
      const st = statSync(f);
      return `${f} ${st.size} ${st.mtimeMs}`;
    } catch {
      return `${f} absent`;
    }
  });
  return (codeIdentity = [FORMAT, packageVersion(), ...ids].join("\n"));
}

export function parsedFileKey(file: string, text: string): string {
  return createHash("sha256").update(codeId()).update("\0").update(file).update("\0").update(text).digest("hex");
}

export class ParsedCache {
  private readonly store: StateCache;
  constructor(stateDir: string) {
    // Not the process-wide stateCache(): its entries (up to a few MB of JSON) would stay in memory for the life
    // of the agent, which has its parsed files in load.ts's in-memory cache anyway. This store lives for one miss.
    this.store = new StateCache(path.resolve(stateDir, "cache", "desired-state.json"), ENTRIES);
  }

  /** The Host documents of a file that parsed cleanly before, in document order; undefined on a miss. */
  get(key: string): HostDoc[] | undefined {
    const raw = this.store.get(key);
    if (raw === undefined) return undefined;
    try {
      const docs = JSON.parse(raw) as unknown;
      return Array.isArray(docs) ? (docs as HostDoc[]) : undefined;
    } catch {
      return undefined; // a damaged entry is a miss
    }
  }

  set(key: string, docs: HostDoc[]): void {
    const json = JSON.stringify(docs);
    if (!isDeepStrictEqual(JSON.parse(json), docs)) return;
    this.store.set(key, json);
  }
}
