/** Helpers of the split-launch tests: run the same computation under a pretend binding limit. */
import { gpu } from "../../src/gpu/mod.ts";
import { type Tensor, tidy } from "../../src/tensor/mod.ts";

/** Runs `fn` with the device pretending to bind at most `bytes` per storage binding. */
export function withBindingLimit<T>(bytes: number | null, fn: () => T): T {
  gpu().setMaxBindingOverride(bytes);
  try {
    return fn();
  } finally {
    gpu().setMaxBindingOverride(null);
  }
}

/** Reads every tensor `fn` returns (in a tidy scope) with the given pretend limit. */
export async function readAll(
  bytes: number | null,
  fn: () => Tensor[],
): Promise<Float32Array[]> {
  const ts = withBindingLimit(bytes, () => tidy(fn));
  const out: Float32Array[] = [];
  for (const t of ts) {
    out.push(Float32Array.from(await t.toArray()));
    t.dispose();
  }
  return out;
}

/**
 * Asserts that `fn` gives bitwise the same results under a pretend binding limit of `bytes` as
 * without one (split launches compute every element exactly as the unsplit launch does), or
 * within `rtol`/`atol` where given (sums split into partials add in another order).
 */
export async function assertSplitEqual(
  name: string,
  bytes: number,
  fn: () => Tensor[],
  opts: { rtol?: number; atol?: number } = {},
): Promise<void> {
  const want = await readAll(null, fn);
  const got = await readAll(bytes, fn);
  if (want.length !== got.length) throw new Error(`${name}: ${got.length} vs ${want.length}`);
  want.forEach((w, k) => {
    if (w.length !== got[k].length) {
      throw new Error(`${name} #${k}: length split=${got[k].length} | unsplit=${w.length}`);
    }
    for (let i = 0; i < w.length; i++) {
      const close = opts.rtol !== undefined &&
        Math.abs(w[i] - got[k][i]) <= (opts.atol ?? 0) + opts.rtol * Math.abs(w[i]);
      if (!Object.is(w[i], got[k][i]) && !close) {
        throw new Error(`${name} #${k}[${i}]: split=${got[k][i]} | unsplit=${w[i]}`);
      }
    }
  });
}
