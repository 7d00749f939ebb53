import { readdir } from "node:fs/promises";
import path from "node:path";
import type { Finding } from "../core/findings.js";
import { LruCache } from "../core/lru-cache.js";
import { lazyLocator } from "./locate.js";
import type { LoadedHost } from "./parse-host-file.js";
import { ParsedCache, parsedFileKey } from "./parsed-cache.js";
import { InvalidUtf8Error, MAX_DESIRED_STATE_BYTES, readRepoFile, RepoFileError } from "./repo-files.js";


export type { LoadedHost } from "./parse-host-file.js";

export interface LoadedRepo {
  root: string;
  hosts: LoadedHost[];
  findings: Finding[];
}

async function desiredStateFiles(root: string): Promise<string[]> {
  const files = ["tack.yaml"];
  const hostsDir = await readdir(path.join(root, "hosts")).catch(() => [] as string[]);
  for (const f of hostsDir.sort()) if (/\.ya?ml$/.test(f)) files.push(`hosts/${f}`);
  return files;
}

type ParsedFile = { hosts: LoadedHost[]; findings: Finding[] };

/**
 * Parsed files by content (file name + text). The agent re-reads the same revision at every drift check, and
 * YAML parsing is most of a no-op plan at scale: about 1 s for bench size c's 540 KB tack.yaml. Entries are
 * deep-frozen because every caller shares them.
 */
const parsedFiles = new LruCache<ParsedFile>(8);

async function parseHostFileOnce(file: string, text: string, stateDir: string | undefined): Promise<ParsedFile> {
  // One key for both caches: the state dir's (file, text and the parsing code's identity) serves the process's too.
  const key = parsedFileKey(file, text);
  const hit = parsedFiles.get(key);
  if (hit) return hit;
  const stored = stateDir ? new ParsedCache(stateDir) : undefined;
  const docs = stored?.get(key);
  let parsed: ParsedFile;
  if (docs) {
    parsed = { hosts: docs.map((doc, i) => ({ doc, file, locate: lazyLocator(file, text, i) })), findings: [] };
  } else {
    const { parseHostFile } = await import("./parse-host-file.js");
    parsed = parseHostFile(file, text);
    if (parsed.findings.length === 0 && parsed.hosts.every((h) => !h.schemaFailed)) {
      stored?.set(key, parsed.hosts.map((h) => h.doc));
      // The same lazy locator as a hit: the YAML syntax tree (a few MB for a large tack.yaml) is not kept for the
      // life of the agent's cache entry unless something asks where a field is.
      parsed = { hosts: parsed.hosts.map((h, i) => ({ ...h, locate: lazyLocator(file, text, i) })), findings: [] };
    }
  }
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

export interface LoadOptions {
  /** Keep parsed files in this state dir (parsed-cache.ts), and look them up there. */
  stateDir?: string;
}

/** Load every Host of a desired-state repo: `tack.yaml` (one or more documents) and `hosts/*.yaml`. */
export async function loadRepo(root: string, options: LoadOptions = {}): Promise<LoadedRepo> {
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
    const r = await parseHostFileOnce(file, text, options.stateDir);
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
