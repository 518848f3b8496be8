/**
 * interpolate() on the GPU against the float64 reference (tests/reference/interpolate.ts), finite
 * differences, and PyTorch's float64 results (torch-ops fixtures).
 *
 * Tolerances: forward 1e-5 and gradients 2e-5 against the reference (sums of at most a few dozen
 * weighted terms of size ~1). Fixtures: atol = 4 x PyTorch's own f32-vs-f64 gap for that tensor
 * (0 for exact cases such as nearest, up to 5.3e-6 for the bicubic gradient) + 1e-6.
 */
import { assertAllClose, assertEquals, assertThrows } from "../assert.ts";
import * as T from "../../src/tensor/mod.ts";
import { interpolate, type InterpolateOptions } from "../../src/tensor/ops/interpolate.ts";
import {
  interpolateBackwardRef,
  interpolateRef,
  type InterpRefOptions,
} from "../reference/interpolate.ts";
import { checkOp, initGpu } from "../tensor/_util.ts";
import { gapsOf, loadTorchOps, randomF32, tensorOf } from "./_spatial_fixtures.ts";

await initGpu();

async function run(
  x: { data: ArrayLike<number>; shape: number[] },
  gout: ArrayLike<number>,
  o: InterpolateOptions,
) {
  const r = T.tidy(() => {
    const tx = T.tensor(Float32Array.from(x.data), x.shape, { requiresGrad: true });
    const y = interpolate(tx, o);
    y.backward({ grad: T.tensor(Float32Array.from(gout), y.shape) });
    return { y, gx: tx.grad! };
  });
  const out = { y: await r.y.toArray(), shape: [...r.y.shape], gx: await r.gx.toArray() };
  r.y.dispose();
  r.gx.dispose();
  return out;
}

const FIXTURES: [string, string, Omit<InterpolateOptions, "size">][] = [
  ["interpolate_bilinear_ac_false", "up_12x17", { mode: "bilinear" }],
  ["interpolate_bilinear_ac_false", "down_4x5", { mode: "bilinear" }],
  ["interpolate_bilinear_ac_true", "up_12x17", { mode: "bilinear", alignCorners: true }],
  ["interpolate_bilinear_ac_true", "down_4x5", { mode: "bilinear", alignCorners: true }],
  ["interpolate_bilinear_antialias_down", "down_9x13", { mode: "bilinear", antialias: true }],
  ["interpolate_bicubic_ac_false", "up_32x32", { mode: "bicubic" }],
  ["interpolate_bicubic_ac_false", "down_5x6", { mode: "bicubic" }],
  ["interpolate_nearest", "up_10x14", { mode: "nearest" }],
  ["interpolate_nearest", "down_3x4", { mode: "nearest" }],
];

Deno.test("interpolate() matches PyTorch float64 for every mode, up and down (torch-ops fixtures)", async () => {
  for (const [file, v, opts] of FIXTURES) {
    const f = loadTorchOps(file), gap = gapsOf(file).get(v)!;
    const t = (k: string) => tensorOf(f, `${v}/${k}`);
    const want = t("out_f64");
    const got = await run(t("in.x"), t("gout").data, {
      ...opts,
      size: [want.shape[2], want.shape[3]],
    });
    assertEquals(got.shape, want.shape, `${file}/${v}`);
    assertAllClose(got.y, want.data, {
      atol: 4 * gap.out + 1e-6,
      rtol: 0,
      msg: `${file}/${v} out`,
    });
    assertAllClose(got.gx, t("grad.x_f64").data, {
      atol: 4 * gap["grad.x"] + 1e-6,
      rtol: 0,
      msg: `${file}/${v} grad`,
    });
  }
});

const CASES: [number[], InterpRefOptions][] = [
  [[1, 2, 5, 7], { mode: "bilinear", size: [9, 3] }],
  [[2, 1, 4, 4], { mode: "bilinear", size: [16, 16] }], // SAM 2 decoder x4 upsample, tiny
  [[1, 2, 6, 5], { mode: "bilinear", size: [1, 1], alignCorners: true }],
  [[1, 1, 1, 1], { mode: "bilinear", size: [3, 2], alignCorners: true }],
  [[1, 3, 7, 7], { mode: "bicubic", size: [13, 10] }], // pos_embed-like resize
  [[1, 1, 2, 3], { mode: "bicubic", size: [7, 7] }],
  [[1, 2, 4, 6], { mode: "bicubic", size: [5, 4], alignCorners: true }],
  [[2, 2, 3, 5], { mode: "nearest", size: [6, 10] }], // FPN x2
  [[1, 1, 7, 9], { mode: "nearest", size: [3, 5] }],
  [[1, 2, 16, 12], { mode: "bilinear", size: [4, 5], antialias: true }], // mask 4x downscale
  [[1, 1, 5, 5], { mode: "bilinear", size: [8, 7], antialias: true }], // antialias upscale
];

