import type { PlannedChange } from "../core/changes.js";
import type { DesiredUfwRule, HealthCheck, ResolvedHost } from "../core/resources.js";
import { kindOf } from "../kinds/index.js";
import { ruleText } from "../kinds/ufw-rule/kind.js";
import { letsBridgeReach } from "./guards.js";
import type { Plan } from "./plan.js";
import { scopeOrder } from "./planner.js";
import { buildSteps, type Step } from "./steps.js";

/**
 * What a cutover does to one scope, in the order the agent runs it: the story a pull request plan tells first
 * ("api: docker → native (exclusive): stop and remove compose service api; enable and start …; gate on …; NPM … →
 * <npm-bridge gateway>:4000; UFW allow 4000/tcp from npm-bridge (already in place)").
 */
export interface CutoverSummary {
  scope: string;
  from: string;
  to: string;
  handoff: "exclusive" | "overlap";
  /** What happens to this scope, in the order the agent runs it. */
  steps: string[];
}

/** One change in a reviewer's words, as its kind puts it. */
export function describeChange(c: PlannedChange, host: ResolvedHost): string {
  return kindOf(c.ref.kind).describe(c, host);
}

export function gateText(check: HealthCheck, runtime?: "native" | "docker"): string {
  if (check.type === "http") return `GET ${check.url}`;
  if (check.type === "command") return `run ${check.command.join(" ")}`;
  return runtime === "docker" ? "containers running" : runtime === "native" ? "units active" : "units active / containers running";
}

/** Per cutover, in scope start order: the steps that touch the scope, in the order the executor runs them. */
export function cutoverSummaries(plan: Plan, host: ResolvedHost, steps: Step[] = buildSteps(plan, host)): CutoverSummary[] {
  const order = scopeOrder(host);
  const byScope = new Map(host.scopes.map((s) => [s.name, s]));
  const cutovers = [...plan.cutovers].sort((a, b) => order.indexOf(a.scope) - order.indexOf(b.scope));
  return cutovers.map((cut) => {
    const scope = byScope.get(cut.scope);
    const port = scope?.native?.port;
    let mentionsUfw = false;
    const out: string[] = [];
    for (const s of steps) {
      if (s.gate) {
        if (s.scope === cut.scope) out.push(`gate on ${gateText(s.gate.check, s.gate.runtime)}`);
        continue;
      }
      for (const c of s.changes) {
        // A firewall rule belongs to the cutover that needs it: the one that opens NPM's path to the scope's port.
        const rule = kindOf(c.ref.kind).layer === "firewall" ? ((c.desired ?? c.actual) as DesiredUfwRule | undefined) : undefined;
        const mine = rule ? port !== undefined && letsBridgeReach(rule, port, host) : c.scope === cut.scope;
        if (!mine) continue;
        if (rule) mentionsUfw = true;
        out.push(describeChange(c, host));
      }
    }
    const proxied = host.resources["npm.proxyHost"].some((p) => p.scope === cut.scope && p.enabled);
    if (cut.to === "native" && proxied && port !== undefined && host.ufw && !mentionsUfw) {
      const path = host.resources["ufw.rule"].find((r) => letsBridgeReach(r, port, host));
      out.push(path ? `UFW ${ruleText(path, host)} (already in place)` : `no UFW path from npm-bridge to ${port}`);
    }
    return { scope: cut.scope, from: cut.from, to: cut.to, handoff: cut.handoff, steps: out };
  });
}
