import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * Where tack's package lives and its version, the same whether this file runs from source (core/) or compiled
 * (dist/core/): the nearest directory above it holding tack's package.json. Read once, synchronously, because
 * `tack --version` needs nothing else.
 */
let cached: { root: string; version: string } | undefined;

function find(): { root: string; version: string } {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: unknown; version?: unknown };
      if (pkg.name === "tack" && typeof pkg.version === "string") return { root: dir, version: pkg.version };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (path.dirname(dir) === dir) throw new Error(`tack's package.json not found above ${import.meta.dirname}`);
  }
}

export function packageRoot(): string {
  return (cached ??= find()).root;
}

export function packageVersion(): string {
  return (cached ??= find()).version;
}
