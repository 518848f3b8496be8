/**
 * The training loop both end-to-end tests run: plain SGD on the GPU, losses kept on the GPU (one
 * slot per step, no read back inside the loop), and the pool checked to stay flat after step 1.
 */
import { assertEquals } from "../assert.ts";
import { gpu } from "../../src/gpu/mod.ts";
import * as T from "../../src/tensor/mod.ts";
import { accountedLiveBytes } from "../tensor/_util.ts";

/**
 * Runs `steps` SGD steps of `loss()` over `params` (learning rate `lr`) and returns every step's
 * loss. Asserts that the pool's high-water mark and live bytes do not move after the first step.
 */
export async function sgdTrain(
  params: readonly T.Tensor[],
  loss: () => T.Tensor,
  steps: number,
  lr: number,
): Promise<number[]> {
  const log = T.keep(T.zeros([steps]));
  const pool = gpu().pool;
  let peakAfterFirst = 0, liveAfterFirst = 0;
  for (let s = 0; s < steps; s++) {
    T.tidy(() => {
      const l = loss();
      l.backward();
      for (const p of params) T.updateInPlace(p, "{self} - {lr} * {g}", { g: p.grad!, lr });
      T.runElementwise("copy", "x0", [l.reshape([1])], { out: log.view([1], [1], s) });
    });
    for (const p of params) {
      p.grad?.dispose();
      p.grad = null;
    }
    if (s === 1) {
      await gpu().sync();
      peakAfterFirst = pool.stats().peakBytes;
      liveAfterFirst = accountedLiveBytes();
    }
  }
  const losses = Array.from(await log.toArray());
  assertEquals(pool.stats().peakBytes, peakAfterFirst, "high-water mark flat after step 1");
  assertEquals(accountedLiveBytes(), liveAfterFirst, "no growth");
  log.dispose();
  return losses;
}
