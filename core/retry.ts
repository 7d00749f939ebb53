import pRetry from "p-retry";
import { setTimeout as sleep } from "node:timers/promises";
import { causeChain, TransientError } from "./errors.js";

/**
 * Retry what failed transiently (a 429, a 5xx, an unreachable daemon), with exponential backoff and honouring the
 * server's retry-after, within a time budget; anything else fails at once. When the budget is spent the last
 * TransientError is thrown: the run ends "failed: transient" and the revision is tried again later, not condemned.
 */
export interface RetryBudget {
  /** Total time allowed for retries (default: TACK_RETRY_BUDGET_MS, else 60 s). */
  budgetMs?: number;
  /** First backoff delay (doubles each attempt). */
  minDelayMs?: number;
  /** Retry only these transient errors (e.g. a non-idempotent call: only what the server refused before acting). */
  retryIf?: (error: TransientError) => boolean;
}

export function defaultRetryBudgetMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.TACK_RETRY_BUDGET_MS);
  return Number.isFinite(v) && v >= 0 && env.TACK_RETRY_BUDGET_MS !== "" && env.TACK_RETRY_BUDGET_MS !== undefined ? v : 60_000;
}

export async function retryTransient<T>(fn: () => Promise<T>, budget: RetryBudget = {}): Promise<T> {
  const budgetMs = budget.budgetMs ?? defaultRetryBudgetMs();
  const started = Date.now();
  const worthRetrying = (error: Error) => {
    const t = transientIn(error);
    return t !== undefined && (budget.retryIf?.(t) ?? true) && Date.now() - started + (t.retryAfterMs ?? 0) < budgetMs;
  };
  return pRetry(fn, {
    retries: 20,
    factor: 2,
    minTimeout: budget.minDelayMs ?? 500,
    maxTimeout: 15_000,
    maxRetryTime: budgetMs,
    // A retry-after the budget cannot wait for is not retried here: the run ends transient and retries later.
    shouldRetry: ({ error }) => worthRetrying(error),
    onFailedAttempt: async ({ error }) => {
      const wait = transientIn(error)?.retryAfterMs;
      if (wait && worthRetrying(error)) await sleep(wait);
    },
  });
}

/** The TransientError in an error's cause chain (a driver's ApplyError wraps the failure that caused it). */
function transientIn(error: unknown): TransientError | undefined {
  for (const e of causeChain(error)) if (e instanceof TransientError) return e;
  return undefined;
}
