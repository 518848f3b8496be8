/**
 * max_pool2d on the GPU against the float64 reference (tests/reference/pool.ts) and PyTorch's
 * torch-ops fixture. Max pooling selects values, so forward and the routed gradient are exact
 * (PyTorch's own f32-vs-f64 gap is 0 on every variant): tolerance 0 for the fixture, and 1e-6
 * against the reference (gradients of overlapping windows are f32 sums).
 */
import { assertAllClose, assertEquals, assertThrows } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { maxPool2d, maxPool2dWithIndices } from "../../src/tensor/ops/max_pool2d.ts";
import { maxPool2dBackwardRef, maxPool2dRef, type PoolGeometry } from "../reference/pool.ts";
import { initGpu } from "../tensor/_util.ts";
import { loadTorchOps, randomArray, tensorOf } from "./_spatial_fixtures.ts";

await initGpu();

const g2 = (
  k: number,
  s: number,
  p = 0,
  d = 1,
  ceilMode = false,
): PoolGeometry => ({
  kernel: [k, k],
  stride: [s, s],
  padding: [p, p],
  dilation: [d, d],
  ceilMode,
});

async function run(
  x: { data: ArrayLike<number>; shape: number[] },
  gout: ArrayLike<number> | null,
  g: PoolGeometry,
) {
  const opts = {
    kernelSize: g.kernel,
    stride: g.stride,
    padding: g.padding,
    dilation: g.dilation,
    ceilMode: g.ceilMode,
  };
  const r = T.tidy(() => {
    const tx = T.tensor(Float32Array.from(x.data), x.shape, { requiresGrad: true });
    const y = maxPool2d(tx, opts);
    const { indices } = maxPool2dWithIndices(tx, opts);
    if (gout) y.backward({ grad: T.tensor(Float32Array.from(gout), y.shape) });
    return { y, indices, gx: tx.grad };
  });
  const out = {
    y: await r.y.toArray(),
    shape: [...r.y.shape],
    indices: await r.indices.toArray(),
    gx: r.gx ? await r.gx.toArray() : null,
  };
  r.y.dispose();
  r.indices.dispose();
  r.gx?.dispose();
  return out;
}

Deno.test("maxPool2d() matches PyTorch exactly: values, first-max indices on ties, routed grads", async () => {
  const f = loadTorchOps("max_pool2d_2x2");
  for (const v of ["odd_2x3x9x7", "even_1x4x8x8", "ties_1x2x6x6"]) {
    const t = (k: string) => tensorOf(f, `${v}/${k}`);
    const got = await run(t("in.x"), t("gout").data, g2(2, 2));
    assertEquals(got.shape, t("out_f64").shape, `${v} shape`);
    assertAllClose(got.y, t("out_f64").data, { atol: 0, rtol: 0, msg: `${v} out` });
    assertEquals([...got.indices], [...t("out.indices").data], `${v} indices`);
    assertAllClose(got.gx!, t("grad.x_f64").data, { atol: 0, rtol: 0, msg: `${v} grad` });
  }
});

Deno.test("maxPool2d() matches the float64 reference with padding, overlap, dilation, ceil mode", async () => {
  const cases: [number[], PoolGeometry][] = [
    [[1, 2, 7, 9], g2(3, 2, 1)],
    [[2, 1, 8, 8], g2(3, 1, 1)],
    [[1, 3, 9, 10], g2(2, 2, 0, 2)],
    [[1, 2, 7, 7], g2(2, 2, 0, 1, true)],
    [[1, 1, 1, 1], g2(1, 1)],
    [[1, 1, 5, 5], g2(5, 5, 2, 1, true)],
  ];
  for (const [i, [shape, g]] of cases.entries()) {
    // Integer-valued inputs make ties frequent.
    const data = randomArray(shape.reduce((a, b) => a * b), 40 + i).map((v) => Math.round(v * 2));
    const x = { data, shape };
    const ref = maxPool2dRef(x, g);
    const gout = randomArray(ref.out.data.length, 50 + i);
    const got = await run(x, gout, g);
    const name =
      `${shape} k${g.kernel} s${g.stride} p${g.padding} d${g.dilation} ceil=${g.ceilMode}`;
    assertEquals(got.shape, ref.out.shape, name);
    assertAllClose(got.y, ref.out.data, { atol: 0, rtol: 0, msg: name });
    assertEquals([...got.indices], [...ref.indices], `${name} indices`);
    const gx = maxPool2dBackwardRef(shape, ref.indices, { data: gout, shape: ref.out.shape });
    assertAllClose(got.gx!, gx.data, { atol: 1e-6, rtol: 0, msg: `${name} grad` });
  }
});

Deno.test("maxPool2d() reads a permuted NHWC tensor in place (SAM 2 q-pool)", async () => {
  const data = Float32Array.from(randomArray(2 * 6 * 4 * 3, 60));
  const y = T.tidy(() => {
    const nhwc = T.tensor(data, [2, 6, 4, 3]);
    return maxPool2d(T.permute(nhwc, [0, 3, 1, 2]), { kernelSize: 2 });
  });
  const nchw = new Float64Array(data.length);
  for (let n = 0; n < 2; n++) {
    for (let h = 0; h < 6; h++) {
      for (let w = 0; w < 4; w++) {
        for (let c = 0; c < 3; c++) {
          nchw[((n * 3 + c) * 6 + h) * 4 + w] = data[((n * 6 + h) * 4 + w) * 3 + c];
        }
      }
    }
  }
  const ref = maxPool2dRef({ data: nchw, shape: [2, 3, 6, 4] }, g2(2, 2));
  assertAllClose(await y.toArray(), ref.out.data, { atol: 0, rtol: 0 });
  y.dispose();
});

Deno.test("maxPool2d() rejects windows that do not fit", () => {
  const x = T.zeros([1, 1, 3, 3]);
  assertThrows(() => maxPool2d(x, { kernelSize: 4 }), RangeError, "does not fit");
  assertThrows(() => maxPool2d(x, { kernelSize: 2, padding: 2 }), RangeError, "half");
  x.dispose();
});
