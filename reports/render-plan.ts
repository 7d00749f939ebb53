import type { Change, ChangeAction, FieldChange } from "../core/changes.js";
import { maxRisk, PHASES } from "../core/changes.js";
import { formatFinding, type Finding } from "../core/findings.js";
import { formatRef } from "../core/refs.js";
import type { ResolvedHost } from "../core/resources.js";
import { layerOf } from "../kinds/index.js";
import { cutoverSummaries, describeChange, gateText } from "../engine/cutover-summary.js";
import type { FileDiff, PullRequestPlan } from "./pull-request-plan.js";
import type { Plan } from "../engine/plan.js";
import { blockingFindings } from "../engine/plan.js";
import { buildSteps } from "../engine/steps.js";
import { SECRET_NAME } from "../core/text.js";

/**
 * Plans for people (text for a terminal, markdown for a pull request comment) and for tools (JSON, stable:
 * see README "Plan JSON"). Output is deterministic: the same plan renders to the same bytes (no clock, no
 * absolute paths, revisions shortened).
 */
export type PlanFormat = "text" | "markdown" | "json";

/** The hidden first line of a markdown plan: CI finds its earlier comment by it and updates that one. */
export const MARKDOWN_MARKER = "<!-- tack-plan -->";

/** Bump only on a breaking change of the JSON form; adding a field is not one. */
export const PLAN_JSON_FORMAT_VERSION = 1;


/** A value with every field whose name says "secret" replaced, at any depth. */
export function maskValue(field: string, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (SECRET_NAME.test(field)) return "(secret)";
  if (Array.isArray(v)) return v.map((x) => maskValue("", x));
  if (typeof v === "object") return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, maskValue(k, x)]));
  return v;
}

export function showValue(field: string, v: unknown): string {
  const m = maskValue(field, v);
  if (m === null) return "—";
  const s = typeof m === "string" ? m : JSON.stringify(m);
  const one = s.replace(/\s+/g, " ");
  return one.length > 60 ? one.slice(0, 57) + "..." : one;
}

