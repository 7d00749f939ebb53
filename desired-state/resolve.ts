import path from "node:path";
import type {
  DesiredByKind,
  DesiredComposeService,
  DesiredDnsRecord,
  DesiredProxyHost,
  DesiredSystemdUnit,
  DesiredUfwRule,
  HealthCheck,
  HostFacts,
  PublishedPort,
  ResolvedHost,
  ResolvedScope,
  SystemdScope,
  UfwAction,
} from "../core/resources.js";
import { SYMBOLIC_BRIDGE_GATEWAY, SYMBOLIC_BRIDGE_SUBNET } from "../core/resources.js";
import { parse as parseYaml } from "yaml";
import { parseDuration } from "./durations.js";
import { MAX_ALIAS_COUNT } from "./locate.js";
import type { HealthDoc, HostDoc, ScopeDoc, UfwRuleDoc } from "./schema.js";
import { unitFilePath } from "./semantic.js";
import { dnsComment, ufwComment } from "../core/ownership.js";
import { secretRecipients, secretResources, tokenRef } from "./resolve-secrets.js";

/**
 * Resolution: a pure function from a validated Host document (plus the repo files it names and what the live
 * host knows) to the flat desired resources each driver converges. Without live facts (offline and PR plans)
 * host-only values are symbols such as `<npm-bridge gateway>`.
 */
export interface ResolveInput {
  doc: HostDoc;
  repoRoot: string;
  files: Map<string, string>;
  /** Age files of `secrets.files` by repo path, base64 (checkHost read them). */
  ciphertexts?: Map<string, string>;
  facts: HostFacts;
}

const DEFAULT_HEALTH_TIMEOUT_MS = 60_000;
const DEFAULT_HEALTH_INTERVAL_MS = 1_000;


function healthOf(specific: HealthDoc | undefined, scoped: HealthDoc | undefined): HealthCheck {
  const h = specific ?? scoped;
  const timeoutMs = parseDuration(h?.timeout ?? "") ?? DEFAULT_HEALTH_TIMEOUT_MS;
  const intervalMs = parseDuration(h?.interval ?? "") ?? DEFAULT_HEALTH_INTERVAL_MS;
  if (h?.http) return { type: "http", url: h.http, timeoutMs, intervalMs, ...(h.expectStatus ? { expectStatus: h.expectStatus } : {}) };
  if (h?.command) {
    const command = Array.isArray(h.command) ? h.command : ["/bin/sh", "-c", h.command];
    return { type: "command", command, timeoutMs, intervalMs };
  }
  return { type: "state", timeoutMs, intervalMs };
}

function resolveScope(name: string, scope: ScopeDoc, doc: HostDoc): ResolvedScope {
  const project = doc.runtimes.docker?.compose.project ?? "";
  const out: ResolvedScope = { name, owner: scope.owner, handoff: scope.handoff, after: scope.after };
  if (scope.native) {
    const systemdScope: SystemdScope = scope.native.systemd?.scope ?? doc.runtimes.native?.systemd.scope ?? "system";
    out.native = {
      resources: scope.native.units,
      ...(scope.native.port !== undefined ? { port: scope.native.port } : {}),
      health: healthOf(scope.native.health, scope.health),
      systemdScope,
    };
  }
  if (scope.docker) {
    out.docker = {
      resources: scope.docker.services.map((s) => `${project}/${s}`),
      ...(scope.docker.port !== undefined ? { port: scope.docker.port } : {}),
      health: healthOf(scope.docker.health, scope.health),
      upstream: scope.docker.upstream ?? scope.docker.services[0]!,
    };
  }
  return out;
}

function healthPath(check: HealthCheck | undefined): string {
  if (check?.type !== "http") return "/";
  try {
    const u = new URL(check.url);
    return u.pathname + u.search;
  } catch {
    return "/";
  }
}

export function ufwRuleName(r: Pick<DesiredUfwRule, "action" | "direction" | "proto" | "port" | "from" | "to">): string {
  return `${r.action} ${r.direction} ${r.proto} ${r.port ?? "any"} from ${r.from} to ${r.to}`;
}

function ufwRule(r: UfwRuleDoc, facts: HostFacts): DesiredUfwRule {
  const action = (["allow", "deny", "reject", "limit"] as const).find((a) => r[a] !== undefined) as UfwAction;
  const bridge = facts.npmBridgeSubnet ?? SYMBOLIC_BRIDGE_SUBNET;
  const addr = (a: string) => (a === "npm-bridge" ? bridge : a);
  const base = {
    action,
    direction: r.direction,
    proto: r[action]!,
    ...(r.port !== undefined ? { port: String(r.port) } : {}),
    from: addr(r.from),
    to: addr(r.to),
  };
  return {
    kind: "ufw.rule",
    name: ufwRuleName(base),
    ...base,
    comment: ufwComment(r.comment),
    adopt: r.adopt,
    derived: false,
  };
}

