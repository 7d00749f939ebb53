import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { RESOURCE_KINDS, type ResourceKind } from "../core/refs.js";

/**
 * The agent's Prometheus metrics (contract: names, design.md "Metrics"). Values are honest: a failed reconcile
 * shows as failed even when the one before succeeded; drift per kind goes back to zero when healed. Label
 * cardinality is bounded: kinds and results are fixed sets, scopes come from the desired state, and the
 * revision info gauges keep one series (the old revision's series is removed when it changes).
 */
/** transient: a 429/5xx/unreachable daemon outlasted the retries (tried again later); stalled: the host lacks something. */
export type ReconcileResult = "success" | "no-changes" | "failure" | "rolled-back" | "invalid" | "refused" | "transient" | "stalled";
export const RECONCILE_RESULTS: ReconcileResult[] = ["success", "no-changes", "failure", "rolled-back", "invalid", "refused", "transient", "stalled"];
export type ScopeOwnerLabel = "native" | "docker" | "none" | "both";
const OWNER_LABELS: ScopeOwnerLabel[] = ["native", "docker", "none", "both"];

function ownerLabel(owner: string): string {
  return (OWNER_LABELS as string[]).includes(owner) ? owner : "other";
}

export class TackMetrics {
  readonly registry: Registry;
  private readonly reconcileTotal: Counter<"result">;
  private readonly reconcileDuration: Histogram;
  private readonly drift: Gauge<"kind">;
  private readonly lastSuccess: Gauge;
  private readonly lastFailed: Gauge;
  private readonly desiredRevision: Gauge<"revision">;
  private readonly appliedRevision: Gauge<"revision">;
  private readonly scopeOwner: Gauge<"scope" | "owner">;
  private readonly healthUp: Gauge<"scope">;
  private readonly cutoverTotal: Counter<"scope" | "from" | "to" | "result">;
  private readonly rollbackTotal: Counter;
  private readonly gitFetchErrors: Counter;
  private readonly suspended: Gauge;
  private readonly stalled: Gauge;
  private desiredRev: string | undefined;
  private appliedRev: string | undefined;
  private scopes = new Set<string>();
  private healthScopes = new Set<string>();
  private cutoverLabels = new Map<string, { scope: string; from: string; to: string; result: string }>();

