import { isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from "yaml";
import type { SourceLocation } from "../core/findings.js";

export type PathSegment = string | number;

/** Where a field is; `at: "key"` points at the key itself rather than its value (an unknown key). */
export type Locate = (path: PathSegment[], at?: "key" | "value") => SourceLocation;

/** YAML aliases expand at most this many times per document: an alias bomb is an error, not an OOM. */
export const MAX_ALIAS_COUNT = 100;

export function formatPath(p: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of p) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** How every desired-state file is read into documents (the parse and the lazy locator must agree). */
export function parseDocuments(text: string, lines: LineCounter): Document[] {
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  return Array.isArray(docs) ? docs : []; // not an array: an empty stream
}

export function locator(file: string, doc: Document, lines: LineCounter): Locate {
  return (p, at = "value") => {
    // Walk down as far as the path exists; a missing key points at its parent.
    let node: unknown = doc.contents;
    let offset = (doc.contents as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
    for (const [i, seg] of p.entries()) {
      if (isMap(node)) {
        const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
        if (!pair) break;
        const atKey = at === "key" && i === p.length - 1;
        const target = isNode(pair.value) && !atKey ? pair.value : pair.key;
        node = pair.value;
        offset = (target as { range?: [number, number, number] }).range?.[0] ?? offset;
      } else if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (!isNode(item)) break;
        node = item;
        offset = item.range?.[0] ?? offset;
      } else break;
    }
    const pos = lines.linePos(offset);
    return { file, line: pos.line, column: pos.col };
  };
}

/**
 * The locator of the `index`-th non-empty document of a file that parsed without a finding, built on first use:
 * a Host read back from the state dir's cache (parsed-cache.ts) parses its text again only if some finding
 * or message asks where a field is.
 */
export function lazyLocator(file: string, text: string, index: number): Locate {
  let real: Locate | undefined;
  return (p, at) => {
    if (!real) {
      const lines = new LineCounter();
      const doc = parseDocuments(text, lines).filter((d) => d.contents !== null)[index];
      real = doc ? locator(file, doc, lines) : () => ({ file, line: 1, column: 1 });
    }
    return real(p, at);
  };
}
