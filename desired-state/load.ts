import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from "yaml";
import type { Finding, SourceLocation } from "../core/findings.js";
import { LruCache } from "../core/lru-cache.js";
import { InvalidUtf8Error, MAX_DESIRED_STATE_BYTES, readRepoFile, RepoFileError } from "./repo-files.js";
import { repairForDiagnostics } from "./repair.js";
import { hostSchema, type HostDoc } from "./schema.js";
import { issueMessages } from "./schema-messages.js";

/** YAML aliases expand at most this many times per document: an alias bomb is an error, not an OOM. */
export const MAX_ALIAS_COUNT = 100;

export type PathSegment = string | number;

/** A Host document as loaded: the parsed value plus a way back to file:line:column for any field path. */
export interface LoadedHost {
  doc: HostDoc;
  /** The document failed the schema: `doc` is a repaired copy, good for more diagnostics only, never a plan. */
  schemaFailed?: string[];
  file: string;
  /** Where a field is; `at: "key"` points at the key itself rather than its value (an unknown key). */
  locate(path: PathSegment[], at?: "key" | "value"): SourceLocation;
}

export interface LoadedRepo {
  root: string;
  hosts: LoadedHost[];
  findings: Finding[];
}

export function formatPath(p: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of p) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

function locator(file: string, doc: Document, lines: LineCounter): LoadedHost["locate"] {
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

async function desiredStateFiles(root: string): Promise<string[]> {
  const files = ["tack.yaml"];
  const hostsDir = await readdir(path.join(root, "hosts")).catch(() => [] as string[]);
  for (const f of hostsDir.sort()) if (/\.ya?ml$/.test(f)) files.push(`hosts/${f}`);
  return files;
}

/** Parse one file's documents; every YAML or schema problem becomes a Finding with file:line:column. */
export function parseHostFile(file: string, text: string): { hosts: LoadedHost[]; findings: Finding[] } {
  const lines = new LineCounter();
  const findings: Finding[] = [];
  const hosts: LoadedHost[] = [];
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (!Array.isArray(docs)) return { hosts, findings }; // an empty stream
  for (const doc of docs) {
    const yamlErrors = [...doc.errors];
    for (const e of yamlErrors) {
      const pos = lines.linePos(e.pos[0]);
      findings.push({
        id: "yaml",
        severity: "error",
        message: `invalid YAML: ${e.message.split("\n")[0]}`,
        location: { file, line: pos.line, column: pos.col },
      });
    }
    if (yamlErrors.length) continue;
    if (doc.contents === null) continue; // an empty document between separators
    const locate = locator(file, doc, lines);
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      findings.push({
        id: "yaml",
        severity: "error",
        message: `refused: ${(err as Error).message} (YAML aliases are limited to ${MAX_ALIAS_COUNT} expansions)`,
        location: locate([]),
      });
      continue;
    }
    const parsed = hostSchema.safeParse(data);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        for (const { path: p, message, at } of issueMessages(issue, data, hostSchema)) {
          const segs = p.filter((s): s is string | number => typeof s !== "symbol");
          findings.push({ id: "schema", severity: "error", message, path: formatPath(segs), location: locate(segs, at) });
        }
      }
      const repaired = repairForDiagnostics(hostSchema, data, parsed.error.issues);
      if (repaired) hosts.push({ doc: repaired, file, locate, schemaFailed: parsed.error.issues.map((i) => formatPath(i.path.filter((x): x is string | number => typeof x !== "symbol"))) });
      continue;
    }
    hosts.push({ doc: parsed.data, file, locate });
  }
  return { hosts, findings };
}

/**
 * Parsed files by content (file name + text). The agent re-reads the same revision at every drift check, and
 * YAML parsing is most of a no-op plan at scale: about 1 s for bench size c's 540 KB tack.yaml. Entries are
 * deep-frozen because every caller shares them.
 */
const parsedFiles = new LruCache<ReturnType<typeof parseHostFile>>(8);

function parseHostFileOnce(file: string, text: string): ReturnType<typeof parseHostFile> {
  const key = createHash("sha256").update(file).update("\0").update(text).digest("hex");
  const hit = parsedFiles.get(key);
  if (hit) return hit;
  const parsed = parseHostFile(file, text);
  for (const h of parsed.hosts) deepFreeze(h.doc);
  deepFreeze(parsed.findings);
  parsedFiles.set(key, parsed);
  return parsed;
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}

/** Load every Host of a desired-state repo: `tack.yaml` (one or more documents) and `hosts/*.yaml`. */
export async function loadRepo(root: string): Promise<LoadedRepo> {
  const findings: Finding[] = [];
  const hosts: LoadedHost[] = [];
  for (const file of await desiredStateFiles(root)) {
    let text: string;
    try {
      text = await readRepoFile(root, file, MAX_DESIRED_STATE_BYTES);
    } catch (err) {
      if (err instanceof InvalidUtf8Error) findings.push({ id: "file", severity: "error", message: err.message, location: { file, line: err.line, column: err.column } });
      else if (file === "tack.yaml" || !(err instanceof RepoFileError)) {
        findings.push({ id: "file", severity: "error", message: (err as Error).message, location: { file, line: 1, column: 1 } });
      }
      continue;
    }
    const r = parseHostFileOnce(file, text);
    hosts.push(...r.hosts);
    findings.push(...r.findings);
  }
  const seen = new Map<string, LoadedHost>();
  for (const h of hosts) {
    const prev = seen.get(h.doc.metadata.name);
    if (prev) {
      findings.push({
        id: "fleet",
        severity: "error",
        message: `host "${h.doc.metadata.name}" is declared twice (also at ${prev.file}:${prev.locate(["metadata", "name"]).line})`,
        path: "metadata.name",
        location: h.locate(["metadata", "name"]),
      });
    } else seen.set(h.doc.metadata.name, h);
  }
  if (hosts.length === 0 && findings.length === 0) {
    findings.push({ id: "file", severity: "error", message: "no Host document found", location: { file: "tack.yaml", line: 1, column: 1 } });
  }
  return { root, hosts, findings };
}

/** Pick the Host this agent reconciles: by name, or the lone one. */
export function selectHost(repo: LoadedRepo, name?: string): LoadedHost | Finding {
  if (name) {
    const h = repo.hosts.find((x) => x.doc.metadata.name === name);
    return (
      h ?? {
        id: "fleet",
        severity: "error",
        message: `no Host named "${name}" (hosts: ${repo.hosts.map((x) => x.doc.metadata.name).join(", ") || "none"})`,
      }
    );
  }
  if (repo.hosts.length === 1) return repo.hosts[0]!;
  return {
    id: "fleet",
    severity: "error",
    message: `the repo declares ${repo.hosts.length} hosts (${repo.hosts.map((x) => x.doc.metadata.name).join(", ")}): choose one with --host NAME`,
  };
}
