import type { Change, FieldChange } from "./core/changes.js";
import { maxRisk, PHASES } from "./core/changes.js";
import { formatFinding } from "./core/findings.js";
import type { ResolvedHost } from "./core/resources.js";
import type { Plan } from "./plan.js";
import { blockingFindings } from "./plan.js";
import { buildSteps } from "./steps.js";

/**
 * Plans for people (text for a terminal, markdown for a pull request comment) and for tools (JSON, stable:
 * see README "Plan JSON"). Output is deterministic: the same plan renders to the same bytes.
 */
export type PlanFormat = "text" | "markdown" | "json";

const SECRET_FIELD = /token|secret|password|key/i;

export function showValue(field: string, v: unknown): string {
  if (v === undefined || v === null) return "—";
  if (SECRET_FIELD.test(field) && typeof v === "string") return "(secret)";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  const one = s.replace(/\s+/g, " ");
  return one.length > 60 ? one.slice(0, 57) + "..." : one;
}

function fieldText(f: FieldChange): string {
  return `${f.field}: ${showValue(f.field, f.from)} → ${showValue(f.field, f.to)}`;
}

export function summaryLine(plan: Plan): string {
  const n = plan.changes.length;
  if (n === 0 && plan.findings.length === 0) return "No changes. The host matches the desired state.";
  const risk = n ? maxRisk(plan.changes.map((c) => c.risk)) : "safe";
  const blocking = blockingFindings(plan).length;
  const warnings = plan.findings.filter((f) => f.severity === "warning").length;
  const parts = [
    n === 0 ? "No changes" : `${n} change${n === 1 ? "" : "s"}`,
    `${plan.cutovers.length} cutover${plan.cutovers.length === 1 ? "" : "s"}`,
    `risk ${risk}`,
    `${blocking} blocking`,
    `${warnings} warning${warnings === 1 ? "" : "s"}`,
  ];
  return parts.join(", ") + (blocking ? " — apply is refused" : "");
}

function header(plan: Plan): string {
  return `Plan for ${plan.host} at ${plan.revision}${plan.offline ? " (offline: no live host observed; host-only values are symbolic)" : ` (observed ${plan.observedAt})`}`;
}

export function renderText(plan: Plan, host: ResolvedHost): string {
  const out: string[] = [header(plan), summaryLine(plan), ""];
  if (plan.cutovers.length) {
    out.push("Cutovers:");
    for (const c of plan.cutovers) out.push(`  ${c.scope}: ${c.from} → ${c.to} (${c.handoff})`);
    out.push("");
  }
  const steps = buildSteps(plan, host);
  if (steps.length) {
    out.push("Steps, in order:");
    steps.forEach((s, i) => {
      if (s.gate) {
        out.push(`  ${i + 1}. ${s.phase}: gate ${s.scope} on ${s.gate.runtime}: ${gateText(s.gate.check)}`);
        return;
      }
      out.push(`  ${i + 1}. ${s.phase}${s.scope ? ` [${s.scope}]` : ""}:`);
      for (const c of s.changes) {
        out.push(`       ${c.action} ${c.ref.kind} ${c.ref.name} (${c.risk}): ${c.reason}`);
        for (const f of c.fields) out.push(`         ${fieldText(f)}`);
      }
    });
    out.push("");
  }
  const observed = plan.changes.filter((c) => plan.observeOnly.includes(layerOf(c)));
  if (observed.length) out.push(`Not applied (observe mode): ${observed.length} change(s) in ${plan.observeOnly.join(", ")}`, "");
  if (plan.findings.length) {
    out.push("Findings:");
    for (const f of plan.findings) out.push(`  ${f.severity}: ${f.id}: ${formatFinding({ ...f, severity: "error" })}`);
  }
  return out.join("\n").trimEnd() + "\n";
}

function layerOf(c: Change): string {
  return c.ref.kind === "npm.proxyHost" ? "edge" : c.ref.kind === "ufw.rule" ? "firewall" : c.ref.kind === "cloudflare.record" ? "dns" : "runtime";
}

function gateText(check: { type: string; url?: string; command?: string[] }): string {
  return check.type === "http" ? `GET ${check.url}` : check.type === "command" ? `run ${check.command?.join(" ")}` : "units active / containers running";
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function renderMarkdown(plan: Plan, host: ResolvedHost): string {
  const out: string[] = [`### tack plan: ${plan.host}`, "", `**${summaryLine(plan)}**`, ""];
  out.push(`Revision \`${plan.revision}\`${plan.offline ? " · offline plan (values only the host knows are shown as `<npm-bridge gateway>`)" : ` · observed ${plan.observedAt}`}`, "");
  if (plan.cutovers.length) {
    out.push("#### Cutovers", "", "| scope | from | to | handoff |", "| --- | --- | --- | --- |");
    for (const c of plan.cutovers) out.push(`| ${c.scope} | ${c.from} | ${c.to} | ${c.handoff} |`);
    out.push("");
  }
  const steps = buildSteps(plan, host);
  for (const phase of PHASES) {
    const inPhase = steps.filter((s) => s.phase === phase);
    if (!inPhase.length) continue;
    out.push(`#### ${phase}`, "");
    for (const s of inPhase) {
      if (s.gate) {
        out.push(`- gate **${s.scope}** on ${s.gate.runtime}: ${mdEscape(gateText(s.gate.check))}`);
        continue;
      }
      out.push(`| ${s.scope ? `${s.scope}: ` : ""}${s.kind} | action | risk | changes |`, "| --- | --- | --- | --- |");
      for (const c of s.changes) {
        const fields = c.fields.map((f) => mdEscape(fieldText(f))).join("<br>");
        out.push(`| ${mdEscape(c.ref.name)} | ${c.action} | ${c.risk} | ${fields || mdEscape(c.reason)} |`);
      }
      out.push("");
    }
    if (inPhase.every((s) => s.gate)) out.push("");
  }
  if (plan.findings.length) {
    out.push("#### Findings", "", "| severity | check | message |", "| --- | --- | --- |");
    for (const f of plan.findings) out.push(`| ${f.severity} | ${f.id} | ${mdEscape(formatFinding({ ...f, severity: "error" }))} |`);
    out.push("");
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

/** The stable JSON form (README "Plan JSON"): drivers' private payloads (desired/actual) are left out. */
export function planJson(plan: Plan): unknown {
  return {
    formatVersion: 1,
    host: plan.host,
    revision: plan.revision,
    observedAt: plan.observedAt,
    offline: plan.offline,
    summary: summaryLine(plan),
    fingerprint: plan.fingerprint,
    cutovers: plan.cutovers,
    gates: plan.gates.map((g) => ({ scope: g.scope, runtime: g.runtime, check: g.check })),
    changes: plan.changes.map((c) => ({
      kind: c.ref.kind,
      name: c.ref.name,
      action: c.action,
      phase: c.phase,
      risk: c.risk,
      reason: c.reason,
      scope: c.scope ?? null,
      fields: c.fields.map((f) => ({ field: f.field, from: f.from ?? null, to: f.to ?? null })),
    })),
    findings: plan.findings,
    observeOnly: plan.observeOnly,
  };
}

export function renderPlan(plan: Plan, host: ResolvedHost, format: PlanFormat): string {
  if (format === "json") return JSON.stringify(planJson(plan), null, 2) + "\n";
  return format === "markdown" ? renderMarkdown(plan, host) : renderText(plan, host);
}
