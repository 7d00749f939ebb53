import type { ResolvedHost } from "../core/resources.js";
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
}

export interface Topology {
  scopes: ScopeView[];
  edge: EdgeRoute[];
}

type Observed = Pick<ScopeView, "observedOwner" | "observedBy">;

/** The topology of `host`; `observed` gives what is known of each scope's observed owner (absent: unknown). */
export function topologyOf(host: ResolvedHost, observed: (scope: string) => Observed | undefined): Topology {
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
    const bridge = host.resources["ufw.rule"].find((r) => r.action === "allow" && r.direction === "in" && r.proto !== "udp" && r.port === String(p.forwardPort));
    for (const hostname of p.domains) {
      const rec = host.resources["cloudflare.record"].find((r) => r.fqdn === hostname && (r.type === "A" || r.type === "AAAA" || r.type === "CNAME"));
      edge.push({
        hostname,
        scope: p.scope,
        upstream: `${p.forwardScheme}://${p.forwardHost}:${p.forwardPort}`,
        enabled: p.enabled,
        bridgeRule: bridge?.name,
        dns: rec ? { type: rec.type, content: rec.content, proxied: rec.proxied } : undefined,
      });
    }
  }
  return { scopes, edge };
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
