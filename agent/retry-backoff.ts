import type { AgentStatus } from "./status.js";

/**
 * When a revision could not be applied through no fault of its own (a 429 or 5xx that outlasted the retries within
 * the step, an unreachable daemon, a host problem), the agent tries the same revision again, with growing waits:
 * initial, ×2 each time, at most `maxMs`; the first success resets it. No new push is needed.
 */
export interface RetryBackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

export class RetryBackoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;

  constructor(
    private readonly schedule: (delayMs: number) => void,
    private readonly cancel: () => void,
    private readonly status: AgentStatus,
    options: RetryBackoffOptions = {},
  ) {
    this.initialMs = options.initialMs ?? 5_000;
    this.maxMs = options.maxMs ?? 300_000;
  }

  /** Schedule the next attempt; returns its delay. */
  failed(message: string, now = Date.now()): number {
    const delay = Math.min(this.initialMs * 2 ** this.attempt, this.maxMs);
    this.attempt++;
    this.schedule(delay);
    this.status.retrying({ at: new Date(now + delay).toISOString(), attempt: this.attempt + 1, message });
    return delay;
  }

  succeeded(): void {
    if (this.attempt === 0 && !this.status.fields.retry) return;
    this.attempt = 0;
    this.cancel();
    this.status.retrying(undefined);
  }
}
