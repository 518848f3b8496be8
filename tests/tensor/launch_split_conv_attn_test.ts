import { assert, assertThrows } from "../assert.ts";
import { initGpu } from "../../src/gpu/mod.ts";
import * as T from "../../src/tensor/mod.ts";
import { randomArray } from "./_util.ts";
import { assertSplitEqual, withBindingLimit } from "./_split.ts";

await initGpu();

// Pretend binding limits of 4-8 KiB: the tensors below (10-60 KiB) split into 2-12 blocks of
// heads or batch items, with windows that start inside a head / item (unaligned sizes).
const t = (shape: number[], seed: number, grad = false) =>
  T.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape, { requiresGrad: grad });

// Small register tiles after the first case: faster compiles on lavapipe (the split logic does
// not depend on the tiling).
const SMALL = { tiling: { rows: 2, block: 4, wg: 8 } };

/** Forward output and the gradients of sum(out · r) for a random r (so dout is not uniform). */
function withGrads(out: T.Tensor, seed: number, inputs: T.Tensor[]): T.Tensor[] {
  T.sum(T.mul(out, t(out.shape as number[], seed))).backward();
  return [out, ...inputs.map((x) => x.grad!)];
}

Deno.test("split attention (blocks of heads, unaligned windows) equals the unsplit launch, forward and backward", async () => {
  await assertSplitEqual("vec4 heads, Lq 37, Lk 29", 4096, () => {
    const q = t([2, 5, 37, 12], 1, true), k = t([2, 5, 29, 12], 2, true);
    const v = t([2, 5, 29, 8], 3, true);
    return withGrads(T.scaledDotProductAttention(q, k, v), 4, [q, k, v]);
  });
  await assertSplitEqual("scalar heads (d 6), long key stream", 4096, () => {
    const q = t([3, 2, 21, 6], 5, true), k = t([3, 2, 70, 6], 6, true);
    const v = t([3, 2, 70, 6], 7, true);
    return withGrads(T.scaledDotProductAttention(q, k, v, { scale: 0.3, ...SMALL }), 8, [q, k, v]);
  });
  await assertSplitEqual("dropout (the hash sees the global head)", 4096, () => {
    const q = t([2, 5, 37, 12], 9, true), k = t([2, 5, 29, 12], 10, true);
    const v = t([2, 5, 29, 12], 11, true);
    const o = T.scaledDotProductAttention(q, k, v, { dropoutP: 0.25, seed: 77, ...SMALL });
    return withGrads(o, 12, [q, k, v]);
  });
});

Deno.test("split attention over a long key stream (chunked for lavapipe's loop limit) equals the unsplit one", async () => {
  // 30000 keys of d 4: on lavapipe each head's stream runs in 2 dispatches carrying the state,
  // inside each block of heads.
  await assertSplitEqual("Lk 30000, one head per block", 512 * 1024, () => {
    const q = t([2, 1, 9, 4], 13, true), k = t([2, 1, 30000, 4], 14, true);
    const v = t([2, 1, 30000, 4], 15, true);
    return withGrads(T.scaledDotProductAttention(q, k, v, SMALL), 16, [q, k, v]);
  });
});

Deno.test("split attention with a per-head mask, a shared mask and RoPE equals the unsplit one", async () => {
  await assertSplitEqual("per-head mask [2, 5, 37, 29]", 8192, () => {
    const q = t([2, 5, 37, 12], 21, true), k = t([2, 5, 29, 12], 22, true);
    const v = t([2, 5, 29, 12], 23, true);
    const mask = t([2, 5, 37, 29], 24);
    return withGrads(T.scaledDotProductAttention(q, k, v, { mask, ...SMALL }), 25, [q, k, v]);
  });
  // (A shared mask is bound whole: it must fit one binding itself.)
  await assertSplitEqual("shared mask [37, 29]", 8192, () => {
    const q = t([2, 5, 37, 12], 26, true), k = t([2, 5, 29, 12], 27, true);
    const v = t([2, 5, 29, 12], 28, true);
    const mask = t([37, 29], 29);
    return withGrads(T.scaledDotProductAttention(q, k, v, { mask, ...SMALL }), 30, [q, k, v]);
  });
  await assertSplitEqual("RoPE, memory keys repeated with excluded tokens", 8192, () => {
    const q = t([1, 4, 36, 16], 31, true), k = t([1, 4, 76, 16], 32, true);
    const v = t([1, 4, 76, 16], 33, true);
    const o = T.scaledDotProductAttention(q, k, v, {
      rope: { endX: 6, endY: 6, kRepeat: true, numKExclude: 4 },
      ...SMALL,
    });
    return withGrads(o, 34, [q, k, v]);
  });
});

