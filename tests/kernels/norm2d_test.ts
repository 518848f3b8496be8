/**
 * layerNorm2d on the GPU against the float64 reference (tests/reference/norm2d.ts), finite
 * differences, and SAM 2's LayerNorm2d run by PyTorch in float64 (torch-ops fixture).
 *
 * Tolerances: forward 2e-5 (normalised values of size ~1, f32 mean/variance), gradients 5e-5.
 * Fixture: atol = 4 x PyTorch's own f32-vs-f64 gap (4.1e-7..1.1e-6) + 1e-6.
 */
import { assertAllClose, assertThrows } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { layerNorm2d } from "../../src/tensor/ops/layer_norm2d.ts";
import { LayerNorm2d } from "../../src/nn/layer_norm2d.ts";
import { layerNorm2dBackwardRef, layerNorm2dRef } from "../reference/norm2d.ts";
import { checkOp, initGpu } from "../tensor/_util.ts";
import { gapsOf, loadTorchOps, randomArray, tensorOf } from "./_spatial_fixtures.ts";
import { FORMS, withForm } from "./_rows.ts";

await initGpu();

/** Reads the output and gradients back to the host and frees them. */
async function readBack(r: { y: T.Tensor; grads: T.Tensor[] }) {
  const out = {
    y: await r.y.toArray(),
    grads: await Promise.all(r.grads.map((g) => g.toArray())),
  };
  r.y.dispose();
  r.grads.forEach((g) => g.dispose());
  return out;
}

async function run(
  xs: { data: ArrayLike<number>; shape: number[] }[],
  gout: ArrayLike<number>,
  eps: number,
) {
  const r = T.tidy(() => {
    const [x, w, b] = xs.map((i) =>
      T.tensor(Float32Array.from(i.data), i.shape, { requiresGrad: true })
    );
    const y = layerNorm2d(x, w, b, { eps });
    y.backward({ grad: T.tensor(Float32Array.from(gout), y.shape) });
    return { y, grads: [x.grad!, w.grad!, b.grad!] };
  });
  return await readBack(r);
}

Deno.test("layerNorm2d() forward and gradients match the float64 reference", async () => {
  for (const shape of [[2, 7, 5, 6], [1, 1, 3, 3], [3, 16, 1, 1], [1, 5, 1, 7], [1, 32, 4, 4]]) {
    const c = shape[1];
    const x = { data: randomArray(shape.reduce((a, b) => a * b), 71).map((v) => 3 * v + 1), shape };
    const w = { data: randomArray(c, 72), shape: [c] },
      b = { data: randomArray(c, 73), shape: [c] };
    const ref = layerNorm2dRef(x, w.data, b.data, 1e-6);
    const gout = randomArray(ref.data.length, 74);
    const got = await run([x, w, b], gout, 1e-6);
    assertAllClose(got.y, ref.data, { atol: 2e-5, rtol: 1e-5, msg: `${shape} forward` });
    const gr = layerNorm2dBackwardRef(x, w.data, { data: gout, shape }, 1e-6);
    const tol = { atol: 5e-5, rtol: 1e-4 };
    assertAllClose(got.grads[0], gr.gx.data, { ...tol, msg: `${shape} grad x` });
    assertAllClose(got.grads[1], gr.gw, { ...tol, msg: `${shape} grad w` });
    assertAllClose(got.grads[2], gr.gb, { ...tol, msg: `${shape} grad b` });
  }
});

for (const form of FORMS) {
  Deno.test(`layerNorm2d() ${form} form: forward and gradients match the float64 reference`, async () => {
    // H*W multiples of 4 (vec4 pixel kernels in the lane form) and not; C 1; a large mean; x
    // at an offset that keeps and one that breaks the vec4 alignment.
    const cases: { shape: number[]; shift?: number; lead?: number }[] = [
      { shape: [2, 7, 4, 6] },
      { shape: [1, 1, 4, 4] },
      { shape: [3, 5, 2, 2] },
      { shape: [2, 9, 3, 5] },
      { shape: [1, 40, 8, 8], shift: 500 },
      { shape: [2, 6, 4, 4], lead: 4 },
      { shape: [2, 6, 4, 4], lead: 1 },
    ];
    for (const [k, { shape, shift = 0, lead = 0 }] of cases.entries()) {
      const c = shape[1], n = shape.reduce((a, d) => a * d, 1);
      const xd = randomArray(n, 81 + k).map((v) => 3 * v + 1 + shift);
      const x = { data: Float64Array.from(Float32Array.from(xd)), shape };
      const w = { data: randomArray(c, 82 + k), shape: [c] };
      const b = { data: randomArray(c, 83 + k), shape: [c] };
      const ref = layerNorm2dRef(x, w.data, b.data, 1e-6);
      const gout = randomArray(n, 84 + k);
      const got = await withForm(form, () => runAt(lead, [x, w, b], gout, 1e-6));
      const gr = layerNorm2dBackwardRef(x, w.data, { data: gout, shape }, 1e-6);
      const lost = shift * 2e-7; // f32 rounding of a mean of size `shift`
      const msg = `[${shape}] ${form} offset ${lead}`;
      assertAllClose(got.y, ref.data, { atol: 2e-5 + lost, rtol: 1e-5, msg: `${msg} forward` });
      const tol = { atol: 5e-5 + lost * 10, rtol: 1e-4 };
      assertAllClose(got.grads[0], gr.gx.data, { ...tol, msg: `${msg} grad x` });
      assertAllClose(got.grads[1], gr.gw, { ...tol, msg: `${msg} grad w` });
      assertAllClose(got.grads[2], gr.gb, { ...tol, msg: `${msg} grad b` });
    }
  });
}

