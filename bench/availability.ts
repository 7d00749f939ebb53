import { startLoad, unavailability, type LoadSample } from "../sandbox/http-load.js";
import { islandflowHost, type IslandflowHost } from "../sandbox/islandflow-host.js";
import { writeResult } from "./result-file.js";
import { round } from "./stats.js";

/**
 * Availability during cutovers, inside the sandbox host: constant-rate requests to NPM's published port on
 * loopback, routed by Host header, while tack moves a scope between runtimes. Overlap (web) should lose
 * nothing; exclusive (api) has one unavailability window, between stopping the old owner and the new one
 * answering through the edge.
 */
const RATE = 40;
const SETTLE_MS = 1000;

async function underLoad(h: IslandflowHost, host: string, change: () => Promise<void>) {
  const load = startLoad({ host, path: "/health", ratePerSecond: RATE, maxMs: 180_000 });
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  await change();
  const t0 = performance.now();
  const out = await h.apply();
  const applyMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const samples = await load.stop();
  if (out.status !== "applied") throw new Error(`cutover did not apply: ${out.status} ${out.error ?? ""}`);
  return { samples, applyMs: Math.round(applyMs) };
}

function figures(samples: LoadSample[], applyMs: number) {
  const u = unavailability(samples);
  const bodies: Record<string, number> = {};
  for (const s of samples) if (s.ok && s.body) bodies[s.body] = (bodies[s.body] ?? 0) + 1;
  const errors = [...new Set(samples.filter((s) => !s.ok).map((s) => s.error ?? `HTTP ${s.status}`))].slice(0, 5);
  // The requests from the first to the last failure, by start time: . ok, x failed (what "contiguous" means here).
  const first = samples.findIndex((s) => !s.ok);
  const last = samples.length - 1 - [...samples].reverse().findIndex((s) => !s.ok);
  const window = first < 0 ? "" : samples.slice(first, last + 1).map((s) => (s.ok ? "." : "x")).join("");
  return { requests: samples.length, failed: u.failed, unavailabilityMs: u.windowMs, contiguous: u.contiguous, window, applyMs, answeredBy: bodies, errors };
}

const h = await islandflowHost();
try {
  const base = await h.apply();
  if (base.status !== "applied") throw new Error(`baseline did not converge: ${base.status} ${base.error ?? ""}`);
  const overlap = [];
  for (const owner of ["native", "docker"] as const) {
    const r = await underLoad(h, "flow.example.org", () => h.setOwners({ web: owner }));
    overlap.push({ cutover: owner === "native" ? "web docker → native" : "web native → docker", ...figures(r.samples, r.applyMs) });
  }
  const exclusive = [];
  for (const owner of ["native", "docker"] as const) {
    const r = await underLoad(h, "api.flow.example.org", () => h.setOwners({ api: owner }));
    exclusive.push({ cutover: owner === "native" ? "api docker → native" : "api native → docker", ...figures(r.samples, r.applyMs) });
  }
  await writeResult("availability", {
    ratePerSecond: RATE,
    note: "requests to NPM's published port 80 on the sandbox's loopback, Host header routed; window = first failure to first success after the last failure",
    overlap,
    exclusive,
    summary: {
      overlapFailed: overlap.map((o) => o.failed),
      exclusiveWindowMs: exclusive.map((e) => e.unavailabilityMs),
      exclusiveWindowShareOfApply: exclusive.map((e) => round(e.unavailabilityMs / e.applyMs, 2)),
    },
  });
} finally {
  await h.close();
}
