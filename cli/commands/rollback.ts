import { UserError } from "../../core/errors.js";
import { agentUrl, callAgent } from "../../agent/agent-client.js";
import { whoAmI } from "../../agent/daemon.js";
import { Journal } from "../../run/journal.js";
import { StateLock } from "../../run/lock.js";
import { rollbackToGoodRevision, type ManualRollback } from "../../run/manual-rollback.js";
import { liveContext, stateDirOf } from "../context.js";
import { ExitCode, type Output } from "../output.js";

export interface RollbackOptions {
  to?: string;
  host?: string;
  stateDir?: string;
  listen?: string;
  ageIdentity?: string;
}

/** A rollback runs health gates and may roll back itself: minutes, not seconds. */
const AGENT_ROLLBACK_TIMEOUT_MS = 15 * 60_000;

/**
 * `tack rollback [--to REV]`: through the running agent (POST /rollback, between two reconciles), else here
 * under the state lock. Either way run/manual-rollback.ts does the work.
 */
export async function rollbackCommand(opts: RollbackOptions, o: Output): Promise<void> {
  const stateDir = stateDirOf(opts.stateDir);
  const journal = new Journal(stateDir);
  const url = agentUrl(journal, opts.listen);
  journal.close();
  if (await callAgent(url, "/healthz")) {
    o.out("Asking the running agent to roll back (it finishes the reconcile in progress first)...");
    const answer = await callAgent(url, "/rollback", { method: "POST", body: { ...(opts.to ? { to: opts.to } : {}), by: whoAmI() }, timeoutMs: AGENT_ROLLBACK_TIMEOUT_MS });
    if (!answer) throw new UserError(`the agent at ${url} did not answer within ${AGENT_ROLLBACK_TIMEOUT_MS / 60_000} min: see tack status`);
    const body = answer.body as Partial<{ from: string; to: string; status: string; error: string }>;
    if (answer.status === 400) throw new UserError(body.error ?? JSON.stringify(answer.body));
    if (answer.status !== 200) {
      o.err(`Rollback${body.to ? ` to ${body.to}` : ""} failed: ${body.error ?? JSON.stringify(answer.body)}`);
      throw new ExitCode(1);
    }
    o.out(`Rolled back from ${body.from ?? "nothing"} to ${body.to} (by the agent).`);
    return;
  }
  const lock = StateLock.acquire(stateDir, "tack rollback");
  const ctx = liveContext(stateDir, o, { ...(opts.host ? { host: opts.host } : {}), ...(opts.ageIdentity ? { ageIdentity: opts.ageIdentity } : {}) });
  try {
    report(await rollbackToGoodRevision(ctx, { ...(opts.to ? { to: opts.to } : {}), by: whoAmI() }), o);
  } finally {
    ctx.journal.close();
    lock.release();
  }
}

function report(r: ManualRollback, o: Output): void {
  if (r.outcome.status !== "applied" && r.outcome.status !== "no-changes") {
    o.err(`Rollback to ${r.to} failed: ${r.outcome.error ?? r.outcome.status}${r.outcome.rollbackError ? `; then: ${r.outcome.rollbackError}` : ""}`);
    throw new ExitCode(1);
  }
  o.out(`Rolled back from ${r.from ?? "nothing"} to ${r.to}.`);
}