Deno.test("split attention reads q, k, v sliced from one large qkv tensor (Hiera's layout)", async () => {
  // qkv [B, L, 3, heads, d] (42 KiB) -> q, k, v [B, heads, L, d], strided views of its storage.
  const run = () => {
    const qkv = t([2, 37, 3, 4, 12], 41, true);
    const part = (i: number) =>
      T.permute(T.reshape(T.slice(qkv, 2, i, i + 1), [2, 37, 4, 12]), [0, 2, 1, 3]);
    const o = T.scaledDotProductAttention(part(0), part(1), part(2), SMALL);
    return withGrads(o, 42, [qkv]);
  };
  await assertSplitEqual("qkv views", 8192, run);
  // And with rows of the views far apart: only k is read from the end of a large storage.
  await assertSplitEqual("k from the tail of a large tensor", 4096, () => {
    const big = t([8, 2, 29, 12], 43, true), q = t([1, 2, 37, 12], 44, true);
    const k = T.slice(big, 0, 7, 8);
    return withGrads(T.scaledDotProductAttention(q, k, k, SMALL), 45, [q, big]);
  });
});

Deno.test("attention whose single head is above the limit names the op, the tensor and the limit", () => {
  withBindingLimit(4096, () => {
    const q = T.zeros([1, 1, 200, 32]), k = T.zeros([1, 1, 8, 32]);
    const e = assertThrows(
      () => T.scaledDotProductAttention(q, k, k),
      RangeError,
      "maxStorageBufferBindingSize 4096",
    );
    const msg = (e as Error).message;
    assert(/scaled_dot_product_attention/.test(msg) && /\[1, 1, 200, 32\]/.test(msg), msg);
    [q, k].forEach((x) => x.dispose());
  });
});

// Weight and bias gradients sum over the batch: split into per-block partial sums.
const SUM_TOL = { rtol: 1e-5, atol: 1e-5 };

Deno.test("split conv2d (stride, padding, dilation, groups, depthwise, 1x1) equals the unsplit one", async () => {
  const cases: { name: string; x: number[]; w: number[]; o: T.Conv2dOptions }[] = [
    { name: "3x3 p1", x: [5, 3, 13, 11], w: [6, 3, 3, 3], o: { padding: 1 } },
    {
      name: "3x3 s2 p1 dilation",
      x: [5, 4, 13, 11],
      w: [8, 4, 3, 3],
      o: { stride: 2, padding: [1, 2], dilation: [1, 2] },
    },
    { name: "groups 2", x: [4, 4, 12, 12], w: [6, 2, 3, 3], o: { padding: 1, groups: 2 } },
    { name: "depthwise 7x7", x: [4, 6, 12, 10], w: [6, 1, 7, 7], o: { padding: 3, groups: 6 } },
    {
      name: "depthwise s2",
      x: [4, 6, 12, 10],
      w: [6, 1, 3, 3],
      o: { stride: 2, padding: 1, groups: 6 },
    },
    { name: "1x1 (matmul path)", x: [5, 8, 9, 9], w: [4, 8, 1, 1], o: {} },
    { name: "4x4 s4 patchify", x: [5, 3, 16, 16], w: [8, 3, 4, 4], o: { stride: 4 } },
  ];
  for (const [i, c] of cases.entries()) {
    const run = () => {
      const x = t(c.x, 100 + i, true), w = t(c.w, 200 + i, true), b = t([c.w[0]], 300 + i, true);
      const y = T.conv2d(x, w, b, c.o);
      return { y, grads: withGrads(y, 400 + i, [x, w, b]) };
    };
    await assertSplitEqual(`${c.name}: y, dx`, 4096, () => {
      const r = run();
      return [r.grads[0], r.grads[1]];
    });
    await assertSplitEqual(`${c.name}: dw, db`, 4096, () => run().grads.slice(2), SUM_TOL);
  }
});

Deno.test("split conv_transpose2d (k2 s2, 3x3 s2 with output padding, groups) equals the unsplit one", async () => {
  const cases: { name: string; x: number[]; w: number[]; o: T.ConvTranspose2dOptions }[] = [
    { name: "k2 s2", x: [5, 4, 7, 6], w: [4, 3, 2, 2], o: { stride: 2 } },
    {
      name: "3x3 s2 p1 op1",
      x: [4, 4, 7, 6],
      w: [4, 3, 3, 3],
      o: { stride: 2, padding: 1, outputPadding: 1 },
    },
    { name: "groups 2", x: [4, 4, 9, 8], w: [4, 2, 3, 3], o: { padding: 1, groups: 2 } },
  ];
  for (const [i, c] of cases.entries()) {
    const run = () => {
      const x = t(c.x, 500 + i, true),
        w = t(c.w, 600 + i, true),
        b = t([c.w[1] * (c.o.groups ?? 1)], 700 + i, true);
      const y = T.convTranspose2d(x, w, b, c.o);
      return withGrads(y, 800 + i, [x, w, b]);
    };
    await assertSplitEqual(`${c.name}: y, dx`, 4096, () => run().slice(0, 2));
    await assertSplitEqual(`${c.name}: dw, db`, 4096, () => run().slice(2), SUM_TOL);
  }
});

Deno.test("conv2d whose single batch item is above the limit names the op, the tensor and the limit", () => {
  withBindingLimit(4096, () => {
    const x = T.zeros([2, 3, 30, 30]), w = T.zeros([4, 3, 3, 3]);
    const e = assertThrows(() => T.conv2d(x, w), RangeError, "maxStorageBufferBindingSize 4096");
    const msg = (e as Error).message;
    assert(/conv2d/.test(msg) && /\[2, 3, 30, 30\]/.test(msg), msg);
    [x, w].forEach((a) => a.dispose());
  });
});
