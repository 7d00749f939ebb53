import type { StepRow } from "../../run/journal.js";
import type { DaemonStatus } from "../status.js";
import type { ScopeView } from "../topology.js";
import { escapeHtml, revisionLink, when, type Masker } from "./html.js";

/**
 * The status page's sections, each a <section id> rendered from one DaemonStatus snapshot. The page is these in
 * order; live updates (SSE) send them again and the browser swaps the ones whose HTML changed.
 */
export interface PageData {
  status: DaemonStatus;
  /** The steps of status.lastRun and of each recent reconcile's run, by run id, from the journal. */
  steps: Record<number, StepRow[]>;
  now: number;
}

type Section = (d: PageData, m: Masker) => string;

const badge = (kind: "ok" | "bad" | "warn" | "idle", label: string) => `<span class="badge ${kind}">${escapeHtml(label)}</span>`;

const summary: Section = ({ status: s, now }, m) => {
  const conds = s.conditions
    .map((c) => {
      const good = c.type === "Ready" ? c.status === "True" : c.status === "False";
      return `<li>${badge(good ? "ok" : c.type === "Reconciling" ? "warn" : "bad", `${c.type}: ${c.status}`)} <span class="reason">${m.text(c.reason)}</span>${c.message ? ` — ${m.text(c.message)}` : ""}</li>`;
    })
    .join("");
  const lr = s.lastReconcile;
  return `<section id="summary" aria-labelledby="h-summary">
<h2 id="h-summary">Host ${m.text(s.host ?? "(this machine)")}</h2>
<ul class="conditions">${conds}</ul>
<dl class="facts">
<dt>Applied revision</dt><dd>${revisionLink(m.mask(s.source), s.appliedRevision)}</dd>
<dt>Desired revision</dt><dd>${revisionLink(m.mask(s.source), s.desiredRevision)}${s.desiredRevision && s.desiredRevision !== s.appliedRevision ? ` ${badge("warn", "not applied")}` : ""}</dd>
<dt>Source</dt><dd>${m.text(s.source)}${s.gitReachable ? "" : ` ${badge("warn", "not reached yet")}`}</dd>
<dt>Last reconcile</dt><dd>${lr ? `${m.text(lr.result)} after ${(lr.durationMs / 1000).toFixed(1)} s, ${when(lr.at, now)}; trigger ${m.text(lr.triggers.join(", "))}${lr.message ? `<br>${m.text(lr.message)}` : ""}` : "none yet"}</dd>
<dt>Reconciles</dt><dd>${s.reconciles}</dd>
</dl>
</section>`;
};

const suspension: Section = ({ status: s, now }, m) => {
  const body = s.suspension
    ? `<p>${badge("warn", "Suspended")} by <strong>${m.text(s.suspension.by)}</strong> ${when(s.suspension.at, now)}, until ${when(s.suspension.until, now)}.</p>
<p>Reason: ${m.text(s.suspension.reason)}</p>
<p class="todo">The agent observes and reports but applies nothing. To resume now: <code>tack resume</code>.</p>`
    : `<p>${badge("ok", "Not suspended")} The agent applies each new revision.</p>`;
  return `<section id="suspension" aria-labelledby="h-suspension"><h2 id="h-suspension">Suspension</h2>${body}</section>`;
};

function problemItems({ status: s, now }: PageData, m: Masker): string[] {
  const out: string[] = [];
  if (s.invalid) {
    const findings = s.invalid.locations.map((l) => `<li><code>${m.text(l)}</code></li>`).join("");
    out.push(`<article class="problem" aria-label="invalid revision">
<h3>${badge("bad", "Invalid")} revision ${revisionLink(m.mask(s.source), s.invalid.revision)}</h3>
<p>${m.text(s.invalid.message)}</p>
${findings ? `<ul class="findings">${findings}</ul>` : ""}
<p class="todo">The host stays on ${revisionLink(m.mask(s.source), s.appliedRevision)}; this revision is not retried. Fix the finding${s.invalid.locations.length === 1 ? "" : "s"} above and push a new commit (<code>tack validate</code> checks it first).</p>
</article>`);
  }
  if (s.stalled) out.push(`<article class="problem"><h3>${badge("bad", "Stalled")} since ${when(s.stalled.since, now)}</h3><p>${m.text(s.stalled.message)}</p><p class="todo">A host problem no commit can fix: the agent keeps retrying, slowly. Fix the host.</p></article>`);
  if (s.retry) out.push(`<article class="problem"><h3>${badge("warn", "Retry")} attempt ${s.retry.attempt} ${when(s.retry.at, now)}</h3><p>${m.text(s.retry.message)}</p></article>`);
  if (s.held) out.push(`<article class="problem"><h3>${badge("warn", "Held")}</h3><p>${m.text(s.held)}</p><p class="todo">A held revision waits for a person: push a fix, or <code>tack rollback</code> to a good revision.</p></article>`);
  if (s.pendingPlan) {
    const p = s.pendingPlan;
    const kind = p.state === "applying" ? "idle" : p.state === "transient" ? "warn" : "bad";
    const label = { applying: "Applying", failed: "Failed", refused: "Refused", transient: "Not applied yet" }[p.state];
    const findings = p.findings.map((f) => `<li><code>${m.text(f)}</code></li>`).join("");
    const changes = p.changes.map((c) => `<li>${m.text(c)}</li>`).join("");
    out.push(`<article class="problem" aria-label="plan of ${m.text(p.revision)}">
<h3>${badge(kind, label)} plan of ${revisionLink(m.mask(s.source), p.revision)}</h3>
${findings ? `<ul class="findings">${findings}</ul>` : ""}
${changes ? `<details${p.state === "applying" ? " open" : ""}><summary>${p.changes.length} step(s), in the order the agent runs them</summary><ol class="plan">${changes}</ol></details>` : ""}
</article>`);
  }
  if (s.lastError && !s.invalid) {
    out.push(`<article class="problem"><h3>${badge("bad", "Last error")}</h3><pre>${m.text(s.lastError)}</pre><p class="todo">Push a fix, or go back with <code>tack rollback [--to REV]</code>; <code>tack suspend --for 2h --reason …</code> stops the agent from applying meanwhile.</p></article>`);
  }
  return out;
}

