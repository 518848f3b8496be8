/**
 * Our pixel ops against what torchvision 0.14.1 (Pillow 9.4, torch 1.13) computes for the
 * reference's transforms, on a 64x48 crop of a DAVIS frame and an all-byte-values ramp
 * (fixtures: scripts/fixtures/make_transform_fixtures.py). Images go through PIL in the
 * reference, masks through torch tensors; each case drives our deterministic functional layer
 * with the fixture's parameters.
 */
import { assert, AssertionError } from "../assert.ts";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  affineMask,
  affineRgb,
  applyJitter,
  executeFramePlanCpu,
  hflipBytes,
  type ImageOp,
  inverseAffineMatrix,
  type PlannedFrame,
  resizeBytes,
  resizeMask,
  type RgbImage,
  toGrayscale,
  toTensorLuts,
  toTensorNormalize,
} from "../../src/data/mod.ts";

const DIR = new URL("../fixtures/transforms/", import.meta.url);

interface ArrayInfo {
  dtype: "u8" | "f32";
  shape: number[];
  offset: number;
}
interface Case {
  name: string;
  op: string;
  params: Record<string, unknown>;
  input: string;
  output: string;
}
const index = JSON.parse(Deno.readTextFileSync(new URL("index.json", DIR))) as {
  arrays: Record<string, ArrayInfo>;
  cases: Case[];
};
const blob = Deno.readFileSync(new URL("transforms.bin", DIR));

function arr(name: string): { data: Uint8Array | Float32Array; shape: number[] } {
  const a = index.arrays[name];
  const n = a.shape.reduce((x, y) => x * y, 1);
  const data = a.dtype === "u8"
    ? blob.slice(a.offset, a.offset + n)
    : new Float32Array(blob.slice(a.offset, a.offset + 4 * n).buffer);
  return { data, shape: a.shape };
}
function image(name: string): RgbImage {
  const { data, shape } = arr(name);
  return { width: shape[1], height: shape[0], data: (data as Uint8Array).slice() };
}
function cases(op: string): Case[] {
  const c = index.cases.filter((k) => k.op === op);
  assert(c.length > 0, `no fixture cases for ${op}`);
  return c;
}

/** Counts differing elements; fails naming the first when the count or size is off. */
function compare(
  name: string,
  ours: ArrayLike<number>,
  ref: ArrayLike<number>,
  { atol = 0, maxBad = 0, width = 0 }: { atol?: number; maxBad?: number; width?: number } = {},
): number {
  if (ours.length !== ref.length) {
    throw new AssertionError(`${name}: length ours=${ours.length} | torchvision=${ref.length}`);
  }
  let bad = 0, first = -1;
  for (let i = 0; i < ours.length; i++) {
    if (!(Math.abs(ours[i] - ref[i]) <= atol)) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > maxBad) {
    const where = width
      ? ` (x=${Math.floor(first / 3) % width}, y=${Math.floor(first / 3 / width)})`
      : "";
    throw new AssertionError(
      `${name}: ${bad} of ${ours.length} values differ (allowed ${maxBad}); first at ${first}` +
        `${where}: ours=${ours[first]} | torchvision=${ref[first]}`,
    );
  }
  return bad;
}

Deno.test("hflip() matches torchvision exactly on image and mask", () => {
  const [ci, cm] = [cases("hflip")[0], cases("hflip_mask")[0]];
  const img = image(ci.input);
  compare(ci.name, hflipBytes(img.data, img.width, img.height, 3), arr(ci.output).data);
  const m = arr(cm.input);
  compare(
    cm.name,
    hflipBytes(m.data as Uint8Array, m.shape[1], m.shape[0], 1),
    arr(cm.output).data,
  );
});

Deno.test("resizeBytes() equals PIL's bilinear resize exactly (fixed-point, up and down)", () => {
  for (const c of cases("resize")) {
    const img = image(c.input);
    const { width, height } = c.params as { width: number; height: number };
    const out = resizeBytes(img.data, img.width, img.height, 3, width, height);
    compare(`${c.name} ${width}x${height}`, out, arr(c.output).data);
  }
});

Deno.test("resizeMask() equals torch's antialiased bilinear on uint8 masks exactly", () => {
  for (const c of cases("resize_mask")) {
    const m = arr(c.input);
    const { width, height } = c.params as { width: number; height: number };
    const out = resizeMask(m.data as Uint8Array, m.shape[1], m.shape[0], width, height);
    compare(`${c.name} ${width}x${height}`, out, arr(c.output).data);
  }
});

type AffineP = {
  angle: number;
  translate: [number, number];
  scale: number;
  shear: [number, number];
  interpolation: "bilinear" | "bicubic";
  fill: [number, number, number];
};

Deno.test("affineRgb() equals PIL's Image.transform (bilinear and bicubic, fill)", () => {
  for (const c of cases("affine")) {
    const img = image(c.input);
    const p = c.params as AffineP;
    const m = inverseAffineMatrix(
      [img.width * 0.5, img.height * 0.5],
      p.angle,
      p.translate,
      p.scale,
      p.shear,
    );
    const out = affineRgb(img.data, img.width, img.height, m, p.fill, p.interpolation);
    // PIL maps coordinates in double, as we do: exact, up to a value that lands within
    // 1e-12 of an integer before truncation (none in these cases).
    compare(`${c.name} ${JSON.stringify(p)}`, out, arr(c.output).data, { width: img.width });
  }
});

