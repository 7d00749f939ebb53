import type { PlannedChange } from "../core/changes.js";
import type { Finding } from "../core/findings.js";
import type { HealthCheck, Owner } from "../core/resources.js";

/** The owner a scope has on the host right now, as observed: both runtimes serving is a live hazard. */
export type ObservedOwner = Owner | "both";

export interface ScopeCutover {
  scope: string;
  from: ObservedOwner;
  to: Owner;
  handoff: "exclusive" | "overlap";
}

/** A health gate: after the scope's runtime changes, its new owner must be healthy before anything moves on. */
export interface Gate {
  scope: string;
  runtime: "native" | "docker";
  check: HealthCheck;
  /** The units or compose services whose state the check may fall back on. */
  resources: string[];
}

/** Plan (contract: the JSON form is documented in README "Plan JSON"). */
export interface Plan {
  host: string;
  revision: string;
  observedAt: string;
  /** No live host was observed: host-only values are symbolic and apply is impossible. */
  offline: boolean;
  changes: PlannedChange[];
  cutovers: ScopeCutover[];
  gates: Gate[];
  findings: Finding[];
  /** Layers in observe mode: their changes are reported as drift, never applied. */
  observeOnly: string[];
  /** Hash of what was observed; a saved plan is refused when the host no longer matches it. */
  fingerprint: string;
}

export function blockingFindings(plan: Pick<Plan, "findings">): Finding[] {
  return plan.findings.filter((f) => f.severity === "error");
}
