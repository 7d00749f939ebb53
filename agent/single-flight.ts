/**
 * Triggers coalesce: at most one reconcile runs at a time; triggers that arrive while it runs set a dirty flag
 * and their reasons are merged, so a burst of pushes yields one more reconcile (of the newest revision), not
 * one per push.
 */
export class SingleFlight<R extends string> {
  private running: Promise<void> | undefined;
  private pending = new Set<R>();
  private closed = false;
  runs = 0;

  constructor(private readonly work: (reasons: Set<R>) => Promise<void>, private readonly onError: (err: unknown) => void = () => undefined) {}

  /** Ask for a reconcile; resolves when a reconcile that started after this call has finished. */
  trigger(reason: R): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.pending.add(reason);
    if (!this.running) this.running = this.loop();
    return this.running;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending.size > 0 && !this.closed) {
        const reasons = this.pending;
        this.pending = new Set();
        this.runs++;
        try {
          await this.work(reasons);
        } catch (err) {
          this.onError(err);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  /** Take no more triggers; resolves when the current reconcile (if any) has finished. */
  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    await this.running;
  }
}
