import { describe, expect, it } from "vitest";
import { SYMBOLIC_BRIDGE_SUBNET, type DesiredUfwRule } from "../../core/resources.js";
import type { UfwRule } from "./parse-rules.js";
import { addArgs, commentProblem, deleteArgs, families, planRules, sshGuard, type UfwObservation } from "./rule-plan.js";

function want(port: string | undefined, from = "any", over: Partial<DesiredUfwRule> = {}): DesiredUfwRule {
  const base = { action: "allow" as const, direction: "in" as const, proto: "tcp" as const, port, from, to: "any", ...over };
  return {
    kind: "ufw.rule",
    name: `${base.action} ${base.direction} ${base.proto} ${base.port ?? "any"} from ${base.from} to ${base.to}`,
    comment: "tack:",
    adopt: false,
    derived: false,
    ...base,
  };
}

function rule(port: string | undefined, from = "any", over: Partial<UfwRule> = {}): UfwRule {
  return { action: "allow", direction: "in", proto: "tcp", port, from, to: "any", comment: "tack:", v4: true, v6: from === "any", ...over };
}

function obs(rules: UfwRule[], over: Partial<UfwObservation> = {}): UfwObservation {
  return { rules, active: true, incoming: "deny", ipv6: true, sshPorts: [22], ...over };
}

const ids = (p: ReturnType<typeof planRules>) => p.findings.map((f) => `${f.severity}:${f.id}`);

describe("planRules", () => {
  it("creates a missing rule, keeps a converged one, deletes only tack's rules", () => {
    const desired = [want("22"), want("4000", "172.18.0.0/16", { comment: "tack: npm bridge" })];
    const p = planRules(desired, obs([rule("22"), rule("3000", "172.18.0.0/16"), rule("8080", "any", { comment: "by hand" })]));
    expect(p.changes.map((c) => [c.action, c.ref.name, c.phase])).toEqual([
      ["create", "allow in tcp 4000 from 172.18.0.0/16 to any", "firewall-open"],
      ["delete", "allow in tcp 3000 from 172.18.0.0/16 to any", "firewall-close"],
    ]);
    expect(p.unmanaged.map((r) => r.port)).toEqual(["8080"]);
    expect(ids(p)).toEqual(["info:ufw-unmanaged"]);
  });

  it("is empty when UFW matches, and updates a changed comment or a missing IPv6 entry", () => {
    expect(planRules([want("22")], obs([rule("22")])).changes).toEqual([]);
    const p = planRules([want("22", "any", { comment: "tack: ssh" })], obs([rule("22", "any", { v6: false })]));
    expect(p.changes[0]!.fields).toEqual([
      { field: "comment", from: "tack:", to: "tack: ssh" },
      { field: "families", from: "v4", to: "v4+v6" },
    ]);
    // With IPV6=no, a v4-only entry is complete.
    expect(planRules([want("22")], obs([rule("22", "any", { v6: false })], { ipv6: false })).changes).toEqual([]);
  });

  it("treats a same-spec hand-made rule as a conflict unless adopted", () => {
    const hand = [rule("22"), rule("4000", "172.18.0.0/16", { comment: "" })];
    const p = planRules([want("22"), want("4000", "172.18.0.0/16")], obs(hand));
    expect(p.changes).toEqual([]);
    expect(ids(p)).toEqual(["error:ufw-conflict"]);
    const adopted = planRules([want("22"), want("4000", "172.18.0.0/16", { adopt: true })], obs(hand));
    expect(adopted.changes.map((c) => [c.action, c.reason])).toEqual([["update", "adopt hand-made rule allow in tcp 4000 from 172.18.0.0/16 to any"]]);
    // A hand-made rule with another action at the same position is the same ufw rule: also a conflict.
    expect(ids(planRules([want("22"), want("4000", "172.18.0.0/16", { action: "deny" })], obs([rule("22"), rule("4000", "172.18.0.0/16", { comment: "x" })])))).toEqual([
      "error:ufw-conflict",
    ]);
  });

  it("refuses comments that could break out of the ufw command line", () => {
    expect(commentProblem("tack: it's")).toMatch(/quotes/);
    expect(commentProblem("tack: a\nb")).toMatch(/newlines/);
    expect(commentProblem("tack: $(reboot)")).toMatch(/\$/);
    expect(commentProblem("hand")).toMatch(/tack:/);
    expect(commentProblem("tack: npm bridge to native api")).toBeUndefined();
    const p = planRules([want("22"), want("80", "any", { comment: "tack: it's" })], obs([rule("22")]));
    expect(p.changes).toEqual([]);
    expect(ids(p)).toEqual(["error:ufw-comment"]);
  });

  it("plans a rule with the symbolic bridge subnet without crashing (v4 only)", () => {
    const p = planRules([want("22"), want("4000", SYMBOLIC_BRIDGE_SUBNET)], obs([rule("22")]));
    expect(p.changes.map((c) => c.ref.name)).toEqual([`allow in tcp 4000 from ${SYMBOLIC_BRIDGE_SUBNET} to any`]);
    expect(families({ from: SYMBOLIC_BRIDGE_SUBNET, to: "any" }, true)).toEqual({ v4: true, v6: false });
  });

  it("reports an inactive UFW", () => {
    expect(ids(planRules([want("22")], obs([rule("22")], { active: false })))).toEqual(["warning:ufw-inactive"]);
  });
});

