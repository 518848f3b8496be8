import { assertAllClose, assertEquals } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { map, reduce } from "../reference/ndarray.ts";
import { checkOp, initGpu, randomArray } from "./_util.ts";

await initGpu();

const sumRef = (axes: number[]) => (x: Parameters<typeof reduce>[0]) =>
  reduce(x, axes, 0, (a, v) => a + v);
const squeezeShape = (shape: number[], axes: number[]) => shape.filter((_, i) => !axes.includes(i));

Deno.test("sum() and mean() over any axes match float64 reference (keepdim and not)", async () => {
  const shape = [3, 5, 1, 7];
  for (const axes of [[0], [1], [3], [0, 2], [1, 3], [0, 1, 2, 3]]) {
    for (const keepdim of [false, true]) {
      await checkOp({
        name: `sum${axes}${keepdim}`,
        shapes: [shape],
        gpu: ([x]) => T.sum(x, axes, { keepdim }),
        ref: ([x]) => {
          const r = sumRef(axes)(x);
          return keepdim ? r : { shape: squeezeShape(shape, axes), data: r.data };
        },
      });
    }
    await checkOp({
      name: `mean${axes}`,
      shapes: [shape],
      gpu: ([x]) => T.mean(x, axes),
      ref: ([x]) => {
        const r = sumRef(axes)(x);
        const n = axes.reduce((a, i) => a * shape[i], 1);
        return { shape: squeezeShape(shape, axes), data: r.data.map((v) => v / n) };
      },
    });
  }
});

Deno.test("sum() of a strided (permuted) view and a large reduction stay accurate", async () => {
  await checkOp({
    name: "sum_permuted",
    shapes: [[4, 6]],
    gpu: ([x]) => T.sum(T.transpose(x), [1]),
    ref: ([x]) => ({ shape: [6], data: sumRef([0])(x).data }),
  });
  const n = 200_003;
  const v = randomArray(n, 5);
  const s = await T.sum(T.tensor(v, [n])).item();
  const ref = v.reduce((a, b) => a + b, 0);
  assertAllClose([s], [ref], { atol: 2e-3, rtol: 1e-5 });
  // Long rows are reduced in chunks, then the partial results (two launches).
  const big = T.tensor(v, [1, n]);
  const vmax = v.reduce((a, b) => Math.max(a, b), -Infinity);
  assertAllClose([await T.max(big).item()], [vmax]);
  assertAllClose([await T.mean(big).item()], [ref / n], { atol: 1e-8, rtol: 1e-5 });
  assertAllClose(
    await T.sum(T.tensor(v.subarray(0, 3 * 20000), [3, 20000]), 1).toArray(),
    [0, 1, 2].map((r) => v.subarray(r * 20000, (r + 1) * 20000).reduce((a, b) => a + b, 0)),
    { atol: 2e-3, rtol: 1e-5 },
  );
  assertEquals(Array.from(await T.argmax(big, 1).toArray()), [v.indexOf(vmax)]);
});

Deno.test("max() and min() forward/backward, argmax() indices", async () => {
  await checkOp({
    name: "max1",
    shapes: [[4, 9]],
    gpu: ([x]) => T.max(x, 1),
    ref: ([x]) => ({ shape: [4], data: reduce(x, [1], -Infinity, Math.max).data }),
  });
  await checkOp({
    name: "min0",
    shapes: [[4, 9]],
    gpu: ([x]) => T.min(x, 0, { keepdim: true }),
    ref: ([x]) => reduce(x, [0], Infinity, Math.min),
  });
  const x = T.tensor([1, 5, 5, 2, -1, -3, -3, 0], [2, 4]);
  assertEquals(Array.from(await T.argmax(x, 1).toArray()), [1, 3]);
  assertEquals(Array.from(await T.argmin(x, 1).toArray()), [0, 1]);
  assertEquals(Array.from(await T.argmax(x).toArray()), [1]);
  // ties share the gradient
  const t = T.tensor([2, 2, 1], [3], { requiresGrad: true });
  T.max(t).backward();
  assertAllClose(await t.grad!.toArray(), [0.5, 0.5, 0]);
});

Deno.test("variance() matches float64 reference (unbiased and biased)", async () => {
  for (const correction of [1, 0]) {
    await checkOp({
      name: `var${correction}`,
      shapes: [[3, 8]],
      gpu: ([x]) => T.variance(x, 1, { correction }),
      ref: ([x]) => {
        const m = reduce(x, [1], 0, (a, v) => a + v).data.map((v) => v / 8);
        const d = map((v, mm) => (v - mm) ** 2, x, { shape: [3, 1], data: m });
        return {
          shape: [3],
          data: reduce(d, [1], 0, (a, v) => a + v).data.map((v) => v / (8 - correction)),
        };
      },
    });
  }
});