function fieldText(f: FieldChange): string {
  return `${f.field}: ${showValue(f.field, f.from)} → ${showValue(f.field, f.to)}`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export interface PlanCounts {
  changes: number;
  create: number;
  update: number;
  delete: number;
  cutovers: number;
  blocking: number;
  warnings: number;
  info: number;
}

export function planCounts(plan: Plan): PlanCounts {
  const by = (a: ChangeAction) => plan.changes.filter((c) => c.action === a).length;
  const sev = (s: Finding["severity"]) => plan.findings.filter((f) => f.severity === s).length;
  return {
    changes: plan.changes.length,
    create: by("create"),
    update: by("update"),
    delete: by("delete"),
    cutovers: plan.cutovers.length,
    blocking: sev("error"),
    warnings: sev("warning"),
    info: sev("info"),
  };
}

export function summaryLine(plan: Plan): string {
  const n = plan.changes.length;
  if (n === 0 && plan.findings.length === 0) return "No changes. The host matches the desired state.";
  const k = planCounts(plan);
  const risk = n ? maxRisk(plan.changes.map((c) => c.risk)) : "safe";
  const actions = (["create", "update", "delete"] as const).filter((a) => k[a]).map((a) => `${k[a]} ${a}`);
  const parts = [
    n === 0 ? "No changes" : `${plural(n, "change")}${actions.length ? ` (${actions.join(", ")})` : ""}`,
    plural(k.cutovers, "cutover"),
    `risk ${risk}`,
    `${k.blocking} blocking`,
    plural(k.warnings, "warning"),
  ];
  return parts.join(", ") + (k.blocking ? " — apply is refused" : "");
}

/* ---------- cutovers as the agent runs them ---------- */

/* ---------- text ---------- */

function header(plan: Plan): string {
  return `Plan for ${plan.host} at ${plan.revision}${plan.offline ? " (offline: no live host observed; host-only values are symbolic)" : ` (observed ${plan.observedAt})`}`;
}

export function renderText(plan: Plan, host: ResolvedHost, files: FileDiff[] = []): string {
  const out: string[] = [header(plan), summaryLine(plan), ""];
  const steps = buildSteps(plan, host);
  const cutovers = cutoverSummaries(plan, host, steps);
  if (cutovers.length) {
    out.push("Cutovers, in the order they run:");
    for (const c of cutovers) out.push(`  ${c.scope}: ${c.from} → ${c.to} (${c.handoff}): ${c.steps.join("; ")}`);
    out.push("");
  }
  if (steps.length) {
    out.push("Steps, in order:");
    steps.forEach((s, i) => {
      if (s.gate) {
        out.push(`  ${i + 1}. ${s.phase}: gate ${s.scope} on ${s.gate.runtime}: ${gateText(s.gate.check, s.gate.runtime)}`);
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
  const observed = plan.changes.filter((c) => plan.observeOnly.includes(layerOf(c.ref.kind)));
  if (observed.length) out.push(`Not applied (observe mode): ${observed.length} change(s) in ${plan.observeOnly.join(", ")}`, "");
  if (plan.findings.length) {
    out.push("Findings:");
    for (const f of plan.findings) {
      out.push(`  ${f.severity}: ${f.id}: ${formatFinding({ ...f, severity: "error" })}`);
      if (f.detail) out.push(`    hint: ${f.detail}`);
    }
    out.push("");
  }
  if (files.length) {
    out.push("Changed files:");
    for (const f of files) out.push(`  ${f.path} (${f.status})`, ...f.diff.split("\n").map((l) => `    ${l}`));
  }
  return out.join("\n").trimEnd() + "\n";
}

/* ---------- markdown ---------- */

function mdEscape(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\n/g, "<br>");
}

function where(f: Finding): string {
  const parts = [
    f.location ? `\`${f.location.file}:${f.location.line}:${f.location.column}\`` : "",
    f.path ? `\`${f.path}\`` : "",
    f.ref && !f.path ? mdEscape(formatRef(f.ref)) : "",
  ];
  return parts.filter(Boolean).join(" ");
}

function findingsTable(findings: Finding[], title: string): string[] {
  if (!findings.length) return [];
  const out = [`#### ${title}`, "", "| severity | check | where | message |", "| --- | --- | --- | --- |"];
  for (const f of findings) {
    const sev = f.severity === "error" ? "**error** (blocking)" : f.severity;
    out.push(`| ${sev} | ${f.id} | ${where(f)} | ${mdEscape(f.message + (f.detail ? ` (${f.detail})` : ""))} |`);
  }
  return [...out, ""];
}

/** Lines of one file's diff kept in a comment (GitHub caps a comment at 65,536 characters). */
const MAX_DIFF_LINES = 150;

function fileDetails(files: FileDiff[]): string[] {
  if (!files.length) return [];
  const out = ["#### Changed unit and compose files", ""];
  for (const f of files) {
    const lines = f.diff.split("\n");
    const shown = lines.length > MAX_DIFF_LINES ? [...lines.slice(0, MAX_DIFF_LINES), `... ${lines.length - MAX_DIFF_LINES} more lines`] : lines;
    // A fence longer than any backtick run inside the diff, so the diff cannot close it.
    const longest = Math.max(2, ...(f.diff.match(/`+/g) ?? []).map((r) => r.length));
    const fence = "`".repeat(longest + 1);
    out.push(`<details><summary><code>${mdEscape(f.path)}</code> (${f.status})</summary>`, "", `${fence}diff`, ...shown, fence, "", "</details>", "");
  }
  return out;
}

export interface PullRequestContext {
  baseRevision?: string;
  baseInvalid: boolean;
  files: FileDiff[];
}

function revisionLine(plan: Plan | undefined, headRevision: string, pr?: PullRequestContext): string {
  const range = pr ? `${pr.baseRevision ? `\`${pr.baseRevision}\`` : "empty host"} → \`${headRevision}\`` : `\`${headRevision}\``;
  if (!plan) return `Revision ${range}${pr?.baseInvalid ? " · the base revision's desired state is invalid too" : ""}`;
  const mode = plan.offline ? "offline plan: values only the host knows are shown as `<npm-bridge gateway>`" : `observed ${plan.observedAt}`;
  const base = pr?.baseInvalid ? " · the base revision's desired state is invalid, so this plans against an empty host" : "";
  return `Revision ${range} · ${mode}${base}`;
}

export function renderMarkdown(plan: Plan, host: ResolvedHost, pr?: PullRequestContext): string {
  const blocking = blockingFindings(plan);
  const out: string[] = [MARKDOWN_MARKER, `**tack plan for ${plan.host}: ${summaryLine(plan)}**`, "", revisionLine(plan, plan.revision, pr), ""];
  if (blocking.length) {
    out.push("> [!CAUTION]", `> ${plural(blocking.length, "blocking finding")}: the agent refuses to apply this revision (${[...new Set(blocking.map((f) => f.id))].join(", ")}).`, "");
  }
  const steps = buildSteps(plan, host);
  const cutovers = cutoverSummaries(plan, host, steps);
  if (cutovers.length) {
    out.push("#### Cutovers, in the order the agent runs them", "");
    cutovers.forEach((c, i) => out.push(`${i + 1}. **${c.scope}**: ${c.from} → ${c.to} (${c.handoff}): ${mdEscape(c.steps.join("; "))}`));
    out.push("");
  }
  out.push(...findingsTable(plan.findings, "Findings"));
  const observeOnly = plan.changes.filter((c) => plan.observeOnly.includes(layerOf(c.ref.kind)));
  if (steps.length) out.push("#### Steps by phase", "");
  for (const phase of PHASES) {
    const inPhase = steps.filter((s) => s.phase === phase);
    if (!inPhase.length) continue;
    out.push(`##### ${phase}`, "");
    const gates = inPhase.filter((s) => s.gate);
    for (const s of gates) out.push(`- gate **${s.scope}** on ${s.gate!.runtime}: ${mdEscape(gateText(s.gate!.check, s.gate!.runtime))}`);
    if (gates.length) out.push("");
    for (const s of inPhase.filter((x) => !x.gate)) out.push(...changeTable(`${s.kind}${s.scope ? ` · ${s.scope}` : ""}`, s.changes));
  }
  if (observeOnly.length) {
    out.push(`#### Drift in observe-mode layers (${plan.observeOnly.join(", ")}): reported, not applied`, "");
    out.push(...changeTable("resource", observeOnly, true));
  }
  out.push(...fileDetails(pr?.files ?? []));
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

function changeTable(title: string, changes: Change[], withKind = false): string[] {
  const out = [`| ${mdEscape(title)} | action | risk | old → new |`, "| --- | --- | --- | --- |"];
  for (const c of changes) {
    const fields = c.fields.map((f) => mdEscape(fieldText(f))).join("<br>");
    out.push(`| ${withKind ? `${c.ref.kind} ` : ""}${mdEscape(c.ref.name)} | ${c.action} | ${c.risk} | ${fields || mdEscape(c.reason)} |`);
  }
  return [...out, ""];
}

/** The head revision is invalid: its diagnostics with file:line, and no plan. */
export function renderInvalidMarkdown(pr: PullRequestPlan): string {
  const errors = pr.diagnostics.filter((f) => f.severity === "error").length;
  const out = [
    MARKDOWN_MARKER,
    `**tack plan: the desired state at \`${pr.headRevision}\` is invalid (${[plural(errors, "error"), ...(pr.diagnostics.length > errors ? [plural(pr.diagnostics.length - errors, "other finding")] : [])].join(", ")}): nothing can be planned or applied**`,
    "",
    revisionLine(undefined, pr.headRevision, pr),
    "",
    ...findingsTable(pr.diagnostics, "Diagnostics"),
    ...fileDetails(pr.files),
  ];
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

/* ---------- JSON ---------- */

/**
 * The stable JSON form (README "Plan JSON"). Every key is always present (null or [] when it does not apply);
 * drivers' private payloads (desired/actual) are left out; secret-named fields are masked.
 */
export function planJson(plan: Plan | undefined, host: ResolvedHost | undefined, pr?: PullRequestPlan): Record<string, unknown> {
  const steps = plan && host ? buildSteps(plan, host) : [];
  const findings = plan ? plan.findings : (pr?.diagnostics ?? []);
  return {
    formatVersion: PLAN_JSON_FORMAT_VERSION,
    status: plan ? "planned" : "invalid",
    host: plan?.host ?? null,
    revision: plan?.revision ?? pr?.headRevision ?? null,
    baseRevision: pr?.baseRevision ?? null,
    baseInvalid: pr?.baseInvalid ?? false,
    observedAt: plan?.observedAt ?? null,
    offline: plan?.offline ?? true,
    summary: plan ? summaryLine(plan) : `the desired state at ${pr?.headRevision} is invalid`,
    risk: plan?.changes.length ? maxRisk(plan.changes.map((c) => c.risk)) : "safe",
    blocking: findings.some((f) => f.severity === "error"),
    counts: plan ? planCounts(plan) : { changes: 0, create: 0, update: 0, delete: 0, cutovers: 0, blocking: findings.filter((f) => f.severity === "error").length, warnings: findings.filter((f) => f.severity === "warning").length, info: findings.filter((f) => f.severity === "info").length },
    fingerprint: plan?.fingerprint ?? null,
    cutovers: plan && host ? cutoverSummaries(plan, host, steps) : [],
    steps: steps.map((s) => ({
      phase: s.phase,
      scope: s.scope ?? null,
      kind: s.kind ?? null,
      gate: s.gate ? { runtime: s.gate.runtime, check: s.gate.check, resources: s.gate.resources } : null,
      changes: s.changes.map((c) => ({ kind: c.ref.kind, name: c.ref.name })),
    })),
    changes: (plan?.changes ?? []).map((c) => ({
      kind: c.ref.kind,
      name: c.ref.name,
      action: c.action,
      phase: c.phase,
      risk: c.risk,
      reason: c.reason,
      scope: c.scope ?? null,
      description: host ? describeChange(c, host) : null,
      fields: c.fields.map((f) => ({ field: f.field, from: maskValue(f.field, f.from), to: maskValue(f.field, f.to) })),
    })),
    findings: findings.map((f) => ({
      id: f.id,
      severity: f.severity,
      message: f.message,
      path: f.path ?? null,
      location: f.location ?? null,
      ref: f.ref ?? null,
      detail: f.detail ?? null,
    })),
    observeOnly: plan?.observeOnly ?? [],
    files: pr?.files ?? [],
  };
}

export function renderPlan(plan: Plan, host: ResolvedHost, format: PlanFormat): string {
  if (format === "json") return JSON.stringify(planJson(plan, host), null, 2) + "\n";
  return format === "markdown" ? renderMarkdown(plan, host) : renderText(plan, host);
}

/** A pull request plan in any format; an invalid head renders its diagnostics instead of a plan. */
export function renderPullRequest(pr: PullRequestPlan, format: PlanFormat): string {
  if (format === "json") return JSON.stringify(planJson(pr.plan, pr.host, pr), null, 2) + "\n";
  if (!pr.plan || !pr.host) {
    if (format === "markdown") return renderInvalidMarkdown(pr);
    return [`The desired state at ${pr.headRevision} is invalid:`, ...pr.diagnostics.map((f) => `  ${formatFinding(f)}`)].join("\n") + "\n";
  }
  if (format === "markdown") return renderMarkdown(pr.plan, pr.host, pr);
  const base = pr.baseRevision ? `Base ${pr.baseRevision}${pr.baseInvalid ? " (invalid: planned against an empty host)" : ""}\n` : "";
  return base + renderText(pr.plan, pr.host, pr.files);
}
