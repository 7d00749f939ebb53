import type { Journal } from "../run/journal.js";
import type { ReconcileResult, TackMetrics } from "./metrics.js";
import type { Trigger } from "./scheduler.js";
import type { AgentStatus, LastReconcile } from "./status.js";

/**
 * The end of every reconcile (and of a manual rollback): its result on the status (lastReconcile, ready) and
 * the metrics, and the time of the last success in the journal so it survives a restart.
 */

/** Journal key-value entry: Unix ms of the last successful reconcile, kept across agent restarts. */
export const LAST_SUCCESS_KEY = "last-success-ms";

export interface ReconcileRecord {
  started: number;
  triggers: Set<Trigger>;
  result: LastReconcile["result"];
  revision: string | undefined;
  message: string | undefined;
}

export function recordReconcile(r: ReconcileRecord, to: { status: AgentStatus; metrics: TackMetrics; journal: Journal }): void {
  const durationMs = Date.now() - r.started;
  // Held and suspended reconciles changed nothing and failed at nothing: no tack_reconcile_total sample.
  const metricResult: ReconcileResult | undefined =
    r.result === "error" ? "failure" : r.result === "held" || r.result === "suspended" ? undefined : r.result;
  if (metricResult) to.metrics.reconcileFinished(metricResult, durationMs / 1000);
  if (metricResult === "success" || metricResult === "no-changes") to.journal.set(LAST_SUCCESS_KEY, String(Date.now()));
  const run = to.journal.lastRun();
  // The journal's last run is this reconcile's only if it started after the reconcile did.
  const ours = run && Date.parse(run.started_at) >= r.started ? { runId: run.id } : {};
  to.status.reconciled(
    { at: new Date().toISOString(), triggers: [...r.triggers], result: r.result, revision: r.revision, durationMs, ...(r.message ? { message: r.message } : {}), ...ours },
    run,
  );
}

/** After a restart the gauge starts where the last agent left it, not at 0 (TackNoRecentSuccess counts from it). */
export function restoreLastSuccess(journal: Journal, metrics: TackMetrics): void {
  const lastSuccess = Number(journal.get(LAST_SUCCESS_KEY));
  if (lastSuccess > 0) metrics.setLastSuccess(lastSuccess);
}
