import { describe, expect, it } from "vitest";
import type { DesiredProxyHost } from "../../core/resources.js";
import { UserError } from "../../core/errors.js";
import {
  buildActual,
  diffProxyHost,
  matchRows,
  planProxyHosts,
  proxyHostConflicts,
  type InventoryEntry,
  type NpmProxyHostActual,
} from "./proxy-host-plan.js";
import { renderProxyHostConf, type RenderContext } from "./render-conf.js";
import type { ProxyHostModel } from "./row.js";

const CTX: RenderContext = { nginxVersion: "1.22.1", ipv6: false };

function row(id: number, domains: string[], over: Partial<ProxyHostModel> = {}): ProxyHostModel {
  return {
    id, domains, forwardScheme: "http", forwardHost: "api", forwardPort: 4000, enabled: true,
    websockets: false, http2: false, sslForced: false, hsts: false, hstsSubdomains: false, blockExploits: false,
    cachingEnabled: false, certificateId: 0, accessListId: 0, advancedConfig: "", trustForwardedProto: false,
    locations: [], meta: { nginx_online: true, nginx_err: null }, ...over,
  };
}

function want(domains: string[], over: Partial<DesiredProxyHost> = {}): DesiredProxyHost {
  const sorted = [...domains].sort();
  return {
    kind: "npm.proxyHost", name: sorted[0]!, domains, forwardScheme: "http", forwardHost: "api", forwardPort: 4000,
    enabled: true, adopt: false, scope: "api", probePath: "/health", ...over,
  };
}

/** Observe, minus the I/O: rows + confs on disk + inventory → actual map. */
function observe(
  desired: DesiredProxyHost[], rows: ProxyHostModel[], inventory: InventoryEntry[],
  confs: Record<number, string | undefined> = {},
): Map<string, NpmProxyHostActual> {
  const out = new Map<string, NpmProxyHostActual>();
  for (const [name, m] of matchRows(desired, rows, inventory)) {
    const conf = m.model.id in confs ? confs[m.model.id] : renderProxyHostConf(m.model, CTX);
    out.set(name, buildActual(m, conf, CTX));
  }
  return out;
}

const API = "api.flow.example.org";

