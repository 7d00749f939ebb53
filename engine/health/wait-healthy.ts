import { TackError } from "../../core/errors.js";
import type { HealthCheck } from "../../core/resources.js";
import { probe, type ProbeContext, type ProbeResult } from "../../core/probe.js";

/** What a health gate saw: the verdict, how many probes ran, and the last one. */
export interface HealthEvidence {
  healthy: boolean;
  attempts: number;
  elapsedMs: number;
  last: ProbeResult;
}

export interface WaitOptions extends ProbeContext {
  /** Defaults: the check's own timeout and interval. */
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * The wait before retry n (1-based): 50 ms, doubling, up to the check's interval. A freshly started service is
 * often ready within a few hundred ms; the first retry a whole interval (1 s by default) later made every gate of
 * a cutover cost at least that (a settle wait hid it before).
 */
export function retryDelay(attempt: number, intervalMs: number): number {
  return Math.min(intervalMs, FIRST_RETRY_MS * 2 ** Math.min(attempt - 1, 10));
}

const FIRST_RETRY_MS = 50;

/** Probe until one passes or the timeout elapses; never throws, returns the evidence either way. */
export async function waitHealthy(check: HealthCheck, options: WaitOptions = {}): Promise<HealthEvidence> {
  const timeoutMs = options.timeoutMs ?? check.timeoutMs;
  const intervalMs = options.intervalMs ?? check.intervalMs;
  const started = performance.now();
  const deadline = started + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    const last = await probe(check, options);
    const elapsedMs = Math.round(performance.now() - started);
    if (last.ok) return { healthy: true, attempts, elapsedMs, last };
    const wait = Math.min(retryDelay(attempts, intervalMs), deadline - performance.now());
    if (wait <= 0) return { healthy: false, attempts, elapsedMs, last };
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** A gate that did not pass in time, with what it saw and what the runtime said (state, log lines). */
export class HealthTimeoutError extends TackError {
  readonly evidence: HealthEvidence;
  readonly state: string[];
  readonly logs: string[];
  constructor(what: string, evidence: HealthEvidence, details: { state?: string[]; logs?: string[] } = {}) {
    const state = details.state ?? [];
    const logs = details.logs ?? [];
    super(
      `${what} not healthy after ${evidence.elapsedMs} ms (${evidence.attempts} probe(s)); last probe: ${evidence.last.detail}` +
        (state.length ? `\n  state: ${state.join("; ")}` : "") +
        (logs.length ? `\n  last log lines:\n    ${logs.slice(-15).join("\n    ")}` : ""),
    );
    this.evidence = evidence;
    this.state = state;
    this.logs = logs;
  }
}

export function describeCheck(check: HealthCheck): string {
  if (check.type === "http") return `GET ${check.url}`;
  if (check.type === "command") return check.command.join(" ");
  return "runtime state";
}
