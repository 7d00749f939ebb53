import type { Change, FieldChange } from "../../core/changes.js";
import type { DesiredSecretFile } from "../../core/resources.js";

/**
 * The secret driver's pure half. A plan compares ciphertext hashes and what tack wrote last, never plaintext: a
 * change shows `age <ciphertext hash>` and "(content hidden)", and drift (a hand edit of the target) is known by
 * hash only (secret-driver.ts says how).
 */

export const SECRET_KIND = "secret.file" as const;

export interface ObservedSecret {
  /** The target path. */
  name: string;
  exists: boolean;
  /** Permission bits, e.g. 0o600. */
  mode?: number;
  owner?: string;
  group?: string;
  /**
   * What tack wrote there last (its inventory): the ciphertext's hash, and whether the file still holds exactly
   * what tack wrote (a salted hash of the file against the one kept at write time). Absent: tack never wrote it.
   */
  written?: { cipherHash: string; intact: boolean };
}

export function shortHash(hash: string): string {
  return `age ${hash.slice(0, 12)}`;
}

export function formatMode(mode: number | undefined): string | undefined {
  return mode === undefined ? undefined : "0" + (mode & 0o777).toString(8).padStart(3, "0");
}

/** Why the content must be (re)written, or undefined when the target holds what this ciphertext decrypts to. */
function contentChange(d: DesiredSecretFile, a: ObservedSecret | undefined): { field: FieldChange; reason: string } | undefined {
  // Tables show only fields: the new value itself says that the content is not shown.
  const to = `${shortHash(d.cipherHash)} (content hidden)`;
  if (!a?.exists) return { field: { field: "content", from: null, to }, reason: `write secret ${d.name} from ${d.source} (content hidden)` };
  if (!a.written) return { field: { field: "content", from: "not written by tack", to }, reason: `secret ${d.name}: replace a file tack did not write (content hidden)` };
  if (a.written.cipherHash !== d.cipherHash) {
    return { field: { field: "content", from: shortHash(a.written.cipherHash), to }, reason: `secret ${d.name} changed (content hidden)` };
  }
  if (!a.written.intact) return { field: { field: "content", from: "edited on the host", to }, reason: `secret ${d.name} was edited on the host: rewrite it (content hidden)` };
  return undefined;
}

export function diffSecret(d: DesiredSecretFile, a: ObservedSecret | undefined): { fields: FieldChange[]; reason?: string } {
  const content = contentChange(d, a);
  const fields = content ? [content.field] : [];
  if (a?.exists && a.mode !== d.mode) fields.push({ field: "mode", from: formatMode(a.mode), to: formatMode(d.mode) });
  if (a?.exists && a.owner !== d.owner) fields.push({ field: "owner", from: a.owner, to: d.owner });
  if (a?.exists && d.group && a.group !== d.group) fields.push({ field: "group", from: a.group, to: d.group });
  return { fields, ...(content ? { reason: content.reason } : {}) };
}

/**
 * Changes: write (create/update) in the scope's runtime-start, before its units or services start (the kind's order
 * is lowest), so a changed secret restarts its scope behind the scope's gate; prune what tack wrote and the desired
 * state no longer names.
 */
export function planSecrets(desired: DesiredSecretFile[], actual: Map<string, ObservedSecret>): Change<DesiredSecretFile, ObservedSecret>[] {
  const out: Change<DesiredSecretFile, ObservedSecret>[] = [];
  for (const d of desired) {
    const a = actual.get(d.name);
    const { fields, reason } = diffSecret(d, a);
    if (fields.length === 0) continue;
    const rewrites = fields.some((f) => f.field === "content");
    out.push({
      ref: { kind: SECRET_KIND, name: d.name },
      action: a?.exists ? "update" : "create",
      phase: "runtime-start",
      fields,
      // A rewritten secret restarts the scope that reads it.
      risk: rewrites && a?.exists && d.scope ? "disruptive" : "safe",
      reason: reason ?? `secret ${d.name}: ${fields.map((f) => `${f.field} ${String(f.from)} → ${String(f.to)}`).join(", ")}`,
      desired: d,
      ...(a ? { actual: a } : {}),
      ...(d.scope ? { scope: d.scope } : {}),
      ...(rewrites && d.scope ? { restartsScope: true } : {}),
    });
  }
  const named = new Set(desired.map((d) => d.name));
  for (const [name, a] of actual) {
    if (named.has(name) || !a.written) continue;
    out.push({
      ref: { kind: SECRET_KIND, name },
      action: "delete",
      phase: "prune",
      fields: a.exists ? [{ field: "content", from: shortHash(a.written.cipherHash), to: null }] : [],
      risk: "destructive",
      reason: `tack wrote secret ${name} and the desired state no longer names it: remove it`,
      actual: a,
      prune: true,
    });
  }
  return out;
}