Deno.test("affineMask() matches torchvision's grid_sample nearest (float32 grid)", () => {
  for (const c of cases("affine_mask")) {
    const src = arr(c.input), w = src.shape[1], h = src.shape[0];
    const p = c.params as AffineP;
    const m = inverseAffineMatrix([w * 0.5, h * 0.5], p.angle, p.translate, p.scale, p.shear);
    const out = affineMask(src.data as Uint8Array, w, h, m);
    // torch builds the sampling grid in float32 (linspace, bmm, unnormalise); we map in
    // double. A pixel whose source coordinate is within float32 error (~1e-5 px) of a
    // rounding boundary can pick the neighbour: allow 0.5% of the pixels.
    compare(c.name, out, arr(c.output).data, { maxBad: Math.ceil(w * h * 0.005) });
  }
});

const colourOps: [string, (img: RgbImage, f: number) => void][] = [
  ["adjust_brightness", adjustBrightness],
  ["adjust_contrast", adjustContrast],
  ["adjust_saturation", adjustSaturation],
  ["adjust_hue", adjustHue],
];
for (const [op, fn] of colourOps) {
  Deno.test(`${op}() equals torchvision on PIL images exactly (crop and all byte values)`, () => {
    for (const c of cases(op)) {
      const img = image(c.input);
      const f = (c.params as { factor: number }).factor;
      fn(img, f);
      compare(`${c.name} ${c.input} factor ${f}`, img.data, arr(c.output).data, {
        width: img.width,
      });
    }
  });
}

Deno.test("applyJitter() with one op equals torchvision too (the fused LUT path)", () => {
  for (const [k, op] of ["adjust_brightness", "adjust_contrast", "adjust_saturation"].entries()) {
    for (const c of cases(op)) {
      const img = image(c.input);
      applyJitter(img, [[k, (c.params as { factor: number }).factor]]);
      compare(c.name, img.data, arr(c.output).data);
    }
  }
});

Deno.test("toGrayscale() equals T.Grayscale(3) on PIL exactly", () => {
  for (const c of cases("grayscale")) {
    const img = image(c.input);
    toGrayscale(img);
    compare(c.name, img.data, arr(c.output).data);
  }
});

Deno.test("toTensorNormalize() equals F.to_tensor and F.normalize bit for bit", () => {
  for (const c of cases("to_tensor")) {
    compare(c.name, toTensorNormalize(image(c.input), toTensorLuts()), arr(c.output).data);
  }
  for (const c of cases("to_tensor_normalize")) {
    const { mean, std } = c.params as { mean: number[]; std: number[] };
    const out = toTensorNormalize(image(c.input), toTensorLuts(mean, std));
    compare(c.name, out, arr(c.output).data);
  }
});

Deno.test("executeFramePlanCpu() runs the MOSE pipeline as torchvision does (fixed draws)", () => {
  const pipes = cases("pipeline");
  const masks = cases("pipeline_mask");
  const bytesOut = cases("pipeline_bytes");
  pipes.forEach((c, k) => {
    const p = c.params as {
      flip: boolean;
      affine: [number, [number, number], number, [number, number]];
      size: number;
      jitter1: { order: number[]; b: number; c: number; s: number };
      gray: boolean;
      jitter2: { order: number[]; b: number; c: number; s: number };
      mean: number[];
      std: number[];
      fill: [number, number, number];
    };
    const img = image(c.input);
    const w = img.width, h = img.height;
    const [angle, tr, scale, shear] = p.affine;
    const matrix = inverseAffineMatrix([w * 0.5, h * 0.5], angle, tr, scale, shear);
    const steps = (j: typeof p.jitter1) =>
      j.order.filter((fn) => fn !== 3).map((fn): [number, number] => [fn, [j.b, j.c, j.s][fn]]);
    const ops: ImageOp[] = [
      ...(p.flip ? [{ op: "hflip" } as const] : []),
      { op: "affine", matrix, fill: p.fill, interpolation: "bilinear" },
      { op: "resize", width: p.size, height: p.size },
      { op: "jitter", steps: steps(p.jitter1) },
      ...(p.gray ? [{ op: "grayscale" } as const] : []),
      { op: "jitter", steps: steps(p.jitter2) },
    ];
    const frame: PlannedFrame = {
      image: img,
      objects: [],
      pixelPlan: { width: p.size, height: p.size, ops },
    };
    executeFramePlanCpu(frame);
    compare(bytesOut[k].name, frame.image.data, arr(bytesOut[k].output).data);
    frame.pixelPlan = {
      width: p.size,
      height: p.size,
      ops: [{ op: "tensor", mean: p.mean, std: p.std }],
    };
    executeFramePlanCpu(frame);
    compare(c.name, frame.tensor!, arr(c.output).data);
    // masks: flip, nearest affine, antialiased resize (the same float32-grid tolerance)
    const m0 = arr("mask").data as Uint8Array;
    const flipped = p.flip ? hflipBytes(m0, w, h, 1) : m0;
    const warped = affineMask(flipped, w, h, matrix);
    const resized = resizeMask(warped, w, h, p.size, p.size);
    compare(masks[k].name, resized, arr(masks[k].output).data, {
      maxBad: Math.ceil(p.size ** 2 * 0.005),
    });
  });
});