/**
 * Published ports of the compose files (short syntax `[ip:]host:container[/proto]` and the long form). Values
 * that still hold `${...}` interpolation are kept as written.
 */
export function publishedPorts(composeTexts: string[]): PublishedPort[] {
  const out: PublishedPort[] = [];
  for (const text of composeTexts) {
    let data: unknown;
    try {
      data = parseYaml(text, { maxAliasCount: MAX_ALIAS_COUNT });
    } catch {
      continue; // reported by checkHost
    }
    const services = (data as { services?: Record<string, { ports?: unknown[] }> } | null)?.services ?? {};
    for (const [service, def] of Object.entries(services)) {
      for (const p of def?.ports ?? []) {
        if (typeof p === "object" && p !== null) {
          const l = p as { host_ip?: string; published?: string | number; target?: string | number };
          if (l.published !== undefined) out.push({ service, hostIp: l.host_ip ?? "", hostPort: String(l.published), containerPort: String(l.target ?? "") });
          continue;
        }
        const spec = String(p).replace(/\/(tcp|udp)$/, "");
        const m = /^(?:(\[[^\]]+\]|[^:]+):)?([^:]+):([^:]+)$/.exec(spec);
        if (m) out.push({ service, hostIp: (m[1] ?? "").replace(/^\[|\]$/g, ""), hostPort: m[2]!, containerPort: m[3]! });
      }
    }
  }
  return out;
}


export function resolveHost(input: ResolveInput): ResolvedHost {
  const { doc, repoRoot, files, facts } = input;
  const host = doc.metadata.name;
  const scopes = Object.entries(doc.scopes).map(([n, s]) => resolveScope(n, s, doc));
  const { units, services } = runtimeResources(input, scopes);
  const { proxyHosts, derivedPorts } = proxyHostResources(doc, scopes, facts);
  const resources: DesiredByKind = {
    "systemd.unit": units,
    "compose.service": services,
    "npm.proxyHost": proxyHosts,
    "ufw.rule": ufwResources(doc, facts, derivedPorts),
    "cloudflare.record": dnsResources(doc, host),
    "secret.file": secretResources(doc, input.ciphertexts ?? new Map()),
  };
  const compose = doc.runtimes.docker?.compose;
  const ufw = doc.firewall?.ufw;
  const dns = doc.dns;
  const pol = doc.policy;
  return {
    host,
    repoRoot,
    scopes,
    resources,
    ...(doc.edge?.npm ? { npm: { ...doc.edge.npm } } : {}),
    ...(dns ? { cloudflare: { zone: dns.cloudflare.zone, token: tokenRef(dns.cloudflare.token, resources["secret.file"]) } } : {}),
    ...(doc.secrets ? { secrets: { recipients: secretRecipients(doc, files), allowedRoots: doc.secrets.allowedRoots } } : {}),
    ...(ufw ? { ufw: { deriveEdgeRules: ufw.deriveEdgeRules } } : {}),
    ...(doc.runtimes.native?.systemd.user ? { systemdUser: doc.runtimes.native.systemd.user } : {}),
    facts,
    publishedPorts: publishedPorts((compose?.files ?? []).map((f) => files.get(f) ?? "")),
    policy: {
      mode: pol.mode,
      layers: pol.layers,
      maxChangePercent: pol.safety.maxChangePercent,
      allowLargeChanges: pol.safety.allowLargeChanges,
      allowSshLockout: pol.safety.allowSshLockout,
      prune: typeof pol.prune === "boolean" ? { runtime: pol.prune, edge: pol.prune, firewall: pol.prune, dns: pol.prune } : { runtime: true, edge: true, firewall: true, dns: true, ...pol.prune },
      driftIntervalMs: {
        local: parseDuration(pol.drift.interval) ?? 60_000,
        dns: parseDuration(dns?.cloudflare.pollInterval ?? "5m") ?? 300_000,
      },
    },
  };
}

/** Each scope's units and compose services; the owner's run, the other runtime is retired (installed but off). */
function runtimeResources({ doc, repoRoot, files }: ResolveInput, scopes: ResolvedScope[]): { units: DesiredSystemdUnit[]; services: DesiredComposeService[] } {
  const units: DesiredSystemdUnit[] = [];
  const services: DesiredComposeService[] = [];
  const compose = doc.runtimes.docker?.compose;
  for (const s of scopes) {
    const native = s.owner === "native";
    for (const unit of s.native?.resources ?? []) {
      const file = unitFilePath(doc, unit);
      const u: DesiredSystemdUnit = {
        kind: "systemd.unit",
        name: unit,
        systemdScope: s.native!.systemdScope,
        file: { path: file, content: files.get(file) ?? "" },
        present: true,
        enabled: native,
        active: native,
        scope: s.name,
      };
      units.push(u);
    }
    for (const res of s.docker?.resources ?? []) {
      const service = res.slice(res.indexOf("/") + 1);
      const c: DesiredComposeService = {
        kind: "compose.service",
        name: res,
        project: compose!.project,
        service,
        files: compose!.files.map((f) => path.join(repoRoot, f)),
        workingDir: repoRoot,
        env: compose!.env,
        // A retired Docker owner is removed, not stopped: dockerd would revive a stopped restart:always container.
        state: s.owner === "docker" ? "running" : "removed",
        scope: s.name,
      };
      services.push(c);
    }
  }

  return { units, services };
}

