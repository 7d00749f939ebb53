import type { Change } from "../core/changes.js";
import type { Finding } from "../core/findings.js";
import type { ResourceKind } from "../core/refs.js";
import type { DesiredUfwRule, ResolvedHost } from "../core/resources.js";
import { SYMBOLIC_BRIDGE_SUBNET } from "../core/resources.js";
import { KINDS, layerOf } from "../kinds/index.js";
import type { ObservedOwner } from "./plan.js";

/**
 * Cross-layer guards, pure: each looks at the desired state, the planned changes and what was observed, and
 * returns findings. `error` findings block apply (design.md "Safety and security", Decisions).
 */

/** octoDNS's floor: the blast radius applies only to layers with at least this many existing resources. */
export const BLAST_RADIUS_FLOOR = 10;

export function blastRadius(host: ResolvedHost, changes: Change[], existingOwned: Partial<Record<ResourceKind, number>>): Finding[] {
  const out: Finding[] = [];
  if (host.policy.allowLargeChanges) return out;
  for (const { kind, layer } of KINDS) {
    const existing = existingOwned[kind] ?? 0;
    // Only updates and deletes of resources that exist already; one resource counts once. Runtime owner changes
    // never count: they are the point of a cutover PR (design.md Decisions); runtime prunes do.
    const counts = (c: Change) => c.ref.kind === kind && (layer === "runtime" ? c.prune === true : c.action !== "create");
    const touched = new Set(changes.filter(counts).filter((c) => c.action === "delete" || existing >= BLAST_RADIUS_FLOOR).map((c) => c.ref.name));
    if (existing < BLAST_RADIUS_FLOOR) {
      // Below the floor nothing blocks, but deleting every one of a small set (a whole zone of 2) is worth a word.
      if (existing > 0 && touched.size === existing)
        out.push({
          id: "blast-radius",
          severity: "warning",
          message: `${layerOf(kind)} layer: all ${existing} existing ${kind} resources would be deleted (below the blast-radius floor of ${BLAST_RADIUS_FLOOR}, so this does not block)`,
          path: "policy.safety.maxChangePercent",
        });
      continue;
    }
    const percent = (touched.size / existing) * 100;
    if (percent > host.policy.maxChangePercent) {
      out.push({
        id: "blast-radius",
        severity: "error",
        message: `${layerOf(kind)} layer: ${touched.size} of ${existing} existing ${kind} resources would be updated or deleted (${percent.toFixed(0)}% > maxChangePercent ${host.policy.maxChangePercent}%); set policy.safety.allowLargeChanges: true for this revision if intended`,
        path: "policy.safety.maxChangePercent",
      });
    }
  }
  return out;
}

function portInRule(rule: Pick<DesiredUfwRule, "port">, port: number): boolean {
  if (rule.port === undefined) return true;
  const [lo, hi] = rule.port.split(":").map(Number);
  return hi === undefined ? lo === port : lo! <= port && port <= hi;
}

