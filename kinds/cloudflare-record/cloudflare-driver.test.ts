import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TackError, TransientError, UserError } from "../../core/errors.js";
import type { Finding } from "../../core/findings.js";
import { observedOf } from "../../core/kind.js";
import type { DesiredDnsRecord, ResolvedHost } from "../../core/resources.js";
import { startCloudflareEmulator, type CloudflareEmulator } from "../../sandbox/cloudflare-emulator/emulator.js";
import { CloudflareDriver, type CloudflareDriverOptions } from "./cloudflare-driver.js";
import { cloudflareRecord } from "./kind.js";
import type { ObservedDnsRecord } from "./record-plan.js";

const TOKEN = "cf-secret-token-Zq83xY1";
const ZONE = "example.org";
const HOST = "vps-1";

let cf: CloudflareEmulator;
let logLines: string[];

beforeAll(async () => {
  cf = await startCloudflareEmulator({ token: TOKEN, zones: [{ name: ZONE }] });
});
afterAll(() => cf.close());
afterEach(() => cf.reset());

function driver(over: Partial<CloudflareDriverOptions> = {}): CloudflareDriver {
  logLines = [];
  return new CloudflareDriver({
    host: HOST,
    zone: ZONE,
    token: { env: "CF_TOKEN" },
    env: { CF_TOKEN: TOKEN },
    baseURL: cf.baseURL,
    log: (l) => logLines.push(l),
    ...over,
  });
}

function rec(fqdn: string, over: Partial<DesiredDnsRecord> = {}): DesiredDnsRecord {
  return {
    kind: "cloudflare.record",
    name: `A ${fqdn}`,
    zone: ZONE,
    type: "A",
    fqdn,
    content: "203.0.113.10",
    comment: `tack:${HOST}`,
    adopt: false,
    acknowledge: [],
    ...over,
  };
}

// Plans as the engine does: the kind's pure plan over what the driver observed (kinds/cloudflare-record/kind.ts).
const PLANNED_FOR = { host: HOST, cloudflare: { zone: ZONE } } as unknown as ResolvedHost;
const lastFindings = new WeakMap<CloudflareDriver, Finding[]>();
function plan(d: CloudflareDriver, desired: DesiredDnsRecord[], observed: Map<string, ObservedDnsRecord>) {
  const p = cloudflareRecord.plan(desired, observedOf(observed), PLANNED_FOR);
  lastFindings.set(d, p.findings);
  return p.changes;
}
const findingsOf = (d: CloudflareDriver): Finding[] => lastFindings.get(d) ?? [];

async function converge(d: CloudflareDriver, desired: DesiredDnsRecord[]) {
  const changes = plan(d, desired, await d.observe(desired, { force: true }));
  await d.apply(changes);
  return changes;
}

async function planAgain(d: CloudflareDriver, desired: DesiredDnsRecord[]) {
  return plan(d, desired, await d.observe(desired, { force: true }));
}

