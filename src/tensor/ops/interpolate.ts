import { gpu } from "../../gpu/runtime.ts";
import {
  resampleAxisKernel,
  resampleGrid,
  resampleRowsGrid,
  resampleRowsKernel,
  resampleUniforms,
} from "../../kernels/interpolate.ts";
import { apply } from "../autograd.ts";
import { tensor } from "../create.ts";
import { bindingOf } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { keep } from "../scope.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { denseF32 } from "./_conv_launch.ts";
import {
  type AxisTable,
  axisTable,
  type InterpolateMode,
  isIdentity,
  packTable,
  transposeTable,
} from "./_resample_tables.ts";

export type { InterpolateMode };

/** Options of `interpolate` (PyTorch's `F.interpolate` keywords for 4-D input). */
export interface InterpolateOptions {
  /** Output [H, W]; give this or `scaleFactor`. */
  size?: number | readonly [number, number];
  /**
   * Output = floor(input * scaleFactor); coordinates use 1/scaleFactor (PyTorch's behaviour
   * with `recompute_scale_factor` unset).
   */
  scaleFactor?: number | readonly [number, number];
  /** @default "nearest" */
  mode?: InterpolateMode;
  /** Bilinear/bicubic only: map corner pixel centres onto each other. @default false */
  alignCorners?: boolean;
  /** Bilinear only: antialiased (triangle filter widened by the scale) when downsampling. @default false */
  antialias?: boolean;
}

interface Plan {
  n: number;
  c: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  /** Tables (packed on the GPU) for forward H, forward W, backward H, backward W; null = identity. */
  fh: Tensor | null;
  fw: Tensor | null;
  bh: Tensor | null;
  bw: Tensor | null;
  tfh: number;
  tfw: number;
  tbh: number;
  tbw: number;
}

const TABLES = new Map<string, { t: Tensor | null; taps: number }>();

/** The packed GPU table (cached for the process: tables are small and shapes repeat). */
function gpuTable(
  key: string,
  make: () => AxisTable,
  len: number,
): { t: Tensor | null; taps: number } {
  let e = TABLES.get(key);
  if (!e) {
    const tab = make();
    if (isIdentity(tab, len)) e = { t: null, taps: 1 };
    else {
      const p = packTable(tab);
      e = { t: keep(tensor(p.data, [p.data.length])), taps: p.taps };
    }
    if (TABLES.size > 256) {
      for (const v of TABLES.values()) v.t?.dispose();
      TABLES.clear();
    }
    TABLES.set(key, e);
  }
  return e;
}

/** Runs one axis pass over x viewed as [A, Lin, B]. */
function pass(
  x: Tensor,
  table: Tensor,
  taps: number,
  a: number,
  lin: number,
  lout: number,
  b: number,
  shape: number[],
): Tensor {
  const out = Tensor.empty(shape, "f32");
  if (out.size === 0) return out;
  if (b > 1 && lout <= 65535 && a <= 65535) {
    gpu().launch(resampleRowsKernel(), {
      buffers: [out, x, table].map(bindingOf),
      uniforms: resampleUniforms(a, lin, lout, b, taps, x.offset, [0]),
      workgroups: resampleRowsGrid(a, lout, b),
    });
    return out;
  }
  const grid = resampleGrid(out.size);
  gpu().launch(resampleAxisKernel(), {
    buffers: [out, x, table].map(bindingOf),
    uniforms: resampleUniforms(a, lin, lout, b, taps, x.offset, grid),
    workgroups: grid,
  });
  return out;
}

