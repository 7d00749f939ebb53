import { existsSync } from "node:fs";
import path from "node:path";
import { errorMessage, failureClass } from "../core/errors.js";
import type { Journal, RevisionRow } from "../run/journal.js";
import type { Applier } from "./applier.js";
import type { Healer } from "./heal.js";
import type { TackMetrics } from "./metrics.js";
import type { ReconcileRecord } from "./reconcile-record.js";
import type { RetryBackoff } from "./retry-backoff.js";
import { decideRevision, type RevisionDecision } from "./revision-policy.js";
import type { Trigger } from "./scheduler.js";
import type { DesiredSource } from "./sources.js";
import type { AgentStatus, LastReconcile } from "./status.js";
import { readSuspension, type Suspension } from "./suspension.js";

/**
 * One reconcile of the agent: fetch the head → decide (revision-policy) → apply it, or keep the last good
 * revision converged (heal), or hold. A revision marked invalid or failed is never retried; a hold is logged
 * once per head.
 */
export interface RevisionLoopDeps {
  source: DesiredSource;
  journal: Journal;
  metrics: TackMetrics;
  status: AgentStatus;
  applier: Applier;
  healer: Healer;
  stateDir: string;
  allowRewind: boolean;
  log: (line: string) => void;
  retry: RetryBackoff;
}

/** What the reconcile did so far; an error keeps the target it had reached. */
interface Turn {
  result: LastReconcile["result"];
  target: string | undefined;
  message: string | undefined;
}

/** A poll, hook or source change that finds the head already handled is just a fetch: drift has its own schedule. */
const FETCH_ONLY: ReadonlySet<Trigger> = new Set(["poll", "webhook", "source"]);

export class RevisionLoop {
  private handledHead: string | undefined;
  private readonly reportedHolds = new Set<string>();

  constructor(private readonly d: RevisionLoopDeps) {}

  /** One reconcile; undefined when it was only a fetch of an already handled head (nothing to record). */
  async run(reasons: Set<Trigger>): Promise<ReconcileRecord | undefined> {
    const { journal, status, metrics, log } = this.d;
    const started = Date.now();
    const suspension = readSuspension(journal);
    status.suspended(suspension);
    metrics.setSuspended(!!suspension);
    const turn: Turn = { result: "no-changes", target: undefined, message: undefined };
    try {
      const head = await this.fetchHead(reasons);
      metrics.setDesiredRevision(head);
      if (head === this.handledHead && [...reasons].every((r) => FETCH_ONLY.has(r))) return undefined;
      this.handledHead = head;
      await this.converge(head, suspension, turn);
    } catch (err) {
      const cls = failureClass(err);
      turn.result = cls === "host" ? "stalled" : cls === "transient" ? "transient" : "error";
      turn.message = errorMessage(err);
      status.failed(turn.message);
      log(`reconcile failed: ${turn.message}`);
    }
    this.afterTurn(turn);
    return { started, triggers: reasons, result: turn.result, revision: turn.target, message: turn.message };
  }

  /** Not the revision's fault: say so (Stalled for a host problem) and try the same revision again later. */
  private afterTurn(turn: Turn): void {
    const { status, metrics, retry, log } = this.d;
    const stalled = turn.result === "stalled";
    const message = turn.message ?? status.fields.lastError ?? turn.result;
    status.stalledBy(stalled ? message : undefined);
    metrics.setStalled(stalled);
    if (turn.result === "transient" || stalled) {
      const delay = retry.failed(message);
      log(`next attempt in ${Math.round(delay / 1000)} s`);
    } else if (turn.result !== "held" && turn.result !== "suspended") retry.succeeded();
  }

  /** The head of the source; a failed fetch falls back to the head known before, if any. */
  private async fetchHead(reasons: Set<Trigger>): Promise<string> {
    const { source, status, metrics, log } = this.d;
    const fetch = [...reasons].some((r) => r !== "drift") || !status.fields.desiredRevision;
    if (fetch) {
      try {
        status.fetched(await source.sync());
      } catch (err) {
        metrics.gitFetchError();
        status.fetchFailed(errorMessage(err));
        log(errorMessage(err));
        if (!status.fields.desiredRevision) throw err;
      }
    }
    return status.fields.desiredRevision!;
  }

