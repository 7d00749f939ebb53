import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadDesiredState } from "../desired-state/index.js";
import { generateRepo, SIZES, writeRepo } from "./generate-repo.js";
import { percentile, summarize } from "./stats.js";

const facts = { hostname: "bench", npmBridgeGateway: "172.18.0.1", npmBridgeSubnet: "172.18.0.0/16" };
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("bench repo generator", () => {
  for (const key of ["b", "c"] as const) {
    it(`size ${key} is a valid desired state with exactly the counts it claims`, { timeout: 60_000 }, async () => {
      const size = SIZES[key];
      const dir = await mkdtemp(path.join(tmpdir(), `tack-bench-${key}-`));
      dirs.push(dir);
      await writeRepo(dir, generateRepo({ size, npmDataDir: "/srv/npm/data", dataRoot: "/srv/bench" }));
      const r = await loadDesiredState(dir, { facts });
      expect(r.findings.filter((f) => f.severity === "error")).toEqual([]);
      const res = r.resolved!.resources;
      expect(res["npm.proxyHost"]).toHaveLength(size.proxyHosts);
      // Every native scope's bridge path is declared with the spec tack would derive: no extra derived rule.
      expect(res["ufw.rule"]).toHaveLength(size.ufwRules);
      expect(res["cloudflare.record"]).toHaveLength(size.dnsRecords);
      expect(res["systemd.unit"]).toHaveLength(size.scopes - size.dockerScopes);
      expect(res["compose.service"]).toHaveLength(size.dockerScopes);
    });
  }

  it("size c extends size b: every scope, proxy host, rule and record of b is in c, unchanged", () => {
    const o = { npmDataDir: "/d", dataRoot: "/r" };
    const lines = (k: "b" | "c") => new Set(generateRepo({ ...o, size: SIZES[k] }).get("tack.yaml")!.split("\n").filter((l) => l.trimStart().startsWith("- {")));
    const c = lines("c");
    const missing = [...lines("b")].filter((l) => !c.has(l));
    expect(missing).toEqual([]);
    const units = (k: "b" | "c") => [...generateRepo({ ...o, size: SIZES[k] })].filter(([p]) => p.startsWith("units/"));
    const cUnits = new Map(units("c"));
    for (const [p, content] of units("b")) expect(cUnits.get(p)).toBe(content);
  });
});

describe("bench statistics", () => {
  it("nearest-rank percentiles", () => {
    const v = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(v, 50)).toBe(5);
    expect(percentile(v, 95)).toBe(10);
    expect(summarize(v)).toMatchObject({ runs: 10, median: 5, p95: 10, min: 1, max: 10 });
  });
});
