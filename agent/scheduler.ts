import { SingleFlight } from "./single-flight.js";

/** Why a reconcile runs. */
export type Trigger = "start" | "poll" | "webhook" | "source" | "drift" | "resume" | "rollback" | "retry";

export interface EveryOptions {
  /** Checked at each tick: when false, the tick is skipped (and the next one scheduled). */
  when?: () => boolean;
  /** True: tick on its own clock (polls). False: the next wait starts when the reconcile asked for is done. */
  fixedRate: boolean;
}

/**
 * When the agent reconciles: triggers (start, webhook, watchers, timers) go through one SingleFlight, so one
 * reconcile runs at a time and a burst of triggers yields one more. Owns every timer, so stopping clears them all.
 */
export class Scheduler {
  private readonly flight: SingleFlight<Trigger>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Map<Trigger, NodeJS.Timeout>();
  private stoppingNow = false;

  constructor(work: (reasons: Set<Trigger>) => Promise<void>, onCrash: (err: unknown) => void) {
    this.flight = new SingleFlight<Trigger>(work, onCrash);
  }

  get stopping(): boolean {
    return this.stoppingNow;
  }

  /** Ask for a reconcile; resolves when one that started after the call has finished. */
  trigger(reason: Trigger): Promise<void> {
    return this.flight.trigger(reason);
  }

  /** A trigger for a burst of events (file watchers): fires once, `delayMs` after the last call. */
  debounced(reason: Trigger, delayMs: number): () => void {
    let t: NodeJS.Timeout | undefined;
    return () => {
      if (this.stoppingNow) return;
      if (t) clearTimeout(t);
      t = setTimeout(() => {
        if (t) this.timers.delete(t);
        void this.flight.trigger(reason);
      }, delayMs);
      this.timers.add(t);
    };
  }

  /** One reconcile `delayMs` from now; asking again replaces the pending one of the same key. */
  once(reason: Trigger, delayMs: number): void {
    if (this.stoppingNow) return;
    this.cancel(reason);
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.pending.delete(reason);
      void this.flight.trigger(reason);
    }, delayMs);
    this.timers.add(t);
    this.pending.set(reason, t);
  }

  cancel(reason: Trigger): void {
    const t = this.pending.get(reason);
    if (!t) return;
    clearTimeout(t);
    this.timers.delete(t);
    this.pending.delete(reason);
  }

  /**
   * Polls tick on their own clock (a busy loop coalesces them), so a new commit waits at most one interval;
   * drift checks wait for the reconcile they asked for, so a slow observation never runs back to back.
   */
  every(reason: Trigger, intervalMs: () => number, o: EveryOptions): void {
    const tick = () => {
      if (this.stoppingNow) return;
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (o.when && !o.when()) return tick();
        const done = this.flight.trigger(reason);
        if (o.fixedRate) tick();
        else void done.finally(tick);
      }, intervalMs());
      this.timers.add(t);
    };
    tick();
  }

  /**
   * Take no more triggers or ticks; `interrupt` runs once the timers are cleared (it aborts the current step,
   * which the executor then rolls back); resolves when the current reconcile has finished.
   */
  async stop(interrupt: () => void): Promise<void> {
    this.stoppingNow = true;
    this.clearTimers();
    interrupt();
    await this.flight.close();
  }

  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
  }
}
