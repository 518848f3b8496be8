/**
 * Raw (no autograd) launches of the conv kernels, shared by conv2d and conv_transpose2d. Every
 * function takes the geometry of ONE forward convolution y = conv2d(x, w) (`ConvShape`) and picks
 * the kernel variant: depthwise direct kernels, the row kernel (stride 1 along W), the strided
 * row kernel (CPU adapters, stride > 1 along W), or the general implicit GEMM. `withConvConfig`
 * forces the CPU-adapter or the real-GPU choices (tests run both on any adapter).
 */
import { gpu } from "../../gpu/runtime.ts";
import { type KernelSource, memoKernel } from "../../gpu/kernel_source.ts";
import {
  channelSumKernel,
  channelSumUniforms,
  conv2dForwardGrid,
  conv2dForwardKernel,
  conv2dForwardRowGrid,
  conv2dForwardRowKernel,
  conv2dForwardStridedKernel,
  conv2dInputGradGrid,
  conv2dInputGradKernel,
  conv2dInputGradRowGrid,
  conv2dInputGradRowKernel,
  conv2dWeightGradKernel,
  conv2dWeightGradTiling,
  conv2dWeightGradWideKernel,
  convGrid,
  type ConvOffsets,
  type ConvShape,
  convUniforms,
  convWeightFlipKernel,
  depthwiseConv2dKernel,
  depthwiseGrid,
  depthwiseWeightGradKernel,
  depthwiseWeightGradRowsKernel,
  depthwiseWeightGradRowsTiling,
  depthwiseWeightGradTiling,
  DW_WGRAD_ROWS_MAX_TAPS,
  splitSumKernel,
  splitSumUniforms,
  type SplitTiling,
  stridedWindowLength,
} from "../../kernels/conv.ts";
import { zeros } from "../create.ts";
import { bindingOf, runElementwise } from "../launch.ts";
import { Tensor } from "../tensor.ts";
import { copyContiguous } from "./layout.ts";
import { matmulRaw } from "./matmul.ts";
import { reduceRaw } from "./reduce.ts";

/**
 * The kernel `gen` builds for `spec`, built once per distinct spec: a launch then costs a map
 * lookup instead of regenerating (and the runtime re-hashing) the WGSL, which for the unrolled
 * CPU-adapter kernels is several KiB.
 */
function built<S>(gen: (spec: S) => KernelSource, spec: S): KernelSource {
  return memoKernel(`conv:${gen.name}:${JSON.stringify(spec)}`, () => gen(spec));
}

/**
 * Launches a conv kernel on `tensors` (its bindings in order, output first) over `grid`, with the
 * uniforms of geometry `s`, offsets `off` and the kernel-specific `e0`.
 */
function launchConv(
  kernel: KernelSource,
  tensors: readonly Tensor[],
  at: { s: ConvShape; off: ConvOffsets; grid: [number, number, number]; e0?: number },
): void {
  gpu().launch(kernel, {
    buffers: tensors.map(bindingOf),
    uniforms: convUniforms(at.s, at.off, at.grid, at.e0),
    workgroups: at.grid,
  });
}

/** Contiguous (any offset) f32 version of t; the caller disposes it when it is not t. */
export function denseF32(t: Tensor, what: string): Tensor {
  if (t.dtype !== "f32") throw new TypeError(`${what} must be f32, got ${t.dtype}`);
  return t.isContiguous ? t : copyContiguous(t);
}

function isDepthwise(s: ConvShape): boolean {
  return s.groups === s.c && s.groups === s.o;
}

/**
 * Output-channel register tile: 8 when a group has at least 8 channels, else 4; with named
 * registers (CPU adapters) 16 when a group has at least 16 (fewer gathers per FMA).
 */
function tileFor(channels: number): number {
  if (channels >= 16 && namedTiles()) return 16;
  return channels >= 8 ? 8 : 4;
}