describe("CloudflareDriver against the API emulator", () => {
  it("flips api.flow.example.org between proxied and DNS-only, and the plan after apply is empty", async () => {
    const d = driver();
    const dnsOnly = [rec("api.flow.example.org", { proxied: false, ttl: 300, comment: "tack:vps-1 api" })];
    expect((await converge(d, dnsOnly)).map((c) => c.action)).toEqual(["create"]);
    expect(cf.records(ZONE)[0]).toMatchObject({ proxied: false, ttl: 300, comment: "tack:vps-1 api" });
    expect(await planAgain(d, dnsOnly)).toEqual([]);

    const proxied = [rec("api.flow.example.org", { proxied: true, ttl: 300, comment: "tack:vps-1 api" })];
    const flip = await converge(d, proxied);
    expect(flip.map((c) => [c.action, c.fields])).toEqual([["update", [{ field: "proxied", from: false, to: true }]]]);
    expect(cf.records(ZONE)[0]).toMatchObject({ proxied: true, ttl: 1 });
    expect(await planAgain(d, proxied)).toEqual([]);

    await converge(d, dnsOnly);
    expect(cf.records(ZONE)[0]).toMatchObject({ proxied: false, ttl: 300 });
    expect(await planAgain(d, dnsOnly)).toEqual([]);
  });

  it("converges 500 records with a zone lookup, one list and at most 3 batch calls", async () => {
    cf.seed(ZONE, Array.from({ length: 40 }, (_, i) => ({ type: "TXT", name: `hand${i}`, content: `v=${i}`, comment: "by hand" })));
    const desired = Array.from({ length: 500 }, (_, i) => rec(`h${i}.example.org`, { content: `198.51.${i >> 8}.${i & 255}` }));
    const d = driver();
    await converge(d, desired);
    const calls = cf.log.map((e) => `${e.method} ${e.path.replace(cf.zoneId(ZONE), "Z")}`);
    expect(calls.filter((c) => c === "GET /zones")).toHaveLength(1);
    expect(calls.filter((c) => c === "GET /zones/Z/dns_records")).toHaveLength(1);
    const batches = calls.filter((c) => c === "POST /zones/Z/dns_records/batch").length;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThanOrEqual(3);
    expect(calls).toHaveLength(2 + batches);
    expect(cf.records(ZONE)).toHaveLength(540);
    cf.log.length = 0;
    expect(await planAgain(d, desired)).toEqual([]);
    expect(cf.log).toHaveLength(1); // zone id cached: one list
    expect(findingsOf(d).map((f) => f.id)).toEqual(["dns-unmanaged"]);
  });

  it("deletes only its own records; other hosts' and unmanaged ones stay", async () => {
    cf.seed(ZONE, [
      { type: "A", name: "mine", content: "192.0.2.1", comment: "tack:vps-1" },
      { type: "A", name: "theirs", content: "192.0.2.2", comment: "tack:vps-2" },
      { type: "A", name: "hand", content: "192.0.2.3", comment: "by hand" },
    ]);
    const d = driver();
    const changes = await converge(d, []);
    expect(changes.map((c) => [c.action, c.ref.name])).toEqual([["delete", "A mine.example.org"]]);
    expect(cf.records(ZONE).map((r) => r.name).sort()).toEqual(["hand.example.org", "theirs.example.org"]);
  });

  it("observes DNS no more often than the drift interval unless forced", async () => {
    let now = 1_000_000;
    const d = driver({ now: () => now, driftIntervalMs: 300_000 });
    await d.observe([]);
    await d.observe([]);
    now += 299_000;
    await d.observe([]);
    const lists = () => cf.log.filter((e) => e.path.endsWith("/dns_records")).length;
    expect(lists()).toBe(1);
    now += 2_000;
    await d.observe([]);
    expect(lists()).toBe(2);
    await d.observe([], { force: true });
    expect(lists()).toBe(3);
  });

  it("a 429 with a short retry-after is retried", async () => {
    const d = driver();
    cf.inject429(1, 1);
    await converge(d, [rec("a.example.org")]);
    expect(cf.log.map((e) => e.status)).toEqual([429, 200, 200, 200]);
    expect(cf.records(ZONE)).toHaveLength(1);
  });

  it("a 429 with retry-after 300 fails fast as a TransientError carrying retryAfterMs", async () => {
    const d = driver();
    cf.inject429(1, 300);
    const started = Date.now();
    const err = await d.observe([], { force: true }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).retryAfterMs).toBe(300_000);
    expect(cf.log).toHaveLength(1);
  });

  it("names the cause: bad token, missing zone, duplicate record, CNAME clash, unadopted record", async () => {
    const bad = driver({ env: { CF_TOKEN: "wrong-token" } });
    await expect(bad.observe([])).rejects.toThrow(/rejected the API token \(HTTP 403/);

    const noZone = driver({ zone: "missing.example" });
    await expect(noZone.observe([])).rejects.toThrow(UserError);
    await expect(noZone.observe([])).rejects.toThrow(/zone missing.example not found/);

    const d = driver();
    const desired = [rec("dup.example.org")];
    const changes = await planAgain(d, desired);
    // The record appears between plan and apply (someone else made it): the API answers 81057.
    cf.seed(ZONE, [{ type: "A", name: "dup", content: "203.0.113.10" }]);
    await expect(d.apply(changes)).rejects.toThrow(/already exists \(81057.*A dup\.example\.org/s);

    const clash = [rec("www.example.org")];
    const clashChanges = await planAgain(d, clash);
    cf.seed(ZONE, [{ type: "CNAME", name: "www", content: "example.org" }]);
    await expect(d.apply(clashChanges)).rejects.toThrow(/cannot share a name \(81054.*A www\.example\.org/s);

    // Planned against the current zone, both are findings instead of API errors.
    await planAgain(d, [...desired, ...clash]);
    expect(findingsOf(d).map((f) => [f.id, f.ref?.name])).toEqual([
      ["dns-conflict", "A dup.example.org"],
      ["dns-clash", "A www.example.org"],
      ["dns-unmanaged", undefined],
    ]);
  });

  it("5xx is retried, then surfaces as a TransientError; CLOUDFLARE_BASE_URL is honoured", async () => {
    const d = driver({ baseURL: undefined, env: { CF_TOKEN: TOKEN, CLOUDFLARE_BASE_URL: cf.baseURL }, maxRetries: 1 });
    cf.inject5xx(1, 502);
    await d.observe([], { force: true });
    expect(cf.log.map((e) => e.status)).toEqual([502, 200, 200]);
    cf.inject5xx(2, 503);
    await expect(d.observe([], { force: true })).rejects.toThrow(TransientError);
  });

  it("accepts 81058 for a duplicate as well (newer API revisions)", async () => {
    const cf2 = await startCloudflareEmulator({ token: TOKEN, zones: [{ name: ZONE }], duplicateCode: 81058 });
    try {
      const d = driver({ baseURL: cf2.baseURL });
      const changes = await planAgain(d, [rec("dup.example.org")]);
      cf2.seed(ZONE, [{ type: "A", name: "dup", content: "203.0.113.10" }]);
      await expect(d.apply(changes)).rejects.toThrow(/already exists \(81058/);
    } finally {
      await cf2.close();
    }
  });

  it("adopts an unmanaged record only when told to", async () => {
    cf.seed(ZONE, [{ type: "A", name: "flow", content: "203.0.113.10", proxied: false, comment: "from the UI" }]);
    const d = driver();
    expect(await planAgain(d, [rec("flow.example.org", { proxied: true })])).toEqual([]);
    expect(findingsOf(d)[0]).toMatchObject({ id: "dns-conflict", severity: "error" });
    await converge(d, [rec("flow.example.org", { proxied: true, adopt: true })]);
    expect(cf.records(ZONE)[0]).toMatchObject({ proxied: true, comment: "tack:vps-1" });
  });

  it("reads the token from a file; a missing token is a clear error without a value", () => {
    const dir = mkdtempSync(join(tmpdir(), "tack-cf-"));
    writeFileSync(join(dir, "token"), `${TOKEN}\n`);
    expect(() => driver({ token: { file: join(dir, "token") } })).not.toThrow();
    expect(() => driver({ env: {} })).toThrow(/CF_TOKEN is not set/);
    expect(() => driver({ token: { file: join(dir, "nope") } })).toThrow(/cannot read file .*nope \(ENOENT\)/);
  });

  it("the token appears in no output: logs, messages, thrown errors and their causes", async () => {
    const outputs: string[] = [];
    const d = driver({ maxRetries: 1 });
    const capture = (e: unknown) => outputs.push(inspect(e, { depth: 10 }), String(e), JSON.stringify(e));
    await converge(d, [rec("a.example.org")]).catch(capture);
    cf.inject5xx(2);
    await d.observe([], { force: true }).catch(capture);
    cf.inject429(1, 300);
    await d.observe([], { force: true }).catch(capture);
    await driver({ env: { CF_TOKEN: "bad-token-XYZ" }, maxRetries: 0 }).observe([]).catch(capture);
    await d.apply(await planAgain(d, [rec("a.example.org", { type: "TXT", name: "TXT a.example.org", content: "x" }), rec("a.example.org")])).catch(capture);
    const dup = await planAgain(d, [rec("b.example.org")]);
    cf.seed(ZONE, [{ type: "A", name: "b", content: "203.0.113.10" }]);
    await d.apply(dup).catch(capture);
    expect(outputs.length).toBeGreaterThanOrEqual(4 * 3);
    const all = [...outputs, ...logLines, inspect(d, { depth: 1 })].join("\n");
    expect(all).not.toContain(TOKEN);
    expect(all).toContain("Cloudflare");
    const e = await driver({ env: { CF_TOKEN: TOKEN }, zone: "missing.example" }).observe([]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TackError);
    expect(inspect(e, { depth: 10 })).not.toContain(TOKEN);
  });
});