Deno.test("interpolate() forward and gradient match the float64 reference", async () => {
  for (const [i, [shape, o]] of CASES.entries()) {
    const x = {
      data: randomF32(shape.reduce((a, b) => a * b), 80 + i),
      shape,
    };
    const ref = interpolateRef(x, o);
    const gout = randomF32(ref.data.length, 90 + i);
    const got = await run(x, gout, {
      mode: o.mode,
      size: o.size,
      alignCorners: o.mode === "nearest" ? undefined : o.alignCorners,
      antialias: o.antialias,
    });
    const name = `${shape} -> ${o.size} ${o.mode} ac=${o.alignCorners} aa=${o.antialias}`;
    assertEquals(got.shape, ref.shape, name);
    assertAllClose(got.y, ref.data, { atol: 1e-5, rtol: 1e-5, msg: `${name} forward` });
    const gx = interpolateBackwardRef(shape, { data: gout, shape: ref.shape }, o);
    assertAllClose(got.gx, gx.data, { atol: 2e-5, rtol: 1e-5, msg: `${name} grad` });
  }
});

Deno.test("interpolate() gradients agree with finite differences of the reference", async () => {
  for (const [shape, o] of [CASES[4], CASES[9]]) {
    await checkOp({
      name: `interpolate ${o.mode} aa=${o.antialias}`,
      shapes: [shape],
      gpu: ([x]) => interpolate(x, { mode: o.mode, size: o.size, antialias: o.antialias }),
      ref: ([x]) => interpolateRef(x, o),
    });
  }
});

Deno.test("interpolate() with scaleFactor uses 1/scale for coordinates (FPN nearest x2)", async () => {
  const x = { data: randomF32(2 * 3 * 5, 5), shape: [1, 2, 3, 5] };
  const ref = interpolateRef(x, { mode: "nearest", size: [6, 10], scaleFactor: [2, 2] });
  const y = T.tidy(() =>
    interpolate(T.tensor(Float32Array.from(x.data), x.shape), { scaleFactor: 2 })
  );
  assertAllClose(await y.toArray(), ref.data, { atol: 0, rtol: 0 });
  y.dispose();
  const z = T.tidy(() =>
    interpolate(T.tensor(Float32Array.from(x.data), x.shape), {
      scaleFactor: 1.5,
      mode: "bilinear",
    })
  );
  const refZ = interpolateRef(x, { mode: "bilinear", size: [4, 7], scaleFactor: [1.5, 1.5] });
  assertAllClose(await z.toArray(), refZ.data, { atol: 1e-6, rtol: 0 });
  z.dispose();
});

Deno.test("interpolate() rejects options that do not fit the mode", () => {
  const x = T.zeros([1, 1, 4, 4]);
  assertThrows(() => interpolate(x, { size: 2, alignCorners: true }), RangeError, "nearest");
  assertThrows(
    () => interpolate(x, { size: 2, mode: "bicubic", antialias: true }),
    RangeError,
    "antialias",
  );
  assertThrows(() => interpolate(x, { mode: "bilinear" }), RangeError, "size or scaleFactor");
  assertThrows(() => interpolate(x, { size: [0, 3] }), RangeError, "0x3");
  x.dispose();
});

Deno.test("interpolate() falls back to axis-by-axis passes beyond 65535 planes", async () => {
  const shape = [1, 66000, 2, 1];
  const x = { data: randomF32(66000 * 2, 7), shape };
  const o: InterpRefOptions = { mode: "bilinear", size: [3, 2] };
  const ref = interpolateRef(x, o);
  const gout = randomF32(ref.data.length, 8);
  const got = await run(x, gout, { mode: "bilinear", size: [3, 2] });
  assertAllClose(got.y, ref.data, { atol: 1e-5, rtol: 1e-5, msg: "forward" });
  const gx = interpolateBackwardRef(shape, { data: gout, shape: ref.shape }, o);
  assertAllClose(got.gx, gx.data, { atol: 2e-5, rtol: 1e-5, msg: "grad" });
});
