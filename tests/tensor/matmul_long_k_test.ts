import { initGpu } from "../../src/gpu/mod.ts";
import { matmul, tensor } from "../../src/tensor/mod.ts";
import { assertAllClose } from "../assert.ts";

// llvmpipe stops a shader invocation after 65,535 loop iterations in total; a long reduction
// must still be summed completely (it used to come out ~3x off at K = 4096), forward and
// backward (whose reductions run over M and N).
Deno.test("matmul() sums reductions longer than lavapipe's loop budget, forward and backward", async () => {
  await initGpu();
  const [m, k, n] = [8, 5000, 4];
  const a = new Float32Array(m * k).map((_, i) => Math.sin(i * 0.37));
  const b = new Float32Array(k * n).map((_, i) => Math.cos(i * 0.11));
  const at = tensor(a, [m, k], { requiresGrad: true }), bt = tensor(b, [k, n]);
  const c = matmul(at, bt);
  const ref = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      ref[i * n + j] = s;
    }
  }
  assertAllClose((await c.toArray()) as Float32Array, ref, { atol: 2e-3, rtol: 1e-4 });
  // d sum(C) / dA[i, p] = sum_j B[p, j]: a reduction over N only; dB = A^T @ 1 reduces over M.
  c.sum().backward();
  const ga = (await at.grad!.toArray()) as Float32Array;
  const refGa = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += b[p * n + j];
      refGa[i * k + p] = s;
    }
  }
  assertAllClose(ga, refGa, { atol: 1e-5, rtol: 1e-5 });
  const [m2, k2, n2] = [4, 70_000, 3];
  const x = new Float32Array(m2 * k2).fill(1), y = new Float32Array(k2 * n2).fill(0.5);
  const z = (await matmul(tensor(x, [m2, k2]), tensor(y, [k2, n2])).toArray()) as Float32Array;
  assertAllClose(z, new Float64Array(m2 * n2).fill(35_000), { atol: 0, rtol: 1e-6 });
});
