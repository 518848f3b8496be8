/** Time spent per kernel label. */
export interface KernelTiming {
  /** Kernel label (`KernelSource.label`). */
  label: string;
  /** Number of dispatches measured. */
  count: number;
  /** Total milliseconds. */
  totalMs: number;
}

/**
 * Accumulates time per kernel label. With `timestamp-query` each dispatch gets its own compute
 * pass with timestamp writes (GPU time); without it the runtime submits and waits per dispatch
 * and records CPU wall time (slower, but still attributes time to kernels).
 */
export class Profiler {
  #t = new Map<string, KernelTiming>();

  /** Adds one measurement. */
  record(label: string, ms: number): void {
    let e = this.#t.get(label);
    if (!e) this.#t.set(label, e = { label, count: 0, totalMs: 0 });
    e.count++;
    e.totalMs += ms;
  }

  /** Timings sorted by total time, largest first. */
  report(): KernelTiming[] {
    return [...this.#t.values()].sort((a, b) => b.totalMs - a.totalMs);
  }

  /** Forgets all measurements. */
  clear(): void {
    this.#t.clear();
  }
}