/**
 * Whether the conv kernels keep their tiles in named registers: on CPU adapters (llvmpipe keeps
 * an array indexed by a loop variable in memory, as for `MatmulSpec.named`).
 */
function namedTiles(): boolean {
  return namedOverride ?? gpu().isCpuAdapter;
}

let namedOverride: boolean | null = null;

/**
 * Runs `fn` with the conv launches forced to one kernel configuration: `"cpu"` (named registers,
 * the CPU-adapter kernels) or `"gpu"` (the real-GPU kernels), whatever the adapter. For tests:
 * both configurations compile and compute the same values on any adapter.
 */
export function withConvConfig<T>(config: "cpu" | "gpu", fn: () => T): T {
  const prev = namedOverride;
  namedOverride = config === "cpu";
  try {
    return fn();
  } finally {
    namedOverride = prev;
  }
}

/**
 * Vec4s per lane along a row of the row kernel: 1 on real GPUs; with named registers enough to
 * cover the row with 8 lanes (lavapipe, 3x3 64->64 at 128x128: forward 0.3x the matmul rate with
 * an 8x1 array tile, about 1.2-1.5x with 16 channels x 4 named vec4s).
 */
function rowVecsFor(ow: number): number {
  if (!namedTiles()) return 1;
  return ow >= 96 ? 4 : ow >= 48 ? 2 : 1;
}

/**
 * Output rows per lane of the depthwise kernel with named registers when stride and dilation
 * along H are 1: a strip of `DW_STREAM_ROWS` for the streaming form (kernels of at most
 * `DW_STREAM_MAX_TAPS` taps, `DW_STREAM_MAX_KH` rows), else 4 (each input row's window loaded
 * once for 4 output rows); 1 otherwise.
 */
function depthwiseRows(s: ConvShape): number {
  if (!namedTiles() || s.stride[0] !== 1 || s.dilation[0] !== 1) return 1;
  return depthwiseStreams(s) ? DW_STREAM_ROWS : 4;
}

/**
 * Output rows a lane walks down in the streaming depthwise form (kh - 1 warm-up rows per strip).
 * Lavapipe, 7x7 on 256 channels at 64x64, CPU-time ratio to the matmul: the 4-row form (weights
 * re-read per output row) 0.9-1.0x; streaming 16 rows 2.1-2.2x, 32 rows 2.5-2.7x, 64 rows
 * 2.8-2.9x; wall about 14-16 ms for all three (mostly the submit's fixed cost).
 */
const DW_STREAM_ROWS = 64;
/** Largest kernel (taps, rows) run in the streaming form: its weights and rows live in registers. */
const DW_STREAM_MAX_TAPS = 81;
const DW_STREAM_MAX_KH = 9;

/** Whether the depthwise conv `s` (named, SH = DH = 1) runs in the streaming form. */
function depthwiseStreams(s: ConvShape): boolean {
  return s.kh <= DW_STREAM_MAX_KH && s.kh * s.kw <= DW_STREAM_MAX_TAPS;
}

/**
 * Vec4s of weight columns per lane of the dense weight gradient on CPU adapters. Lavapipe 3x3 s2
 * 64->256 at 128x128, CPU-time ratio to the matmul: 1 -> 0.61-0.76x, 2 -> 0.95-1.04x, 4 -> about
 * 1.15x but twice the first-call compile time (~0.2 -> ~0.4-0.7 s).
 */
const WGRAD_COLUMN_VECS = 2;

/** Longest input window (elements) a lane of the strided forward kernel keeps in registers. */
const STRIDED_MAX_WINDOW = 48;

/** Most taps along W of the strided forward kernel (each one is unrolled: compile time). */
const STRIDED_MAX_TAPS = 5;

