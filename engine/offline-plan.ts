import type { ObservedByKind } from "../core/kind.js";
import type { ResolvedHost } from "../core/resources.js";
import { KINDS } from "../kinds/index.js";
import type { Plan } from "./plan.js";
import { buildPlan } from "./planner.js";

/** What a host converged on `base` would report (nothing at all without a base), for every kind `head` manages. */
export function assumeConverged(head: ResolvedHost, base: ResolvedHost | undefined): ObservedByKind {
  const observed: ObservedByKind = {};
  for (const k of KINDS) if (k.manages(head)) observed[k.kind] = k.assumeConverged(base ? k.desired(base) : [], head);
  return observed;
}

/**
 * A plan with no live host: the "observed" state is what the base revision would have left on a converged host.
 * This is what a pull request review sees: the steps merging would cause, in the order the agent will run them,
 * with the same kinds' planning and the same guards as the live plan.
 */
export function offlinePlan(head: ResolvedHost, base: ResolvedHost | undefined, revision: string): Plan {
  return buildPlan({ host: head, revision, observedAt: "offline", observed: assumeConverged(head, base), offline: true });
}
