import { errorMessage, failureClass, UnsafePlanError, UserError } from "../core/errors.js";
import { formatFinding } from "../core/findings.js";
import type { ResolvedHost } from "../core/resources.js";
import type { Runner } from "../core/runner.js";
import type { Journal } from "../run/journal.js";
import { applyRevision, type ApplyOutcome, type ReconcileContext, type ReconcileEvent } from "../run/reconcile.js";
import { leftAfterApply, recordDrift } from "./drift-report.js";
import type { FlapDetector } from "./flap-detector.js";
import type { ReconcileResult, TackMetrics } from "./metrics.js";
import type { AgentStatus, PendingPlan } from "./status.js";
import { describeChange } from "../engine/cutover-summary.js";
import type { Plan } from "../engine/plan.js";
import { buildSteps } from "../engine/steps.js";
import { appliedOwners, keptOwners, topologyOf } from "./topology.js";

/**
 * The agent's writes to the host: a revision applied (new head, drift healing, crash recovery) or a manual
 * rollback, all through one ReconcileContext. Records each outcome on the status and the metrics, keeps the
 * host as last resolved, and tells the drift watchers when what they see is our own writing.
 */
export interface ApplierDeps {
  stateDir: string;
  runner: Runner;
  journal: Journal;
  metrics: TackMetrics;
  status: AgentStatus;
  flaps: FlapDetector;
  signal: AbortSignal;
  log: (line: string) => void;
  host?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  /** Every reconcile event (plans, steps, rollbacks), e.g. for a progress printer. */
  onEvent?: ((e: ReconcileEvent) => void) | undefined;
  beforeStep?: ReconcileContext["beforeStep"] | undefined;
  ageIdentity?: string | undefined;
  /** An apply planned some kinds as converged without observing them: a full drift check is owed, now. */
  driftCheckOwed?: (() => void) | undefined;
}

export const RESULT_OF: Record<ApplyOutcome["status"], ReconcileResult> = {
  applied: "success",
  "no-changes": "no-changes",
  "rolled-back": "rolled-back",
  "rollback-failed": "failure",
  "failed-transient": "transient",
  refused: "refused",
  skipped: "no-changes",
};

/** Our own writes (NPM confs, unit files) reach chokidar up to its stat latency after the apply ends. */
const OWN_WRITE_SETTLE_MS = 300;

export class Applier {
  readonly ctx: ReconcileContext;
  private resolvedHost: ResolvedHost | undefined;
  private applying = false;
  private appliedAt = 0;

  constructor(private readonly d: ApplierDeps) {
    this.ctx = {
      runner: d.runner,
      stateDir: d.stateDir,
      journal: d.journal,
      signal: d.signal,
      onEvent: (e) => this.onEvent(e),
      ...(d.host ? { host: d.host } : {}),
      ...(d.env ? { env: d.env } : {}),
      ...(d.beforeStep ? { beforeStep: d.beforeStep } : {}),
      ...(d.ageIdentity ? { ageIdentity: d.ageIdentity } : {}),
    };
  }

  /** The host as last resolved (a plan event or a drift check): scopes, NPM data dir, drift interval. */
  get lastHost(): ResolvedHost | undefined {
    return this.resolvedHost;
  }

  /** A drift check resolved the desired state against the live host without planning through us. */
  resolved(host: ResolvedHost): void {
    this.resolvedHost = host;
  }

  /** True while we write to the host and just after: a watcher event then is ours, not drift. */
  isOwnWrite(now = Date.now()): boolean {
    return this.applying || now - this.appliedAt < OWN_WRITE_SETTLE_MS;
  }

  /** Runs work that writes to the host: the drift watchers ignore what they see meanwhile. */
  async whileApplying<T>(work: () => Promise<T>): Promise<T> {
    this.applying = true;
    try {
      return await work();
    } finally {
      this.applying = false;
      this.appliedAt = Date.now();
    }
  }

  /**
   * Apply a revision, mapping a refused or invalid desired state to its journal mark. `newHead`: a commit from the
   * source, whose runtimes may be planned unobserved when they want what the last good revision wanted
   * (run/unchanged-runtime.ts: an edge-only commit); a full drift check follows at once.
   */
  apply(dir: string, revision: string, leaveAlone: string[] = [], newHead = false): Promise<ReconcileResult> {
    return this.whileApplying(async () => {
      try {
        const o = await applyRevision({ dir, revision, ...(leaveAlone.length ? { leaveAlone } : {}), ...(newHead ? { assumeUnchangedRuntime: true } : {}) }, this.ctx);
        this.recordOutcome(o);
        if (o.status === "applied") this.d.log(`applied ${revision}`);
        if (o.status === "applied" || o.status === "no-changes") {
          this.d.status.succeeded();
          this.d.status.planned(undefined);
        } else if (o.plan && this.lastHost) this.d.status.planned(pendingPlanOf(o.plan, this.lastHost, o.status === "failed-transient" ? "transient" : "failed"));
        if (o.status === "failed-transient") this.d.log(`${revision} not applied (${o.failureClass === "host" ? "host problem" : "transient"}): ${o.error}; it will be tried again`);
        return o.status === "failed-transient" && o.failureClass === "host" ? "stalled" : RESULT_OF[o.status];
      } catch (err) {
        return this.notTheRevisionsFault(err, revision) ?? this.refusedOrInvalid(err, revision);
      }
    });
  }

