import { formatRef } from "../core/refs.js";
import type { Runner } from "../core/runner.js";
import { probeScopeHealth } from "../engine/health/scope-health.js";
import type { Plan } from "../engine/plan.js";
import { observedOwners } from "../engine/planner.js";
import { planLive, resolveLive } from "../run/reconcile.js";
import type { Applier } from "./applier.js";
import { actionable, recordDrift } from "./drift-report.js";
import type { FlapDetector } from "./flap-detector.js";
import type { ReconcileResult, ScopeOwnerLabel, TackMetrics } from "./metrics.js";
import type { AgentStatus } from "./status.js";
import { probedOwners, topologyOf } from "./topology.js";

/**
 * Between commits: plan the good revision against the live host, report drift, scope owners and scope health,
 * and correct what enforce layers may change, except resources that flap (corrected too often: reported only).
 */
export interface HealDeps {
  applier: Applier;
  runner: Runner;
  metrics: TackMetrics;
  status: AgentStatus;
  flaps: FlapDetector;
  log: (line: string) => void;
}

export class Healer {
  constructor(private readonly d: HealDeps) {}

  /** Heal toward `revision` (unpacked in `dir`); while suspended, observe and report only. */
  async heal(revision: string, dir: string, suspended: boolean): Promise<ReconcileResult> {
    const { status, metrics, log } = this.d;
    const todo = await this.observe(revision, dir);
    if (todo.length === 0) {
      if (status.fields.appliedRevision !== revision) {
        status.applied(revision);
        metrics.setAppliedRevision(revision);
      }
      return "no-changes";
    }
    if (suspended) {
      log(`drift on ${todo.length} resource(s), not healed: suspended`);
      return "no-changes";
    }
    return this.correct(revision, dir, todo);
  }

  /** Plan against the live host and record what it shows; returns the drift the agent may correct. */
  private async observe(revision: string, dir: string): Promise<Plan["changes"]> {
    const { applier, runner, metrics, status } = this.d;
    const resolved = await resolveLive(dir, applier.ctx);
    applier.resolved(resolved);
    const lp = await planLive(resolved, revision, applier.ctx);
    const owners = observedOwners(lp.resolved, lp.observed);
    metrics.setScopeOwners([...owners].map(([scope, owner]) => ({ scope, owner: owner as ScopeOwnerLabel })));
    status.topology(topologyOf(lp.resolved, probedOwners(owners), lp.observed));
    const health = await probeScopeHealth(lp.resolved, lp.observed, runner);
    metrics.setHealthOfScopes(new Map([...health].map(([scope, r]) => [scope, r.ok])));
    status.probed(Object.fromEntries([...health].map(([scope, r]) => [scope, { ok: r.ok, detail: r.detail, at: r.at }])));
    recordDrift(lp.plan.changes, this.d);
    return actionable(lp.plan);
  }

  private async correct(revision: string, dir: string, todo: Plan["changes"]): Promise<ReconcileResult> {
    const { applier, status, flaps, log } = this.d;
    const now = Date.now();
    const fresh = todo.filter((c) => !flaps.isFlapping(formatRef(c.ref), now));
    status.flappingNow(flaps.flapping(now));
    if (fresh.length === 0) {
      log(`drift on ${todo.length} flapping resource(s) is reported, not corrected: ${todo.map((c) => formatRef(c.ref)).join(", ")}`);
      return "no-changes";
    }
    for (const c of fresh) flaps.recordCorrection(formatRef(c.ref), now);
    // Flapping resources stay as they are: only the rest of the drift is corrected.
    const leaveAlone = todo.filter((c) => !fresh.includes(c)).map((c) => formatRef(c.ref));
    log(`healing drift on ${fresh.map((c) => formatRef(c.ref)).join(", ")}${leaveAlone.length ? `; leaving flapping ${leaveAlone.join(", ")} alone` : ""}`);
    const result = await applier.apply(dir, revision, leaveAlone);
    status.flappingNow(flaps.flapping());
    const healed = result === "success" || result === "no-changes";
    recordDrift(healed ? todo.filter((c) => flaps.isFlapping(formatRef(c.ref))) : todo, this.d);
    return result;
  }
}
