import type { ResolvedHost } from "../core/resources.js";
import type { ObservedByKind } from "../core/kind.js";
import { letsBridgeReach, type BridgeRuleShape } from "../engine/guards.js";
import type { ObservedOwner } from "../engine/plan.js";

/**
 * What the status page draws from the desired state: each scope with its desired and observed owner and its
 * units or compose services, and the edge as hostname → NPM → upstream → scope, with UFW's verdict on the
 * bridge path and the DNS posture. Only names, ports and flags: no env, no advanced config, no Cloudflare token.
 */
export interface ScopeView {
  name: string;
  desiredOwner: "native" | "docker" | "none";
  /** Undefined until a drift probe or an apply has told; "both" is a cutover caught midway (or an overlap). */
  observedOwner: ObservedOwner | undefined;
  /** "probe": the drift check saw it; "apply": the apply's health gates passed for the desired owner. */
  observedBy: "probe" | "apply" | undefined;
  handoff: "exclusive" | "overlap";
  units: string[];
  services: string[];
  port: number | undefined;
}

export interface EdgeRoute {
  hostname: string;
  scope: string;
  /** scheme://host:port NPM forwards to. */
  upstream: string;
  enabled: boolean;
  /** The UFW rule that lets NPM's bridge reach a native upstream; undefined when none is declared or derived. */
  bridgeRule: string | undefined;
  /** The DNS record tack manages for the hostname, if any. */
  dns: { type: string; content: string; proxied: boolean | undefined } | undefined;
  /**
   * What the host itself says, from the last drift check's observation (undefined before one, or when the layer is
   * not managed): does a rule in UFW let NPM's bridge reach a native upstream, and what Cloudflare holds for the name.
   */
  live?: { bridgeOpen?: boolean; dns?: { type: string; content: string; proxied: boolean } | null };
}

export interface Topology {
  scopes: ScopeView[];
  edge: EdgeRoute[];
}

type Observed = Pick<ScopeView, "observedOwner" | "observedBy">;

/** The topology of `host`; `observed` gives what is known of each scope's observed owner (absent: unknown). */
export function topologyOf(host: ResolvedHost, observed: (scope: string) => Observed | undefined, seen?: ObservedByKind): Topology {
  const scopes: ScopeView[] = host.scopes.map((s) => ({
    name: s.name,
    desiredOwner: s.owner,
    observedOwner: observed(s.name)?.observedOwner,
    observedBy: observed(s.name)?.observedBy,
    handoff: s.handoff,
    units: s.native?.resources ?? [],
    services: s.docker?.resources ?? [],
    port: s.owner === "docker" ? s.docker?.port : s.native?.port,
  }));
  const edge: EdgeRoute[] = [];
  for (const p of host.resources["npm.proxyHost"]) {
    // Only a native upstream (the bridge gateway) crosses UFW; a Docker upstream stays on NPM's network.
    const native = host.scopes.find((s) => s.name === p.scope)?.owner === "native";
    const bridge = native ? host.resources["ufw.rule"].find((r) => letsBridgeReach(r, p.forwardPort, host)) : undefined;
    for (const hostname of p.domains) {
      const rec = host.resources["cloudflare.record"].find((r) => r.fqdn === hostname && WEB_TYPES.has(r.type));
      const live = liveView(host, seen, native ? p.forwardPort : undefined, hostname);
      edge.push({
        hostname,
        scope: p.scope,
        upstream: `${p.forwardScheme}://${p.forwardHost}:${p.forwardPort}`,
        enabled: p.enabled,
        bridgeRule: bridge?.name,
        dns: rec ? { type: rec.type, content: rec.content, proxied: rec.proxied } : undefined,
        ...(live ? { live } : {}),
      });
    }
  }
  return { scopes, edge };
}

const WEB_TYPES = new Set(["A", "AAAA", "CNAME"]);

type RecordShape = { type: string; name: string; content: string; proxied: boolean };

/** The host's own view of one route, from a drift check's observation (the kinds' observed shapes). */
function liveView(host: ResolvedHost, seen: ObservedByKind | undefined, nativePort: number | undefined, hostname: string): EdgeRoute["live"] {
  if (!seen) return undefined;
  const out: NonNullable<EdgeRoute["live"]> = {};
  const rules = seen["ufw.rule"]?.resources;
  if (rules && nativePort !== undefined) {
    out.bridgeOpen = [...rules.values()].some((r) => letsBridgeReach(r as BridgeRuleShape, nativePort, host));
  }
  const records = seen["cloudflare.record"]?.resources;
  if (records) {
    const r = [...records.values()].map((x) => x as RecordShape).find((x) => x.name === hostname && WEB_TYPES.has(x.type));
    out.dns = r ? { type: r.type, content: r.content, proxied: r.proxied } : null;
  }
  return out;
}

/** The observed owners as a drift probe saw them. */
export function probedOwners(owners: Map<string, ObservedOwner>): (scope: string) => Observed | undefined {
  return (scope) => {
    const o = owners.get(scope);
    return o ? { observedOwner: o, observedBy: "probe" } : undefined;
  };
}

/** After a successful apply: each scope is owned as desired (its health gates passed), the rest as before. */
export function appliedOwners(host: ResolvedHost): (scope: string) => Observed | undefined {
  return (scope) => {
    const s = host.scopes.find((x) => x.name === scope);
    return s && { observedOwner: s.owner, observedBy: "apply" };
  };
}

/** While a plan is applied: the desired side moves, what was observed stays until someone looks again. */
export function keptOwners(before: ScopeView[]): (scope: string) => Observed | undefined {
  return (scope) => before.find((b) => b.name === scope);
}