/** W pass then H pass with the given tables (either may be identity). */
function separable(
  x: Tensor,
  n: number,
  c: number,
  h: number,
  w: number,
  oh: number,
  ow: number,
  tw: Tensor | null,
  tapsW: number,
  th: Tensor | null,
  tapsH: number,
): Tensor {
  let cur = x;
  if (tw) cur = pass(cur, tw, tapsW, n * c * h, w, ow, 1, [n, c, h, ow]);
  if (th) {
    const next = pass(cur, th, tapsH, n * c, h, oh, ow, [n, c, oh, ow]);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  if (cur === x) cur = x.view(x.shape, x.strides, x.offset);
  return cur;
}

const interpolateOp: OpDef<Plan> = {
  name: "interpolate",
  forward(_ctx, [x0], p) {
    const x = denseF32(x0, "interpolate(): input");
    const y = separable(x, p.n, p.c, p.h, p.w, p.oh, p.ow, p.fw, p.tfw, p.fh, p.tfh);
    if (x !== x0) x.dispose();
    return y;
  },
  backward(_ctx, g0, p) {
    const g = denseF32(g0, "grad");
    // out = Rh (Rw x)  =>  gx = Rw^T (Rh^T g): the transposed tables, axis by axis (the W pass
    // first here too: the two passes commute).
    const cur = separable(g, p.n, p.c, p.oh, p.ow, p.h, p.w, p.bw, p.tbw, p.bh, p.tbh);
    if (g !== g0) g.dispose();
    return [cur];
  },
};

/**
 * `F.interpolate` on NCHW f32 with PyTorch's index rules: "nearest" (legacy floor rule),
 * "bilinear" (align_corners false/true, optional antialias for downscaling), "bicubic" (A = -0.75,
 * taps clamped at the borders). Differentiable (also with antialias). Each axis is one pass of a
 * tap-table kernel; the backward runs the transposed tables, so it gathers instead of scattering.
 *
 * @example
 * ```ts
 * const up = interpolate(lowRes, { size: [1024, 1024], mode: "bilinear" });
 * const pe = interpolate(posEmbed, { size: [256, 256], mode: "bicubic" });
 * ```
 * @throws {RangeError} on missing/invalid sizes or options that do not apply to the mode.
 */
export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  if (x.rank !== 4) {
    throw new RangeError(`interpolate(): expected x [N, C, H, W], got ${fmtShape(x.shape)}`);
  }
  const mode = opts.mode ?? "nearest";
  const ac = opts.alignCorners ?? false, aa = opts.antialias ?? false;
  if (mode === "nearest" && (opts.alignCorners !== undefined || aa)) {
    throw new RangeError("interpolate(): alignCorners and antialias do not apply to mode nearest");
  }
  if (aa && (mode !== "bilinear" || ac)) {
    throw new RangeError(
      "interpolate(): antialias is implemented for bilinear, alignCorners false",
    );
  }
  const [n, c, h, w] = x.shape;
  let oh: number, ow: number, sf: [number, number] | undefined;
  if (opts.size !== undefined) {
    if (opts.scaleFactor !== undefined) {
      throw new RangeError("interpolate(): give either size or scaleFactor, not both");
    }
    [oh, ow] = typeof opts.size === "number" ? [opts.size, opts.size] : opts.size;
  } else if (opts.scaleFactor !== undefined) {
    sf = typeof opts.scaleFactor === "number"
      ? [opts.scaleFactor, opts.scaleFactor]
      : [opts.scaleFactor[0], opts.scaleFactor[1]];
    if (!(sf[0] > 0 && sf[1] > 0)) {
      throw new RangeError(`interpolate(): scaleFactor must be positive, got ${sf}`);
    }
    oh = Math.floor(h * sf[0]);
    ow = Math.floor(w * sf[1]);
  } else {
    throw new RangeError("interpolate(): give size or scaleFactor");
  }
  if (!Number.isInteger(oh) || !Number.isInteger(ow) || oh < 1 || ow < 1 || h < 1 || w < 1) {
    throw new RangeError(
      `interpolate(): cannot resize ${fmtShape(x.shape)} to ${oh}x${ow}: sizes must be >= 1`,
    );
  }
  const key = (axis: string, i: number, o: number, s?: number) =>
    `${mode}|${ac}|${aa}|${axis}|${i}|${o}|${s ?? ""}`;
  const tabH = () => axisTable(h, oh, mode, ac, aa, sf?.[0]);
  const tabW = () => axisTable(w, ow, mode, ac, aa, sf?.[1]);
  const fh = gpuTable(`f${key("h", h, oh, sf?.[0])}`, tabH, h);
  const fw = gpuTable(`f${key("w", w, ow, sf?.[1])}`, tabW, w);
  const bh = gpuTable(`b${key("h", h, oh, sf?.[0])}`, () => transposeTable(tabH(), h), oh);
  const bw = gpuTable(`b${key("w", w, ow, sf?.[1])}`, () => transposeTable(tabW(), w), ow);
  const plan: Plan = {
    n,
    c,
    h,
    w,
    oh,
    ow,
    fh: fh.t,
    fw: fw.t,
    bh: bh.t,
    bw: bw.t,
    tfh: fh.taps,
    tfw: fw.taps,
    tbh: bh.taps,
    tbw: bw.taps,
  };
  return apply(interpolateOp, [x], plan);
}
