import type { Change, FieldChange } from "../../core/changes.js";
import { isTackComment, TACK_MARKER } from "../../core/ownership.js";
import type { Finding } from "../../core/findings.js";
import type { DesiredUfwRule } from "../../core/resources.js";
import { positionKey, type UfwRule } from "./parse-rules.js";

/**
 * Pure planning of UFW rules. tack owns a rule by its comment prefix `tack:`; other rules are reported,
 * never changed or deleted. A same-position rule tack does not own is a conflict, changed only with
 * `adopt` (re-adding with another comment would silently make a hand-made rule tack's). Also: the SSH
 * lock-out guard, comment validation, and the ufw command lines the I/O file runs.
 */


export type UfwChange = Change<DesiredUfwRule, UfwRule>;

/** Facts about UFW and the host that the plan depends on (they are part of the observation and its fingerprint). */
export interface UfwFacts {
  active: boolean;
  /** Default incoming policy; undefined when unknown (offline), which counts as UFW's default, deny. */
  incoming?: "deny" | "reject" | "allow";
  /** Whether UFW writes IPv6 rules (IPV6=yes in /etc/default/ufw). */
  ipv6: boolean;
  sshPorts: number[];
}

export interface UfwObservation extends UfwFacts {
  rules: UfwRule[];
}

export interface UfwPlan {
  changes: UfwChange[];
  findings: Finding[];
  unmanaged: UfwRule[];
}

export const owned = (r: Pick<UfwRule, "comment">): boolean => isTackComment(r.comment);

export function isSymbolic(addr: string): boolean {
  return addr.includes("<");
}

function isV6(addr: string): boolean {
  return addr.includes(":");
}

/** Which files a rule lands in: "any" everywhere lands in both (when IPv6 is on), else by address family. */
export function families(d: Pick<DesiredUfwRule, "from" | "to">, ipv6: boolean): { v4: boolean; v6: boolean } {
  const addrs = [d.from, d.to].filter((a) => a !== "any");
  if (addrs.length === 0) return { v4: true, v6: ipv6 };
  if (addrs.some(isSymbolic)) return { v4: true, v6: false };
  const six = addrs.some(isV6);
  return { v4: !six, v6: six };
}

