import type { Change } from "../../core/changes.js";
import { defaultRetryBudgetMs, retryTransient } from "../../core/retry.js";
import { observedOf, runtimePhase, type Kind } from "../../core/kind.js";
import type { DesiredComposeService } from "../../core/resources.js";
import { ComposeDriver } from "./compose-driver.js";
import type { DetectedCompose } from "./compose-flavor.js";
import { isAdoption, isRunning, planServices, type ObservedService } from "./compose-plan.js";
import { observeUndesired, pruneServices, removeContainers, ServiceInventory } from "./service-prune.js";
import { servicesEvidence, servicesState, serving } from "./service-state.js";

/** `compose.service`: the Docker runtime of a scope, one compose service each (the fallback owner). */

/** What a host reports for a service that was applied as desired. */
function assumedService(d: DesiredComposeService): ObservedService {
  return {
    name: d.name,
    project: d.project,
    service: d.service,
    defined: true,
    expectedHash: "converged",
    image: undefined,
    tracked: true,
    containers:
      d.state === "running"
        ? [{ id: "", name: `${d.project}-${d.service}-1`, state: "running", status: "Up", health: undefined, configHash: "converged" }]
        : [],
  };
}

const isStopSide = (c: Change<DesiredComposeService, ObservedService>): boolean => c.action === "delete";

/** A secret the service reads changed: recreate it (`up --force-recreate`) unless it is not running or recreated anyway. */
function restart(d: DesiredComposeService, a: ObservedService | undefined, planned: Change<DesiredComposeService, ObservedService> | undefined): Change<DesiredComposeService, ObservedService> | undefined {
  if (d.state !== "running" || !isRunning(a)) return undefined;
  if (planned?.fields.some((f) => f.field === "configHash" || f.field === "restart")) return undefined;
  const field = { field: "restart", from: null, to: "secret changed" };
  if (planned) return { ...planned, fields: [...planned.fields, field], risk: "disruptive" };
  return { ref: { kind: "compose.service", name: d.name }, action: "update", phase: "runtime-start", fields: [field], risk: "disruptive", reason: "a secret it reads changed: recreate", desired: d, ...(a ? { actual: a } : {}), scope: d.scope };
}

function describe(c: Change<DesiredComposeService, ObservedService>): string {
  const svc = `compose service ${c.ref.name.slice(c.ref.name.indexOf("/") + 1)}`;
  if (c.action === "delete") return `stop and remove ${svc}`;
  if (c.fields.some((f) => f.field === "state" && f.to === "running")) return `start ${svc}`;
  if (isAdoption(c.fields)) return `take over ${svc} as it runs (no restart)`;
  return `recreate ${svc} (${c.fields.map((f) => f.field).join(", ")})`;
}

// `docker compose` vs `docker-compose` is detected once per process, not once per plan (v1 takes ~1 s to answer).
let detected: DetectedCompose | undefined;

/** The Compose this process uses (flavor and version), for `tack status`; undefined until a plan needed one. */
export function composeInUse(): DetectedCompose | undefined {
  return detected;
}

export const composeService: Kind<DesiredComposeService, ObservedService> = {
  kind: "compose.service",
  layer: "runtime",
  order: 0,
  // Always: with no service desired, those tack started before are still observed, to be pruned (no process runs
  // when there are neither).
  manages: () => true,
  desired: (host) => host.resources["compose.service"],
  plan(desired, observed, host) {
    const changes = planServices(desired, observed.resources).map((c) => ({ ...c, phase: runtimePhase(isStopSide(c), host, c.scope) }));
    return { changes: [...changes, ...pruneServices(desired, observed.resources)], findings: [] };
  },
  assumeConverged: (desired) => observedOf(new Map(desired.map((d) => [d.name, assumedService(d)]))),
  // Compose services are observed by their desired names only: whatever is observed is declared.
  owned: () => true,
  describe,
  runtime: { owner: "docker", serving, isStopSide, restart },
  async connect(host, ctx) {
    const compose = new ComposeDriver({ runner: ctx.runner, stateDir: ctx.stateDir, ...(detected ? { flavor: detected.flavor } : {}) });
    if (!detected && host.resources["compose.service"].length) void compose.detect().then((d) => (detected = d), () => undefined);
    const inventory = new ServiceInventory(ctx.inventory);
    return {
      async observe(desired) {
        const seen = await compose.observe(desired);
        const known = inventory.entries();
        for (const [name, s] of seen) s.tracked = known.has(name);
        for (const [name, s] of await observeUndesired(compose, inventory, desired)) seen.set(name, s);
        return observedOf(seen);
      },
      async apply(changes) {
        const pruned = changes.filter((c) => c.prune);
        const rest = changes.filter((c) => !c.prune);
        // A take-over only records the service: `up` is not run, so not even a changed image could recreate it.
        const run = rest.filter((c) => !isAdoption(c.fields));
        // Compose's operations are idempotent (up -d, rm -s -f): a step that met an unreachable dockerd is run again.
        if (run.length) await retryTransient(() => compose.apply(run), { budgetMs: defaultRetryBudgetMs(ctx.env ?? process.env) });
        for (const c of rest) if (c.desired) inventory.record(c.desired);
        if (pruned.length) await removeContainers(ctx.runner, pruned, inventory);
      },
      gate: (desired) => ({ state: servicesState(compose, desired), evidence: () => servicesEvidence(compose, desired) }),
    };
  },
};
