import { LineCounter } from "yaml";
import type { Finding } from "../core/findings.js";
import { formatPath, locator, MAX_ALIAS_COUNT, parseDocuments, type Locate } from "./locate.js";
import { repairForDiagnostics } from "./repair.js";
import { hostSchema, type HostDoc } from "./schema.js";
import { issueMessages } from "./schema-messages.js";

/** A Host document as loaded: the parsed value plus a way back to file:line:column for any field path. */
export interface LoadedHost {
  doc: HostDoc;
  /** The document failed the schema: `doc` is a repaired copy, good for more diagnostics only, never a plan. */
  schemaFailed?: string[];
  file: string;
  /** Where a field is; `at: "key"` points at the key itself rather than its value (an unknown key). */
  locate: Locate;
}

/**
 * Parse one file's documents; every YAML or schema problem becomes a Finding with file:line:column.
 * Imported on demand (load.ts): it holds the zod schema, whose module and construction a fresh `tack plan`
 * spares when the state dir already holds the parsed file (parsed-cache.ts).
 */
export function parseHostFile(file: string, text: string): { hosts: LoadedHost[]; findings: Finding[] } {
  const lines = new LineCounter();
  const findings: Finding[] = [];
  const hosts: LoadedHost[] = [];
  for (const doc of parseDocuments(text, lines)) {
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
