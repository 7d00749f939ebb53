import type { ResourceRef } from "./refs.js";

/**
 * A problem found while loading, planning or checking, collected and shown together (Terraform's
 * diagnostics) instead of thrown one at a time. `error` findings block apply.
 */
export type Severity = "error" | "warning" | "info";

export interface SourceLocation {
  file: string; // repo-relative
  line: number; // 1-based
  column: number; // 1-based
}

export interface Finding {
  /** Stable id for tooling and acknowledgements, e.g. "schema", "ssh-lockout", "origin-exposure". */
  id: string;
  severity: Severity;
  message: string;
  /** Field path in the desired state, in dotted words: `scopes.api.owner`. */
  path?: string;
  location?: SourceLocation;
  ref?: ResourceRef;
  detail?: string;
}

export function isBlocking(f: Finding): boolean {
  return f.severity === "error";
}

/** `tack.yaml:14:12 scopes.api.owner: must be one of ...` */
export function formatFinding(f: Finding): string {
  const where = f.location ? `${f.location.file}:${f.location.line}:${f.location.column} ` : "";
  const path = f.path ? `${f.path}: ` : "";
  const sev = f.severity === "error" ? "" : `${f.severity}: `;
  return `${where}${sev}${path}${f.message}`;
}

export function sortFindings(findings: Finding[]): Finding[] {
  const sevOrder: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  return [...findings].sort(
    (a, b) =>
      (a.location?.file ?? "").localeCompare(b.location?.file ?? "") ||
      (a.location?.line ?? 0) - (b.location?.line ?? 0) ||
      (a.location?.column ?? 0) - (b.location?.column ?? 0) ||
      sevOrder[a.severity] - sevOrder[b.severity] ||
      a.message.localeCompare(b.message),
  );
}
