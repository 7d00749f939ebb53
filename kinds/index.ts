import path from "node:path";
import { ComposeDriver, type ComposeFlavor } from "./compose-service/compose-driver.js";
import { planServices, type ObservedService } from "./compose-service/compose-plan.js";
import { serving, servicesEvidence, servicesState, unitsEvidenceFrom, unitsStateFrom, type UnitSource } from "../engine/health/runtime-state.js";
import { createHash } from "node:crypto";
import { CloudflareDriver, resolveSecret } from "./cloudflare-record/cloudflare-driver.js";
import { ownedBy, planRecords, type ObservedDnsRecord } from "./cloudflare-record/record-plan.js";
import { NpmProxyHostDriver } from "./npm-proxy-host/npm-driver.js";
import { planProxyHosts, proxyHostConflicts, type NpmProxyHostActual } from "./npm-proxy-host/proxy-host-plan.js";
import { sortDomains } from "./npm-proxy-host/row.js";
import type { UfwRule } from "./ufw-rule/parse-rules.js";
import { owned as ufwOwned, planRules } from "./ufw-rule/rule-plan.js";
import { UfwDriver } from "./ufw-rule/ufw-driver.js";
import { contentHash, isActive, planUnits, unitFindings, type ObservedUnit } from "./systemd-unit/unit-plan.js";
import { SystemdDriver } from "./systemd-unit/systemd-driver.js";
import type { Change, FieldChange } from "../core/changes.js";
import type { Driver } from "../core/driver.js";
import type { Runner } from "../core/runner.js";
import type {
  DesiredComposeService,
  DesiredDnsRecord,
  DesiredProxyHost,
  DesiredSystemdUnit,
  DesiredUfwRule,
  ResolvedHost,
  SystemdScope,
} from "../core/resources.js";
import type { GateProbe, KindHandler, KindHandlers } from "../core/kind.js";

/**
 * The one place drivers are registered. Planner, guards and executor see KindHandlers only; this file knows
 * each driver's observed shape (for ownership, serving, and what a converged host looks like offline).
 */

// What a host would report if each desired resource had been applied: the offline and PR plans diff against it.
function assumedUnit(d: DesiredSystemdUnit): ObservedUnit {
  return {
    name: d.name,
    loadState: d.present ? "loaded" : "not-found",
    activeState: d.active ? "active" : "inactive",
    subState: d.active ? "running" : "dead",
    unitFileState: d.enabled ? "enabled" : "disabled",
    fragmentPath: d.present ? d.file.path : "",
    filePath: d.file.path,
    contentHash: d.present ? contentHash(d.file.content) : undefined,
    installedByTack: d.present,
  };
}

function assumedService(d: DesiredComposeService): ObservedService {
  return {
    name: d.name,
    project: d.project,
    service: d.service,
    defined: true,
    expectedHash: "converged",
    image: undefined,
    containers:
      d.state === "running"
        ? [{ id: "", name: `${d.project}-${d.service}-1`, state: "running", status: "Up", health: undefined, configHash: "converged" }]
        : [],
  };
}

function assumedProxyHost(d: DesiredProxyHost): NpmProxyHostActual {
  const fields = {
    domains: sortDomains(d.domains),
    forwardScheme: d.forwardScheme,
    forwardHost: d.forwardHost,
    forwardPort: d.forwardPort,
    enabled: d.enabled,
    websockets: d.websockets ?? false,
    http2: d.http2 ?? false,
    sslForced: d.sslForced ?? false,
    hsts: d.hsts ?? false,
    hstsSubdomains: d.hstsSubdomains ?? false,
    blockExploits: d.blockExploits ?? false,
    cachingEnabled: d.cachingEnabled ?? false,
    certificateId: d.certificateId ?? 0,
    accessListId: d.accessListId ?? 0,
    advancedConfig: d.advancedConfig ?? "",
  };
  return {
    ...fields,
    id: 0,
    ownership: "created",
    conflict: false,
    conf: "",
    renderedConf: "",
    confMatches: true,
    model: { ...fields, id: 0, trustForwardedProto: false, locations: [], meta: {} },
  };
}

function assumedRule(d: DesiredUfwRule): UfwRule {
  return {
    action: d.action,
    direction: d.direction,
    proto: d.proto,
    ...(d.port !== undefined ? { port: d.port } : {}),
    from: d.from,
    to: d.to,
    comment: d.comment,
    v4: true,
    v6: !d.from.includes(".") && !d.to.includes("."),
  };
}

function assumedRecord(d: DesiredDnsRecord): ObservedDnsRecord {
  return { id: "", type: d.type, name: d.fqdn, content: d.content, ttl: d.proxied ? 1 : (d.ttl ?? 1), proxied: d.proxied ?? false, comment: d.comment };
}

