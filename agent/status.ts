import type { ResourceKind } from "../core/refs.js";
import type { RunRow } from "../run/journal.js";
import type { FlappingResource } from "./flap-detector.js";
import type { ReconcileResult } from "./metrics.js";
import type { Trigger } from "./scheduler.js";
import type { Suspension } from "./suspension.js";

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
}

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
}

/** The fields read fresh at each snapshot: the journal and the flap detector are their source of truth. */
export type LiveFields = Pick<DaemonStatus, "suspension" | "flapping" | "lastRun">;

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
    };
  }

  /** The status as the agent recorded it (without the live fields); for the agent's own decisions. */
  get fields(): Readonly<DaemonStatus> {
    return this.state;
  }

  /** A copy for readers: the recorded fields with the live ones read now. */
  snapshot(): DaemonStatus {
    return { ...this.state, ...this.live() };
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
    this.update({ lastReconcile, lastRun, ready: true, reconciles: this.state.reconciles + 1 });
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
