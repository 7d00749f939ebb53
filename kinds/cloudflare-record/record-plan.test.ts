import { describe, expect, it } from "vitest";
import type { DesiredDnsRecord } from "../../core/resources.js";
import { batchOps, chunk, diffRecord, indexRecords, markerHost, planRecords, type ObservedDnsRecord } from "./record-plan.js";

const HOST = "vps-1";

function want(fqdn: string, over: Partial<DesiredDnsRecord> = {}): DesiredDnsRecord {
  const type = over.type ?? "A";
  return {
    kind: "cloudflare.record",
    name: `${type} ${fqdn}`,
    zone: "example.org",
    type,
    fqdn,
    content: "203.0.113.10",
    comment: `tack:${HOST}`,
    adopt: false,
    acknowledge: [],
    ...over,
  };
}

function seen(fqdn: string, over: Partial<ObservedDnsRecord> = {}): ObservedDnsRecord {
  return { id: `id-${fqdn}-${over.type ?? "A"}`, type: "A", name: fqdn, content: "203.0.113.10", ttl: 1, proxied: false, comment: `tack:${HOST}`, ...over };
}

const plan = (d: DesiredDnsRecord[], a: ObservedDnsRecord[]) => planRecords(d, indexRecords(a, d, HOST), HOST);

describe("markerHost", () => {
  it("reads the host of a tack marker, not a prefix of another host", () => {
    expect(markerHost("tack:vps-1 api record")).toBe("vps-1");
    expect(markerHost("tack:vps-10")).toBe("vps-10");
    expect(markerHost("by hand")).toBeUndefined();
    expect(markerHost(null)).toBeUndefined();
  });
});

describe("diffRecord", () => {
  it("ignores ttl on proxied records and compares it on DNS-only ones", () => {
    expect(diffRecord(want("a.example.org", { proxied: true, ttl: 300 }), seen("a.example.org", { proxied: true, ttl: 1 }))).toEqual([]);
    expect(diffRecord(want("a.example.org", { proxied: false, ttl: 300 }), seen("a.example.org", { ttl: 1 }))).toEqual([
      { field: "ttl", from: 1, to: 300 },
    ]);
  });
  it("leaves undeclared fields alone and compares CNAME targets without case or trailing dot", () => {
    expect(diffRecord(want("a.example.org"), seen("a.example.org", { ttl: 3600, proxied: true }))).toEqual([]);
    expect(
      diffRecord(want("w.example.org", { type: "CNAME", content: "Target.example.net." }), seen("w.example.org", { type: "CNAME", content: "target.example.net" })),
    ).toEqual([]);
  });
});

describe("planRecords", () => {
  it("creates, flips proxied and deletes what this host owns", () => {
    const p = plan(
      [want("new.example.org"), want("api.flow.example.org", { proxied: true })],
      [seen("api.flow.example.org"), seen("old.example.org")],
    );
    expect(p.findings).toEqual([]);
    expect(p.changes.map((c) => [c.action, c.ref.name, c.risk])).toEqual([
      ["delete", "A old.example.org", "destructive"],
      ["create", "A new.example.org", "safe"],
      ["update", "A api.flow.example.org", "disruptive"],
    ]);
    expect(p.changes[2]!.fields).toEqual([{ field: "proxied", from: false, to: true }]);
  });

  it("never touches another host's records, reports unmanaged ones, and needs adopt for a same-name record", () => {
    const others = [seen("x.example.org", { comment: "tack:vps-2" }), seen("hand.example.org", { comment: "made by hand" })];
    const p = plan([], others);
    expect(p.changes).toEqual([]);
    expect(p.unmanaged.map((r) => r.name)).toEqual(["hand.example.org"]);

    const conflict = plan([want("hand.example.org"), want("x.example.org")], others);
    expect(conflict.changes).toEqual([]);
    expect(conflict.findings.map((f) => [f.id, f.severity, f.ref?.name])).toEqual([
      ["dns-conflict", "error", "A hand.example.org"],
      ["dns-conflict", "error", "A x.example.org"],
    ]);
    expect(conflict.findings[1]!.message).toContain("vps-2");

    const adopted = plan([want("hand.example.org", { adopt: true, comment: "tack:vps-1 web" })], others);
    expect(adopted.changes).toHaveLength(1);
    expect(adopted.changes[0]!.fields).toEqual([{ field: "comment", from: "made by hand", to: "tack:vps-1 web" }]);
    expect(adopted.changes[0]!.reason).toMatch(/^adopt/);
  });

  it("reports a CNAME clash unless tack deletes the other record in the same plan", () => {
    const cname = seen("www.example.org", { type: "CNAME", content: "example.org", comment: "by hand" });
    const p = plan([want("www.example.org")], [cname]);
    expect(p.findings.map((f) => f.id)).toEqual(["dns-clash"]);
    const mine = plan([want("www.example.org")], [{ ...cname, comment: `tack:${HOST}` }]);
    expect(mine.findings).toEqual([]);
    expect(mine.changes.map((c) => c.action)).toEqual(["delete", "create"]);
  });

  it("refuses a proxied TXT and a bad ttl up front", () => {
    const p = plan([want("t.example.org", { type: "TXT", proxied: true }), want("u.example.org", { ttl: 30 })], []);
    expect(p.changes).toEqual([]);
    expect(p.findings.map((f) => f.id)).toEqual(["dns-invalid", "dns-invalid"]);
  });

  it("is empty when the zone matches", () => {
    expect(plan([want("a.example.org", { proxied: true, ttl: 120 })], [seen("a.example.org", { proxied: true })]).changes).toEqual([]);
  });

  it("deletes an owned duplicate of a declared record", () => {
    const p = plan([want("a.example.org")], [seen("a.example.org"), seen("a.example.org", { id: "dup", content: "192.0.2.1" })]);
    expect(p.changes.map((c) => [c.action, c.actual?.id])).toEqual([["delete", "dup"]]);
  });
});

describe("batchOps", () => {
  it("orders deletes, patches, posts, sends only declared fields, and chunks", () => {
    const p = plan(
      [want("new.example.org", { proxied: true, ttl: 300 }), want("api.example.org", { proxied: false })],
      [seen("api.example.org", { proxied: true }), seen("old.example.org")],
    );
    const ops = batchOps(p.changes);
    expect(ops.map((o) => o.kind)).toEqual(["deletes", "patches", "posts"]);
    expect(ops[1]!.body).toEqual({ id: "id-api.example.org-A", type: "A", name: "api.example.org", content: "203.0.113.10", proxied: false, comment: "tack:vps-1" });
    expect(ops[2]!.body).toMatchObject({ ttl: 1, proxied: true });
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});
