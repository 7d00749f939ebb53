import Cloudflare from "cloudflare";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startCloudflareEmulator, type CloudflareEmulator } from "./emulator.js";

const TOKEN = "emulator-test-token_0123456789";
const ZONE = "example.org";

let cf: CloudflareEmulator;
let client: Cloudflare;
let zoneId: string;

beforeAll(async () => {
  cf = await startCloudflareEmulator({ token: TOKEN, zones: [{ name: ZONE }, { name: "other.net", id: "z-other" }] });
  client = new Cloudflare({ apiToken: TOKEN, baseURL: cf.baseURL, maxRetries: 2, timeout: 5_000 });
  zoneId = cf.zoneId(ZONE);
});
afterAll(() => cf.close());
afterEach(() => cf.reset());

describe("Cloudflare emulator through the real SDK", () => {
  it("finds a zone by name and by id", async () => {
    const page = await client.zones.list({ name: ZONE });
    expect(page.result.map((z) => z.name)).toEqual([ZONE]);
    expect((await client.zones.get({ zone_id: "z-other" })).name).toBe("other.net");
    expect((await client.zones.list({ name: "nope.example" })).result).toEqual([]);
  });

  it("lists every page, with result_info, and honours a large per_page", async () => {
    cf.seed(
      ZONE,
      Array.from({ length: 23 }, (_, i) => ({ type: "A", name: `h${i}`, content: `192.0.2.${i + 1}` })),
    );
    const names: string[] = [];
    for await (const r of client.dns.records.list({ zone_id: zoneId, per_page: 10 })) names.push(r.name);
    expect(names).toHaveLength(23);
    expect(names).toContain("h7.example.org");
    const big = await client.dns.records.list({ zone_id: zoneId, per_page: 5000 });
    expect(big.result).toHaveLength(23);
    expect(big.result_info).toMatchObject({ page: 1, per_page: 5000, count: 23, total_count: 23, total_pages: 1 });
  });

  it("filters by name.exact, type, proxied and comment", async () => {
    cf.seed(ZONE, [
      { type: "A", name: "api.flow", content: "203.0.113.10", proxied: false, comment: "tack:vps-1 api" },
      { type: "A", name: "flow", content: "203.0.113.10", proxied: true, comment: "tack:vps-2" },
      { type: "TXT", name: "flow", content: "hello", comment: "by hand" },
    ]);
    const list = async (q: Omit<Cloudflare.DNS.RecordListParams, "zone_id">) =>
      (await client.dns.records.list({ zone_id: zoneId, ...q })).result.map((r) => `${r.type} ${r.name}`);
    expect(await list({ name: { exact: "api.flow.example.org" } })).toEqual(["A api.flow.example.org"]);
    expect(await list({ type: "TXT" })).toEqual(["TXT flow.example.org"]);
    expect(await list({ proxied: true })).toEqual(["A flow.example.org"]);
    expect(await list({ comment: { startswith: "tack:" } })).toHaveLength(2);
    expect(await list({ comment: { contains: "hand" } })).toEqual(["TXT flow.example.org"]);
  });

  it("creates, edits (PATCH), updates (PUT) and deletes; proxied records report ttl 1", async () => {
    const created = await client.dns.records.create({
      zone_id: zoneId,
      type: "A",
      name: "api.flow",
      content: "203.0.113.10",
      ttl: 300,
      proxied: false,
    });
    expect(created).toMatchObject({ name: "api.flow.example.org", ttl: 300, proxied: false, proxiable: true });
    const proxied = await client.dns.records.edit(created.id, { zone_id: zoneId, type: "A", name: "api.flow.example.org", proxied: true, ttl: 1 });
    expect(proxied).toMatchObject({ proxied: true, ttl: 1, content: "203.0.113.10" });
    const put = await client.dns.records.update(created.id, {
      zone_id: zoneId,
      type: "A",
      name: "api.flow.example.org",
      content: "203.0.113.11",
      ttl: 120,
    });
    expect(put).toMatchObject({ proxied: false, ttl: 120, content: "203.0.113.11" });
    await client.dns.records.delete(created.id, { zone_id: zoneId });
    expect(cf.records(ZONE)).toEqual([]);
    await expect(client.dns.records.delete(created.id, { zone_id: zoneId })).rejects.toMatchObject({
      status: 404,
      errors: [expect.objectContaining({ code: 81044 })],
    });
  });

  it("applies a batch in order as one transaction", async () => {
    const [a, b] = cf.seed(ZONE, [
      { type: "A", name: "a", content: "192.0.2.1" },
      { type: "A", name: "b", content: "192.0.2.2" },
    ]);
    const out = await client.dns.records.batch({
      zone_id: zoneId,
      deletes: [{ id: a!.id }],
      patches: [{ id: b!.id, type: "A", name: "b.example.org", proxied: true } as never],
      // Re-using the deleted name proves deletes run before posts.
      posts: [{ type: "CNAME", name: "a", content: "b.example.org", ttl: 1 }],
    });
    expect(out.deletes).toHaveLength(1);
    expect(out.posts?.[0]).toMatchObject({ type: "CNAME", name: "a.example.org" });
    expect(cf.records(ZONE).map((r) => `${r.type} ${r.name} ${r.proxied}`).sort()).toEqual([
      "A b.example.org true",
      "CNAME a.example.org false",
    ]);
    // A failing post rolls the whole batch back: the delete before it does not stick.
    const before = cf.records(ZONE);
    await expect(
      client.dns.records.batch({
        zone_id: zoneId,
        deletes: [{ id: b!.id }],
        posts: [{ type: "A", name: "a", content: "192.0.2.9", ttl: 1 }],
      }),
    ).rejects.toMatchObject({ status: 400, errors: [expect.objectContaining({ code: 81054 })] });
    expect(cf.records(ZONE)).toEqual(before);
  });

  it("rejects duplicates (81057), clashes (81053), bad ttl and proxied TXT", async () => {
    cf.seed(ZONE, [{ type: "A", name: "dup", content: "192.0.2.1" }]);
    const err = await client.dns.records
      .create({ zone_id: zoneId, type: "A", name: "dup", content: "192.0.2.1", ttl: 1 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Cloudflare.APIError);
    expect((err as InstanceType<typeof Cloudflare.APIError>).errors).toEqual([expect.objectContaining({ code: 81057 })]);
    await expect(
      client.dns.records.create({ zone_id: zoneId, type: "CNAME", name: "dup", content: "x.example.net", ttl: 1 }),
    ).rejects.toMatchObject({ errors: [expect.objectContaining({ code: 81053 })] });
    await expect(
      client.dns.records.create({ zone_id: zoneId, type: "A", name: "t", content: "192.0.2.3", ttl: 30 }),
    ).rejects.toMatchObject({ errors: [expect.objectContaining({ code: 9021 })] });
    await expect(
      client.dns.records.create({ zone_id: zoneId, type: "TXT", name: "t", content: "x", ttl: 1, proxied: true } as never),
    ).rejects.toMatchObject({ status: 400 });
  });

  it("answers a wrong token with 403 and code 10000", async () => {
    const bad = new Cloudflare({ apiToken: "wrong-token", baseURL: cf.baseURL, maxRetries: 0 });
    const err = await bad.zones.list({ name: ZONE }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Cloudflare.PermissionDeniedError);
    expect((err as InstanceType<typeof Cloudflare.APIError>).errors[0]).toMatchObject({ code: 10000 });
  });

  it("a 429 with a short retry-after is retried by the SDK; 5xx too", async () => {
    cf.inject429(1, 1);
    const started = Date.now();
    const page = await client.zones.list({ name: ZONE });
    expect(page.result).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(cf.log.map((e) => e.status)).toEqual([429, 200]);
    cf.inject5xx(1);
    await client.zones.list({ name: ZONE });
    expect(cf.log.map((e) => e.status)).toEqual([429, 200, 500, 200]);
    expect(cf.log[0]).toMatchObject({ method: "GET", path: "/zones", query: { name: ZONE } });
  });
});
