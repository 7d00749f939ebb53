import path from "node:path";
import type { Change } from "../../core/changes.js";
import { observedOf, type Kind } from "../../core/kind.js";
import type { DesiredProxyHost } from "../../core/resources.js";
import { journalProxyHostInventory } from "./journal-inventory.js";
import { NpmProxyHostDriver } from "./npm-driver.js";
import { planProxyHosts, proxyHostConflicts, type NpmProxyHostActual } from "./proxy-host-plan.js";
import { sortDomains } from "./row.js";

/** `npm.proxyHost`: a proxy host of Nginx Proxy Manager, its SQLite row and the nginx conf generated from it. */

/** What NPM reports for a proxy host that was applied as desired (unmanaged flags as NPM's defaults). */
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

function describe(c: Change<DesiredProxyHost, NpmProxyHostActual>): string {
  const d = c.desired;
  if (c.action === "delete") return `NPM delete ${c.ref.name}`;
  if (d && !d.enabled) return `NPM disable ${c.ref.name}`;
  return `NPM ${c.ref.name} → ${d ? `${d.forwardHost}:${d.forwardPort}` : "?"}`;
}

export const npmProxyHost: Kind<DesiredProxyHost, NpmProxyHostActual> = {
  kind: "npm.proxyHost",
  layer: "edge",
  order: 2,
  manages: (host) => host.npm !== undefined,
  desired: (host) => host.resources["npm.proxyHost"],
  plan: (desired, observed) => ({ changes: planProxyHosts(desired, observed.resources), findings: proxyHostConflicts(desired, observed.resources) }),
  assumeConverged: (desired) => observedOf(new Map(desired.map((d) => [d.name, assumedProxyHost(d)]))),
  owned: (a) => a.ownership !== "unmanaged",
  describe,
  async connect(host, ctx) {
    const npm = host.npm;
    if (!npm) throw new Error("npm.proxyHost: the host declares no edge.npm");
    const stateDir = path.join(ctx.stateDir, "npm");
    const inventory = journalProxyHostInventory(ctx.inventory, path.join(stateDir, "npm-proxy-hosts.json"));
    const driver = new NpmProxyHostDriver({ runner: ctx.runner, dataDir: npm.dataDir, container: npm.container, stateDir, inventory });
    return {
      observe: async (desired) => observedOf(await driver.observe(desired)),
      apply: (changes) => driver.apply(changes),
    };
  },
};