/** Proxy hosts follow their scope's owner; the native ports NPM reaches get a derived UFW path. */
function proxyHostResources(doc: ResolveInput["doc"], scopes: ResolvedScope[], facts: HostFacts): { proxyHosts: DesiredProxyHost[]; derivedPorts: Map<number, string> } {
  const byName = new Map(scopes.map((s) => [s.name, s]));
  const proxyHosts: DesiredProxyHost[] = [];
  const gateway = facts.npmBridgeGateway ?? SYMBOLIC_BRIDGE_GATEWAY;
  const derivedPorts = new Map<number, string>();
  for (const ph of doc.edge?.proxyHosts ?? []) {
    const s = byName.get(ph.scope);
    if (!s) continue; // reported by checkHost
    const target = s.owner === "docker" ? "docker" : s.owner === "native" ? "native" : s.native ? "native" : "docker";
    const forwardHost = target === "native" ? gateway : (s.docker?.upstream ?? "");
    const forwardPort = (target === "native" ? s.native?.port : s.docker?.port) ?? 0;
    const domains = [...ph.domains].sort();
    const p: DesiredProxyHost = {
      kind: "npm.proxyHost",
      name: domains[0]!,
      domains,
      forwardScheme: ph.forwardScheme,
      forwardHost,
      forwardPort,
      enabled: s.owner !== "none",
      adopt: ph.adopt,
      scope: s.name,
      probePath: ph.probePath ?? healthPath(target === "native" ? s.native?.health : s.docker?.health),
    };
    for (const k of ["websockets", "http2", "sslForced", "hsts", "hstsSubdomains", "blockExploits", "cachingEnabled", "certificateId", "accessListId", "advancedConfig"] as const) {
      if (ph[k] !== undefined) (p as unknown as Record<string, unknown>)[k] = ph[k];
    }
    proxyHosts.push(p);
    if (s.owner === "native" && s.native?.port !== undefined) derivedPorts.set(s.native.port, s.name);
  }

  return { proxyHosts, derivedPorts };
}

/** Declared UFW rules, then the derived path from NPM's bridge to each native scope it reaches (the reference's
 * outage: the bridge could reach 3000 but not 4000). A declared rule with the same spec wins.
 */
function ufwResources(doc: ResolveInput["doc"], facts: HostFacts, derivedPorts: Map<number, string>): DesiredUfwRule[] {
  const ufw = doc.firewall?.ufw;
  const rules = new Map<string, DesiredUfwRule>();
  for (const r of ufw?.rules ?? []) {
    const d = ufwRule(r, facts);
    if (!rules.has(d.name)) rules.set(d.name, d);
  }
  if (doc.edge?.npm && (ufw?.deriveEdgeRules ?? true)) {
    for (const [port, scope] of [...derivedPorts].sort((a, b) => a[0] - b[0])) {
      const base = { action: "allow" as const, direction: "in" as const, proto: "tcp" as const, port: String(port), from: facts.npmBridgeSubnet ?? SYMBOLIC_BRIDGE_SUBNET, to: "any" };
      const name = ufwRuleName(base);
      if (rules.has(name)) continue;
      rules.set(name, { kind: "ufw.rule", name, ...base, comment: ufwComment(`derived npm bridge to ${scope}`), adopt: false, derived: true });
    }
  }
  return [...rules.values()];

}

function dnsResources(doc: ResolveInput["doc"], host: string): DesiredDnsRecord[] {
  const out: DesiredDnsRecord[] = [];
  const dns = doc.dns;
  for (const r of dns?.records ?? []) {
    const rec: DesiredDnsRecord = {
      kind: "cloudflare.record",
      name: `${r.type} ${r.name}`,
      zone: dns!.cloudflare.zone,
      type: r.type,
      fqdn: r.name,
      content: r.content,
      ...(r.ttl !== undefined ? { ttl: r.ttl } : {}),
      ...(r.proxied !== undefined ? { proxied: r.proxied } : {}),
      comment: dnsComment(host, r.comment),
      adopt: r.adopt,
      acknowledge: r.acknowledge,
    };
    out.push(rec);
  }

  return out;
}