/** As `run`, with x read from a view `lead` elements into its storage. */
async function runAt(
  lead: number,
  [xs, ws, bs]: { data: ArrayLike<number>; shape: number[] }[],
  gout: ArrayLike<number>,
  eps: number,
) {
  const r = T.tidy(() => {
    const n = xs.data.length;
    const whole = T.tensor(
      Float32Array.from([...new Array(lead).fill(0), ...Array.from(xs.data)]),
      [
        lead + n,
      ],
      { requiresGrad: true },
    );
    const x = T.reshape(T.slice(whole, 0, lead, lead + n), xs.shape);
    const [w, b] = [ws, bs].map((i) =>
      T.tensor(Float32Array.from(i.data), i.shape, { requiresGrad: true })
    );
    const y = layerNorm2d(x, w, b, { eps });
    y.backward({ grad: T.tensor(Float32Array.from(gout), y.shape) });
    return { y, grads: [T.slice(whole.grad!, 0, lead, lead + n), w.grad!, b.grad!] };
  });
  return await readBack(r);
}

Deno.test("layerNorm2d() gradients agree with finite differences of the reference", async () => {
  await checkOp({
    name: "layerNorm2d",
    shapes: [[2, 5, 3, 2], [5], [5]],
    gpu: ([x, w, b]) => layerNorm2d(x, w, b),
    ref: ([x, w, b]) => layerNorm2dRef(x, w.data, b.data, 1e-6),
    gradAtol: 2e-3,
  });
});

Deno.test("layerNorm2d() matches SAM 2's LayerNorm2d in PyTorch float64 (torch-ops fixture)", async () => {
  const f = loadTorchOps("layernorm2d"), v = "c7_eps1e-6", gap = gapsOf("layernorm2d").get(v)!;
  const t = (k: string) => tensorOf(f, `${v}/${k}`);
  const got = await run([t("in.x"), t("in.weight"), t("in.bias")], t("gout").data, 1e-6);
  const tol = (k: string) => ({ atol: 4 * gap[k] + 1e-6, rtol: 0, msg: k });
  assertAllClose(got.y, t("out_f64").data, tol("out"));
  assertAllClose(got.grads[0], t("grad.x_f64").data, tol("grad.x"));
  assertAllClose(got.grads[1], t("grad.weight_f64").data, tol("grad.weight"));
  assertAllClose(got.grads[2], t("grad.bias_f64").data, tol("grad.bias"));
});

Deno.test("LayerNorm2d module has PyTorch's keys and init, and rejects wrong shapes", async () => {
  const m = new LayerNorm2d(3);
  const keys = m.namedParameters().map(([k]) => k);
  assertAllClose(await m.weight.toArray(), [1, 1, 1]);
  assertAllClose(await m.bias.toArray(), [0, 0, 0]);
  if (keys.join() !== "weight,bias") throw new Error(`keys: ${keys}`);
  const x = T.zeros([1, 4, 2, 2]);
  assertThrows(() => m.forward(x), RangeError, "[3]");
  x.dispose();
});

Deno.test("layerNorm2d() weight/bias gradients over more pixels than one workgroup's loop reaches", async () => {
  // 5M pixels: past 64 invocations x 65,535 iterations (llvmpipe's loop cap), so the workgroup
  // form runs several workgroups per channel. Channel 0 is 1, channel 1 is -1: xhat = +-1 (eps
  // aside), so with g = 1 the gradients are exact counts: gb = 5e6, gw = +-5e6 / sqrt(1 + eps).
  const pixels = 5_000_000, hw = 1_000_000;
  for (const form of FORMS) {
    await withForm(form, async () => {
      const grads = T.tidy(() => {
        const one = T.ones([5, 1, 1000, 1000]);
        const x = T.cat([one, T.neg(one)], 1);
        const w = T.ones([2], { requiresGrad: true }), b = T.zeros([2], { requiresGrad: true });
        T.sum(layerNorm2d(x, w, b)).backward();
        return [w.grad!, b.grad!];
      });
      const [gw, gb] = await Promise.all(grads.map((g) => g.toArray()));
      grads.forEach((g) => g.dispose());
      const s = pixels / Math.sqrt(1 + 1e-6);
      assertAllClose(gb, [pixels, pixels], { atol: 0, rtol: 0, msg: `${form} gb` });
      assertAllClose(gw, [s, -s], { atol: 0, rtol: 1e-6, msg: `${form} gw (hw ${hw})` });
    });
  }
});
