import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad, unavailability } from "../../sandbox/http-load.js";
import { islandflowHost, type IslandflowHost } from "../../sandbox/islandflow-host.js";

/** Run-length summary of what the load saw, for failure messages: `12× islandflow api docker, 3× 502, ...`. */
function runs(samples: { ok: boolean; body?: string; status?: number; error?: string }[]): string {
  const out: string[] = [];
  let last = "";
  let n = 0;
  for (const s of samples) {
    const k = s.ok ? (s.body ?? "") : (s.error ?? `HTTP ${s.status}`);
    if (k === last) n++;
    else {
      if (n) out.push(`${n}× ${last}`);
      last = k;
      n = 1;
    }
  }
  if (n) out.push(`${n}× ${last}`);
  return out.join(", ");
}

describe("availability during cutovers, under constant load through NPM", () => {
  let h: IslandflowHost;
  beforeAll(async () => {
    h = await islandflowHost();
    const base = await h.apply();
    expect(base.status, base.error).toBe("applied");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("overlap (web): zero failed requests while it moves docker → native and back", async () => {
    for (const owner of ["native", "docker"] as const) {
      const load = startLoad({ host: "flow.example.org", path: "/health", ratePerSecond: 40, maxMs: 120_000 });
      await new Promise((r) => setTimeout(r, 500));
      await h.setOwners({ web: owner });
      const out = await h.apply();
      await new Promise((r) => setTimeout(r, 500));
      const samples = await load.stop();
      expect(out.status, out.error).toBe("applied");
      const bodies = new Set(samples.map((s) => s.body));
      expect(bodies).toContain(`islandflow web ${owner}`); // the load really saw the switch
      const failed = samples.filter((s) => !s.ok);
      expect(failed, JSON.stringify(failed.slice(0, 3))).toEqual([]);
      console.log(`overlap web → ${owner}: ${samples.length} requests, 0 failed`);
    }
  });

  it("exclusive (api): docker until the stop, one unavailability window, then native only", async () => {
    const load = startLoad({ host: "api.flow.example.org", path: "/health", ratePerSecond: 40, maxMs: 120_000 });
    await new Promise((r) => setTimeout(r, 500));
    await h.setOwners({ api: "native" });
    const out = await h.apply();
    await new Promise((r) => setTimeout(r, 1000));
    const samples = await load.stop();
    expect(out.status, out.error).toBe("applied");
    const u = unavailability(samples);
    // Break-before-make: docker answers, then a gap (stop → start → gate → edge switch), then native answers.
    // A request accepted by an old nginx worker during the reload may still time out just after the switch,
    // so the gap is measured from its first failure to the first success after its last one.
    const firstFail = samples.findIndex((s) => !s.ok);
    expect(firstFail, runs(samples)).toBeGreaterThan(0);
    expect(samples.slice(0, firstFail).every((s) => s.body === "islandflow api docker"), runs(samples)).toBe(true);
    expect(samples.slice(-10).every((s) => s.ok && s.body === "islandflow api native"), runs(samples)).toBe(true);
    // Never both: no answer from docker once native has answered.
    const firstNative = samples.findIndex((s) => s.body === "islandflow api native");
    expect(samples.slice(firstNative).some((s) => s.body === "islandflow api docker")).toBe(false);
    console.log(`exclusive api → native: ${samples.length} requests, ${u.failed} failed, unavailability window ${u.windowMs} ms: ${runs(samples)}`);
  });
});
