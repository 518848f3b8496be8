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

Deno.test("matmul() of a batch above the device's workgroups per dimension launches in blocks", async () => {
  await initGpu();
  // 70,001 tiny products (the dispatch's z is the batch; the limit is 65,535), broadcast B too.
  const nb = 70_001, m = 2, k = 3, n = 2;
  const a = randomArray(nb * m * k, 11),
    b = randomArray(nb * k * n, 12),
    bb = randomArray(k * n, 13);
  const at = T.tensor(a, [nb, m, k]), bt = T.tensor(b, [nb, k, n]), b1 = T.tensor(bb, [k, n]);
  const got = await T.matmul(at, bt).toArray();
  const gotB = await T.matmul(at, b1).toArray();
  const want = new Float32Array(nb * m * n), wantB = new Float32Array(nb * m * n);
  for (let z = 0; z < nb; z++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, s1 = 0;
        for (let q = 0; q < k; q++) {
          s += a[(z * m + i) * k + q] * b[(z * k + q) * n + j];
          s1 += a[(z * m + i) * k + q] * bb[q * n + j];
        }
        want[(z * m + i) * n + j] = s;
        wantB[(z * m + i) * n + j] = s1;
      }
    }
  }
  assertAllClose(got, want, { atol: 1e-5, rtol: 1e-5 });
  assertAllClose(gotB, wantB, { atol: 1e-5, rtol: 1e-5 });
  for (const t of [at, bt, b1]) t.dispose();
});
