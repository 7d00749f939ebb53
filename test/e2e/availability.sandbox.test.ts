import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad, unavailability } from "./http-load.js";
import { islandflowHost, type IslandflowHost } from "./islandflow-host.js";

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

  it("exclusive (api): one unavailability window between stop and the edge switch, then all succeed", async () => {
    const load = startLoad({ host: "api.flow.example.org", path: "/health", ratePerSecond: 40, maxMs: 120_000 });
    await new Promise((r) => setTimeout(r, 500));
    await h.setOwners({ api: "native" });
    const out = await h.apply();
    await new Promise((r) => setTimeout(r, 1000));
    const samples = await load.stop();
    expect(out.status, out.error).toBe("applied");
    const u = unavailability(samples);
    expect(u.contiguous).toBe(true); // break-before-make: one gap, no flapping between owners
    expect(samples.at(-1)).toMatchObject({ ok: true, body: "islandflow api native" });
    // Never both: no answer from docker once native has answered.
    const firstNative = samples.findIndex((s) => s.body === "islandflow api native");
    expect(samples.slice(firstNative).some((s) => s.body === "islandflow api docker")).toBe(false);
    console.log(`exclusive api → native: ${samples.length} requests, ${u.failed} failed, unavailability window ${u.windowMs} ms`);
  });
});
