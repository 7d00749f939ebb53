import { RESOURCE_KINDS } from "./core/refs.js";
import type { ResolvedHost } from "./core/resources.js";
import type { KindHandler, ObservedByKind } from "./kind-handler.js";
import type { Plan } from "./plan.js";
import { buildPlan } from "./planner.js";
import { offlineHandlers } from "./registry.js";

/**
 * A plan with no live host: the "observed" state is what the base revision would have left on a converged host
 * (nothing at all without a base). This is what a pull request review sees: the steps merging would cause, in
 * the order the agent will run them, with the same drivers' planning and the same guards.
 */
export function offlinePlan(head: ResolvedHost, base: ResolvedHost | undefined, revision: string): Plan {
  const handlers = offlineHandlers(head);
  const observed: ObservedByKind = {};
  for (const kind of RESOURCE_KINDS) {
    const h = handlers[kind] as KindHandler<unknown, unknown> | undefined;
    if (!h) continue;
    const m = new Map<string, unknown>();
    for (const d of (base?.resources[kind] ?? []) as { name: string }[]) m.set(d.name, h.assumeConverged(d));
    observed[kind] = m;
  }
  return buildPlan({ host: head, revision, observedAt: "offline", observed, handlers, offline: true });
}
