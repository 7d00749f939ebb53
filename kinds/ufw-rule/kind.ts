import type { Change } from "../../core/changes.js";
import type { Kind } from "../../core/kind.js";
import { SYMBOLIC_BRIDGE_SUBNET, type DesiredUfwRule, type ResolvedHost } from "../../core/resources.js";
import type { UfwRule } from "./parse-rules.js";
import { indexRules, owned, planRules, type UfwFacts } from "./rule-plan.js";
import { UfwDriver } from "./ufw-driver.js";

/** `ufw.rule`: one UFW rule, owned by tack when its comment starts with `tack:`. */

/** What UFW reports for a rule that was applied as desired. */
function assumedRule(d: DesiredUfwRule): UfwRule {
  return {
    action: d.action,
    direction: d.direction,
    proto: d.proto,
    ...(d.port !== undefined ? { port: d.port } : {}),
    from: d.from,
    to: d.to,
    comment: d.comment,
    v4: true,
    v6: !d.from.includes(".") && !d.to.includes("."),
  };
}

/** `npm-bridge` for the bridge subnet (live or symbolic), else the address as written. */
export function bridgeName(from: string, host: ResolvedHost): string {
  return from === SYMBOLIC_BRIDGE_SUBNET || from === host.facts.npmBridgeSubnet ? "npm-bridge" : from;
}

/** "allow 4000/tcp from npm-bridge": a rule in a reviewer's words. */
export function ruleText(r: { action: string; port?: string | undefined; from: string; proto: string }, host: ResolvedHost): string {
  return `${r.action} ${r.port ?? "all ports"}${r.proto === "any" ? "" : `/${r.proto}`} from ${bridgeName(r.from, host)}`;
}

function describe(c: Change<DesiredUfwRule, UfwRule>, host: ResolvedHost): string {
  const r = c.desired ?? c.actual;
  const text = r ? ruleText(r, host) : c.ref.name;
  return c.action === "delete" ? `UFW delete ${text}` : c.action === "create" ? `UFW ${text}` : `UFW update ${text}`;
}

export const ufwRule: Kind<DesiredUfwRule, UfwRule, UfwFacts> = {
  kind: "ufw.rule",
  layer: "firewall",
  order: 3,
  // A host that does not declare firewall.ufw leaves UFW alone: nothing observed, nothing planned, no SSH guard.
  manages: (host) => host.ufw !== undefined,
  desired: (host) => host.resources["ufw.rule"],
  plan(desired, observed, host) {
    const p = planRules(desired, { rules: [...observed.resources.values()], ...observed.facts }, { allowSshLockout: host.policy.allowSshLockout });
    return { changes: p.changes, findings: p.findings };
  },
  // A converged host, as on a typical VPS: UFW active, incoming denied by default, sshd on its known port (22).
  assumeConverged: (desired, host) => ({
    resources: indexRules(desired.map(assumedRule)),
    facts: { active: true, incoming: "deny", ipv6: true, sshPorts: [host.facts.sshPort ?? 22] },
  }),
  owned: (a) => owned(a),
  describe,
  async connect(host, ctx) {
    const driver = new UfwDriver({ runner: ctx.runner, allowSshLockout: host.policy.allowSshLockout, ...(host.facts.sshPort ? { sshPorts: [host.facts.sshPort] } : {}) });
    return { observe: () => driver.observe(), apply: (changes) => driver.apply(changes) };
  },
};
