import { CommandError, errorMessage } from "./errors.js";
import type { HealthCheck } from "./resources.js";
import type { Runner } from "./runner.js";

/**
 * One health probe: http (2xx or the expected status, each request bounded by its own timeout), command
 * (exit 0), or state (the runtime's own view: unit active, container running and healthy when it has a
 * health check). A probe never throws: a failure is a result with the reason, kept as evidence.
 */
export interface ProbeResult {
  ok: boolean;
  /** One line: `HTTP 200`, `connect ECONNREFUSED 127.0.0.1:4000`, `exit 1: ...`, `app.service is failed/failed`. */
  detail: string;
  at: string;
  durationMs: number;
}

/** The runtime's state, asked by the state probe (the handoff supplies one from the drivers). */
export type StateProbe = () => Promise<{ ok: boolean; detail: string }>;

export interface ProbeContext {
  runner?: Runner;
  state?: StateProbe;
  /** Per-request timeout of an http probe (default: min(check interval, 5 s), at least 1 s). */
  requestTimeoutMs?: number;
}

export async function probe(check: HealthCheck, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const started = performance.now();
  const at = new Date().toISOString();
  let outcome: { ok: boolean; detail: string };
  try {
    outcome = await probeOnce(check, ctx);
  } catch (err) {
    outcome = { ok: false, detail: errorMessage(err).split("\n")[0] ?? "probe failed" };
  }
  return { ...outcome, at, durationMs: Math.round(performance.now() - started) };
}

async function probeOnce(check: HealthCheck, ctx: ProbeContext): Promise<{ ok: boolean; detail: string }> {
  switch (check.type) {
    case "http":
      return probeHttp(check.url, ctx.requestTimeoutMs ?? Math.max(1_000, Math.min(check.intervalMs, 5_000)), check.expectStatus);
    case "command": {
      if (!ctx.runner) return { ok: false, detail: "no runner for a command probe" };
      const [file, ...args] = check.command;
      if (!file) return { ok: false, detail: "empty health command" };
      try {
        await ctx.runner.run(file, args, { timeoutMs: Math.max(1_000, Math.min(check.intervalMs * 5, check.timeoutMs)) });
        return { ok: true, detail: "exit 0" };
      } catch (err) {
        if (err instanceof CommandError) return { ok: false, detail: `exit ${err.exitCode ?? "signal"}: ${err.stderr.trim().split("\n").pop() ?? ""}`.trim() };
        throw err;
      }
    }
    case "state":
      if (!ctx.state) return { ok: false, detail: "no state probe for this runtime" };
      return ctx.state();
  }
}

export async function probeHttp(url: string, timeoutMs: number, expectStatus?: number): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    await res.body?.cancel().catch(() => undefined);
    const ok = expectStatus === undefined ? res.status >= 200 && res.status < 300 : res.status === expectStatus;
    return { ok, detail: `HTTP ${res.status}${ok ? "" : expectStatus === undefined ? " (want 2xx)" : ` (want ${expectStatus})`}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === "TimeoutError") return { ok: false, detail: `no answer within ${timeoutMs} ms from ${url}` };
    return { ok: false, detail: `${e.cause?.message ?? e.message} (${url})` };
  }
}