function unitHandler(driver?: Driver<DesiredSystemdUnit, ObservedUnit> & { logs?(u: string, n?: number): Promise<string[]> }): KindHandler<DesiredSystemdUnit, ObservedUnit> {
  return {
    kind: "systemd.unit",
    plan: (d, a) => planUnits(d, a),
    findings: (d, a) => unitFindings(d, a),
    serving: isActive,
    owned: (a) => a.installedByTack,
    assumeConverged: assumedUnit,
    ...(driver
      ? {
          driver,
          gate: (desired: DesiredSystemdUnit[]): GateProbe => {
            const names = desired.map((d) => d.name);
            const source: UnitSource = {
              observe: () => driver.observe(desired),
              logs: (unit, lines) => driver.logs?.(unit, lines) ?? Promise.resolve([]),
            };
            return { state: unitsStateFrom(source, names), evidence: () => unitsEvidenceFrom(source, names) };
          },
        }
      : {}),
  };
}

function composeHandler(driver?: ComposeDriver): KindHandler<DesiredComposeService, ObservedService> {
  return {
    kind: "compose.service",
    plan: (d, a) => planServices(d, a),
    // Running, and healthy when the image has a health check.
    serving,
    owned: () => true,
    assumeConverged: assumedService,
    ...(driver ? { driver, gate: (desired: DesiredComposeService[]): GateProbe => ({ state: servicesState(driver, desired), evidence: () => servicesEvidence(driver, desired) }) } : {}),
  };
}

function npmHandler(driver?: NpmProxyHostDriver): KindHandler<DesiredProxyHost, NpmProxyHostActual> {
  return {
    kind: "npm.proxyHost",
    plan: (d, a) => planProxyHosts(d, a),
    findings: (d, a) => proxyHostConflicts(d, a),
    owned: (a) => a.ownership !== "unmanaged",
    assumeConverged: assumedProxyHost,
    ...(driver ? { driver } : {}),
  };
}

function ufwHandler(host: ResolvedHost, driver?: UfwDriver): KindHandler<DesiredUfwRule, UfwRule> {
  if (driver) {
    return {
      kind: "ufw.rule",
      plan: (d, a) => driver.plan(d, a),
      findings: () => driver.findings(),
      owned: ufwOwned,
      assumeConverged: assumedRule,
      driver,
    };
  }
  // Offline: a UFW that is active, denies incoming by default and has sshd on 22, as on a typical VPS.
  // A host that does not declare firewall.ufw leaves UFW alone: nothing to plan, no SSH guard.
  let last: ReturnType<typeof planRules> | undefined;
  return {
    kind: "ufw.rule",
    plan: (d, a) => {
      if (!host.ufw) return [];
      last = planRules(d, { rules: [...a.values()], active: true, incoming: "deny", ipv6: true, sshPorts: [host.facts.sshPort ?? 22] }, { allowSshLockout: host.policy.allowSshLockout });
      return last.changes;
    },
    findings: () => last?.findings ?? [],
    owned: ufwOwned,
    assumeConverged: assumedRule,
  };
}

function dnsHandler(host: ResolvedHost, driver?: CloudflareDriver): KindHandler<DesiredDnsRecord, ObservedDnsRecord> {
  if (driver) {
    return {
      kind: "cloudflare.record",
      plan: (d, a) => driver.plan(d, a),
      findings: () => driver.findings(),
      owned: (a) => ownedBy(a.comment, host.host),
      assumeConverged: assumedRecord,
      driver,
    };
  }
  let last: ReturnType<typeof planRecords> | undefined;
  return {
    kind: "cloudflare.record",
    plan: (d, a) => {
      last = planRecords(d, a, host.host);
      return last.changes;
    },
    findings: () => last?.findings ?? [],
    owned: (a) => ownedBy(a.comment, host.host),
    assumeConverged: assumedRecord,
  };
}

/** Handlers with no I/O: for offline and PR plans. */
export function offlineHandlers(host: ResolvedHost): KindHandlers {
  return {
    "systemd.unit": unitHandler() as KindHandler<DesiredSystemdUnit, unknown>,
    "compose.service": composeHandler() as KindHandler<DesiredComposeService, unknown>,
    "npm.proxyHost": npmHandler() as KindHandler<DesiredProxyHost, unknown>,
    "ufw.rule": ufwHandler(host) as KindHandler<DesiredUfwRule, unknown>,
    "cloudflare.record": dnsHandler(host) as KindHandler<DesiredDnsRecord, unknown>,
  };
}

