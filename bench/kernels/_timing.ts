/** Shared helpers of the kernel benchmark cases: deterministic inputs and round-robin timing. */
import { gpu } from "../../src/gpu/mod.ts";
import { tidy } from "../../src/tensor/mod.ts";

/** n deterministic values in [-0.5, 0.5) from a 32-bit LCG seeded with `seed`. */
export function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = (s >>> 8) / 2 ** 24 - 0.5;
  }
  return a;
}

/**
 * Seconds per launch of each function: trials run round-robin (so a burst of load from other
 * processes hits all of them alike), one submit per launch, minimum over trials after a warm-up.
 */
export async function timeAll(fns: (() => void)[], trials: number): Promise<number[]> {
  for (const f of fns) tidy(f);
  await gpu().sync();
  const best = fns.map(() => Infinity);
  for (let t = 0; t < trials; t++) {
    for (const [i, f] of fns.entries()) {
      const t0 = performance.now();
      tidy(f);
      await gpu().sync();
      best[i] = Math.min(best[i], (performance.now() - t0) / 1000);
    }
  }
  return best;
}