/** Comments go on ufw's command line and into its files: refuse anything that could break out. */
export function commentProblem(comment: string): string | undefined {
  if (!isTackComment(comment)) return `comment must start with "${TACK_MARKER}"`;
  if (/['"\\`$]/.test(comment)) return "comment may not contain quotes, backslashes, backticks or $";
  if ([...comment].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) return "comment may not contain newlines or control characters";
  if (comment.length > 200) return "comment is longer than 200 characters";
  return undefined;
}

export function diffRule(desired: DesiredUfwRule | undefined, actual: UfwRule | undefined, ipv6 = true): FieldChange[] {
  if (!desired) return actual ? [{ field: "present", from: true, to: false }] : [];
  if (!actual)
    return [
      { field: "action", from: undefined, to: desired.action },
      { field: "comment", from: undefined, to: desired.comment },
    ];
  const out: FieldChange[] = [];
  if (desired.action !== actual.action) out.push({ field: "action", from: actual.action, to: desired.action });
  if (desired.comment !== actual.comment) out.push({ field: "comment", from: actual.comment, to: desired.comment });
  const want = families(desired, ipv6);
  if ((want.v4 && !actual.v4) || (want.v6 && !actual.v6))
    out.push({ field: "families", from: famLabel(actual), to: famLabel(want) });
  return out;
}

function famLabel(f: { v4: boolean; v6: boolean }): string {
  return [f.v4 ? "v4" : "", f.v6 ? "v6" : ""].filter(Boolean).join("+") || "none";
}

export function indexRules(rules: UfwRule[]): Map<string, UfwRule> {
  return new Map(rules.map((r) => [positionKey(r), r]));
}

export function planRules(desired: DesiredUfwRule[], obs: UfwObservation, opts: { allowSshLockout?: boolean } = {}): UfwPlan {
  const actual = indexRules(obs.rules);
  const changes: UfwChange[] = [];
  const findings: Finding[] = [];
  const wanted = new Set<string>();

  for (const d of desired) {
    const key = positionKey(d);
    wanted.add(key);
    const ref = { kind: "ufw.rule" as const, name: d.name };
    const bad = commentProblem(d.comment);
    if (bad) {
      findings.push({ id: "ufw-comment", severity: "error", ref, message: `${d.name}: ${bad}` });
      continue;
    }
    const a = actual.get(key);
    if (!a) {
      changes.push({ ref, action: "create", phase: "firewall-open", fields: diffRule(d, undefined), risk: "safe", reason: `${d.name} is not in UFW`, desired: d });
      continue;
    }
    if (!owned(a) && !d.adopt) {
      findings.push({
        id: "ufw-conflict",
        severity: "error",
        ref,
        message: `${d.name}: UFW already has this rule without a tack comment (${a.comment ? `"${a.comment}"` : "no comment"}); set adopt: true to let tack own it`,
      });
      continue;
    }
    const fields = diffRule(d, a, obs.ipv6);
    if (fields.length === 0) continue;
    const actionChange = fields.some((f) => f.field === "action");
    changes.push({
      ref,
      action: "update",
      // Tightening a rule (allow → deny) closes the firewall; loosening or re-commenting opens it.
      phase: actionChange && d.action !== "allow" ? "firewall-close" : "firewall-open",
      fields,
      risk: actionChange ? "disruptive" : "safe",
      reason: owned(a) ? `${d.name}: ${fields.map((f) => f.field).join(", ")} differ` : `adopt hand-made rule ${d.name}`,
      desired: d,
      actual: a,
    });
  }

  const unmanaged: UfwRule[] = [];
  for (const [key, a] of actual) {
    if (wanted.has(key)) continue;
    if (!owned(a)) {
      unmanaged.push(a);
      continue;
    }
    changes.push({
      ref: { kind: "ufw.rule", name: `${a.action} ${key}` },
      action: "delete",
      phase: "firewall-close",
      fields: diffRule(undefined, a),
      risk: "destructive",
      reason: `tack owns ${a.action} ${key} ("${a.comment}") and the desired state no longer declares it`,
      actual: a,
      prune: true,
    });
  }

  if (!obs.active)
    findings.push({ id: "ufw-inactive", severity: "warning", message: "UFW is inactive: its rules are kept in its files but nothing is filtered" });
  if (unmanaged.length)
    findings.push({
      id: "ufw-unmanaged",
      severity: "info",
      message: `${unmanaged.length} UFW rule(s) without a tack comment are left alone: ${unmanaged
        .slice(0, 10)
        .map((r) => `${r.action} ${positionKey(r)}`)
        .join("; ")}${unmanaged.length > 10 ? "; ..." : ""}`,
    });
  findings.push(...sshGuard(rulesAfter(obs.rules, changes), changes, obs, opts.allowSshLockout ?? false));
  return { changes, findings, unmanaged };
}

type RuleShape = Pick<UfwRule, "action" | "direction" | "proto" | "port" | "from" | "to">;

/** The rules UFW would hold after the changes: observed, minus deletes, plus creates and updates. */
export function rulesAfter(observed: UfwRule[], changes: UfwChange[]): RuleShape[] {
  const byKey = new Map<string, RuleShape>(observed.map((r) => [positionKey(r), r]));
  for (const c of changes) {
    if (c.action === "delete" && c.actual) byKey.delete(positionKey(c.actual));
    else if (c.desired) byKey.set(positionKey(c.desired), c.desired);
  }
  return [...byKey.values()];
}

function portCovers(port: string | undefined, want: number): boolean {
  if (port === undefined) return true;
  return port.split(",").some((p) => {
    const [lo, hi] = p.split(":").map(Number);
    return hi === undefined ? lo === want : lo! <= want && want <= hi;
  });
}

export function allowsSsh(r: RuleShape, sshPorts: number[]): boolean {
  return (
    (r.action === "allow" || r.action === "limit") &&
    r.direction === "in" &&
    (r.proto === "tcp" || r.proto === "any") &&
    sshPorts.some((p) => portCovers(r.port, p))
  );
}

/**
 * SSH lock-out guard: with incoming denied by default, the rules after the plan must still allow the
 * live sshd port. The refusal names the rules the plan removes that allowed SSH.
 */
export function sshGuard(after: RuleShape[], changes: UfwChange[], obs: Pick<UfwObservation, "incoming" | "sshPorts" | "active">, allowSshLockout: boolean): Finding[] {
  const incoming = obs.incoming ?? "deny";
  if (incoming === "allow") return [];
  if (after.some((r) => allowsSsh(r, obs.sshPorts))) return [];
  const removed = changes
    .filter((c) => c.actual && allowsSsh(c.actual, obs.sshPorts) && (c.action === "delete" || !c.desired || !allowsSsh(c.desired, obs.sshPorts)))
    .map((c) => c.ref.name);
  const ports = obs.sshPorts.join(", ");
  const what = removed.length ? `removing ${removed.map((n) => `"${n}"`).join(", ")} leaves` : "the plan leaves";
  const message = `${what} no UFW rule allowing SSH (port ${ports}) while incoming is denied by default: this would lock you out`;
  if (allowSshLockout) return [{ id: "ssh-lockout", severity: "warning", message: `${message} (allowed by policy.safety.allowSshLockout)` }];
  return [
    {
      id: "ssh-lockout",
      severity: obs.active ? "error" : "warning",
      message: obs.active ? message : `${message} once UFW is enabled`,
      path: "firewall.ufw.rules",
      detail: "Keep a rule such as `{ allow: tcp, port: 22 }`, or set policy.safety.allowSshLockout: true.",
    },
  ];
}

/** The ufw arguments for a rule spec, without the action: `in proto tcp from X to Y port P`. */
export function specArgs(r: RuleShape): string[] {
  const args: string[] = [r.direction];
  if (r.proto !== "any") args.push("proto", r.proto);
  args.push("from", r.from, "to", r.to);
  if (r.port !== undefined) args.push("port", r.port);
  return args;
}

/** `ufw allow in proto tcp from X to any port P comment 'tack: ...'` as an argument list (no shell involved). */
export function addArgs(d: DesiredUfwRule): string[] {
  return [d.action, ...specArgs(d), "comment", d.comment];
}

/** `ufw delete <same spec>` removes the v4 and v6 entries alike. */
export function deleteArgs(r: UfwRule): string[] {
  return ["delete", r.action, ...specArgs(r)];
}