describe("SSH guard", () => {
  it("refuses a plan that removes the last SSH rule while incoming is denied, naming the rule", () => {
    const p = planRules([want("4000", "172.18.0.0/16")], obs([rule("22"), rule("8080", "any", { comment: "" })]));
    const f = p.findings.find((x) => x.id === "ssh-lockout");
    expect(f?.severity).toBe("error");
    expect(f?.message).toContain('"allow in tcp 22 from any to any"');
  });
  it("accepts a hand-made SSH rule, a limit rule, a range, an all-ports rule, or the live sshd port", () => {
    const check = (rules: UfwRule[], ports = [22]) => planRules([], obs(rules, { sshPorts: ports })).findings.filter((f) => f.id === "ssh-lockout");
    expect(check([rule("22", "any", { comment: "by hand" })])).toEqual([]);
    expect(check([rule("22", "any", { action: "limit", comment: "x" })])).toEqual([]);
    expect(check([rule("20:30", "any", { comment: "x" })])).toEqual([]);
    expect(check([rule(undefined, "198.51.100.7", { comment: "x" })])).toEqual([]);
    expect(check([rule("22", "any", { comment: "x" })], [2222])).toHaveLength(1);
    expect(check([rule("2222", "any", { comment: "x" })], [2222])).toEqual([]);
    expect(check([rule("22", "any", { comment: "x", proto: "udp" })])).toHaveLength(1);
    expect(check([rule("22", "any", { comment: "x", action: "deny" })])).toHaveLength(1);
  });
  it("is silent when incoming is allowed, and only warns with policy.safety.allowSshLockout or an inactive UFW", () => {
    expect(planRules([], obs([rule("22")], { incoming: "allow" })).findings).toEqual([]);
    expect(ids(planRules([], obs([rule("22")]), { allowSshLockout: true }))).toEqual(["warning:ssh-lockout"]);
    expect(ids(planRules([], obs([rule("22")], { active: false })))).toEqual(["warning:ufw-inactive", "warning:ssh-lockout"]);
  });
  it("flags tightening the SSH rule to deny", () => {
    const f = sshGuard([{ ...want("22"), action: "deny" }], [], { incoming: "deny", sshPorts: [22], active: true }, false);
    expect(f.map((x) => x.severity)).toEqual(["error"]);
  });
});

describe("ufw command lines", () => {
  it("adds and deletes by spec", () => {
    expect(addArgs(want("4000", "172.18.0.0/16", { comment: "tack: npm bridge" }))).toEqual([
      "allow", "in", "proto", "tcp", "from", "172.18.0.0/16", "to", "any", "port", "4000", "comment", "tack: npm bridge",
    ]);
    expect(deleteArgs(rule(undefined, "10.0.0.0/8", { proto: "any", action: "deny" }))).toEqual(["delete", "deny", "in", "from", "10.0.0.0/8", "to", "any"]);
  });
});