  constructor(options: { registry?: Registry; processMetrics?: boolean } = {}) {
    const registers = [(this.registry = options.registry ?? new Registry())];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.reconcileTotal = new Counter({ name: "tack_reconcile_total", help: "Reconciles by result.", labelNames: ["result"], registers });
    for (const r of RECONCILE_RESULTS) this.reconcileTotal.inc({ result: r }, 0);
    this.reconcileDuration = new Histogram({
      name: "tack_reconcile_duration_seconds",
      help: "Duration of reconciles (observe, plan, apply, gates).",
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.drift = new Gauge({ name: "tack_drift_resources", help: "Resources whose live state differs from the desired state, by kind.", labelNames: ["kind"], registers });
    for (const k of RESOURCE_KINDS) this.drift.set({ kind: k }, 0);
    this.lastSuccess = new Gauge({ name: "tack_last_success_timestamp_seconds", help: "Unix time of the last successful reconcile.", registers });
    this.lastFailed = new Gauge({ name: "tack_last_reconcile_failed", help: "1 when the last reconcile failed, and until the desired revision is applied; else 0.", registers });
    this.desiredRevision = new Gauge({ name: "tack_desired_revision_info", help: "The revision the agent is asked to apply (value 1).", labelNames: ["revision"], registers });
    this.appliedRevision = new Gauge({ name: "tack_applied_revision_info", help: "The revision last applied successfully (value 1).", labelNames: ["revision"], registers });
    this.scopeOwner = new Gauge({ name: "tack_scope_owner", help: "1 for the runtime that serves each scope (native, docker, none, both).", labelNames: ["scope", "owner"], registers });
    this.healthUp = new Gauge({ name: "tack_health_up", help: "1 when the scope's owner passes its health check.", labelNames: ["scope"], registers });
    this.cutoverTotal = new Counter({ name: "tack_cutover_total", help: "Scope owner changes by outcome.", labelNames: ["scope", "from", "to", "result"], registers });
    this.rollbackTotal = new Counter({ name: "tack_rollback_total", help: "Automatic rollbacks.", registers });
    this.gitFetchErrors = new Counter({ name: "tack_git_fetch_errors_total", help: "Failed git fetches.", registers });
    this.suspended = new Gauge({ name: "tack_suspended", help: "1 while reconciling is suspended.", registers });
    this.suspended.set(0);
    this.stalled = new Gauge({ name: "tack_stalled", help: "1 while the host lacks something tack needs (a token variable, NPM's container, Compose): see /status.", registers });
    this.stalled.set(0);
    this.lastFailed.set(0);
  }

  /**
   * A success clears tack_last_reconcile_failed only when the applied revision is the desired one (or no desired
   * revision is known): after a failed revision the agent heals toward the last good one, and those heals succeed,
   * but the failure is not over until the desired revision converges (else the flag lasts one poll interval).
   */
  reconcileFinished(result: ReconcileResult, durationSeconds: number, now = Date.now()): void {
    this.reconcileTotal.inc({ result });
    this.reconcileDuration.observe(durationSeconds);
    const ok = result === "success" || result === "no-changes";
    if (!ok) this.lastFailed.set(1);
    else if (this.desiredRev === undefined || this.desiredRev === this.appliedRev) this.lastFailed.set(0);
    if (ok) this.lastSuccess.set(now / 1000);
  }

  setStalled(stalled: boolean): void {
    this.stalled.set(stalled ? 1 : 0);
  }

  /** Seeds tack_last_success_timestamp_seconds (Unix ms), e.g. from the journal after a restart. */
  setLastSuccess(ms: number): void {
    this.lastSuccess.set(ms / 1000);
  }

  setDesiredRevision(revision: string): void {
    if (this.desiredRev !== undefined && this.desiredRev !== revision) this.desiredRevision.remove({ revision: this.desiredRev });
    this.desiredRev = revision;
    this.desiredRevision.set({ revision }, 1);
  }

  setAppliedRevision(revision: string): void {
    if (this.appliedRev !== undefined && this.appliedRev !== revision) this.appliedRevision.remove({ revision: this.appliedRev });
    this.appliedRev = revision;
    this.appliedRevision.set({ revision }, 1);
  }

  /** Drift per kind; kinds not given are set to zero (healed). */
  setDrift(byKind: Partial<Record<ResourceKind, number>>): void {
    for (const k of RESOURCE_KINDS) this.drift.set({ kind: k }, byKind[k] ?? 0);
  }

  /** Owners of every scope; scopes no longer declared lose their series. */
  setScopeOwners(owners: { scope: string; owner: ScopeOwnerLabel }[]): void {
    const now = new Set(owners.map((o) => o.scope));
    for (const gone of [...this.scopes].filter((s) => !now.has(s))) {
      for (const owner of OWNER_LABELS) this.scopeOwner.remove({ scope: gone, owner });
    }
    for (const gone of [...this.healthScopes].filter((s) => !now.has(s))) {
      this.healthUp.remove({ scope: gone });
      this.healthScopes.delete(gone);
    }
    // prom-client removes only exact label sets, so the cutover series of a removed scope are tracked here.
    for (const [key, labels] of this.cutoverLabels) {
      if (now.has(labels.scope)) continue;
      this.cutoverTotal.remove(labels);
      this.cutoverLabels.delete(key);
    }
    for (const { scope, owner } of owners) for (const o of OWNER_LABELS) this.scopeOwner.set({ scope, owner: o }, o === owner ? 1 : 0);
    this.scopes = now;
  }

  setHealth(scope: string, up: boolean): void {
    this.healthScopes.add(scope);
    this.healthUp.set({ scope }, up ? 1 : 0);
  }

  /** Health of every probed scope; a scope not in the map (owner `none`, or gone) loses its series. */
  setHealthOfScopes(up: Map<string, boolean>): void {
    for (const gone of [...this.healthScopes].filter((s) => !up.has(s))) {
      this.healthUp.remove({ scope: gone });
      this.healthScopes.delete(gone);
    }
    for (const [scope, ok] of up) this.setHealth(scope, ok);
  }

  /** from/to outside the owner labels are recorded as "other", so a caller's typo cannot add unbounded series. */
  cutover(scope: string, from: string, to: string, result: "succeeded" | "rolled-back" | "failed"): void {
    const labels = { scope, from: ownerLabel(from), to: ownerLabel(to), result };
    this.cutoverLabels.set(JSON.stringify(labels), labels);
    this.cutoverTotal.inc(labels);
  }

  rollback(): void {
    this.rollbackTotal.inc();
  }

  gitFetchError(): void {
    this.gitFetchErrors.inc();
  }

  setSuspended(suspended: boolean): void {
    this.suspended.set(suspended ? 1 : 0);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
