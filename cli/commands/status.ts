import type { DaemonStatus } from "../../agent/status.js";
import { agentUrl, callAgent } from "../../agent/agent-client.js";
import { readSuspension } from "../../agent/suspension.js";
import { Journal } from "../../run/journal.js";
import { stateDirOf } from "../context.js";
import type { Output } from "../output.js";

export interface StatusOptions {
  stateDir?: string;
  listen?: string;
  format?: "text" | "json";
}

/** What the state DB alone knows, when no agent answers. */
function fromJournal(journal: Journal): Partial<DaemonStatus> & { agent: "not running" } {
  const lastRun = journal.lastRun();
  const invalid = journal.db.prepare("SELECT revision, message FROM revisions WHERE status = 'invalid' ORDER BY at DESC LIMIT 1").get() as
    | { revision: string; message: string | null }
    | undefined;
  return {
    agent: "not running",
    appliedRevision: journal.lastGoodRevision(),
    lastRun,
    suspension: readSuspension(journal),
    ...(invalid ? { invalid: { revision: invalid.revision, message: invalid.message ?? "", locations: [] } } : {}),
  };
}

function short(rev: string | undefined): string {
  return rev ? (/^[0-9a-f]{40}$/.test(rev) ? rev.slice(0, 12) : rev) : "none";
}

export function renderStatus(s: Partial<DaemonStatus> & { agent?: string }, o: Output): void {
  o.out(`agent:            ${s.agent ?? `running${s.ready ? ", ready" : ", not ready"}`}${s.source ? ` (${s.source})` : ""}`);
  if (s.desiredRevision !== undefined) o.out(`desired revision: ${short(s.desiredRevision)}`);
  o.out(`applied revision: ${short(s.appliedRevision)}`);
  if (s.suspension) o.out(`suspended until ${s.suspension.until} by ${s.suspension.by}: ${s.suspension.reason}`);
  else o.out("suspended:        no");
  if (s.lastReconcile) {
    const r = s.lastReconcile;
    o.out(`last reconcile:   ${r.result} at ${r.at} (${r.triggers.join(", ")}; ${r.durationMs} ms)${r.message ? `: ${r.message}` : ""}`);
  }
  if (s.lastRun) o.out(`last run:         #${s.lastRun.id} ${s.lastRun.kind} of ${short(s.lastRun.revision)}: ${s.lastRun.status} (${s.lastRun.finished_at ?? "running"})`);
  if (s.drift) {
    const kinds = Object.entries(s.drift).filter(([, n]) => (n ?? 0) > 0);
    o.out(`drift:            ${kinds.length ? kinds.map(([k, n]) => `${k} ${n}`).join(", ") : "none"}`);
    for (const line of s.driftDetails ?? []) o.out(`  ${line}`);
  }
  const health = Object.entries(s.health ?? {});
  if (health.length) o.out(`health:           ${health.map(([scope, h]) => `${scope} ${h.ok ? "up" : `DOWN (${h.detail})`}`).join(", ")}`);
  for (const f of s.flapping ?? []) o.out(`flapping:         ${f.ref} corrected ${f.corrections} times since ${f.since}: no longer corrected`);
  if (s.held) o.out(`held:             ${s.held}`);
  if (s.stalled) o.out(`stalled:          since ${s.stalled.since}: ${s.stalled.message.split("\n")[0]}`);
  if (s.retry) o.out(`next attempt:     #${s.retry.attempt} at ${s.retry.at}`);
  for (const c of s.conditions ?? []) o.out(`condition:        ${c.type}=${c.status} ${c.reason}${c.message && c.status === "True" && c.type !== "Ready" ? `: ${c.message.split("\n")[0]}` : ""}`);
  if (s.invalid) {
    o.out(`invalid revision: ${short(s.invalid.revision)}`);
    for (const l of s.invalid.locations.length ? s.invalid.locations : s.invalid.message.split("\n")) o.out(`  ${l.trim()}`);
  }
  if (s.compose) o.out(`compose:          ${s.compose.flavor} ${s.compose.version} (${s.compose.flavor === "v2" ? "docker compose" : "docker-compose"})`);
  if (s.lastError) o.out(`last error:       ${s.lastError.split("\n")[0]}`);
}

/**
 * `tack status`: ask the running agent, or read the state DB when none answers. Read-only: a missing state dir
 * or DB is reported, never created. The JSON always has `desiredRevision` and `appliedRevision` (null when unknown).
 */
export async function statusCommand(opts: StatusOptions, o: Output): Promise<void> {
  const stateDir = stateDirOf(opts.stateDir);
  const journal = Journal.openExisting(stateDir);
  try {
    const answer = await callAgent(agentUrl(journal ?? { get: () => undefined }, opts.listen), "/status");
    const found = answer?.status === 200 ? (answer.body as DaemonStatus) : journal ? fromJournal(journal) : { agent: "not running" as const };
    const status = { ...found, desiredRevision: found.desiredRevision ?? null, appliedRevision: found.appliedRevision ?? null };
    if (opts.format === "json") o.out(JSON.stringify(status, null, 2));
    else renderStatus(found, o);
    if (!answer && !journal && opts.format !== "json") o.out(`state DB:         none in ${stateDir} (tack has not applied anything with this state dir)`);
  } finally {
    journal?.close();
  }
}
