import { formatRef, RESOURCE_KINDS, type ResourceKind } from "../core/refs.js";
import type { Plan } from "../engine/plan.js";
import { layerOf } from "../kinds/index.js";
import type { FlapDetector } from "./flap-detector.js";
import type { TackMetrics } from "./metrics.js";
import type { AgentStatus } from "./status.js";

/**
 * Drift as the agent reports it (status drift/driftDetails, tack_drift_resources): the changes a plan of the
 * good revision against the live host still wants, counted by kind.
 */
function observeOnly(plan: Plan, c: Plan["changes"][number]): boolean {
  return plan.observeOnly.includes(layerOf(c.ref.kind));
}

/** The changes the agent may make: those of enforce layers. */
export function actionable(plan: Plan): Plan["changes"] {
  return plan.changes.filter((c) => !observeOnly(plan, c));
}

/** What a successful apply leaves: the changes of observe-only layers. */
export function leftAfterApply(plan: Plan | undefined): Plan["changes"] {
  return plan ? plan.changes.filter((c) => observeOnly(plan, c)) : [];
}

function driftByKind(changes: Plan["changes"]): Partial<Record<ResourceKind, number>> {
  const out: Partial<Record<ResourceKind, number>> = {};
  for (const c of changes) out[c.ref.kind as ResourceKind] = (out[c.ref.kind as ResourceKind] ?? 0) + 1;
  return out;
}

export function recordDrift(changes: Plan["changes"], to: { flaps: FlapDetector; status: AgentStatus; metrics: TackMetrics }): void {
  const byKind = driftByKind(changes);
  // A flapping resource is no longer corrected: it stays counted as drift until it holds still.
  for (const f of to.flaps.flapping()) {
    const kind = f.ref.split("/")[0] as ResourceKind;
    if (RESOURCE_KINDS.includes(kind) && !changes.some((c) => formatRef(c.ref) === f.ref)) byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  to.status.drifted(
    byKind,
    changes.map((c) => `${formatRef(c.ref)} ${c.action}: ${c.reason}`),
  );
  to.metrics.setDrift(byKind);
}
