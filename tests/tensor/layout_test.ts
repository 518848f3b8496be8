import { assertAllClose, assertEquals, assertThrows } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { map, type Nd, permute } from "../reference/ndarray.ts";
import { checkOp, initGpu } from "./_util.ts";

await initGpu();

const sliceRef = (x: Nd, axis: number, s: number, e: number, step: number): Nd => {
  const shape = [...x.shape];
  shape[axis] = Math.ceil((e - s) / step);
  const out: number[] = [];
  const idx = (c: number[]) => c.reduce((a, v, i) => a * x.shape[i] + v, 0);
  const n = shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) {
    let rem = i;
    const c = shape.map(() => 0);
    for (let d = shape.length - 1; d >= 0; d--) {
      c[d] = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
    }
    c[axis] = s + c[axis] * step;
    out.push(x.data[idx(c)]);
  }
  return { shape, data: Float64Array.from(out) };
};

Deno.test("reshape/permute/transpose/expand views compose with elementwise ops and grads", async () => {
  await checkOp({
    name: "permute+reshape",
    shapes: [[2, 3, 4]],
    gpu: ([x]) => T.reshape(T.permute(x, [2, 0, 1]), [4, 6]).mul(2),
    ref: ([x]) => {
      const p = permute(x, [2, 0, 1]);
      return map((v) => 2 * v, { shape: [4, 6], data: p.data });
    },
  });
  await checkOp({
    name: "expand",
    shapes: [[3, 1]],
    gpu: ([x]) => T.expand(x, [2, 3, 4]).mul(1),
    ref: ([x]) => map((v) => v, x, { shape: [2, 3, 4], data: new Float64Array(24) }),
  });
  assertThrows(() => T.reshape(T.zeros([2, 3]), [4, 2]), RangeError, "cannot view");
});

Deno.test("slice() is a view with Python bounds and a scatter-back gradient", async () => {
  await checkOp({
    name: "slice",
    shapes: [[5, 7]],
    gpu: ([x]) => T.slice(x, 1, 1, -1, 2).mul(1),
    ref: ([x]) => sliceRef(x, 1, 1, 6, 2),
  });
  assertEquals(T.slice(T.zeros([4]), 0, -10, 100).shape, [4]);
});

Deno.test("cat(), stack() and pad() match the reference with gradients", async () => {
  await checkOp({
    name: "cat",
    shapes: [[2, 3], [2, 1], [2, 4]],
    gpu: (xs) => T.cat(xs, 1),
    ref: ([a, b, c]) => {
      const out: number[] = [];
      for (let r = 0; r < 2; r++) {
        out.push(...a.data.slice(r * 3, r * 3 + 3), b.data[r], ...c.data.slice(r * 4, r * 4 + 4));
      }
      return { shape: [2, 8], data: Float64Array.from(out) };
    },
  });
  await checkOp({
    name: "stack",
    shapes: [[3], [3]],
    gpu: (xs) => T.stack(xs, 1),
    ref: ([a, b]) => ({
      shape: [3, 2],
      data: Float64Array.from([0, 1, 2].flatMap((i) => [a.data[i], b.data[i]])),
    }),
  });
  await checkOp({
    name: "pad",
    shapes: [[2, 3]],
    gpu: ([x]) => T.pad(x, [1, 2, 0, 1], 0.5),
    ref: ([x]) => {
      const out = new Float64Array(3 * 6).fill(0.5);
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) out[i * 6 + j + 1] = x.data[i * 3 + j];
      }
      return { shape: [3, 6], data: out };
    },
  });
});

Deno.test("gather(), indexSelect(), scatterAdd() and indexAdd() match torch semantics", async () => {
  const idx = T.tensor([2, 0, 1, 1, -1, 0], [2, 3], { dtype: "i32" });
  await checkOp({
    name: "gather",
    shapes: [[2, 4]],
    gpu: ([x]) => T.gather(x, 1, idx),
    ref: ([x]) => {
      const ids = [2, 0, 1, 1, 3, 0];
      return {
        shape: [2, 3],
        data: Float64Array.from(ids.map((j, k) => x.data[Math.floor(k / 3) * 4 + j])),
      };
    },
  });
  const sel = T.tensor([3, 0, 3], [3], { dtype: "i32" });
  await checkOp({
    name: "indexSelect",
    shapes: [[4, 2]],
    gpu: ([x]) => T.indexSelect(x, 0, sel),
    ref: ([x]) => ({
      shape: [3, 2],
      data: Float64Array.from([3, 0, 3].flatMap((r) => [x.data[2 * r], x.data[2 * r + 1]])),
    }),
  });
  await checkOp({
    name: "indexAdd",
    shapes: [[4, 2], [3, 2]],
    gpu: ([x, s]) => T.indexAdd(x, 0, sel, s),
    ref: ([x, s]) => {
      const out = Float64Array.from(x.data);
      [3, 0, 3].forEach((r, k) => {
        out[2 * r] += s.data[2 * k];
        out[2 * r + 1] += s.data[2 * k + 1];
      });
      return { shape: [4, 2], data: out };
    },
  });
  const y = T.scatterAdd(T.zeros([2, 4]), 1, idx, T.ones([2, 3]));
  assertAllClose(await y.toArray(), [1, 1, 1, 0, 1, 1, 0, 1]);
});

Deno.test("cast() converts f32 <-> f16 / i32 and back-propagates through float casts", async () => {
  const x = T.tensor([1.5, -2.25, 65504, 1e-8], [4], { requiresGrad: true });
  const h = T.cast(x, "f16");
  assertEquals(h.dtype, "f16");
  assertAllClose(await h.toArray(), [1.5, -2.25, 65504, 0], { atol: 1e-7 });
  assertAllClose(await T.cast(T.tensor([1.7, -2.7], [2]), "i32").toArray(), [1, -2]);
  T.sum(T.cast(h, "f32").mul(3)).backward();
  assertAllClose(await x.grad!.toArray(), [3, 3, 3, 3]);
  const f = T.tensor([1.5, 2], [2], { dtype: "f16" });
  assertAllClose(await T.cast(f, "f32").toArray(), [1.5, 2]);
});
