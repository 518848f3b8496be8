/**
 * LayerNorm2d (channels-first) above the binding limit: forward and backward split over blocks of
 * batch items equal the unsplit launch (bitwise; the weight/bias gradients sum per block, then
 * over blocks: 1792 terms of size ~1 in another order differ by up to ~4e-6, so within 1e-5 as
 * the layerNorm split test allows), in both kernel forms; a single item above the limit is an error
 * naming the op, the tensor and the limit. A pretend limit keeps the tensors small.
 */
import { assert, assertThrows } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import * as T from "../../src/tensor/mod.ts";
import { randomArray } from "./_util.ts";
import { assertSplitEqual, withBindingLimit } from "./_split.ts";
import { FORMS, withForm } from "../kernels/_rows.ts";

await initGpu();

// 64 KiB: an item [24, 16, 16] is 24 KiB, so x [7, ...] (168 KiB) takes 3+ blocks of items.
const LIM = 64 * 1024;
const t = (shape: number[], seed: number, grad = false) =>
  T.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape, { requiresGrad: grad });

function run(shape: number[], offset: boolean) {
  const c = shape[1];
  const n = shape.reduce((a, b) => a * b, 1);
  // offset: x is a view 4 elements into its storage (the kernels' x offset).
  const base = t([offset ? n + 4 : n], 61, true);
  const x = T.reshape(offset ? T.slice(base, 0, 4, n + 4) : base, shape);
  const w = t([c], 62, true), b = t([c], 63, true);
  const y = T.layerNorm2d(x, w, b);
  const g = t(shape, 64);
  y.backward({ grad: g });
  return { y, dx: base.grad!, dw: w.grad!, db: b.grad! };
}

Deno.test("split layerNorm2d forward and backward equal the unsplit launch (both forms)", async () => {
  for (const form of FORMS) {
    await withForm(form, async () => {
      for (const [shape, offset] of [[[7, 24, 16, 16], false], [[5, 20, 14, 14], true]] as const) {
        const name = `${form} ${shape} offset ${offset}`;
        await assertSplitEqual(`${name}: y, dx`, LIM, () => {
          const r = run([...shape], offset);
          return [r.y, r.dx];
        });
        await assertSplitEqual(`${name}: dw, db`, LIM, () => {
          const r = run([...shape], offset);
          return [r.dw, r.db];
        }, { rtol: 1e-5, atol: 1e-5 });
      }
    });
  }
});

Deno.test("layerNorm2d of one item above the binding limit names the op, the shape and the limit", async () => {
  for (const form of FORMS) {
    await withForm(form, async () => {
      withBindingLimit(LIM, () => {
        const x = T.zeros([2, 80, 16, 16]); // one item: 80 KiB
        const e = assertThrows(
          () => T.layerNorm2d(x, T.ones([80]), T.zeros([80])),
          RangeError,
          `maxStorageBufferBindingSize ${LIM}`,
        );
        const msg = (e as Error).message;
        assert(/\[2, 80, 16, 16\]/.test(msg) && /layerNorm2d/.test(msg), msg);
        x.dispose();
      });
      await Promise.resolve();
    });
  }
});