/** Units of both systemd managers behind one driver: each unit goes to the manager of its scope. */
class SystemdScopesDriver implements Driver<DesiredSystemdUnit, ObservedUnit> {
  readonly kind = "systemd.unit" as const;
  constructor(private readonly byScope: Record<SystemdScope, SystemdDriver>) {}
  private split<T extends { systemdScope: SystemdScope }>(items: T[]): [SystemdScope, T[]][] {
    return (["system", "user"] as const).map((s) => [s, items.filter((i) => i.systemdScope === s)] as [SystemdScope, T[]]).filter(([, l]) => l.length > 0);
  }
  async observe(desired: DesiredSystemdUnit[]): Promise<Map<string, ObservedUnit>> {
    const out = new Map<string, ObservedUnit>();
    for (const [scope, list] of this.split(desired)) for (const [k, v] of await this.byScope[scope].observe(list)) out.set(k, v);
    return out;
  }
  diff(d: DesiredSystemdUnit | undefined, a: ObservedUnit | undefined): FieldChange[] {
    return this.byScope[d?.systemdScope ?? "system"].diff(d, a);
  }
  plan(desired: DesiredSystemdUnit[], actual: Map<string, ObservedUnit>): Change<DesiredSystemdUnit, ObservedUnit>[] {
    return planUnits(desired, actual);
  }
  async apply(changes: Change<DesiredSystemdUnit, ObservedUnit>[]): Promise<void> {
    for (const scope of ["system", "user"] as const) {
      const mine = changes.filter((c) => (c.desired?.systemdScope ?? "system") === scope);
      if (mine.length) await this.byScope[scope].apply(mine);
    }
  }
  async logs(unit: string, lines = 10): Promise<string[]> {
    for (const d of Object.values(this.byScope)) {
      const l = await d.logs(unit, lines).catch(() => [] as string[]);
      if (l.length) return l;
    }
    return [];
  }
}

const cloudflareDrivers = new Map<string, CloudflareDriver>();
let composeFlavor: ComposeFlavor | undefined;

export interface LiveOptions {
  runner: Runner;
  stateDir: string;
  env?: NodeJS.ProcessEnv;
}

/** Handlers with live drivers, for plans and applies on this host. */
export function liveHandlers(host: ResolvedHost, opts: LiveOptions): KindHandlers {
  const { runner, stateDir } = opts;
  const handlers: KindHandlers = {};
  const units = new SystemdScopesDriver({
    system: new SystemdDriver({ runner, systemdScope: "system", stateDir: path.join(stateDir, "units", "system"), ...(opts.env ? { env: opts.env } : {}) }),
    user: new SystemdDriver({ runner, systemdScope: "user", stateDir: path.join(stateDir, "units", "user"), ...(opts.env ? { env: opts.env } : {}) }),
  });
  handlers["systemd.unit"] = unitHandler(units) as KindHandler<DesiredSystemdUnit, unknown>;
  if (host.resources["compose.service"].length) {
    // `docker compose` vs `docker-compose` is detected once per process, not once per plan (v1 takes ~1 s to answer).
    const compose = new ComposeDriver({ runner, ...(composeFlavor ? { flavor: composeFlavor } : {}) });
    if (!composeFlavor) void compose.flavor().then((f) => (composeFlavor = f), () => undefined);
    handlers["compose.service"] = composeHandler(compose) as KindHandler<DesiredComposeService, unknown>;
  }
  else handlers["compose.service"] = composeHandler() as KindHandler<DesiredComposeService, unknown>;
  if (host.npm) {
    const npm = new NpmProxyHostDriver({ runner, dataDir: host.npm.dataDir, container: host.npm.container, stateDir: path.join(stateDir, "npm") });
    handlers["npm.proxyHost"] = npmHandler(npm) as KindHandler<DesiredProxyHost, unknown>;
  } else handlers["npm.proxyHost"] = npmHandler() as KindHandler<DesiredProxyHost, unknown>;
  if (host.ufw) {
    const ufw = new UfwDriver({ runner, allowSshLockout: host.policy.allowSshLockout, ...(host.facts.sshPort ? { sshPorts: [host.facts.sshPort] } : {}) });
    handlers["ufw.rule"] = ufwHandler(host, ufw) as KindHandler<DesiredUfwRule, unknown>;
  } else handlers["ufw.rule"] = ufwHandler(host) as KindHandler<DesiredUfwRule, unknown>;
  if (host.cloudflare) {
    // One driver per (state dir, host, zone, token, API) for the life of the process: its zone id and its
    // DNS observation are cached across reconciles, so an agent polls Cloudflare at the DNS interval (default
    // 5 min), not at every local drift check. An apply invalidates its cache.
    // The token's hash is in the key, so a rotated token gets a new driver; the token itself is kept nowhere here.
    const tokenHash = createHash("sha256").update(resolveSecret(host.cloudflare.token, opts.env ?? process.env)).digest("hex");
    const key = JSON.stringify([stateDir, host.host, host.cloudflare.zone, tokenHash, host.policy.driftIntervalMs.dns, opts.env?.CLOUDFLARE_BASE_URL ?? process.env.CLOUDFLARE_BASE_URL]);
    let cf = cloudflareDrivers.get(key);
    if (!cf) {
      cf = new CloudflareDriver({
        host: host.host,
        zone: host.cloudflare.zone,
        token: host.cloudflare.token,
        driftIntervalMs: host.policy.driftIntervalMs.dns,
        ...(opts.env ? { env: opts.env } : {}),
      });
      cloudflareDrivers.set(key, cf);
    }
    handlers["cloudflare.record"] = dnsHandler(host, cf) as KindHandler<DesiredDnsRecord, unknown>;
  } else handlers["cloudflare.record"] = dnsHandler(host) as KindHandler<DesiredDnsRecord, unknown>;
  return handlers;
}
