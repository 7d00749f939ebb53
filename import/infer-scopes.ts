/**
 * Scope inference for `tack import`, pure: which app scopes the live host's evidence implies, and who owns each.
 * A scope is placed only where the evidence agrees (issue 19):
 * - an NPM upstream that is a compose service of the imported project (a name on NPM's network) → docker owner,
 *   `upstream` and `port` as NPM forwards them;
 * - an NPM upstream that is NPM's bridge gateway plus a port → native owner, when exactly one imported unit says it
 *   listens on that port;
 * - a compose service or a unit no proxy host reaches → a scope of its own.
 * Everything else is not placed, with the reason (written as a YAML comment, never dropped silently).
 */

export interface ProxyHostEvidence {
  id: number;
  domains: string[];
  forwardHost: string;
  forwardPort: number;
}

export interface ServiceEvidence {
  service: string;
  running: boolean;
  /** Attached to NPM's Docker network, where NPM's nginx resolves it by name. */
  onNpmNetwork: boolean;
  /** Host ports it publishes. */
  publishedPorts: number[];
}

export interface UnitEvidence {
  name: string;
  active: boolean;
  enabled: boolean;
  /** Ports the unit file names (Environment=PORT=, --port, -p, :PORT in ExecStart). */
  ports: number[];
}

export interface InferInput {
  proxyHosts: ProxyHostEvidence[];
  /** NPM's bridge gateway IP (a native upstream), when NPM is imported. */
  gateway?: string;
  services: ServiceEvidence[];
  units: UnitEvidence[];
}

export interface InferredScope {
  name: string;
  owner: "native" | "docker" | "none";
  native?: { units: string[]; port?: number };
  docker?: { services: string[]; upstream?: string; port?: number };
  /** Things a reviewer should know about this scope (YAML comments). */
  notes: string[];
}

export interface Placement {
  proxyHost: ProxyHostEvidence;
  scope: string;
}

export interface Unplaced {
  what: string;
  reason: string;
}

export interface Inference {
  scopes: InferredScope[];
  placements: Placement[];
  unplacedProxyHosts: (Unplaced & { proxyHost: ProxyHostEvidence })[];
  unplacedServices: (Unplaced & { service: string })[];
  unplacedUnits: (Unplaced & { unit: string })[];
}

/** A scope name (lowercase words with '-') from a domain's first label, a service or a unit name. */
export function scopeName(base: string, taken: Set<string>): string {
  const clean = base.toLowerCase().replace(/\.(service|socket|timer)$/, "").replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "app";
  let name = /^[a-z0-9]/.test(clean) ? clean : `s-${clean}`;
  for (let i = 2; taken.has(name); i++) name = `${clean}-${i}`;
  taken.add(name);
  return name;
}

/** Ports a unit file names: `PORT=4000`, `--port 4000`, `--port=4000`, `-p 4000`, `:4000` in its ExecStart. */
export function unitPorts(text: string): number[] {
  const out = new Set<number>();
  for (const line of text.split("\n")) {
    const m = /^\s*(Environment|ExecStart|ListenStream)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const value = m[2]!;
    const found = m[1] === "ListenStream"
      ? [/(?:^|:)(\d{1,5})\s*$/.exec(value)?.[1]]
      : [
          ...[...value.matchAll(/\b[A-Z_]*PORT=(\d{1,5})\b/g)].map((x) => x[1]),
          ...(m[1] === "ExecStart" ? [...value.matchAll(/(?:--port[= ]|\s-p\s+)(\d{1,5})\b/g), ...value.matchAll(/:(\d{2,5})\b/g)].map((x) => x[1]) : []),
        ];
    for (const p of found) if (p && Number(p) > 0 && Number(p) < 65536) out.add(Number(p));
  }
  return [...out].sort((a, b) => a - b);
}

function firstLabel(domains: string[]): string {
  return [...domains].sort()[0]!.replace(/^\*\./, "").split(".")[0]!;
}

/**
 * The scopes and placements the evidence supports. Over 80 lines on purpose: the rules read top to bottom in the
 * order they are applied (proxy hosts first, then what no proxy host reaches); split, their precedence would hide.
 */
