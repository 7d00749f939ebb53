import { createHash } from "node:crypto";
import type { Change, PlannedChange } from "../core/changes.js";
import { sortChanges } from "../core/changes.js";
import type { Finding } from "../core/findings.js";
import { sortFindings } from "../core/findings.js";
import type { ResourceKind } from "../core/refs.js";
import type { ResolvedHost } from "../core/resources.js";
import { blastRadius, dockerPublishedPorts, edgePathToNativePorts, originExposure, proxiedOriginOpen, twoOwners, upstreamPorts } from "./guards.js";
import { LAYERS, type Layer, type Observed, type ObservedByKind } from "../core/kind.js";
import { KINDS, layerOf, runtimeKind } from "../kinds/index.js";
import type { Gate, ObservedOwner, Plan, ScopeCutover } from "./plan.js";
import { formatRef } from "../core/refs.js";
import { listSome } from "../core/text.js";
import { addScopeRestarts } from "./scope-restarts.js";

/**
 * The planner, pure: desired state + what was observed → an ordered plan with its cutovers, health gates and
 * findings. Each kind decides what changes (its `plan`); the planner decides when (phases), checks across layers,
 * and never does I/O. The same function serves the live plan, the offline plan and the PR plan.
 */
export interface PlanInput {
  host: ResolvedHost;
  revision: string;
  observedAt: string;
  /** What each managed kind observed (live) or would report if converged (offline). */
  observed: ObservedByKind;
  offline: boolean;
}

const EMPTY: Observed<unknown, unknown> = { resources: new Map(), facts: {} };

/** Which runtime serves each scope right now. */
export function observedOwners(host: ResolvedHost, observed: ObservedByKind): Map<string, ObservedOwner> {
  const out = new Map<string, ObservedOwner>();
  const serving = (owner: "native" | "docker", names: string[]) => {
    const k = runtimeKind(owner);
    const seen = observed[k.kind]?.resources;
    return names.some((n) => {
      const a = seen?.get(n);
      return a !== undefined && k.runtime!.serving(a);
    });
  };
  for (const s of host.scopes) {
    const native = serving("native", s.native?.resources ?? []);
    const docker = serving("docker", s.docker?.resources ?? []);
    out.set(s.name, native && docker ? "both" : native ? "native" : docker ? "docker" : "none");
  }
  return out;
}

/** Hash of everything observed, resources and facts: a saved plan is refused when it no longer matches. */
function fingerprintOf(observed: ObservedByKind): string {
  const h = createHash("sha256");
  for (const k of KINDS) {
    const o = observed[k.kind];
    if (!o) continue;
    for (const key of [...o.resources.keys()].sort()) h.update(`${k.kind}\0${key}\0${JSON.stringify(o.resources.get(key))}\n`);
    h.update(`${k.kind}\0facts\0${JSON.stringify(o.facts)}\n`);
  }
  return h.digest("hex").slice(0, 16);
}

function gatesOf(host: ResolvedHost, changes: Change[]): Gate[] {
  const gates: Gate[] = [];
  for (const s of host.scopes) {
    if (s.owner === "none") continue;
    const kind = runtimeKind(s.owner).kind;
    const startsSomething = changes.some((c) => c.scope === s.name && c.ref.kind === kind && c.phase === "runtime-start");
    const rt = s.owner === "native" ? s.native : s.docker;
    if (startsSomething && rt) gates.push({ scope: s.name, runtime: s.owner, check: rt.health, resources: rt.resources });
  }
  return gates;
}

export function buildPlan(input: PlanInput): Plan {
  const { host, observed } = input;
  const findings: Finding[] = [];
  let changes: PlannedChange[] = [];
  const existingOwned: Partial<Record<ResourceKind, number>> = {};

  for (const k of KINDS) {
    if (!k.manages(host)) continue;
    const seen = observed[k.kind] ?? EMPTY;
    const p = k.plan(k.desired(host), seen, host);
    changes.push(...p.changes);
    findings.push(...p.findings);
    existingOwned[k.kind] = [...seen.resources.values()].filter((a) => k.owned(a, host)).length;
  }
  changes = addScopeRestarts(host, changes, observed);

  // policy.prune: false turns a layer's prunes into a report: the plan says what would go, and leaves it.
  const reportOnly = (c: PlannedChange) => c.prune === true && !host.policy.prune[layerOf(c.ref.kind)];
  const kept = changes.filter(reportOnly);
  if (kept.length) {
    findings.push({
      id: "prune-disabled",
      severity: "info",
      message: `not pruned (policy.prune): ${listSome(kept.map((c) => formatRef(c.ref)), 10)}`,
      path: "policy.prune",
    });
    changes = changes.filter((c) => !reportOnly(c));
  }

  const owners = observedOwners(host, observed);
  const cutovers: ScopeCutover[] = [];
  for (const s of host.scopes) {
    const from = owners.get(s.name) ?? "none";
    if (from !== s.owner) cutovers.push({ scope: s.name, from, to: s.owner, handoff: s.handoff });
  }

  findings.push(
    ...blastRadius(host, changes, existingOwned),
    ...edgePathToNativePorts(host),
    ...upstreamPorts(host),
    ...twoOwners(host, owners),
    ...originExposure(host),
    ...proxiedOriginOpen(host),
    ...dockerPublishedPorts(host),
  );

  const mode = (layer: Layer) => host.policy.layers[layer] ?? host.policy.mode;
  const observeOnly = LAYERS.filter((l) => mode(l) === "observe");
  if (observeOnly.length) {
    const drift = changes.filter((c) => observeOnly.includes(layerOf(c.ref.kind)));
    if (drift.length) findings.push({ id: "observe-mode", severity: "info", message: `${drift.length} change(s) in observe-mode layer(s) ${observeOnly.join(", ")}: reported as drift, not applied` });
  }

  return {
    host: host.host,
    revision: input.revision,
    observedAt: input.observedAt,
    offline: input.offline,
    changes: sortChanges(changes),
    cutovers,
    gates: gatesOf(host, changes),
    // A finding that names a field of the desired state also points at it (file:line:column).
    findings: sortFindings(findings.map((f) => (f.location || !f.path || !host.locate ? f : { ...f, location: host.locate(f.path) }))),
    observeOnly,
    fingerprint: fingerprintOf(observed),
  };
}

/** Scopes in start order: every scope after the ones it names in `after`, ties by name. */
export function scopeOrder(host: ResolvedHost): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  const byName = new Map(host.scopes.map((s) => [s.name, s]));
  const visit = (n: string, stack: Set<string>) => {
    if (done.has(n) || stack.has(n)) return;
    stack.add(n);
    for (const d of [...(byName.get(n)?.after ?? [])].sort()) visit(d, stack);
    stack.delete(n);
    done.add(n);
    out.push(n);
  };
  for (const n of [...byName.keys()].sort()) visit(n, new Set());
  return out;
}