/**
 * Vec4s per lane of the named strided forward kernel (`rowVecsFor(ow)`), or 0 when it does not
 * apply: CPU adapters, stride above 1 along W, at most `STRIDED_MAX_TAPS` taps along W (they are
 * unrolled) and each lane's input window per kernel row small enough for registers. Lavapipe 3x3
 * s2 64->256 at 128x128: about 0.4-0.7x the matmul rate on the general kernel, 1.1-1.4x on this
 * one; a 7x7 s4 3->96 patch embed at 256x256 ran no faster and compiled about 3x longer.
 */
function stridedVecs(s: ConvShape): number {
  if (!namedTiles() || s.stride[1] < 2 || s.kw > STRIDED_MAX_TAPS) return 0;
  const vp = rowVecsFor(s.ow);
  const len = stridedWindowLength({ vp, sw: s.stride[1], kw: s.kw, dw: s.dilation[1] });
  return len <= STRIDED_MAX_WINDOW ? vp : 0;
}

/**
 * A "patchify" conv: kernel == stride, no padding, no dilation, one group, and the input exactly
 * tiled by the kernel (1x1 convs included). Then conv2d is a plain GEMM over the patches and
 * conv_transpose2d (SAM 2's k2 s2 upscaling) its transpose, so they run on the matmul kernel
 * plus at most one layout copy, instead of the gather kernels (which would waste the masked taps).
 */
function isPatchify(s: ConvShape): boolean {
  return s.kh === s.stride[0] && s.kw === s.stride[1] && s.padding[0] === 0 &&
    s.padding[1] === 0 && s.dilation[0] === 1 && s.dilation[1] === 1 && s.groups === 1 &&
    s.h === s.oh * s.kh && s.w === s.ow * s.kw && s.n <= 65535;
}

/** x [N, C, H, W] as patches [N, C*KH*KW, OH*OW] (a copy unless the kernel is 1x1). */
function patches(x: Tensor, s: ConvShape): Tensor {
  if (s.kh === 1 && s.kw === 1) {
    return x.view([s.n, s.c, s.h * s.w], [s.c * s.h * s.w, s.h * s.w, 1], x.offset);
  }
  // [N, C, OH, KH, OW, KW] read as [N, C, KH, KW, OH, OW].
  const v = x.view(
    [s.n, s.c, s.kh, s.kw, s.oh, s.ow],
    [s.c * s.h * s.w, s.h * s.w, s.w, 1, s.kh * s.w, s.kw],
    x.offset,
  );
  const p = copyContiguous(v);
  v.dispose();
  const out = p.view([s.n, s.c * s.kh * s.kw, s.oh * s.ow], [
    s.c * s.kh * s.kw * s.oh * s.ow,
    s.oh * s.ow,
    1,
  ], 0);
  p.dispose();
  return out;
}

/** Adds bias[c] to a fresh contiguous [N, C, ...] tensor, returning a new one. */
function addChannelBias(y: Tensor, bias: Tensor, c: number): Tensor {
  const rest = y.size / Math.max(1, y.shape[0] * c);
  const b = bias.view([1, c, rest], [0, bias.strides[0], 0], bias.offset);
  const out = runElementwise("conv_bias", "x0 + x1", [
    y.view([y.shape[0], c, rest], [c * rest, rest, 1], y.offset),
    b,
  ]);
  b.dispose();
  return out;
}

function patchForward(x: Tensor, w: Tensor, bias: Tensor | null, s: ConvShape): Tensor {
  const k = s.c * s.kh * s.kw;
  const p = patches(x, s);
  const w2 = w.view([s.o, k], [k, 1], w.offset);
  let y = matmulRaw(w2, p); // [N, O, OH*OW]
  [p, w2].forEach((t) => t.dispose());
  if (bias) {
    const yb = addChannelBias(y, bias, s.o);
    y.dispose();
    y = yb;
  }
  const out = y.view([s.n, s.o, s.oh, s.ow], [s.o * s.oh * s.ow, s.oh * s.ow, s.ow, 1], 0);
  y.dispose();
  return out;
}

