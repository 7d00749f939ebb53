import { createHash } from "node:crypto";
import type { Change, Phase } from "../core/changes.js";
import { sortChanges } from "../core/changes.js";
import type { Finding } from "../core/findings.js";
import { sortFindings } from "../core/findings.js";
import type { ResourceKind } from "../core/refs.js";
import { RESOURCE_KINDS } from "../core/refs.js";
import type { Owner, ResolvedHost, ResolvedScope } from "../core/resources.js";
import { blastRadius, dockerPublishedPorts, edgePathToNativePorts, originExposure, proxiedOriginOpen, twoOwners, upstreamPorts } from "./guards.js";
import type { KindHandlers, ObservedByKind } from "../core/kind.js";
import { LAYER_OF } from "../core/layers.js";
import type { Gate, ObservedOwner, Plan, ScopeCutover } from "./plan.js";

/**
 * The planner, pure: desired state + what was observed → an ordered plan with its cutovers, health gates and
 * findings. Drivers decide what changes; the planner decides when (phases), checks across layers, and never
 * does I/O. The same function serves the live plan, the offline plan and the PR plan.
 */
export interface PlanInput {
  host: ResolvedHost;
  revision: string;
  observedAt: string;
  observed: ObservedByKind;
  handlers: KindHandlers;
  offline: boolean;
  /** Findings from observing (e.g. UFW inactive, SSH guard), added as they are. */
  extraFindings?: Finding[];
}

type RuntimeKind = "systemd.unit" | "compose.service";

function runtimeOf(kind: ResourceKind): "native" | "docker" | undefined {
  return kind === "systemd.unit" ? "native" : kind === "compose.service" ? "docker" : undefined;
}

/** Which runtime serves each scope right now. */
export function observedOwners(host: ResolvedHost, observed: ObservedByKind, handlers: KindHandlers): Map<string, ObservedOwner> {
  const out = new Map<string, ObservedOwner>();
  const serving = (kind: RuntimeKind, names: string[]) => {
    const h = handlers[kind];
    const seen = observed[kind];
    return names.some((n) => {
      const a = seen?.get(n);
      return a !== undefined && h?.serving !== undefined && h.serving(a);
    });
  };
  for (const s of host.scopes) {
    const native = serving("systemd.unit", s.native?.resources ?? []);
    const docker = serving("compose.service", s.docker?.resources ?? []);
    out.set(s.name, native && docker ? "both" : native ? "native" : docker ? "docker" : "none");
  }
  return out;
}

/** Does this runtime change bring something up (start side) or take it down (stop side)? */
export function isStopSide(change: Change): boolean {
  if (change.ref.kind === "compose.service") return change.action === "delete";
  if (change.ref.kind === "systemd.unit") {
    return change.action !== "delete" && change.fields.length > 0 && change.fields.every((f) => (f.field === "active" || f.field === "enabled") && f.to === false);
  }
  return false;
}

function runtimePhase(change: Change, scope: ResolvedScope | undefined): Phase {
  if (change.action === "delete" && change.ref.kind === "systemd.unit") return change.phase; // unit file removal: prune
  if (isStopSide(change)) return scope?.handoff === "overlap" ? "runtime-retire" : "runtime-stop";
  return "runtime-start";
}

function fingerprintOf(observed: ObservedByKind): string {
  const h = createHash("sha256");
  for (const kind of RESOURCE_KINDS) {
    const m = observed[kind];
    if (!m) continue;
    for (const key of [...m.keys()].sort()) h.update(`${kind}\0${key}\0${JSON.stringify(m.get(key))}\n`);
  }
  return h.digest("hex").slice(0, 16);
}

export function buildPlan(input: PlanInput): Plan {
  const { host, observed, handlers } = input;
  const scopes = new Map(host.scopes.map((s) => [s.name, s]));
  const findings: Finding[] = [...(input.extraFindings ?? [])];
  let changes: Change[] = [];
  const existingOwned: Partial<Record<ResourceKind, number>> = {};

  for (const kind of RESOURCE_KINDS) {
    const h = handlers[kind];
    const desired = host.resources[kind] as unknown[];
    if (!h) {
      if (desired.length) findings.push({ id: "no-driver", severity: "error", message: `no driver for ${kind}: ${desired.length} resource(s) cannot be planned` });
      continue;
    }
    const actual = observed[kind] ?? new Map<string, unknown>();
    const kindChanges = (h.plan as (d: unknown[], a: Map<string, unknown>) => Change[])(desired, actual);
    changes.push(...kindChanges);
    if (h.findings) findings.push(...(h.findings as (d: unknown[], a: Map<string, unknown>, host: ResolvedHost) => Finding[])(desired, actual, host));
    existingOwned[kind] = [...actual.values()].filter((a) => (h.owned ? (h.owned as (x: unknown) => boolean)(a) : true)).length;
  }

  changes = changes.map((c) => (runtimeOf(c.ref.kind) ? { ...c, phase: runtimePhase(c, c.scope ? scopes.get(c.scope) : undefined) } : c));

  const owners = observedOwners(host, observed, handlers);
  const cutovers: ScopeCutover[] = [];
  const gates: Gate[] = [];
  for (const s of host.scopes) {
    const from = owners.get(s.name) ?? "none";
    if (from !== s.owner) cutovers.push({ scope: s.name, from, to: s.owner, handoff: s.handoff });
    const startsSomething = changes.some((c) => c.scope === s.name && runtimeOf(c.ref.kind) === s.owner && c.phase === "runtime-start");
    if (!startsSomething || s.owner === "none") continue;
    const runtime = s.owner as Exclude<Owner, "none">;
    const rt = runtime === "native" ? s.native : s.docker;
    if (rt) gates.push({ scope: s.name, runtime, check: rt.health, resources: rt.resources });
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

  const mode = (layer: keyof typeof host.policy.layers) => host.policy.layers[layer] ?? host.policy.mode;
  const observeOnly = (["runtime", "edge", "firewall", "dns"] as const).filter((l) => mode(l) === "observe");
  if (observeOnly.length) {
    const drift = changes.filter((c) => observeOnly.includes(LAYER_OF[c.ref.kind] as (typeof observeOnly)[number]));
    if (drift.length) findings.push({ id: "observe-mode", severity: "info", message: `${drift.length} change(s) in observe-mode layer(s) ${observeOnly.join(", ")}: reported as drift, not applied` });
  }

  return {
    host: host.host,
    revision: input.revision,
    observedAt: input.observedAt,
    offline: input.offline,
    changes: sortChanges(changes),
    cutovers,
    gates,
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
