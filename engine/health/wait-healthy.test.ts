import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecaRunner } from "../../core/runner.js";
import { probe } from "../../core/probe.js";
import { HealthTimeoutError, retryDelay, waitHealthy } from "./wait-healthy.js";

let server: Server;
let base = "";
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === "/ok") return void res.writeHead(200).end("ok");
    if (req.url === "/teapot") return void res.writeHead(418).end();
    if (req.url === "/slow") return void setTimeout(() => res.writeHead(200).end(), 2_000);
    if (req.url === "/third") return void res.writeHead(hits >= 3 ? 200 : 503).end();
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const http = (path: string, extra: { expectStatus?: number; timeoutMs?: number } = {}) =>
  ({ type: "http", url: base + path, timeoutMs: extra.timeoutMs ?? 2_000, intervalMs: 50, ...(extra.expectStatus ? { expectStatus: extra.expectStatus } : {}) }) as const;

describe("probe", () => {
  it("http: 2xx passes, 500 fails, expectStatus overrides", async () => {
    expect((await probe(http("/ok"))).ok).toBe(true);
    const bad = await probe(http("/boom"));
    expect(bad).toMatchObject({ ok: false, detail: "HTTP 500 (want 2xx)" });
    expect((await probe(http("/teapot", { expectStatus: 418 }))).ok).toBe(true);
  });

  it("http: a refused connection and a slow answer are failures with a reason", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const refused = await probe({ type: "http", url: `http://127.0.0.1:${port}/`, timeoutMs: 1_000, intervalMs: 50 });
    expect(refused.ok).toBe(false);
    expect(refused.detail).toMatch(/ECONNREFUSED/);
    const slow = await probe(http("/slow"), { requestTimeoutMs: 200 });
    expect(slow).toMatchObject({ ok: false, detail: expect.stringMatching(/no answer within 200 ms/) });
    expect(slow.durationMs).toBeLessThan(1_500);
  });

  it("command: exit 0 passes, non-zero fails with its stderr", async () => {
    const runner = new ExecaRunner();
    expect((await probe({ type: "command", command: ["true"], timeoutMs: 1_000, intervalMs: 50 }, { runner })).ok).toBe(true);
    const bad = await probe({ type: "command", command: ["sh", "-c", "echo nope >&2; exit 3"], timeoutMs: 1_000, intervalMs: 50 }, { runner });
    expect(bad).toMatchObject({ ok: false, detail: "exit 3: nope" });
  });

  it("state: asks the runtime, and fails without one", async () => {
    const check = { type: "state", timeoutMs: 1_000, intervalMs: 50 } as const;
    expect((await probe(check, { state: async () => ({ ok: true, detail: "running" }) })).ok).toBe(true);
    expect((await probe(check)).ok).toBe(false);
  });
});

describe("waitHealthy", () => {
  it("retries until a probe passes", async () => {
    hits = 0;
    const ev = await waitHealthy(http("/third"));
    expect(ev.healthy).toBe(true);
    expect(ev.attempts).toBe(3);
  });

  it("retries sooner than the interval at first: 50 ms, doubling up to it", async () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelay(n, 1_000))).toEqual([50, 100, 200, 400, 800, 1_000, 1_000]);
    expect(retryDelay(1, 20)).toBe(20);
    // With a 10 s interval, four probes end in well under one interval.
    let calls = 0;
    const ev = await waitHealthy({ type: "state", timeoutMs: 60_000, intervalMs: 10_000 }, { state: async () => ({ ok: ++calls >= 4, detail: `call ${calls}` }) });
    expect(ev).toMatchObject({ healthy: true, attempts: 4 });
  });

  it("returns the evidence on timeout", async () => {
    const ev = await waitHealthy(http("/boom"), { timeoutMs: 300, intervalMs: 50 });
    expect(ev.healthy).toBe(false);
    expect(ev.attempts).toBeGreaterThanOrEqual(3);
    expect(ev.elapsedMs).toBeGreaterThanOrEqual(250);
    expect(ev.last.detail).toBe("HTTP 500 (want 2xx)");
    const err = new HealthTimeoutError("scope api on docker", ev, { state: ["api is exited"], logs: ["boom"] });
    expect(err.message).toMatch(/scope api on docker not healthy after \d+ ms .*last probe: HTTP 500/);
    expect(err.message).toMatch(/state: api is exited/);
    expect(err.message).toMatch(/boom/);
  });
});
