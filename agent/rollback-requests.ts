import { errorMessage, UserError } from "../core/errors.js";
import { rollbackToGoodRevision } from "../run/manual-rollback.js";
import { RESULT_OF, type Applier } from "./applier.js";
import type { ReconcileRecord } from "./reconcile-record.js";
import type { Trigger } from "./scheduler.js";
import type { AgentStatus } from "./status.js";

/**
 * `tack rollback` through the listener (POST /rollback): each request waits in a queue for the scheduler's
 * next turn, so it runs between two reconciles, does the same work as the CLI's, and answers with its outcome.
 */
export interface RollbackRequest {
  to?: string;
  by?: string;
}

export interface HttpAnswer {
  status: number;
  body: unknown;
}

export interface RollbackDeps {
  applier: Applier;
  status: AgentStatus;
  log: (line: string) => void;
  /** Records the rollback as a reconcile (trigger "rollback"). */
  record(r: ReconcileRecord): void;
}

export class RollbackRequests {
  private readonly queue: { req: RollbackRequest; resolve: (answer: HttpAnswer) => void }[] = [];

  constructor(private readonly d: RollbackDeps) {}

  /** Queue a request; the caller then triggers a "rollback" reconcile. */
  enqueue(req: RollbackRequest): Promise<HttpAnswer> {
    return new Promise((resolve) => this.queue.push({ req, resolve }));
  }

  /** Run every queued request, in order. */
  async runAll(): Promise<void> {
    for (let r = this.queue.shift(); r; r = this.queue.shift()) r.resolve(await this.run(r.req));
  }

  /** Answer every queued request with `answer` without running it (the agent stops). */
  refuseAll(answer: HttpAnswer): void {
    for (let r = this.queue.shift(); r; r = this.queue.shift()) r.resolve(answer);
  }

  private run(req: RollbackRequest): Promise<HttpAnswer> {
    const { applier, status, log, record } = this.d;
    return applier.whileApplying(async () => {
      const started = Date.now();
      const triggers = new Set<Trigger>(["rollback"]);
      try {
        const r = await rollbackToGoodRevision(applier.ctx, req);
        applier.recordOutcome(r.outcome);
        const ok = r.outcome.status === "applied" || r.outcome.status === "no-changes";
        const error = ok ? undefined : `${r.outcome.error ?? r.outcome.status}${r.outcome.rollbackError ? `; then: ${r.outcome.rollbackError}` : ""}`;
        if (ok) status.succeeded();
        log(ok ? `rolled back from ${r.from ?? "nothing"} to ${r.to}${req.by ? ` for ${req.by}` : ""}` : `rollback to ${r.to} failed: ${error}`);
        record({ started, triggers, result: RESULT_OF[r.outcome.status], revision: r.to, message: error });
        return { status: ok ? 200 : 500, body: { from: r.from ?? null, to: r.to, status: r.outcome.status, ...(error ? { error } : {}) } };
      } catch (err) {
        if (err instanceof UserError) return { status: 400, body: { error: err.message } };
        log(`rollback failed: ${errorMessage(err)}`);
        record({ started, triggers, result: "error", revision: undefined, message: errorMessage(err) });
        return { status: 500, body: { error: errorMessage(err) } };
      }
    });
  }
}