const problems: Section = (d, m) => {
  const items = problemItems(d, m);
  return `<section id="problems" aria-labelledby="h-problems"><h2 id="h-problems">Pending, failed or invalid revision</h2>${items.length ? items.join("\n") : `<p>${badge("ok", "None")} Nothing is pending or failing.</p>`}</section>`;
};

function ownerCell(s: ScopeView, m: Masker): string {
  if (!s.observedOwner) return `<td>${badge("idle", "unknown")}</td>`;
  const kind = s.observedOwner === s.desiredOwner ? "ok" : s.observedOwner === "both" ? "warn" : "bad";
  return `<td data-owner="${m.text(s.observedOwner)}">${badge(kind, s.observedOwner)} <small>(${s.observedBy === "apply" ? "apply" : "probe"})</small></td>`;
}

const scopes: Section = ({ status: s, now }, m) => {
  const rows = s.scopes
    .map((sc) => {
      const h = s.health[sc.name];
      const health = h ? `${badge(h.ok ? "ok" : "bad", h.ok ? "healthy" : "unhealthy")} ${m.text(h.detail)} <small>${when(h.at, now)}</small>` : badge("idle", "not probed yet");
      const parts = [...sc.units.map((u) => `unit ${u}`), ...sc.services.map((x) => `service ${x}`)];
      return `<tr data-scope="${m.text(sc.name)}"><th scope="row">${m.text(sc.name)}</th><td data-desired="${m.text(sc.desiredOwner)}">${m.text(sc.desiredOwner)}</td>${ownerCell(sc, m)}<td>${health}</td><td>${parts.map((p) => m.text(p)).join("<br>") || "—"}</td></tr>`;
    })
    .join("\n");
  const table = `<div class="scroll"><table><thead><tr><th scope="col">Scope</th><th scope="col">Desired owner</th><th scope="col">Observed owner</th><th scope="col">Health</th><th scope="col">Units / services</th></tr></thead><tbody>${rows}</tbody></table></div>`;
  return `<section id="scopes" aria-labelledby="h-scopes"><h2 id="h-scopes">Scopes</h2>${s.scopes.length ? table : "<p>Not resolved yet: the desired state has not been read.</p>"}</section>`;
};

const edge: Section = ({ status: s }, m) => {
  const items = s.edge.map((e) => {
    const sc = s.scopes.find((x) => x.name === e.scope);
    const owner = sc?.observedOwner ?? sc?.desiredOwner ?? "?";
    const declared = e.bridgeRule ? `UFW: ${m.text(e.bridgeRule)}` : owner === "native" ? `${badge("warn", "UFW")} no allow rule for the bridge` : "UFW: not on the path (Docker network)";
    // The host's own word, from the last drift check, when there is one.
    const open = e.live?.bridgeOpen;
    const ufw = open === undefined ? declared : open ? `${declared} (open in UFW)` : `${badge("warn", "UFW")} the bridge is blocked in UFW`;
    const want = e.dns ? `DNS ${m.text(e.dns.type)} ${m.text(e.dns.content)}: ${e.dns.proxied ? "proxied" : "DNS-only"}` : "DNS: not managed";
    const got = e.live?.dns;
    const dns =
      got === undefined || !e.dns
        ? want
        : got === null
          ? `${want} (${badge("warn", "DNS")} not in Cloudflare)`
          : got.proxied === !!e.dns.proxied && got.content === e.dns.content
            ? `${want} (as in Cloudflare)`
            : `${want} (${badge("warn", "DNS")} Cloudflare has ${m.text(got.content)}, ${got.proxied ? "proxied" : "DNS-only"})`;
    return `<li class="route"><span class="hop host">${m.text(e.hostname)}</span><span class="arrow" aria-hidden="true">→</span><span class="hop">NPM${e.enabled ? "" : " (disabled)"}</span><span class="arrow" aria-hidden="true">→</span><span class="hop">${m.text(e.upstream)}</span><span class="arrow" aria-hidden="true">→</span><span class="hop">scope ${m.text(e.scope)}</span><span class="arrow" aria-hidden="true">→</span><span class="hop owner" data-owner="${m.text(owner)}">${m.text(owner)}</span><span class="meta">${ufw} · ${dns}</span></li>`;
  });
  return `<section id="edge" aria-labelledby="h-edge"><h2 id="h-edge">Edge</h2>${items.length ? `<ul class="routes">${items.join("\n")}</ul>` : "<p>No proxy hosts declared.</p>"}</section>`;
};

