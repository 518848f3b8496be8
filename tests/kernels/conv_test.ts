/**
 * conv2d / conv_transpose2d on the GPU against the float64 references (tests/reference/conv.ts),
 * finite differences of those references, and PyTorch's float64 results (torch-ops fixtures).
 *
 * Tolerances: random inputs in [-1, 1] with reductions of at most ~150 terms: forward atol 2e-5,
 * gradients 5e-5 (f32 accumulation of up to ~1000 terms for the weight gradient). Against the
 * torch-ops fixtures: atol = 4 x PyTorch's own float32-vs-float64 gap for that tensor (listed in
 * cases.json, 1.5e-7..9.4e-6) + 1e-6: our summation order differs from PyTorch's, so our error is
 * of the same size as its float32 error, not equal to it.
 */
import { assertAllClose, assertEquals, assertThrows } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { conv2d } from "../../src/tensor/ops/conv2d.ts";
import { convTranspose2d } from "../../src/tensor/ops/conv_transpose2d.ts";
import {
  conv2dBackwardRef,
  conv2dRef,
  type ConvGeometry,
  convTranspose2dBackwardRef,
  convTranspose2dRef,
  type ConvTransposeGeometry,
} from "../reference/conv.ts";
import { checkOp, initGpu } from "../tensor/_util.ts";
import { gapsOf, loadTorchOps, randomArray, tensorOf } from "./_spatial_fixtures.ts";

await initGpu();

const FWD = { atol: 2e-5, rtol: 1e-5 };
const GRAD = { atol: 5e-5, rtol: 1e-4 };

/** Runs `fn` on GPU copies of `inputs` with grad, backpropagates `gout`; returns y and grads. */
async function runWithGrad(
  inputs: { data: ArrayLike<number>; shape: number[] }[],
  gout: ArrayLike<number>,
  fn: (xs: T.Tensor[]) => T.Tensor,
): Promise<{ y: Float32Array; shape: readonly number[]; grads: Float32Array[] }> {
  const { y, grads } = T.tidy(() => {
    const xs = inputs.map((i) =>
      T.tensor(Float32Array.from(i.data), i.shape, { requiresGrad: true })
    );
    const y = fn(xs);
    y.backward({ grad: T.tensor(Float32Array.from(gout), y.shape) });
    return { y, grads: xs.map((x) => x.grad!) };
  });
  const out = {
    y: (await y.toArray()) as Float32Array,
    shape: y.shape,
    grads: await Promise.all(grads.map(async (g) => (await g.toArray()) as Float32Array)),
  };
  y.dispose();
  grads.forEach((g) => g.dispose());
  return out;
}

type ConvCase = [string, number[], number[], ConvGeometry];
const geo = (s: number | [number, number], p: number | [number, number], d = 1, groups = 1) => ({
  stride: (typeof s === "number" ? [s, s] : s) as [number, number],
  padding: (typeof p === "number" ? [p, p] : p) as [number, number],
  dilation: [d, d] as [number, number],
  groups,
});

const CONV_CASES: ConvCase[] = [
  ["3x3 s1 p1", [2, 5, 11, 13], [7, 5, 3, 3], geo(1, 1)],
  ["patch embed 7x7 s4 p3 (3->8)", [1, 3, 19, 21], [8, 3, 7, 7], geo(4, 3)],
  ["1x1", [2, 8, 5, 6], [3, 8, 1, 1], geo(1, 0)],
  ["3x3 s2 p1 odd", [1, 4, 9, 7], [6, 4, 3, 3], geo(2, 1)],
  ["2x2 s2", [1, 4, 8, 6], [16, 4, 2, 2], geo(2, 0)],
  ["4x4 s4 (1->1)", [1, 1, 12, 16], [1, 1, 4, 4], geo(4, 0)],
  ["2x2 s2 on odd size (not a patchify)", [1, 3, 9, 7], [5, 3, 2, 2], geo(2, 0)],
  ["depthwise 7x7 p3", [2, 6, 9, 10], [6, 1, 7, 7], geo(1, 3, 1, 6)],
  ["depthwise 3x3 dilation 2 s(2,1)", [1, 5, 9, 11], [5, 1, 3, 3], geo([2, 1], 2, 2, 5)],
  ["groups 2 s(1,2) d2", [1, 4, 9, 8], [6, 2, 3, 2], geo([1, 2], [2, 1], 2, 2)],
  ["size-1 everything", [1, 1, 1, 1], [1, 1, 1, 1], geo(1, 0)],
  ["1x1 output from 3x3 p0", [1, 3, 3, 3], [9, 3, 3, 3], geo(1, 0)],
  ["wide row (row kernel tail)", [1, 2, 3, 37], [5, 2, 3, 3], geo(1, 1)],
];