function patchInputGrad(g: Tensor, w: Tensor, bias: Tensor | null, s: ConvShape): Tensor {
  const k = s.c * s.kh * s.kw, ohw = s.oh * s.ow;
  const wt = w.view([k, s.o], [1, k], w.offset); // w^T
  const g3 = g.view([s.n, s.o, ohw], [s.o * ohw, ohw, 1], g.offset);
  const t = matmulRaw(wt, g3); // [N, C*KH*KW, OH*OW] = [N, C, KH, KW, OH, OW]
  [wt, g3].forEach((x) => x.dispose());
  // Read as [N, C, OH, KH, OW, KW] (+ bias): the pixel shuffle back to [N, C, H, W].
  const v = t.view(
    [s.n, s.c, s.oh, s.kh, s.ow, s.kw],
    [k * ohw, s.kh * s.kw * ohw, s.ow, s.kw * ohw, 1, ohw],
    0,
  );
  let out: Tensor;
  if (bias) {
    const b = bias.view([1, s.c, 1, 1, 1, 1], [0, bias.strides[0], 0, 0, 0, 0], bias.offset);
    out = runElementwise("conv_bias_shuffle", "x0 + x1", [v, b]);
    b.dispose();
  } else out = s.kh === 1 && s.kw === 1 ? t.view(t.shape, t.strides, 0) : copyContiguous(v);
  [v, t].forEach((x) => x.dispose());
  const r = out.view([s.n, s.c, s.h, s.w], [s.c * s.h * s.w, s.h * s.w, s.w, 1], 0);
  out.dispose();
  return r;
}

function patchWeightGrad(g: Tensor, x: Tensor, s: ConvShape): Tensor {
  const k = s.c * s.kh * s.kw, ohw = s.oh * s.ow;
  const p = patches(x, s); // [N, K, OHW]
  const pt = p.view([s.n, ohw, k], [p.strides[0], 1, p.strides[1]], p.offset);
  const g3 = g.view([s.n, s.o, ohw], [s.o * ohw, ohw, 1], g.offset);
  const gw = matmulRaw(g3, pt); // [N, O, K]
  [p, pt, g3].forEach((t) => t.dispose());
  const sum = s.n === 1 ? gw.view(gw.shape, gw.strides, 0) : reduceRaw(gw, [0], "sum");
  gw.dispose();
  const out = sum.view([s.o, s.c, s.kh, s.kw], [k, s.kh * s.kw, s.kw, 1], sum.offset);
  sum.dispose();
  return out;
}

/**
 * The depthwise direct kernel on `tensors` = [out, in, w, bias?] with geometry `s` (`flip`: the
 * stride-1 input gradient, `s` being its flipped geometry).
 */
function launchDepthwise(
  tensors: Tensor[],
  s: ConvShape,
  off: ConvOffsets,
  flip: boolean,
): void {
  const rows = depthwiseRows(s);
  const kernel = built(depthwiseConv2dKernel, {
    kw: s.kw,
    dw: s.dilation[1],
    flip,
    bias: tensors.length > 3,
    named: namedTiles(),
    rows,
    ...(rows > 1 && depthwiseStreams(s) ? { kh: s.kh } : {}),
  });
  launchConv(kernel, tensors, { s, off, grid: depthwiseGrid(s, rows) });
}

