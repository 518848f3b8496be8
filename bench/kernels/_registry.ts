/**
 * Registry of kernel benchmark cases: each family file in bench/kernels/ calls `benchCase` at
 * import; bench/kernels.ts imports every file in this folder and runs them in order.
 */

/** What a case reports. */
export interface BenchResult {
  /** Case name (e.g. "matmul 1024x1024x1024"). */
  name: string;
  /** Figures; ratios should be against a baseline timed in the same run. */
  metrics: Record<string, number | string>;
}

/** Context passed to cases. */
export interface BenchContext {
  /** Quick mode (fewer repetitions). */
  quick: boolean;
  /** Prints a progress line (stderr, so --json stays clean). */
  log: (msg: string) => void;
}

/** One benchmark case. */
export interface BenchCase {
  family: string;
  name: string;
  run: (ctx: BenchContext) => Promise<BenchResult[]>;
}

/** Registered cases in registration order. */
export const CASES: BenchCase[] = [];

/** Registers a case. */
export function benchCase(c: BenchCase): void {
  CASES.push(c);
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
