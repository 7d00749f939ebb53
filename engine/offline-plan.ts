import { sortFindings, type Finding } from "../core/findings.js";
import type { ObservedByKind } from "../core/kind.js";
import { listSome } from "../core/text.js";
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
  const plan = buildPlan({ host: head, revision, observedAt: "offline", observed: assumeConverged(head, base), offline: true });
  const released = base ? releasedLayers(head, base) : [];
  return released.length ? { ...plan, findings: sortFindings([...plan.findings, ...released]) } : plan;
}

/**
 * One meaning for a removed section, live and offline: a section the desired state leaves out is not managed (the
 * live agent neither observes nor changes it), so removing one deletes nothing. A pull request that removes a managed
 * section says so: its resources are released, left on the host as they are.
 */
function releasedLayers(head: ResolvedHost, base: ResolvedHost): Finding[] {
  const out: Finding[] = [];
  for (const k of KINDS) {
    const before = k.desired(base);
    if (!k.manages(base) || k.manages(head) || before.length === 0) continue;
    out.push({
      id: "release",
      severity: "warning",
      message: `${k.layer}: the section that declared ${before.length} ${k.kind} resource(s) is removed: tack stops managing them and leaves them on the host as they are (${listSome(before.map((d) => d.name), 5)})`,
    });
  }
  return out;
}