/** y [N, O, OH, OW] = conv2d(x, w) + bias. x, w, bias dense f32. */
export function convForwardRaw(x: Tensor, w: Tensor, bias: Tensor | null, s: ConvShape): Tensor {
  if (isPatchify(s) && s.n * s.o * s.oh * s.ow > 0) return patchForward(x, w, bias, s);
  const y = Tensor.empty([s.n, s.o, s.oh, s.ow], "f32");
  if (y.size === 0) return y;
  const off = { x: x.offset, w: w.offset, y: 0, b: bias?.offset ?? 0 };
  const tensors = [y, x, w, ...(bias ? [bias] : [])];
  const rows = s.n * s.oh <= 65535;
  if (isDepthwise(s) && s.stride[1] === 1 && rows) {
    launchDepthwise(tensors, s, off, false);
  } else if (s.stride[1] === 1 && rows) {
    const named = namedTiles();
    const tm = tileFor(s.o / s.groups);
    const vp = rowVecsFor(s.ow);
    const kernel = built(conv2dForwardRowKernel, { tm, vp, bias: bias !== null, named });
    launchConv(kernel, tensors, { s, off, grid: conv2dForwardRowGrid(s, tm, vp) });
  } else if (rows && stridedVecs(s) > 0) {
    const tm = tileFor(s.o / s.groups);
    const vp = stridedVecs(s);
    const kernel = built(conv2dForwardStridedKernel, {
      tm,
      vp,
      sw: s.stride[1],
      kw: s.kw,
      dw: s.dilation[1],
      bias: bias !== null,
    });
    launchConv(kernel, tensors, { s, off, grid: conv2dForwardRowGrid(s, tm, vp) });
  } else {
    const tm = tileFor(s.o / s.groups);
    const kernel = built(conv2dForwardKernel, { tm, bias: bias !== null, named: namedTiles() });
    launchConv(kernel, tensors, { s, off, grid: conv2dForwardGrid(s, tm) });
  }
  return y;
}

/** The geometry of the stride-1 conv that computes the input gradient, or null if none fits. */
function flippedShape(s: ConvShape): ConvShape | null {
  if (s.stride[0] !== 1 || s.stride[1] !== 1) return null;
  const ph = s.dilation[0] * (s.kh - 1) - s.padding[0];
  const pw = s.dilation[1] * (s.kw - 1) - s.padding[1];
  if (ph < 0 || pw < 0) return null;
  return {
    n: s.n,
    c: s.o,
    h: s.oh,
    w: s.ow,
    o: s.c,
    oh: s.h,
    ow: s.w,
    groups: s.groups,
    kh: s.kh,
    kw: s.kw,
    stride: [1, 1],
    padding: [ph, pw],
    dilation: s.dilation,
  };
}

/**
 * The x-shaped gather out [N, C, H, W] = conv2d's input gradient from y-shaped `g` and w (+ bias
 * per channel c: conv_transpose2d's forward). Stride-1 convs run as a forward conv with the
 * flipped weight (row / depthwise kernels); others use the general gather kernel.
 */
export function convInputGradRaw(g: Tensor, w: Tensor, bias: Tensor | null, s: ConvShape): Tensor {
  if (isPatchify(s) && s.n * s.c * s.h * s.w > 0) return patchInputGrad(g, w, bias, s);
  const f = flippedShape(s);
  if (f && s.n * s.h <= 65535) {
    if (isDepthwise(s)) {
      const out = Tensor.empty([s.n, s.c, s.h, s.w], "f32");
      if (out.size === 0) return out;
      const off = { x: g.offset, w: w.offset, b: bias?.offset ?? 0 };
      launchDepthwise([out, g, w, ...(bias ? [bias] : [])], f, off, true);
      return out;
    }
    const wf = Tensor.empty([s.c, s.o / s.groups, s.kh, s.kw], "f32");
    launchConv(built(convWeightFlipKernel, {}), [wf, w], {
      s,
      off: { w: w.offset },
      grid: convGrid(wf.size),
    });
    const out = convForwardRaw(g, wf, bias, f);
    wf.dispose();
    return out;
  }
  const out = Tensor.empty([s.n, s.c, s.h, s.w], "f32");
  if (out.size === 0) return out;
  const tm = tileFor(s.c / s.groups);
  const spec = { tm, bias: bias !== null, named: namedTiles() };
  const tensors = [out, g, w, ...(bias ? [bias] : [])];
  const off = { x: 0, y: g.offset, w: w.offset, b: bias?.offset ?? 0 };
  if (s.n * s.h <= 65535) {
    const { groupsPerPhase, grid } = conv2dInputGradRowGrid(s, tm);
    const kernel = built(conv2dInputGradRowKernel, spec);
    launchConv(kernel, tensors, { s, off, grid, e0: groupsPerPhase });
    return out;
  }
  const kernel = built(conv2dInputGradKernel, spec);
  launchConv(kernel, tensors, { s, off, grid: conv2dInputGradGrid(s, tm) });
  return out;
}

