import type { ResourceKind } from "../core/refs.js";
import type { DetectedCompose } from "../kinds/compose-service/compose-flavor.js";
import type { RunRow } from "../run/journal.js";
import type { FlappingResource } from "./flap-detector.js";
import type { ReconcileResult } from "./metrics.js";
import type { Trigger } from "./scheduler.js";
import type { Suspension } from "./suspension.js";
import type { EdgeRoute, ScopeView, Topology } from "./topology.js";

/**
 * What the agent reports about itself (GET /status, `tack status`): one typed snapshot, changed only through
 * AgentStatus's methods, with listeners told of each change (coalesced to one call per tick).
 */
export interface LastReconcile {
  at: string;
  triggers: Trigger[];
  result: ReconcileResult | "held" | "suspended" | "error";
  revision: string | undefined;
  durationMs: number;
  message?: string;
  /** The journal's run this reconcile made (absent: it changed nothing on the host). */
  runId?: number;
}

/** How many reconciles recentReconciles keeps (newest first). */
export const RECENT_RECONCILES = 10;

export interface InvalidRevision {
  revision: string;
  message: string;
  /** file:line:col of each error finding. */
  locations: string[];
}

export interface ScopeHealth {
  ok: boolean;
  detail: string;
  at: string;
}

/** A problem of the host that no commit can fix (HostError): the agent keeps retrying, slowly, and says why. */
export interface Stalled {
  reason: "HostProblem";
  message: string;
  since: string;
}

/** The next attempt at a revision whose last run failed transiently (or stalled). */
export interface RetryScheduled {
  at: string;
  attempt: number;
  message: string;
}

/** What a revision would change, in a reviewer's words, and what the guards said: for the status page. */
export interface PendingPlan {
  revision: string;
  state: "applying" | "failed" | "refused" | "transient";
  /** One line per change, in the order the agent runs them (at most 50). */
  changes: string[];
  /** Guard and driver findings worth a look (errors and warnings), formatted with file:line when known. */
  findings: string[];
}

/** Conditions as Flux reports them: each with a status, a reason (CamelCase) and a message for people. */
export interface Condition {
  type: "Ready" | "Reconciling" | "Stalled";
  status: "True" | "False";
  reason: string;
  message: string;
}

export interface DaemonStatus {
  host: string | undefined;
  source: string;
  desiredRevision: string | undefined;
  appliedRevision: string | undefined;
  ready: boolean;
  gitReachable: boolean;
  lastReconcile: LastReconcile | undefined;
  lastRun: RunRow | undefined;
  drift: Partial<Record<ResourceKind, number>>;
  driftDetails: string[];
  suspension: Suspension | undefined;
  lastError: string | undefined;
  invalid: InvalidRevision | undefined;
  held: string | undefined;
  flapping: FlappingResource[];
  reconciles: number;
  /** The last health probe of each owned scope, from the drift checks (not the health gates). */
  health: Record<string, ScopeHealth>;
  stalled: Stalled | undefined;
  retry: RetryScheduled | undefined;
  /** Ready, Reconciling, Stalled: derived from the fields above at each snapshot. */
  conditions: Condition[];
  /** Each scope with its desired and observed owner (empty until the desired state was first resolved). */
  scopes: ScopeView[];
  /** hostname → NPM → upstream → scope, with the bridge rule and the DNS posture. */
  edge: EdgeRoute[];
  /** The last reconciles, newest first (at most RECENT_RECONCILES), for the status page's run history. */
  recentReconciles: LastReconcile[];
  /** The plan of the revision the agent is applying, or of the last one that failed or was refused (cleared on success). */
  pendingPlan?: PendingPlan | undefined;
  /** The Compose in use (`docker compose` v2 or `docker-compose` v1, and its version), once a plan needed it. */
  compose?: DetectedCompose | undefined;
}

/** The fields read fresh at each snapshot: the journal and the flap detector are their source of truth. */
export type LiveFields = Pick<DaemonStatus, "suspension" | "flapping" | "lastRun" | "compose">;

export type StatusListener = (status: DaemonStatus) => void;

export class AgentStatus {
  private readonly state: DaemonStatus;
  private readonly listeners = new Set<StatusListener>();
  private notifyQueued = false;

  /**
   * `live` supplies the fields that change without the agent doing anything (a suspension expires, a flapping
   * resource calms down); `onListenerError` hears a listener's throw, which never reaches the agent's work.
   */
  constructor(
    initial: Pick<DaemonStatus, "host" | "source" | "appliedRevision" | "lastRun" | "suspension">,
    private readonly live: () => LiveFields,
    private readonly onListenerError: (err: unknown) => void = () => undefined,
  ) {
    // Key order is the /status JSON's field order: keep it.
    this.state = {
      host: initial.host,
      source: initial.source,
      desiredRevision: undefined,
      appliedRevision: initial.appliedRevision,
      ready: false,
      gitReachable: false,
      lastReconcile: undefined,
      lastRun: initial.lastRun,
      drift: {},
      driftDetails: [],
      suspension: initial.suspension,
      lastError: undefined,
      invalid: undefined,
      held: undefined,
      flapping: [],
      reconciles: 0,
      health: {},
      stalled: undefined,
      retry: undefined,
      conditions: [],
      scopes: [],
      edge: [],
      recentReconciles: [],
    };
  }

  /** The status as the agent recorded it (without the live fields); for the agent's own decisions. */
  get fields(): Readonly<DaemonStatus> {
    return this.state;
  }

  /** A copy for readers: the recorded fields with the live ones read now. */
  snapshot(): DaemonStatus {
    const s = { ...this.state, ...this.live() };
    return { ...s, conditions: conditionsOf(s) };
  }