  recordOutcome(o: ApplyOutcome): void {
    const { metrics, status } = this.d;
    for (const c of o.cutovers) metrics.cutover(c.scope, c.from, c.to, c.result);
    if (o.status === "rolled-back" || o.status === "rollback-failed") metrics.rollback();
    if (o.status === "applied" || o.status === "no-changes") {
      status.applied(o.revision);
      metrics.setAppliedRevision(o.revision);
      // A plan that did not observe every kind cannot clear their drift: the owed drift check reports it.
      if (!o.assumed?.length) recordDrift(leftAfterApply(o.plan), this.d);
      if (this.lastHost) {
        metrics.setScopeOwners(this.lastHost.scopes.map((s) => ({ scope: s.name, owner: s.owner })));
        status.topology(topologyOf(this.lastHost, appliedOwners(this.lastHost)));
      }
    }
    if (o.assumed?.length) {
      const kinds = o.assumed.length > 1 ? `${o.assumed.slice(0, -1).join(", ")} and ${o.assumed.at(-1)}` : o.assumed[0];
      this.d.log(`${o.revision}: ${kinds} unchanged since the last good revision, planned without observing them; a full drift check follows`);
      this.d.driftCheckOwed?.();
    }
    if (o.error) status.failed(`${o.revision}: ${o.error}${o.rollbackError ? `\nrollback failed: ${o.rollbackError}` : ""}`);
    status.ranRecorded(this.d.journal.lastRun());
  }

  /** A host problem or a transient failure before any step ran (observing, resolving facts): nothing is marked. */
  private notTheRevisionsFault(err: unknown, revision: string): ReconcileResult | undefined {
    const cls = failureClass(err);
    if (cls === "failure") return undefined;
    const message = `${revision} not applied (${cls === "host" ? "host problem" : "transient"}): ${errorMessage(err)}`;
    this.d.status.failed(message);
    this.d.log(`${message}; it will be tried again`);
    return cls === "host" ? "stalled" : "transient";
  }

  private refusedOrInvalid(err: unknown, revision: string): ReconcileResult {
    const { journal, status, log } = this.d;
    if (err instanceof UserError) {
      journal.setRevision(revision, "invalid", err.message);
      const locations = err.findings.filter((f) => f.severity === "error").map(formatFinding);
      status.markInvalid({ revision, message: err.message, locations });
      const message = `${revision} is invalid: ${err.message}`;
      status.failed(message);
      log(message);
      return "invalid";
    }
    if (err instanceof UnsafePlanError) {
      const pending = status.fields.pendingPlan;
      if (pending?.revision === revision) status.planned({ ...pending, state: "refused" });
      journal.setRevision(revision, "failed", `refused: ${err.message}`);
      const message = `${revision} refused: ${err.message}`;
      status.failed(message);
      log(message);
      return "refused";
    }
    throw err;
  }

  private onEvent(e: ReconcileEvent): void {
    const { log, metrics } = this.d;
    this.d.onEvent?.(e);
    if (e.type === "log") log(e.message);
    else if (e.type === "rollback-start") log(`rolling back to ${e.target} (${e.reason})`);
    else if (e.type === "exec") {
      const ev = e.event;
      if (ev.type === "step-failed") log(`step ${ev.step.phase}${ev.step.scope ? ` [${ev.step.scope}]` : ""} failed: ${ev.error}`);
      if (ev.type === "step-done") for (const w of ev.warnings ?? []) log(`step ${ev.step.phase}: warning: ${w}`);
      if (ev.step.phase === "health" && ev.step.scope && ev.type !== "step-start") metrics.setHealth(ev.step.scope, ev.type === "step-done");
    } else if (e.type === "plan") {
      this.resolvedHost = e.host;
      // The page shows a cutover under way: desired moves now, observed stays until the apply or a probe says.
      if (e.purpose === "apply") {
        this.d.status.topology(topologyOf(e.host, keptOwners(this.d.status.fields.scopes)));
        if (e.plan.changes.length || e.plan.findings.some((f) => f.severity === "error")) this.d.status.planned(pendingPlanOf(e.plan, e.host, "applying"));
      }
      if (e.plan.changes.length) log(`${e.purpose} plan of ${e.plan.revision}: ${e.plan.changes.length} change(s)`);
    }
  }
}

/** A plan as the status page shows it: changes in a reviewer's words, and the findings that matter. */
function pendingPlanOf(plan: Plan, host: ResolvedHost, state: PendingPlan["state"]): PendingPlan {
  const steps = buildSteps(plan, host).flatMap((s) => (s.gate ? [`${s.phase}: ${s.description.replace(/^health: /, "gate ")}`] : s.changes.map((c) => `${s.phase}: ${describeChange(c, host)}`)));
  return {
    revision: plan.revision,
    state,
    changes: steps.slice(0, 50),
    findings: plan.findings.filter((f) => f.severity !== "info").map(formatFinding),
  };
}