describe("NPM proxy host plan", () => {
  it("creates a missing host", () => {
    const d = [want([API])];
    const changes = planProxyHosts(d, observe(d, [], []));
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ action: "create", phase: "edge", risk: "safe", ref: { kind: "npm.proxyHost", name: API } });
  });

  it("is empty when the owned row and its conf already match", () => {
    const d = [want([API])];
    expect(planProxyHosts(d, observe(d, [row(1, [API])], [{ id: 1, domains: [API], origin: "created" }]))).toEqual([]);
  });

  it("adopts a UI-made row with exactly the desired domains, keeping its certificate", () => {
    const d = [want([API], { forwardHost: "172.18.0.1" })];
    const actual = observe(d, [row(4, [API], { certificateId: 9 })], []);
    const [c] = planProxyHosts(d, actual);
    expect(c!.action).toBe("update");
    expect(c!.fields).toEqual([
      { field: "ownership", from: "unmanaged", to: "adopted" },
      { field: "forwardHost", from: "api", to: "172.18.0.1" },
    ]);
    expect(c!.reason).toContain("adopt row #4");
    expect(c!.risk).toBe("disruptive");
  });

  it("adopts a matching row even when nothing else differs (ownership is the only change)", () => {
    const d = [want([API])];
    const [c] = planProxyHosts(d, observe(d, [row(4, [API])], []));
    expect(c!.fields).toEqual([{ field: "ownership", from: "unmanaged", to: "adopted" }]);
    expect(c!.risk).toBe("safe");
  });

  it("reports a row that only shares some domains as a conflict unless adopt: true", () => {
    const rows = [row(5, [API, "old.example.org"])];
    const d = [want([API])];
    const actual = observe(d, rows, []);
    expect(planProxyHosts(d, actual)).toEqual([]);
    expect(proxyHostConflicts(d, actual)).toMatchObject([{ id: "npm-domain-conflict", severity: "error" }]);
    const adopting = [want([API], { adopt: true })];
    const [c] = planProxyHosts(adopting, observe(adopting, rows, []));
    expect(c!.fields.map((f) => f.field)).toEqual(["ownership", "domains"]);
  });

  it("never touches rows nobody declares, and never deletes an unmanaged row", () => {
    const rows = [row(1, [API]), row(2, ["blog.example.org"], { forwardHost: "ghost" })];
    const inv: InventoryEntry[] = [{ id: 1, domains: [API], origin: "created" }];
    const d = [want([API])];
    const actual = observe(d, rows, inv);
    expect([...actual.keys()]).toEqual([API]);
    expect(planProxyHosts(d, actual)).toEqual([]);
    expect(diffProxyHost(undefined, { ...actual.get(API)!, ownership: "unmanaged" })).toEqual([]);
  });

  it("soft-deletes an owned row that left the desired state", () => {
    const inv: InventoryEntry[] = [{ id: 1, domains: [API], origin: "adopted" }];
    const [c] = planProxyHosts([], observe([], [row(1, [API])], inv));
    expect(c).toMatchObject({ action: "delete", phase: "prune", risk: "destructive", fields: [{ field: "present", from: true, to: false }] });
  });

  it("treats a soft-deleted row (never read) as absent: create again", () => {
    const d = [want([API])];
    const [c] = planProxyHosts(d, observe(d, [], [{ id: 1, domains: [API], origin: "created" }]));
    expect(c!.action).toBe("create");
  });

  it("disables a host whose scope has no owner, and is then converged with no conf", () => {
    const d = [want([API], { enabled: false })];
    const inv: InventoryEntry[] = [{ id: 1, domains: [API], origin: "created" }];
    const [c] = planProxyHosts(d, observe(d, [row(1, [API])], inv));
    expect(c!.fields).toEqual([{ field: "enabled", from: true, to: false }]);
    expect(c!.reason).toContain("disable");
    const after = observe(d, [row(1, [API], { enabled: false })], inv, { 1: undefined });
    expect(planProxyHosts(d, after)).toEqual([]);
    const leftover = observe(d, [row(1, [API], { enabled: false })], inv, { 1: "server {}" });
    expect(planProxyHosts(d, leftover)[0]!.fields).toEqual([{ field: "conf", from: "present", to: "absent" }]);
  });

  it("creates no row for a disabled host that has none (what rolling back a first converge asks for)", () => {
    const d = [want([API], { enabled: false })];
    expect(planProxyHosts(d, observe(d, [], []))).toEqual([]);
  });

  it("reports drift field by field: forward_host edited in NPM's UI, conf edited by hand, conf missing", () => {
    const d = [want([API], { forwardHost: "172.18.0.1" })];
    const inv: InventoryEntry[] = [{ id: 1, domains: [API], origin: "created" }];
    const edited = row(1, [API], { forwardHost: "api" });
    expect(planProxyHosts(d, observe(d, [edited], inv))[0]!.fields).toEqual([
      { field: "forwardHost", from: "api", to: "172.18.0.1" },
    ]);
    const good = row(1, [API], { forwardHost: "172.18.0.1" });
    const handConf = renderProxyHostConf(good, CTX)!.replace("proxy_http_version", "# x").replace("listen 80;", "listen 8080;");
    expect(planProxyHosts(d, observe(d, [good], inv, { 1: handConf }))[0]!.fields).toEqual([
      { field: "conf", from: "edited by hand", to: "rendered from the row" },
    ]);
    expect(planProxyHosts(d, observe(d, [good], inv, { 1: undefined }))[0]!.fields).toEqual([
      { field: "conf", from: "missing", to: "rendered from the row" },
    ]);
  });

  it("reports conf drift only when the row is right (a row change rewrites the conf anyway)", () => {
    const d = [want([API], { forwardHost: "172.18.0.1" })];
    const inv: InventoryEntry[] = [{ id: 1, domains: [API], origin: "created" }];
    const dbOnlyEdit = row(1, [API], { forwardHost: "api" });
    const staleConf = renderProxyHostConf(row(1, [API], { forwardHost: "172.18.0.1" }), CTX)!;
    expect(planProxyHosts(d, observe(d, [dbOnlyEdit], inv, { 1: staleConf }))[0]!.fields).toEqual([
      { field: "forwardHost", from: "api", to: "172.18.0.1" },
    ]);
  });

  it("configures again a host NPM shows offline (its last conf failed nginx -t)", () => {
    const d = [want([API])];
    const inv: InventoryEntry[] = [{ id: 1, domains: [API], origin: "created" }];
    const offline = row(1, [API], { meta: { nginx_online: false, nginx_err: "unknown directive" } });
    expect(planProxyHosts(d, observe(d, [offline], inv))[0]!.fields).toEqual([{ field: "nginxOnline", from: false, to: true }]);
  });

  it("diffs only declared fields: undefined means unmanaged", () => {
    const d = [want([API], { websockets: undefined, certificateId: undefined })];
    const inv: InventoryEntry[] = [{ id: 1, domains: [API], origin: "created" }];
    expect(planProxyHosts(d, observe(d, [row(1, [API], { websockets: true, certificateId: 3 })], inv))).toEqual([]);
    const declared = [want([API], { websockets: false })];
    expect(planProxyHosts(declared, observe(declared, [row(1, [API], { websockets: true })], inv))[0]!.fields).toEqual([
      { field: "websockets", from: true, to: false },
    ]);
  });

  it("matches domains regardless of order (NPM keeps them sorted)", () => {
    const d = [want(["b.example.org", "a.example.org"])];
    const rows = [row(1, ["a.example.org", "b.example.org"])];
    expect(planProxyHosts(d, observe(d, rows, [{ id: 1, domains: ["a.example.org", "b.example.org"], origin: "created" }]))).toEqual([]);
  });

  it("refuses a desired advancedConfig that breaks out of the server block", () => {
    const d = [want([API], { advancedConfig: "} server { listen 9;" })];
    expect(() => planProxyHosts(d, observe(d, [], []))).toThrow(UserError);
  });
});