const drift: Section = ({ status: s }, m) => {
  const kinds = Object.entries(s.drift).filter(([, n]) => (n ?? 0) > 0);
  const byKind = kinds
    .map(([kind, n]) => {
      const details = s.driftDetails.filter((d) => d.startsWith(`${kind}/`)).map((d) => `<li>${m.text(d)}</li>`).join("");
      return `<li><strong>${m.text(kind)}</strong>: ${n}${details ? `<ul>${details}</ul>` : ""}</li>`;
    })
    .join("");
  const flapping = s.flapping.length ? `<p>${badge("warn", "Flapping")} reported, not corrected: ${s.flapping.map((f) => m.text(f.ref)).join(", ")}</p>` : "";
  return `<section id="drift" aria-labelledby="h-drift"><h2 id="h-drift">Drift</h2>${kinds.length ? `<ul>${byKind}</ul>` : `<p>${badge("ok", "None")} The host matches the applied revision.</p>`}${flapping}</section>`;
};

function stepsTable(steps: StepRow[], m: Masker): string {
  if (!steps.length) return "";
  const rows = steps.map((st) => {
    const ms = st.finished_at ? Date.parse(st.finished_at) - Date.parse(st.started_at) : undefined;
    return `<tr><td>${st.seq}</td><td>${m.text(st.phase)}${st.scope ? ` [${m.text(st.scope)}]` : ""}</td><td>${badge(st.status === "done" ? "ok" : st.status === "failed" ? "bad" : "warn", st.status)}</td><td>${ms === undefined ? "—" : `${ms} ms`}</td><td>${m.text(st.error ?? st.description)}</td></tr>`;
  });
  return `<div class="scroll"><table class="timeline"><caption>Phases</caption><thead><tr><th scope="col">#</th><th scope="col">Phase</th><th scope="col">Status</th><th scope="col">Duration</th><th scope="col">Detail</th></tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}

function lastRun({ status: s, steps, now }: PageData, m: Masker): string {
  const r = s.lastRun;
  if (!r) return "<p>No run yet.</p>";
  const took = r.finished_at ? `, took ${((Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000).toFixed(1)} s` : "";
  const target = r.target ? ` (target ${revisionLink(m.mask(s.source), r.target)})` : "";
  return `<p>${badge(r.status === "succeeded" ? "ok" : r.status === "running" ? "warn" : "bad", r.status)} ${m.text(r.kind)} of ${revisionLink(m.mask(s.source), r.revision)}${target}, started ${when(r.started_at, now)}${took}.</p>${r.error ? `<pre>${m.text(r.error)}</pre>` : ""}${stepsTable(steps[r.id] ?? [], m)}`;
}

const GOOD_RESULTS = new Set(["success", "no-changes"]);

function history({ status: s, steps, now }: PageData, m: Masker): string {
  if (!s.recentReconciles.length) return "";
  const rows = s.recentReconciles.map((r) => {
    const phases = r.runId !== undefined && r.runId !== s.lastRun?.id && steps[r.runId]?.length ? `<details><summary>phases of run ${r.runId}</summary>${stepsTable(steps[r.runId]!, m)}</details>` : "";
    const kind = GOOD_RESULTS.has(r.result) ? "ok" : r.result === "held" || r.result === "suspended" || r.result === "transient" ? "warn" : "bad";
    return `<tr><td>${when(r.at, now)}</td><td>${m.text(r.triggers.join(", "))}</td><td>${badge(kind, r.result)}${r.message ? ` ${m.text(r.message)}` : ""}${phases}</td><td>${revisionLink(m.mask(s.source), r.revision)}</td><td>${(r.durationMs / 1000).toFixed(1)} s</td></tr>`;
  });
  return `<h3>Recent reconciles</h3><div class="scroll"><table><thead><tr><th scope="col">When</th><th scope="col">Trigger</th><th scope="col">Outcome</th><th scope="col">Revision</th><th scope="col">Took</th></tr></thead><tbody>${rows.join("")}</tbody></table></div>`;
}

const runs: Section = (d, m) => `<section id="runs" aria-labelledby="h-runs"><h2 id="h-runs">Runs</h2><h3>Last run</h3>${lastRun(d, m)}${history(d, m)}</section>`;

/** The sections in page order. */
const SECTIONS: Section[] = [summary, suspension, problems, scopes, edge, drift, runs];

export function renderSections(d: PageData, m: Masker): string[] {
  return SECTIONS.map((s) => s(d, m));
}
