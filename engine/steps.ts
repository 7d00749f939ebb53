import type { Change, Phase, PlannedChange } from "../core/changes.js";
import type { ResourceKind } from "../core/refs.js";
import { formatRef } from "../core/refs.js";
import type { ResolvedHost } from "../core/resources.js";
import { KINDS, layerOf } from "../kinds/index.js";
import type { Gate, Plan } from "./plan.js";
import { scopeOrder } from "./planner.js";
import { listSome } from "../core/text.js";

/**
 * A plan as the executor runs it: a list of steps, each one kind's changes in one phase (one driver call,
 * batched) or one health gate. Order (design.md "A cutover, in order"): firewall-open; per scope in `after`
 * order, runtime-stop → runtime-start → health; edge; dns; runtime-retire; firewall-close; prune.
 */
export interface Step {
  phase: Phase;
  scope?: string;
  kind?: ResourceKind;
  changes: PlannedChange[];
  gate?: Gate;
  description: string;
}

// Within one phase, kinds run in their table order: compose stops before units start (the kind's `order`).
const KIND_ORDER: ResourceKind[] = [...KINDS].sort((a, b) => a.order - b.order).map((k) => k.kind);

function describeChanges(phase: Phase, changes: Change[]): string {
  const names = changes.map((c) => `${c.action} ${formatRef(c.ref)}`);
  return `${phase}: ${listSome(names, 4)}`;
}

export function buildSteps(plan: Plan, host: ResolvedHost): Step[] {
  const applicable = plan.changes.filter((c) => !plan.observeOnly.includes(layerOf(c.ref.kind)));
  const steps: Step[] = [];
  const add = (phase: Phase, changes: PlannedChange[], scope?: string) => {
    for (const kind of KIND_ORDER) {
      const mine = changes.filter((c) => c.ref.kind === kind);
      if (mine.length) steps.push({ phase, kind, changes: mine, description: describeChanges(phase, mine), ...(scope ? { scope } : {}) });
    }
  };
  const inPhase = (phase: Phase) => applicable.filter((c) => c.phase === phase);

  add("firewall-open", inPhase("firewall-open"));
  const order = scopeOrder(host);
  const runtimeNoScope = (phase: Phase) => inPhase(phase).filter((c) => !c.scope || !order.includes(c.scope));
  add("runtime-stop", runtimeNoScope("runtime-stop"));
  add("runtime-start", runtimeNoScope("runtime-start"));
  // An exclusive scope stops everywhere before anything of it starts: break-before-make per scope.
  for (const scope of order) {
    add("runtime-stop", inPhase("runtime-stop").filter((c) => c.scope === scope), scope);
    add("runtime-start", inPhase("runtime-start").filter((c) => c.scope === scope), scope);
    const gate = plan.observeOnly.includes("runtime") ? undefined : plan.gates.find((g) => g.scope === scope);
    if (gate) steps.push({ phase: "health", scope, changes: [], gate, description: `health: ${scope} on ${gate.runtime}` });
  }
  add("edge", inPhase("edge"));
  add("dns", inPhase("dns"));
  for (const scope of order) add("runtime-retire", inPhase("runtime-retire").filter((c) => c.scope === scope), scope);
  add("runtime-retire", runtimeNoScope("runtime-retire"));
  add("firewall-close", inPhase("firewall-close"));
  add("prune", inPhase("prune"));
  return steps;
}