function ipv4(addr: string): number | undefined {
  const parts = addr.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** Does IPv4 CIDR `outer` contain CIDR or address `inner`? False for anything else (IPv6, symbols). */
export function cidrContains(outer: string, inner: string): boolean {
  const [oa, ob] = outer.split("/");
  const [ia, ib] = inner.split("/");
  const o = ipv4(oa ?? ""), i = ipv4(ia ?? "");
  if (o === undefined || i === undefined) return false;
  const obits = ob === undefined ? 32 : Number(ob), ibits = ib === undefined ? 32 : Number(ib);
  if (obits > ibits) return false;
  const mask = obits === 0 ? 0 : (~0 << (32 - obits)) >>> 0;
  return ((o & mask) >>> 0) === ((i & mask) >>> 0);
}

/**
 * Does this UFW rule let NPM's bridge reach `port` on the host? (allow, in, tcp or any protocol, the port in its
 * range or no port, from anywhere, from the bridge subnet, or from a CIDR that contains it). The plan's guard and
 * the cutover summary of a pull request plan both ask this one question.
 */
/** A rule as declared or as UFW holds it (its observed form has the same fields, as plain strings). */
export type BridgeRuleShape = { action: string; direction: string; proto: string; port?: string | undefined; from: string };

export function letsBridgeReach(r: BridgeRuleShape, port: number, host: ResolvedHost): boolean {
  const bridge = host.facts.npmBridgeSubnet ?? SYMBOLIC_BRIDGE_SUBNET;
  return (
    r.action === "allow" &&
    r.direction === "in" &&
    (r.proto === "tcp" || r.proto === "any") &&
    portInRule(r, port) &&
    (r.from === "any" || r.from === bridge || cidrContains(r.from, bridge))
  );
}

/** The reference's outage: NPM's bridge could reach 3000 but not 4000. */
export function edgePathToNativePorts(host: ResolvedHost): Finding[] {
  const out: Finding[] = [];
  if (!host.npm || !host.ufw) return out; // tack does not manage UFW here: nothing to check against
  for (const ph of host.resources["npm.proxyHost"]) {
    const scope = host.scopes.find((s) => s.name === ph.scope);
    if (scope?.owner !== "native" || scope.native?.port === undefined) continue;
    const port = scope.native.port;
    if (!host.resources["ufw.rule"].some((r) => letsBridgeReach(r, port, host))) {
      out.push({
        id: "no-edge-path",
        severity: "error",
        message: `${ph.name} → native ${ph.scope} on port ${port}, but no UFW rule allows the NPM bridge to reach ${port}; add { allow: tcp, port: ${port}, from: npm-bridge } or enable firewall.ufw.deriveEdgeRules`,
        path: `scopes.${ph.scope}.native.port`,
      });
    }
  }
  return out;
}

/** A proxy host must forward to a port its scope's owner listens on. */
export function upstreamPorts(host: ResolvedHost): Finding[] {
  const out: Finding[] = [];
  for (const ph of host.resources["npm.proxyHost"]) {
    if (!ph.enabled) continue;
    if (!ph.forwardPort) {
      out.push({ id: "upstream-port", severity: "error", message: `${ph.name}: scope ${ph.scope} has no port on its owner's runtime: NPM would forward to nothing` });
    }
  }
  return out;
}

export function twoOwners(host: ResolvedHost, observed: Map<string, ObservedOwner>): Finding[] {
  const out: Finding[] = [];
  for (const s of host.scopes) {
    if (observed.get(s.name) !== "both") continue;
    out.push({
      id: "two-owners",
      severity: s.handoff === "exclusive" ? "warning" : "info",
      message: `scope ${s.name} is running on both native and docker${s.handoff === "exclusive" ? " (exclusive: JetStream consumers duplicate or lose work)" : ""}; the plan retires the runtime that does not own it`,
      path: `scopes.${s.name}.owner`,
    });
  }
  return out;
}

/** A DNS-only record with the address of a proxied one tells the world the origin's IP. */
export function originExposure(host: ResolvedHost): Finding[] {
  const out: Finding[] = [];
  const records = host.resources["cloudflare.record"];
  const proxiedContent = new Map(records.filter((r) => r.proxied === true && (r.type === "A" || r.type === "AAAA")).map((r) => [r.content, r.fqdn]));
  for (const r of records) {
    if (r.proxied !== false || (r.type !== "A" && r.type !== "AAAA")) continue;
    const proxied = proxiedContent.get(r.content);
    if (!proxied || r.acknowledge.includes("origin-exposure")) continue;
    out.push({
      id: "origin-exposure",
      severity: "warning",
      message: `${r.fqdn} is DNS-only and points at ${r.content}, the origin of proxied ${proxied}: it exposes the origin address (acknowledge: [origin-exposure] on the record if intended)`,
      ref: { kind: "cloudflare.record", name: r.name },
    });
  }
  return out;
}

/** A proxied hostname's origin port open to the world lets anyone bypass Cloudflare and NPM. */
export function proxiedOriginOpen(host: ResolvedHost): Finding[] {
  const out: Finding[] = [];
  const proxied = new Set(host.resources["cloudflare.record"].filter((r) => r.proxied).map((r) => r.fqdn));
  for (const ph of host.resources["npm.proxyHost"]) {
    if (!ph.domains.some((d) => proxied.has(d))) continue;
    const scope = host.scopes.find((s) => s.name === ph.scope);
    const port = scope?.owner === "native" ? scope.native?.port : undefined;
    if (port === undefined) continue;
    const open = host.resources["ufw.rule"].find((r) => r.action === "allow" && r.direction === "in" && r.from === "any" && r.port !== undefined && portInRule(r, port));
    if (open) {
      out.push({
        id: "origin-port-open",
        severity: "warning",
        message: `${ph.name} is proxied by Cloudflare, but its origin port ${port} is open to the world (${open.name}): traffic can bypass Cloudflare and NPM`,
        ref: { kind: "ufw.rule", name: open.name },
      });
    }
  }
  return out;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/** Ports Docker publishes go through its own FORWARD/DOCKER-USER chains, not UFW's input chain (moby/moby#4737). */
export function dockerPublishedPorts(host: ResolvedHost): Finding[] {
  const out: Finding[] = [];
  if (!host.ufw) return out;
  const running = new Set(host.resources["compose.service"].filter((s) => s.state === "running").map((s) => s.service));
  for (const p of host.publishedPorts) {
    if (!running.has(p.service) || LOOPBACK.test(p.hostIp)) continue;
    out.push({
      id: "docker-bypasses-ufw",
      severity: "warning",
      message: `compose service ${p.service} publishes ${p.hostIp || "0.0.0.0"}:${p.hostPort} → ${p.containerPort}: Docker's published ports bypass UFW, so no firewall rule protects it; publish on 127.0.0.1 if only the host and NPM need it`,
    });
  }
  return out;
}
