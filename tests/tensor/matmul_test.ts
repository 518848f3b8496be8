import { assertAllClose } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { map, matmul, transposeLast } from "../reference/ndarray.ts";
import { checkOp, initGpu, randomArray } from "./_util.ts";

await initGpu();

Deno.test("matmul() matches float64 reference on odd sizes, 1-D operands and broadcast batches", async () => {
  const cases: [number[], number[]][] = [
    [[5, 7], [7, 3]],
    [[1, 9], [9, 1]],
    [[2, 3, 5, 6], [6, 11]],
    [[3, 1, 4, 8], [2, 8, 5]],
    [[9, 12], [12, 10]],
    [[5, 8], [8, 12]], // vec4 A along K, vec4 B along N
    [[5, 6], [6, 8]], // scalar A, vec4 B along N, K tail of 2
  ];
  for (const [sa, sb] of cases) {
    await checkOp({
      name: `matmul ${sa}x${sb}`,
      shapes: [sa, sb],
      gpu: ([a, b]) => T.matmul(a, b),
      ref: ([a, b]) => matmul(a, b),
      gradAtol: 2e-3,
    });
  }
  const v = await T.matmul(T.tensor([1, 2, 3], [3]), T.tensor([1, 0, 0, 1, 1, 1], [3, 2]))
    .toArray();
  assertAllClose(v, [4, 5]);
});

Deno.test("matmul() reads transposed operands in place (vec4 and scalar loads)", async () => {
  for (const k of [8, 7]) {
    await checkOp({
      name: `matmul a@b^T k=${k}`,
      shapes: [[6, k], [5, k]],
      gpu: ([a, b]) => T.matmul(a, T.transpose(b)),
      ref: ([a, b]) => matmul(a, transposeLast(b)),
    });
    await checkOp({
      name: `matmul a^T@b k=${k}`,
      shapes: [[k, 6], [k, 5]],
      gpu: ([a, b]) => T.matmul(T.transpose(a), b),
      ref: ([a, b]) => matmul(transposeLast(a), b),
    });
  }
});

Deno.test("linear() fuses the bias and matches x W^T + b with gradients", async () => {
  await checkOp({
    name: "linear",
    shapes: [[2, 3, 8], [5, 8], [5]],
    gpu: ([x, w, b]) => T.linear(x, w, b),
    ref: ([x, w, b]) => map((u, v) => u + v, matmul(x, transposeLast(w)), b),
  });
  await checkOp({
    name: "linear_nobias_oddk",
    shapes: [[4, 7], [3, 7]],
    gpu: ([x, w]) => T.linear(x, w),
    ref: ([x, w]) => matmul(x, transposeLast(w)),
  });
});

Deno.test("matmul() of 64x64 tiles agrees with the reference (large-tile path)", async () => {
  const m = 67, k = 64, n = 72;
  const a = randomArray(m * k, 1), b = randomArray(k * n, 2);
  const ours = await T.matmul(T.tensor(a, [m, k]), T.tensor(b, [k, n])).toArray();
  const ref = matmul({ shape: [m, k], data: Float64Array.from(a) }, {
    shape: [k, n],
    data: Float64Array.from(b),
  });
  assertAllClose(ours, ref.data, { atol: 1e-4, rtol: 1e-4 });
});

Deno.test("matmul() of large transposed operands (copied to row-major first) is exact", async () => {
  const m = 65, k = 16, n = 68;
  const a = randomArray(m * k, 3), b = randomArray(n * k, 4);
  const A = { shape: [m, k], data: Float64Array.from(a) };
  const Bt = { shape: [n, k], data: Float64Array.from(b) };
  const ours = await T.linear(T.tensor(a, [m, k]), T.tensor(b, [n, k])).toArray();
  assertAllClose(ours, matmul(A, transposeLast(Bt)).data, { atol: 1e-5, rtol: 1e-5 });
  // A^T @ B with A stored [k, m]
  const at = randomArray(k * m, 5);
  const ours2 = await T.matmul(T.transpose(T.tensor(at, [k, m])), T.tensor(b, [k, n])).toArray();
  const ref2 = matmul(transposeLast({ shape: [k, m], data: Float64Array.from(at) }), {
    shape: [k, n],
    data: Float64Array.from(b),
  });
  assertAllClose(ours2, ref2.data, { atol: 1e-5, rtol: 1e-5 });
});
