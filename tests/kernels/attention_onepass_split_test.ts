import { initGpu } from "../../src/gpu/mod.ts";
import * as T from "../../src/tensor/mod.ts";
import { randomArray } from "../tensor/_util.ts";
import { assertSplitEqual } from "../tensor/_split.ts";

await initGpu();

// The one-pass backward (one invocation per head) launched over blocks of heads, each bound as
// a window (operands above a pretend 4-8 KiB binding limit), must equal the unsplit launch:
// window offsets for q, k, v, out, dout, ml, delta, dq, dk, dv and the mask, and the dropout
// hash's global head index.
const t = (shape: number[], seed: number, grad = false) =>
  T.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape, { requiresGrad: grad });

function withGrads(out: T.Tensor, seed: number, inputs: T.Tensor[]): T.Tensor[] {
  T.sum(T.mul(out, t(out.shape as number[], seed))).backward();
  return [out, ...inputs.map((x) => x.grad!)];
}

const ONE = { rows: 4, block: 4, onePass: true };

Deno.test("one-pass attention backward split over blocks of heads equals the unsplit launch (dv != d, per-head mask, dropout)", async () => {
  await assertSplitEqual("vec4 heads, Lq 13, Lk 11, dv 8", 4096, () => {
    const q = t([2, 5, 13, 12], 1, true), k = t([2, 5, 11, 12], 2, true);
    const v = t([2, 5, 11, 8], 3, true);
    const mask = t([2, 5, 13, 11], 4);
    const o = T.scaledDotProductAttention(q, k, v, { mask, tiling: ONE });
    return withGrads(o, 5, [q, k, v]);
  });
  await assertSplitEqual("scalar heads (d 6), dropout", 4096, () => {
    const q = t([3, 4, 9, 6], 6, true), k = t([3, 4, 10, 6], 7, true);
    const v = t([3, 4, 10, 6], 8, true);
    const o = T.scaledDotProductAttention(q, k, v, {
      dropoutP: 0.25,
      seed: 91,
      tiling: ONE,
    });
    return withGrads(o, 9, [q, k, v]);
  });
});
