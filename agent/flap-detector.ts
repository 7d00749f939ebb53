/**
 * A resource that drifts back again and again (another tool, a cron job, a person fighting tack) must not be
 * corrected forever: after `limit` corrections within `windowMs` it is flapping, no longer corrected, and
 * reported instead. It stays flapping until it has gone a whole window without a correction attempt.
 */
export interface FlapOptions {
  limit: number;
  windowMs: number;
}

export const DEFAULT_FLAP: FlapOptions = { limit: 3, windowMs: 10 * 60_000 };

export interface FlappingResource {
  ref: string;
  corrections: number;
  since: string;
}

export class FlapDetector {
  private readonly history = new Map<string, number[]>();

  constructor(private readonly options: FlapOptions = DEFAULT_FLAP) {}

  private recent(ref: string, now: number): number[] {
    const kept = (this.history.get(ref) ?? []).filter((t) => now - t < this.options.windowMs);
    if (kept.length) this.history.set(ref, kept);
    else this.history.delete(ref);
    return kept;
  }

  /** True when the resource was already corrected `limit` times in the window: do not correct it again. */
  isFlapping(ref: string, now = Date.now()): boolean {
    return this.recent(ref, now).length >= this.options.limit;
  }

  recordCorrection(ref: string, now = Date.now()): void {
    this.history.set(ref, [...this.recent(ref, now), now]);
  }

  flapping(now = Date.now()): FlappingResource[] {
    const out: FlappingResource[] = [];
    for (const ref of [...this.history.keys()]) {
      const times = this.recent(ref, now);
      if (times.length >= this.options.limit) out.push({ ref, corrections: times.length, since: new Date(times[0]!).toISOString() });
    }
    return out.sort((a, b) => a.ref.localeCompare(b.ref));
  }
}