Deno.test("conv2d() forward and gradients match the float64 reference", async () => {
  for (const [name, xs, ws, g] of CONV_CASES) {
    const x = { data: randomArray(xs.reduce((a, b) => a * b), 11), shape: xs };
    const w = { data: randomArray(ws.reduce((a, b) => a * b), 12), shape: ws };
    const b = { data: randomArray(ws[0], 13), shape: [ws[0]] };
    const ref = conv2dRef(x, w, b.data, g);
    const gout = randomArray(ref.data.length, 14);
    const got = await runWithGrad(
      [x, w, b],
      gout,
      ([tx, tw, tb]) => conv2d(tx, tw, tb, g),
    );
    assertEquals([...got.shape], ref.shape, `${name} shape`);
    assertAllClose(got.y, ref.data, { ...FWD, msg: `${name} forward` });
    const gr = conv2dBackwardRef(x, w, { data: gout, shape: ref.shape }, g);
    assertAllClose(got.grads[0], gr.gx.data, { ...GRAD, msg: `${name} grad x` });
    assertAllClose(got.grads[1], gr.gw.data, { ...GRAD, msg: `${name} grad w` });
    assertAllClose(got.grads[2], gr.gb, { ...GRAD, msg: `${name} grad bias` });
  }
});

Deno.test("conv2d() gradients agree with finite differences of the reference", async () => {
  for (const [name, xs, ws, g] of [CONV_CASES[3], CONV_CASES[6], CONV_CASES[8]]) {
    await checkOp({
      name: `conv2d ${name}`,
      shapes: [xs, ws],
      gpu: ([x, w]) => conv2d(x, w, null, g),
      ref: ([x, w]) => conv2dRef(x, w, null, g),
      atol: 2e-5,
      gradAtol: 1e-4,
    });
  }
});

Deno.test("conv2d() without bias, on a non-contiguous (permuted) input", async () => {
  const x = { data: randomArray(2 * 6 * 5 * 3, 21), shape: [2, 5, 3, 6] }; // stored NHWC-ish
  const w = { data: randomArray(4 * 6 * 3 * 3, 22), shape: [4, 6, 3, 3] };
  const y = T.tidy(() => {
    const t = T.tensor(Float32Array.from(x.data), x.shape);
    return conv2d(T.permute(t, [0, 3, 1, 2]), T.tensor(Float32Array.from(w.data), w.shape), null, {
      padding: 1,
    });
  });
  // Reference on the permuted data.
  const xp = new Float64Array(x.data.length);
  for (let n = 0; n < 2; n++) {
    for (let h = 0; h < 5; h++) {
      for (let ww = 0; ww < 3; ww++) {
        for (let c = 0; c < 6; c++) {
          xp[((n * 6 + c) * 5 + h) * 3 + ww] = x.data[((n * 5 + h) * 3 + ww) * 6 + c];
        }
      }
    }
  }
  const ref = conv2dRef({ data: xp, shape: [2, 6, 5, 3] }, w, null, geo(1, 1));
  assertAllClose(await y.toArray(), ref.data, { ...FWD, msg: "permuted input" });
  y.dispose();
});

Deno.test("conv2d() rejects mismatched shapes with the shapes in the message", () => {
  const x = T.zeros([1, 4, 5, 5]), w = T.zeros([6, 3, 3, 3]);
  assertThrows(() => conv2d(x, w), RangeError, "[6, 3, 3, 3]");
  assertThrows(() => conv2d(x, T.zeros([6, 4, 7, 7])), RangeError, "does not fit");
  assertThrows(() => conv2d(x, T.zeros([6, 2, 3, 3]), null, { groups: 3 }), RangeError);
  x.dispose();
  w.dispose();
});

const CONV_FIXTURE: Record<string, ConvGeometry> = {
  k3_s1_p1: geo(1, 1),
  k7_s4_p3_patch_embed: geo(4, 3),
  dw_k7_p3: geo(1, 3, 1, 6),
  k3_s2_p1: geo(2, 1),
  k1: geo(1, 0),
  k3_d2_p2: geo(1, 2, 2),
};

Deno.test("conv2d() matches PyTorch float64 on the torch-ops fixture (tol 4x PyTorch's f32 gap)", async () => {
  const f = loadTorchOps("conv2d"), gaps = gapsOf("conv2d");
  for (const [v, g] of Object.entries(CONV_FIXTURE)) {
    const t = (k: string) => tensorOf(f, `${v}/${k}`);
    const got = await runWithGrad(
      [t("in.x"), t("in.weight"), t("in.bias")],
      t("gout").data,
      ([x, w, b]) => conv2d(x, w, b, g),
    );
    const gap = gaps.get(v)!;
    const tol = (k: string) => ({ atol: 4 * gap[k] + 1e-6, rtol: 0, msg: `${v} ${k}` });
    assertAllClose(got.y, t("out_f64").data, tol("out"));
    assertAllClose(got.grads[0], t("grad.x_f64").data, tol("grad.x"));
    assertAllClose(got.grads[1], t("grad.weight_f64").data, tol("grad.weight"));
    assertAllClose(got.grads[2], t("grad.bias_f64").data, tol("grad.bias"));
  }
});

