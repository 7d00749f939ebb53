import type { ComposeDriver } from "../compose/compose-driver.js";
import type { SystemdDriver } from "../units/systemd-driver.js";
import type { Change } from "./core/changes.js";
import { PHASES } from "./core/changes.js";
import { ApplyError } from "./core/errors.js";
import type { ResourceRef } from "./core/refs.js";
import type { DesiredComposeService, DesiredSystemdUnit, Handoff, HealthCheck, Owner, ResolvedScope } from "./core/resources.js";
import type { Runner } from "./core/runner.js";
import type { StateProbe } from "./health/probe.js";
import { servicesEvidence, servicesState, unitsEvidence, unitsState, type RuntimeEvidence } from "./health/runtime-state.js";
import { HealthTimeoutError, describeCheck, waitHealthy, type HealthEvidence } from "./health/wait-healthy.js";

/**
 * Moving one app scope from one runtime to the other.
 * - exclusive (break-before-make, for JetStream consumers): retire A, then start B and wait until B is healthy.
 *   A and B never serve at the same time.
 * - overlap (make-before-break): start B, wait healthy, let the caller switch the edge, then retire A.
 * Retiring follows design.md Decisions: docker → `rm -s -f`, native → stop and disable, so neither a reboot
 * nor a dockerd restart revives the old owner. On a failed gate the error carries the evidence.
 */

export type Runtime = Exclude<Owner, "none">;

export interface HandoffOptions {
  scope: ResolvedScope;
  from: Owner;
  to: Owner;
  mode: Handoff;
  units: SystemdDriver;
  compose: ComposeDriver;
  /** The resolved definitions of the scope's units and services (file contents, compose files). */
  desired: { units: DesiredSystemdUnit[]; services: DesiredComposeService[] };
  /** Overrides the target runtime's health check timeout. */
  timeoutMs?: number;
  intervalMs?: number;
  /** For command health checks. */
  runner?: Runner;
  /** overlap: called once B is healthy and before A is retired (the caller switches the edge here). */
  switchEdge?: () => Promise<void>;
}

export interface HandoffResult {
  /** What ran, in order: `retire docker`, `start native`, `health native`, ... */
  steps: string[];
  health: HealthEvidence | undefined;
}

export async function handoffScope(o: HandoffOptions): Promise<HandoffResult> {
  const steps: string[] = [];
  const applied: ResourceRef[] = [];
  const rt = (r: Runtime) => runtimeOf(o, r);
  let health: HealthEvidence | undefined;

  const startAndGate = async (to: Runtime) => {
    const target = rt(to);
    steps.push(`start ${to}`);
    applied.push(...(await target.converge("up")));
    steps.push(`health ${to}`);
    const check = target.health;
    health = await waitHealthy(check, {
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}),
      ...(o.runner ? { runner: o.runner } : {}),
      state: target.state,
    });
    if (!health.healthy) {
      const evidence = await target.evidence();
      const cause = new HealthTimeoutError(`scope ${o.scope.name} on ${to} (${describeCheck(check)})`, health, evidence);
      throw new ApplyError(cause.message, { ref: target.refs[0], phase: "health", cause, applied: [...applied] });
    }
  };
  const retire = async (from: Runtime) => {
    steps.push(`retire ${from}`);
    applied.push(...(await rt(from).converge("down")));
  };

  const from = o.from === "none" || o.from === o.to ? undefined : o.from;
  const to = o.to === "none" ? undefined : o.to;
  if (o.mode === "exclusive") {
    if (from) await retire(from);
    if (to) await startAndGate(to);
  } else {
    if (to) await startAndGate(to);
    if (o.switchEdge) {
      steps.push("switch edge");
      await o.switchEdge();
    }
    if (from) await retire(from);
  }
  return { steps, health };
}

interface RuntimeHandle {
  refs: ResourceRef[];
  health: HealthCheck;
  /** Bring the runtime's resources up (running, enabled) or down (retired); returns what changed. */
  converge(direction: "up" | "down"): Promise<ResourceRef[]>;
  state: StateProbe;
  evidence(): Promise<RuntimeEvidence>;
}

function runtimeOf(o: HandoffOptions, runtime: Runtime): RuntimeHandle {
  const resolved = o.scope[runtime];
  if (!resolved) throw new ApplyError(`scope ${o.scope.name} has no ${runtime} runtime`, { phase: "runtime-start" });
  const names = resolved.resources;
  if (runtime === "native") {
    const units = names.map((n) => {
      const d = o.desired.units.find((u) => u.name === n);
      if (!d) throw new ApplyError(`no definition for unit ${n} of scope ${o.scope.name}`, { phase: "runtime-start" });
      return d;
    });
    return {
      refs: units.map((u) => ({ kind: "systemd.unit", name: u.name })),
      health: resolved.health,
      converge: (dir) =>
        convergeWith(o.units, units.map((u) => ({ ...u, present: true, enabled: dir === "up", active: dir === "up" }))),
      state: unitsState(o.units, names),
      evidence: () => unitsEvidence(o.units, names),
    };
  }
  const services = names.map((n) => {
    const d = o.desired.services.find((s) => s.name === n);
    if (!d) throw new ApplyError(`no definition for compose service ${n} of scope ${o.scope.name}`, { phase: "runtime-start" });
    return d;
  });
  return {
    refs: services.map((s) => ({ kind: "compose.service", name: s.name })),
    health: resolved.health,
    converge: (dir) => convergeWith(o.compose, services.map((s) => ({ ...s, state: dir === "up" ? ("running" as const) : ("removed" as const) }))),
    state: servicesState(o.compose, services),
    evidence: () => servicesEvidence(o.compose, services),
  };
}

interface ConvergingDriver<D> {
  observe(desired: D[]): Promise<Map<string, unknown>>;
  plan(desired: D[], actual: Map<string, unknown>): Change<D, unknown>[];
  apply(changes: Change<D, unknown>[]): Promise<void>;
}

/** observe → plan → apply, one apply per phase in phase order (the driver contract: one phase per call). */
async function convergeWith<D>(driver: ConvergingDriver<D>, desired: D[]): Promise<ResourceRef[]> {
  const changes = driver.plan(desired, await driver.observe(desired));
  for (const phase of PHASES) {
    const batch = changes.filter((c) => c.phase === phase);
    if (batch.length) await driver.apply(batch);
  }
  return changes.map((c) => c.ref);
}