  /** Hear of every change; returns the unsubscribe. */
  subscribe(listener: StatusListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drop all listeners (the agent is stopping: the journal behind the live fields is about to close). */
  unsubscribeAll(): void {
    this.listeners.clear();
  }

  fetched(revision: string): void {
    this.update({ desiredRevision: revision, gitReachable: true });
  }

  fetchFailed(message: string): void {
    this.update({ gitReachable: false, lastError: message });
  }

  applied(revision: string): void {
    this.update({ appliedRevision: revision });
  }

  failed(message: string): void {
    this.update({ lastError: message });
  }

  succeeded(): void {
    this.update({ lastError: undefined });
  }

  markInvalid(invalid: InvalidRevision): void {
    this.update({ invalid });
  }

  validated(): void {
    this.update({ invalid: undefined });
  }

  hold(reason: string | undefined): void {
    this.update({ held: reason });
  }

  drifted(drift: DaemonStatus["drift"], driftDetails: string[]): void {
    this.update({ drift, driftDetails });
  }

  /** A host problem stopped the reconcile (undefined: it is gone). Keeps `since` while the problem stays. */
  stalledBy(message: string | undefined): void {
    const since = this.state.stalled?.since ?? new Date().toISOString();
    this.update({ stalled: message ? { reason: "HostProblem", message, since } : undefined });
  }

  retrying(retry: RetryScheduled | undefined): void {
    this.update({ retry });
  }

  /** A revision's plan, as the apply began (state "applying"), then what became of it; undefined once one applies. */
  planned(pending: PendingPlan | undefined): void {
    this.update({ pendingPlan: pending });
  }

  topology(t: Topology): void {
    this.update({ scopes: t.scopes, edge: t.edge });
  }

  probed(health: DaemonStatus["health"]): void {
    this.update({ health });
  }

  flappingNow(flapping: FlappingResource[]): void {
    this.update({ flapping });
  }

  suspended(suspension: Suspension | undefined): void {
    this.update({ suspension });
  }

  ranRecorded(lastRun: RunRow | undefined): void {
    this.update({ lastRun });
  }

  /** A reconcile finished (or was refused): the agent is ready from the first one on. */
  reconciled(lastReconcile: LastReconcile, lastRun: RunRow | undefined): void {
    const recentReconciles = [lastReconcile, ...this.state.recentReconciles].slice(0, RECENT_RECONCILES);
    this.update({ lastReconcile, lastRun, ready: true, reconciles: this.state.reconciles + 1, recentReconciles });
  }

  private update(patch: Partial<DaemonStatus>): void {
    Object.assign(this.state, patch);
    if (this.listeners.size === 0 || this.notifyQueued) return;
    this.notifyQueued = true;
    // One call per tick: an apply records several fields in a row, a listener wants the result.
    queueMicrotask(() => {
      this.notifyQueued = false;
      if (this.listeners.size === 0) return;
      let snap: DaemonStatus;
      try {
        snap = this.snapshot();
      } catch (err) {
        return this.onListenerError(err);
      }
      for (const l of [...this.listeners]) {
        try {
          l(snap);
        } catch (err) {
          this.onListenerError(err);
        }
      }
    });
  }
}

const REASON_OF: Record<LastReconcile["result"], string> = {
  success: "ReconciliationSucceeded",
  "no-changes": "ReconciliationSucceeded",
  failure: "ReconciliationFailed",
  "rolled-back": "RolledBack",
  invalid: "InvalidRevision",
  refused: "PlanRefused",
  transient: "TransientFailure",
  stalled: "HostProblem",
  held: "RevisionHeld",
  suspended: "Suspended",
  error: "ReconciliationFailed",
};

/** Ready: the desired revision is applied and the last reconcile succeeded; Reconciling: a retry is pending. */
export function conditionsOf(s: Pick<DaemonStatus, "lastReconcile" | "desiredRevision" | "appliedRevision" | "stalled" | "held" | "lastError" | "retry">): Condition[] {
  const last = s.lastReconcile;
  const converged = s.desiredRevision === undefined || s.desiredRevision === s.appliedRevision;
  const ok = last !== undefined && (last.result === "success" || last.result === "no-changes") && converged && !s.stalled;
  const ready: Condition = ok
    ? { type: "Ready", status: "True", reason: "ReconciliationSucceeded", message: `applied revision ${s.appliedRevision ?? "?"}` }
    : {
        type: "Ready",
        status: "False",
        reason: s.stalled ? "HostProblem" : last ? (converged ? REASON_OF[last.result] : last.result === "success" || last.result === "no-changes" ? "RevisionNotApplied" : REASON_OF[last.result]) : "Progressing",
        message: s.stalled?.message ?? s.held ?? s.lastError ?? last?.message ?? (last ? `desired ${s.desiredRevision}, applied ${s.appliedRevision ?? "none"}` : "no reconcile yet"),
      };
  const reconciling: Condition = s.retry
    ? { type: "Reconciling", status: "True", reason: "RetryScheduled", message: `attempt ${s.retry.attempt} at ${s.retry.at}: ${s.retry.message}` }
    : { type: "Reconciling", status: "False", reason: last ? REASON_OF[last.result] : "Progressing", message: last ? `last reconcile: ${last.result}` : "starting" };
  const stalled: Condition = s.stalled
    ? { type: "Stalled", status: "True", reason: s.stalled.reason, message: s.stalled.message }
    : { type: "Stalled", status: "False", reason: "NoHostProblem", message: "" };
  return [ready, reconciling, stalled];
}