type TCase = [string, number[], number[], ConvTransposeGeometry];
const tgeo = (s: number, p: number, op = 0, d = 1, groups = 1): ConvTransposeGeometry => ({
  ...geo(s, p, d, groups),
  outputPadding: [op, op],
});

const CONVT_CASES: TCase[] = [
  ["k2 s2 (SAM 2 upscaling)", [2, 8, 5, 6], [8, 4, 2, 2], tgeo(2, 0)],
  ["k3 s2 p1 op1", [1, 3, 4, 5], [3, 2, 3, 3], tgeo(2, 1, 1)],
  ["k3 s1 p1 groups 2", [1, 4, 5, 3], [4, 3, 3, 3], tgeo(1, 1, 0, 1, 2)],
  ["k3 s2 dilation 2", [1, 2, 3, 4], [2, 3, 3, 3], tgeo(2, 0, 1, 2)],
  ["size 1", [1, 1, 1, 1], [1, 1, 2, 2], tgeo(2, 0)],
  ["k2 s2 output padding 1 (not a patchify)", [1, 2, 3, 3], [2, 3, 2, 2], tgeo(2, 0, 1)],
];

Deno.test("convTranspose2d() forward and gradients match the float64 reference", async () => {
  for (const [name, xs, ws, g] of CONVT_CASES) {
    const x = { data: randomArray(xs.reduce((a, b) => a * b), 31), shape: xs };
    const w = { data: randomArray(ws.reduce((a, b) => a * b), 32), shape: ws };
    const cout = ws[1] * g.groups;
    const b = { data: randomArray(cout, 33), shape: [cout] };
    const ref = convTranspose2dRef(x, w, b.data, g);
    const gout = randomArray(ref.data.length, 34);
    const got = await runWithGrad(
      [x, w, b],
      gout,
      ([tx, tw, tb]) => convTranspose2d(tx, tw, tb, g),
    );
    assertEquals([...got.shape], ref.shape, `${name} shape`);
    assertAllClose(got.y, ref.data, { ...FWD, msg: `${name} forward` });
    const gr = convTranspose2dBackwardRef(x, w, { data: gout, shape: ref.shape }, g);
    assertAllClose(got.grads[0], gr.gx.data, { ...GRAD, msg: `${name} grad x` });
    assertAllClose(got.grads[1], gr.gw.data, { ...GRAD, msg: `${name} grad w` });
    assertAllClose(got.grads[2], gr.gb, { ...GRAD, msg: `${name} grad bias` });
  }
  await checkOp({
    name: "convTranspose2d k3 s2 p1 op1",
    shapes: [[1, 3, 4, 5], [3, 2, 3, 3]],
    gpu: ([x, w]) => convTranspose2d(x, w, null, CONVT_CASES[1][3]),
    ref: ([x, w]) => convTranspose2dRef(x, w, null, CONVT_CASES[1][3]),
    gradAtol: 1e-4,
  });
});

Deno.test("convTranspose2d() matches PyTorch float64 on the torch-ops fixture", async () => {
  const f = loadTorchOps("conv_transpose2d"), gaps = gapsOf("conv_transpose2d");
  for (const [v, g] of Object.entries({ k2_s2: tgeo(2, 0), k3_s2_p1_op1: tgeo(2, 1, 1) })) {
    const t = (k: string) => tensorOf(f, `${v}/${k}`);
    const got = await runWithGrad(
      [t("in.x"), t("in.weight"), t("in.bias")],
      t("gout").data,
      ([x, w, b]) => convTranspose2d(x, w, b, g),
    );
    const gap = gaps.get(v)!;
    const tol = (k: string) => ({ atol: 4 * gap[k] + 1e-6, rtol: 0, msg: `${v} ${k}` });
    assertAllClose(got.y, t("out_f64").data, tol("out"));
    assertAllClose(got.grads[0], t("grad.x_f64").data, tol("grad.x"));
    assertAllClose(got.grads[1], t("grad.weight_f64").data, tol("grad.weight"));
    assertAllClose(got.grads[2], t("grad.bias_f64").data, tol("grad.bias"));
  }
});

Deno.test("conv2d() input gradient falls back to the flat gather beyond 65535 rows", async () => {
  const x = { data: randomArray(65600, 41), shape: [1, 1, 65600, 1] };
  const w = { data: randomArray(6, 42), shape: [2, 1, 3, 1] };
  const g = geo([2, 1], [1, 0]);
  const ref = conv2dRef(x, w, null, g);
  const gout = randomArray(ref.data.length, 43);
  const got = await runWithGrad([x, w], gout, ([tx, tw]) => conv2d(tx, tw, null, g));
  assertAllClose(got.y, ref.data, { ...FWD, msg: "forward" });
  const gr = conv2dBackwardRef(x, w, { data: gout, shape: ref.shape }, g);
  assertAllClose(got.grads[0], gr.gx.data, { ...GRAD, msg: "grad x" });
  // The weight gradient sums 32800 products here: f32 accumulation needs a looser atol.
  assertAllClose(got.grads[1], gr.gw.data, { atol: 2e-3, rtol: 1e-4, msg: "grad w" });
});
