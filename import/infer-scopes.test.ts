import { describe, expect, it } from "vitest";
import { inferScopes, scopeName, unitPorts, type InferInput } from "./infer-scopes.js";

const GW = "172.18.0.1";
const ph = (id: number, domain: string, forwardHost: string, forwardPort: number) => ({ id, domains: [domain], forwardHost, forwardPort });
const svc = (service: string, over: Partial<InferInput["services"][number]> = {}) => ({ service, running: true, onNpmNetwork: true, publishedPorts: [], ...over });
const unit = (name: string, ports: number[], over: Partial<InferInput["units"][number]> = {}) => ({ name, active: true, enabled: true, ports, ...over });

describe("inferScopes", () => {
  it("places a compose upstream as docker and the bridge gateway plus a unit's port as native", () => {
    const r = inferScopes({
      gateway: GW,
      proxyHosts: [ph(1, "shop.example.org", "web", 8080), ph(2, "api.example.org", GW, 4100), ph(3, "www.shop.example.org", "web", 8080)],
      services: [svc("web")],
      units: [unit("shop-api.service", [4100])],
    });
    expect(r.scopes).toEqual([
      { name: "shop", owner: "docker", docker: { services: ["web"], upstream: "web", port: 8080 }, notes: [] },
      { name: "api", owner: "native", native: { units: ["shop-api.service"], port: 4100 }, notes: [] },
    ]);
    expect(r.placements.map((p) => `${p.proxyHost.id}→${p.scope}`)).toEqual(["1→shop", "2→api", "3→shop"]);
    expect(r.unplacedProxyHosts).toEqual([]);
  });

  it("a docker scope takes a stopped unit on the same port as its native runtime; a running one stays its own scope", () => {
    const stopped = inferScopes({ gateway: GW, proxyHosts: [ph(1, "a.example.org", "api", 4000)], services: [svc("api")], units: [unit("api.service", [4000], { active: false, enabled: false })] });
    expect(stopped.scopes).toEqual([
      expect.objectContaining({ name: "a", owner: "docker", native: { units: ["api.service"], port: 4000 }, docker: { services: ["api"], upstream: "api", port: 4000 } }),
    ]);
    const running = inferScopes({ gateway: GW, proxyHosts: [ph(1, "a.example.org", "api", 4000)], services: [svc("api")], units: [unit("api.service", [4000])] });
    expect(running.scopes.map((s) => `${s.name}:${s.owner}`)).toEqual(["a:docker", "api:native"]);
  });

  it("does not place what the evidence does not agree on, and says why", () => {
    const r = inferScopes({
      gateway: GW,
      proxyHosts: [ph(1, "a.example.org", GW, 5000), ph(2, "b.example.org", "10.0.0.9", 80), ph(3, "c.example.org", GW, 6000), ph(4, "d.example.org", "worker", 80)],
      services: [svc("worker", { running: false })],
      units: [unit("x.service", [6000]), unit("y.service", [6000])],
    });
    expect(r.placements).toEqual([]);
    expect(r.unplacedProxyHosts.map((u) => u.reason)).toEqual([
      "forwards to NPM's bridge gateway port 5000, but no imported unit says it listens there (--units; or a PORT= / --port in the unit)",
      "forwards to 10.0.0.9:80, neither NPM's bridge gateway (172.18.0.1) nor a service of the imported compose project",
      "forwards to NPM's bridge gateway port 6000, which several imported units name (x.service, y.service)",
      "forwards to compose service worker, which is not running: owner docker would start it",
    ]);
    expect(r.unplacedServices.map((u) => u.service)).toEqual(["worker"]);
  });

  it("gives units and services no proxy host reaches a scope of their own, by what they do now", () => {
    const r = inferScopes({
      proxyHosts: [],
      services: [svc("cron")],
      units: [unit("a.service", [9000]), unit("b.service", [], { active: false, enabled: false }), unit("c.service", [], { active: false })],
    });
    expect(r.scopes.map((s) => `${s.name}:${s.owner}:${s.native?.port ?? "-"}`)).toEqual(["cron:docker:-", "a:native:9000", "b:none:-"]);
    expect(r.unplacedUnits).toEqual([{ unit: "c.service", what: "c.service", reason: "enabled but not running: owner native would start it, owner none would disable it" }]);
  });

  it("says when a published host port is a unit's port too", () => {
    const r = inferScopes({ proxyHosts: [], services: [svc("api", { publishedPorts: [4000] })], units: [unit("api.service", [4000], { active: false, enabled: false })] });
    expect(r.scopes.find((s) => s.name === "api")!.notes).toEqual(["compose service api publishes host port 4000, which api.service names too: only one of them can listen on it"]);
  });
});

describe("scopeName and unitPorts", () => {
  it("makes unique scope names of lowercase words", () => {
    const taken = new Set<string>();
    expect([scopeName("Shop_API.service", taken), scopeName("shop-api", taken), scopeName("*", taken), scopeName("9lives", taken)]).toEqual(["shop-api", "shop-api-2", "app", "9lives"]);
  });

  it("reads the ports a unit names", () => {
    expect(unitPorts("[Service]\nEnvironment=PORT=4000 MODE=x\nExecStart=/usr/bin/app --port 4001 --listen 127.0.0.1:4002\n")).toEqual([4000, 4001, 4002]);
    expect(unitPorts("[Service]\nExecStart=/bin/busybox httpd -f -p 4100 -h /srv\n")).toEqual([4100]);
    expect(unitPorts("[Socket]\nListenStream=0.0.0.0:8443\n")).toEqual([8443]);
    expect(unitPorts("[Service]\nExecStart=/usr/bin/worker\n")).toEqual([]);
  });
});
