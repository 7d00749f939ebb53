import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Observation caches that outlive the process: a bounded key → string store in one JSON file of the state dir,
 * so a fresh `tack plan` finds what the previous process (or the agent) already learned.
 *
 * Contract: a key must cover every input its value depends on (the callers' invalidation keys: file contents,
 * image IDs, executable identities), so an entry can be old but never wrong, and losing the file loses nothing
 * but time. Hence: an unreadable or corrupt file reads as empty; a write merges with what another process wrote
 * meanwhile, then replaces the file atomically (write + rename), so a reader never sees half a file; concurrent
 * writers may drop each other's newest entry, which is a cache miss, not an error. Writes are rare (a miss) and
 * synchronous (the file is small).
 */
export class StateCache {
  private entries: Map<string, string> | undefined;

  constructor(
    readonly file: string,
    readonly max = 128,
  ) {}

  get(key: string): string | undefined {
    return this.load().get(key);
  }

  set(key: string, value: string): void {
    // Merge with the file as it is now: another process may have added entries since this one loaded it.
    const entries = this.read();
    for (const [k, v] of this.load()) if (!entries.has(k)) entries.set(k, v);
    entries.delete(key); // newest last: the oldest entries go first once `max` is reached
    entries.set(key, value);
    while (entries.size > this.max) entries.delete(entries.keys().next().value!);
    this.entries = entries;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(Object.fromEntries(entries)), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // A read-only or full state dir: the entry stays in memory for this process; the next one re-observes.
    }
  }

  private load(): Map<string, string> {
    return (this.entries ??= this.read());
  }

  private read(): Map<string, string> {
    try {
      const data = JSON.parse(readFileSync(this.file, "utf8")) as unknown;
      if (typeof data !== "object" || data === null || Array.isArray(data)) return new Map();
      return new Map(Object.entries(data).filter((e): e is [string, string] => typeof e[1] === "string"));
    } catch {
      return new Map();
    }
  }
}

const caches = new Map<string, StateCache>();

/** The one StateCache of `<stateDir>/cache/<name>.json` in this process. */
export function stateCache(stateDir: string, name: string, max?: number): StateCache {
  const file = path.resolve(stateDir, "cache", `${name}.json`);
  let c = caches.get(file);
  if (!c) caches.set(file, (c = new StateCache(file, max)));
  return c;
}