/** Sums split partials [splits, M] into a fresh [M]-sized tensor of `shape`. */
function sumSplits(part: Tensor, splits: number, shape: number[]): Tensor {
  const out = Tensor.empty(shape, "f32");
  const m = out.size;
  const grid = convGrid(m);
  gpu().launch(built(splitSumKernel, { accumulate: false }), {
    buffers: [out, part].map(bindingOf),
    uniforms: splitSumUniforms(m, splits, 0, grid),
    workgroups: grid,
  });
  return out;
}

/**
 * Runs a weight-gradient kernel that writes split partials over `t`'s splits of y-shaped `g` and
 * x-shaped `x`, and sums them into a fresh tensor of `wshape`.
 */
function splitWeightGrad(
  kernel: KernelSource,
  g: Tensor,
  x: Tensor,
  at: { s: ConvShape; t: SplitTiling; wshape: number[] },
): Tensor {
  const { s, t, wshape } = at;
  const part = Tensor.empty([t.splits, wshape.reduce((a, b) => a * b, 1)], "f32");
  launchConv(kernel, [part, g, x], {
    s,
    off: { x: x.offset, y: g.offset },
    grid: t.grid,
    e0: t.perSplit,
  });
  const out = sumSplits(part, t.splits, wshape);
  part.dispose();
  return out;
}

/** Weight gradient [O, CG, KH, KW] from y-shaped `g` and x-shaped `x`. */
export function convWeightGradRaw(g: Tensor, x: Tensor, s: ConvShape): Tensor {
  const cg = s.c / s.groups;
  const wshape = [s.o, cg, s.kh, s.kw];
  if (s.n * s.oh * s.ow === 0) return zeros(wshape);
  if (isPatchify(s)) return patchWeightGrad(g, x, s);
  if (isDepthwise(s) && s.stride[1] === 1) {
    if (namedTiles() && s.kh * s.kw <= DW_WGRAD_ROWS_MAX_TAPS) {
      const kernel = built(depthwiseWeightGradRowsKernel, {
        kh: s.kh,
        kw: s.kw,
        dw: s.dilation[1],
      });
      return splitWeightGrad(kernel, g, x, { s, t: depthwiseWeightGradRowsTiling(s), wshape });
    }
    const spec = { kw: s.kw, dw: s.dilation[1], named: namedTiles() };
    const kernel = built(depthwiseWeightGradKernel, spec);
    return splitWeightGrad(kernel, g, x, { s, t: depthwiseWeightGradTiling(s), wshape });
  }
  const tm = tileFor(s.o / s.groups);
  const vc = namedTiles() ? WGRAD_COLUMN_VECS : 1;
  const t = conv2dWeightGradTiling(s, tm, undefined, undefined, vc);
  const kernel = vc > 1
    ? built(conv2dWeightGradWideKernel, { tm, vc })
    : built(conv2dWeightGradKernel, { tm, named: namedTiles() });
  return splitWeightGrad(kernel, g, x, { s, t, wshape });
}

/** Per-channel sum over N and the spatial dims of a dense [N, C, ...] tensor: [C]. */
export function channelSumRaw(t: Tensor): Tensor {
  const [n, c] = t.shape;
  const p = t.size / Math.max(1, n * c);
  const out = Tensor.empty([c], "f32");
  if (c === 0) return out;
  gpu().launch(built(channelSumKernel, {}), {
    buffers: [out, t].map(bindingOf),
    uniforms: channelSumUniforms(n, c, n * c === 0 ? 0 : p, t.offset, 0),
    workgroups: [c, 1, 1],
  });
  return out;
}