  private async converge(head: string, suspension: Suspension | undefined, turn: Turn): Promise<void> {
    const { journal, source, allowRewind } = this.d;
    const headRow = journal.revision(head);
    const lastGood = journal.lastGoodRevision();
    const descends = !headRow && lastGood && lastGood !== head ? await source.descends(lastGood, head) : undefined;
    const signature = !headRow ? await source.verify(head) : undefined;
    const decision = decideRevision({ head, headRow, lastGood, descends, allowRewind, signature });
    if (decision.action === "apply") await this.applyHead(head, lastGood, suspension, turn);
    else await this.keepConverged(head, headRow, decision, suspension, turn);
  }

  private async applyHead(head: string, lastGood: string | undefined, suspension: Suspension | undefined, turn: Turn): Promise<void> {
    const { source, status, applier, healer } = this.d;
    turn.target = head;
    status.hold(undefined);
    if (suspension) {
      // Not applied; drift is still observed against what the host runs (the last good revision).
      turn.result = "suspended";
      turn.message = `${head} not applied: suspended until ${suspension.until} (${suspension.reason})`;
      if (lastGood && existsSync(this.snapshotDir(lastGood))) await healer.heal(lastGood, this.snapshotDir(lastGood), true);
      return;
    }
    const co = await source.checkout(head);
    try {
      turn.result = await applier.apply(co.dir, head, [], true);
      if (turn.result === "success" || turn.result === "no-changes") status.validated();
    } finally {
      await co.cleanup();
    }
  }

  /** The head is not applied (known bad, held, or already good): heal toward the revision the decision keeps. */
  private async keepConverged(
    head: string,
    headRow: RevisionRow | undefined,
    decision: Exclude<RevisionDecision, { action: "apply" }>,
    suspension: Suspension | undefined,
    turn: Turn,
  ): Promise<void> {
    const { status } = this.d;
    if (headRow?.status === "invalid" && status.fields.invalid?.revision !== head) {
      // Known from the journal (e.g. after a restart): keep reporting it with its file:line.
      const msg = headRow.message ?? "";
      status.markInvalid({ revision: head, message: msg, locations: msg.split("\n").map((l) => l.trim()).filter((l) => /^[^\s:]+:\d+:\d+ /.test(l)) });
    }
    this.reportHold(head, headRow, decision);
    turn.target = decision.revision;
    if (turn.target) await this.healToward(turn.target, head, !!suspension, turn);
    else turn.result = "held";
    if (suspension && turn.result !== "held") turn.result = "suspended";
  }

  private reportHold(head: string, headRow: RevisionRow | undefined, decision: Exclude<RevisionDecision, { action: "apply" }>): void {
    const { status, metrics, log } = this.d;
    if (decision.action === "hold") {
      status.hold(decision.reason);
      if (!this.reportedHolds.has(head)) {
        this.reportedHolds.add(head);
        log(decision.reason);
        metrics.reconcileFinished("refused", 0);
      }
    } else if (decision.revision === head) status.hold(undefined);
    else status.hold(`${head} is marked ${headRow?.status}; keeping ${decision.revision}`);
  }

  private async healToward(target: string, head: string, suspended: boolean, turn: Turn): Promise<void> {
    const { source, healer } = this.d;
    const snap = this.snapshotDir(target);
    if (existsSync(snap)) turn.result = await healer.heal(target, snap, suspended);
    else if (target === head) {
      const co = await source.checkout(head);
      try {
        turn.result = await healer.heal(head, co.dir, suspended);
      } finally {
        await co.cleanup();
      }
    } else turn.message = `no snapshot of ${target} to heal toward`;
  }

  /** The copy of an applied revision kept in the state dir (snapshotRevision; only the last few are kept). */
  private snapshotDir(revision: string): string {
    return path.join(this.d.stateDir, "revisions", revision);
  }
}