export function inferScopes(input: InferInput): Inference {
  const taken = new Set<string>();
  const scopes: InferredScope[] = [];
  const placements: Placement[] = [];
  const out: Inference = { scopes, placements, unplacedProxyHosts: [], unplacedServices: [], unplacedUnits: [] };
  const byService = new Map(input.services.map((s) => [s.service, s]));
  const usedServices = new Set<string>();
  const usedUnits = new Set<string>();
  const scopeByTarget = new Map<string, InferredScope>();

  for (const ph of input.proxyHosts) {
    const target = `${ph.forwardHost}:${ph.forwardPort}`;
    const known = scopeByTarget.get(target);
    if (known) {
      placements.push({ proxyHost: ph, scope: known.name });
      continue;
    }
    const svc = byService.get(ph.forwardHost);
    const sameHostPort = input.units.filter((u) => u.ports.includes(ph.forwardPort));
    if (svc) {
      if (!svc.running) {
        out.unplacedProxyHosts.push({ proxyHost: ph, what: ph.domains.join(", "), reason: `forwards to compose service ${svc.service}, which is not running: owner docker would start it` });
        continue;
      }
      const scope: InferredScope = { name: scopeName(firstLabel(ph.domains), taken), owner: "docker", docker: { services: [svc.service], upstream: svc.service, port: ph.forwardPort }, notes: [] };
      if (!svc.onNpmNetwork) scope.notes.push(`compose service ${svc.service} is not on NPM's network: NPM cannot resolve it by name today`);
      // The same port served natively as well: the unit is the scope's other runtime only while it is stopped.
      const idle = sameHostPort.filter((u) => !u.active && !u.enabled && !usedUnits.has(u.name));
      if (idle.length === 1) {
        scope.native = { units: [idle[0]!.name], port: ph.forwardPort };
        usedUnits.add(idle[0]!.name);
        scope.notes.push(`${idle[0]!.name} (stopped) serves the same port: it is this scope's native runtime`);
      }
      usedServices.add(svc.service);
      scopes.push(scope);
      scopeByTarget.set(target, scope);
      placements.push({ proxyHost: ph, scope: scope.name });
      continue;
    }
    if (input.gateway !== undefined && ph.forwardHost === input.gateway) {
      const candidates = sameHostPort.filter((u) => !usedUnits.has(u.name));
      if (candidates.length !== 1) {
        const why = candidates.length === 0
          ? `forwards to NPM's bridge gateway port ${ph.forwardPort}, but no imported unit says it listens there (--units; or a PORT= / --port in the unit)`
          : `forwards to NPM's bridge gateway port ${ph.forwardPort}, which several imported units name (${candidates.map((u) => u.name).join(", ")})`;
        out.unplacedProxyHosts.push({ proxyHost: ph, what: ph.domains.join(", "), reason: why });
        continue;
      }
      const unit = candidates[0]!;
      const scope: InferredScope = { name: scopeName(firstLabel(ph.domains), taken), owner: "native", native: { units: [unit.name], port: ph.forwardPort }, notes: [] };
      if (!unit.active) scope.notes.push(`${unit.name} is not running: owner native will start it`);
      else if (!unit.enabled) scope.notes.push(`${unit.name} runs but is not enabled: owner native will enable it (it then survives a reboot)`);
      usedUnits.add(unit.name);
      scopes.push(scope);
      scopeByTarget.set(target, scope);
      placements.push({ proxyHost: ph, scope: scope.name });
      continue;
    }
    const reason = input.gateway === undefined && /^\d+\.\d+\.\d+\.\d+$/.test(ph.forwardHost)
      ? `forwards to ${target}: tack's upstreams are NPM's bridge gateway (native) or a compose service (docker)`
      : `forwards to ${target}, neither NPM's bridge gateway${input.gateway ? ` (${input.gateway})` : ""} nor a service of the imported compose project`;
    out.unplacedProxyHosts.push({ proxyHost: ph, what: ph.domains.join(", "), reason });
  }

  for (const s of input.services) {
    if (usedServices.has(s.service)) continue;
    if (!s.running) {
      out.unplacedServices.push({ service: s.service, what: `compose service ${s.service}`, reason: "not running: owner docker would start it, owner none would remove its containers" });
      continue;
    }
    scopes.push({ name: scopeName(s.service, taken), owner: "docker", docker: { services: [s.service] }, notes: [] });
  }
  for (const u of input.units) {
    if (usedUnits.has(u.name)) continue;
    if (u.active) {
      const notes = u.enabled ? [] : [`${u.name} runs but is not enabled: owner native will enable it`];
      scopes.push({ name: scopeName(u.name, taken), owner: "native", native: { units: [u.name], ...(u.ports.length === 1 ? { port: u.ports[0]! } : {}) }, notes });
    } else if (!u.enabled) {
      scopes.push({ name: scopeName(u.name, taken), owner: "none", native: { units: [u.name] }, notes: [`${u.name} is stopped and disabled: owner none keeps it so`] });
    } else {
      out.unplacedUnits.push({ unit: u.name, what: u.name, reason: "enabled but not running: owner native would start it, owner none would disable it" });
    }
  }
  notePortClaims(input, scopes);
  return out;
}

/** Who owns which port: a host port a compose service publishes and a unit names too can only be one's at a time. */
function notePortClaims(input: InferInput, scopes: InferredScope[]): void {
  for (const s of input.services) {
    for (const port of s.publishedPorts) {
      for (const u of input.units.filter((x) => x.ports.includes(port))) {
        const scope = scopes.find((x) => x.docker?.services.includes(s.service)) ?? scopes.find((x) => x.native?.units.includes(u.name));
        scope?.notes.push(`compose service ${s.service} publishes host port ${port}, which ${u.name} names too: only one of them can listen on it`);
      }
    }
  }
}
