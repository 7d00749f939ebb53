import type { ResourceRef } from "./refs.js";
import type { DesiredResource } from "./resources.js";

/**
 * The phases of a cutover, in the order they run (design.md "A cutover, in order").
 * runtime-retire is the overlap handoff's old owner, stopped after the edge has switched.
 */
export const PHASES = [
  "preflight",
  "firewall-open",
  "runtime-stop",
  "runtime-start",
  "health",
  "edge",
  "dns",
  "runtime-retire",
  "firewall-close",
  "prune",
] as const;

export type Phase = (typeof PHASES)[number];

export type ChangeAction = "create" | "update" | "delete";

/** safe: nothing serving is interrupted; disruptive: something restarts or moves; destructive: something is removed. */
export type Risk = "safe" | "disruptive" | "destructive";

/** One field that differs. `from`/`to` are display-safe values (secrets already masked). */
export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface Change<Desired = unknown, Actual = unknown> {
  ref: ResourceRef;
  action: ChangeAction;
  phase: Phase;
  fields: FieldChange[];
  risk: Risk;
  /** One line a reviewer understands: why this change exists. */
  reason: string;
  /** What the driver needs to carry the change out: the desired resource (absent on delete)... */
  desired?: Desired;
  /** ...and what was observed before it (absent on create). */
  actual?: Actual;
  /** The app scope this change belongs to, when it belongs to one. */
  scope?: string;
  /** A prune: tack created or adopted this resource and the desired state no longer names it (policy.prune). */
  prune?: boolean;
  /**
   * The running runtime of this change's scope must restart for the change to take effect (a secret its units or
   * services read): the planner adds that restart to the scope's runtime-start, behind its health gate.
   */
  restartsScope?: boolean;
}

/** A change as the engine holds it, of any kind: what a kind's plan made, to be handed back to that kind's driver. */
export type PlannedChange = Change<DesiredResource, unknown>;

const RISK_ORDER: Record<Risk, number> = { safe: 0, disruptive: 1, destructive: 2 };

export function maxRisk(risks: Iterable<Risk>): Risk {
  let worst: Risk = "safe";
  for (const r of risks) if (RISK_ORDER[r] > RISK_ORDER[worst]) worst = r;
  return worst;
}

export function phaseIndex(phase: Phase): number {
  return PHASES.indexOf(phase);
}

/** Stable order: by phase, then kind, then name. */
export function sortChanges<T extends Change>(changes: T[]): T[] {
  return [...changes].sort(
    (a, b) =>
      phaseIndex(a.phase) - phaseIndex(b.phase) ||
      a.ref.kind.localeCompare(b.ref.kind) ||
      a.ref.name.localeCompare(b.ref.name),
  );
}

/** Compare two plain values structurally (JSON-like data only). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameValue(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!sameValue(ao[k], bo[k])) return false;
  return true;
}

/**
 * Field-by-field diff of the fields the desired state declares. A desired field that is `undefined`
 * is not managed and never produces a change (design.md Decisions: only declared fields are managed).
 */
export function diffFields<D extends object>(
  desired: D,
  actual: Partial<Record<keyof D, unknown>> | undefined,
  fields: readonly (keyof D & string)[],
): FieldChange[] {
  const out: FieldChange[] = [];
  for (const f of fields) {
    const want = desired[f];
    if (want === undefined) continue;
    const have = actual?.[f];
    if (!sameValue(want, have)) out.push({ field: f, from: have, to: want });
  }
  return out;
}
