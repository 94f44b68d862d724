// Counts worker crashes in a sliding window so a worker that dies on every start (a model that always
// runs out of memory, a broken bundle) is not restarted in a tight loop.

export class RestartBudget {
  private crashes: number[] = [];

  constructor(
    /** Crash restarts allowed within the window. */
    readonly maxRestarts: number,
    readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  recordCrash(): void {
    this.crashes.push(this.now());
  }

  /** Crashes within the window. */
  get recent(): number {
    const since = this.now() - this.windowMs;
    this.crashes = this.crashes.filter((t) => t > since);
    return this.crashes.length;
  }

  /** True when another restart would exceed the budget. */
  get exhausted(): boolean {
    return this.recent > this.maxRestarts;
  }

  /** Milliseconds until the oldest recent crash leaves the window and a restart is allowed again. */
  retryInMs(): number {
    const n = this.recent;
    if (n <= this.maxRestarts) return 0;
    // Restarting becomes possible once only maxRestarts crashes remain in the window.
    return Math.max(0, this.crashes[n - this.maxRestarts - 1] + this.windowMs - this.now());
  }
}
