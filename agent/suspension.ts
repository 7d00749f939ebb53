import { parseDuration } from "../desired-state/durations.js";
import { UserError } from "../core/errors.js";

/**
 * Break-glass: while suspended, the agent applies nothing (it still observes and exports metrics). Stored in
 * the journal's kv under SUSPENSION_KEY so it survives restarts; it ends by itself at `until`.
 */
export interface Suspension {
  until: string;
  reason: string;
  by: string;
  at: string;
}

export const SUSPENSION_KEY = "daemon:suspension";

export interface KvStore {
  get(key: string): string | undefined;
  set(key: string, value: string | undefined): void;
}

export function makeSuspension(forText: string, reason: string, by: string, now = Date.now()): Suspension {
  const ms = parseDuration(forText);
  if (ms === undefined) throw new UserError(`--for ${forText}: not a duration (e.g. 30m, 2h, 1h30m)`);
  if (ms <= 0) throw new UserError(`--for ${forText}: a suspension must last longer than 0s (to end one now, use tack resume)`);
  if (!reason.trim()) throw new UserError("--reason is required: say why the agent is suspended");
  return { until: new Date(now + ms).toISOString(), reason: reason.trim(), by, at: new Date(now).toISOString() };
}

/** The suspension in force at `now`, if any; an expired one reads as none. */
export function activeSuspension(s: Suspension | undefined, now = Date.now()): Suspension | undefined {
  if (!s) return undefined;
  return Date.parse(s.until) > now ? s : undefined;
}

export function readSuspension(kv: KvStore, now = Date.now()): Suspension | undefined {
  const raw = kv.get(SUSPENSION_KEY);
  if (!raw) return undefined;
  try {
    return activeSuspension(JSON.parse(raw) as Suspension, now);
  } catch {
    return undefined;
  }
}

export function writeSuspension(kv: KvStore, s: Suspension | undefined): void {
  kv.set(SUSPENSION_KEY, s ? JSON.stringify(s) : undefined);
}
