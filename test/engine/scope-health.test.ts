import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResolvedHost, ResolvedScope } from "../../core/resources.js";
import { ExecaRunner } from "../../core/runner.js";
import { probeScopeHealth } from "../../engine/health/scope-health.js";

/** Health between cutovers: http checks hit the endpoint, state checks read what the drift check observed. */
const server = createServer((req, res) => {
  res.statusCode = req.url === "/health" ? 200 : 503;
  res.end();
});
let base = "";
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const timing = { timeoutMs: 1000, intervalMs: 100 };
function scope(name: string, owner: ResolvedScope["owner"], native: ResolvedScope["native"], docker?: ResolvedScope["docker"]): ResolvedScope {
  return { name, owner, handoff: "overlap", after: [], ...(native ? { native } : {}), ...(docker ? { docker } : {}) };
}

describe("probeScopeHealth", () => {
  it("probes the declared owner of each scope once; a scope owned by none is left out; state checks spawn nothing", async () => {
    const host = {
      scopes: [
        scope("web", "native", { resources: ["web.service"], systemdScope: "user", health: { type: "http", url: `${base}/health`, ...timing } }),
        scope("api", "native", { resources: ["api.service"], systemdScope: "user", health: { type: "http", url: `${base}/down`, ...timing } }),
        scope("worker", "docker", undefined, { resources: ["p/worker"], health: { type: "state", ...timing } }),
        scope("jobs", "native", { resources: ["jobs.service"], systemdScope: "user", health: { type: "state", ...timing } }),
        scope("old", "none", { resources: ["old.service"], systemdScope: "user", health: { type: "http", url: `${base}/health`, ...timing } }),
      ],
    } as unknown as ResolvedHost;
    // As observed by the drift check, in the kinds' own shapes (kinds/*/kind.ts decide what "serving" means).
    const observed = {
      "systemd.unit": { resources: new Map<string, unknown>([["jobs.service", { activeState: "failed", subState: "failed" }]]), facts: {} },
      "compose.service": { resources: new Map<string, unknown>([["p/worker", { containers: [{ state: "running", health: undefined }] }]]), facts: {} },
    };
    const runner = new ExecaRunner();
    const r = await probeScopeHealth(host, observed, runner);
    expect([...r.keys()].sort()).toEqual(["api", "jobs", "web", "worker"]);
    expect(r.get("web")).toMatchObject({ ok: true, detail: "HTTP 200" });
    expect(r.get("api")).toMatchObject({ ok: false, detail: expect.stringMatching(/HTTP 503/) });
    expect(r.get("worker")).toMatchObject({ ok: true, detail: "p/worker serving" });
    expect(r.get("jobs")).toMatchObject({ ok: false, detail: "jobs.service not serving" });
    expect(runner.history).toHaveLength(0);
  });
});
