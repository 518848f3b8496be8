/**
 * Geometry, offsets, invocation grid and uniforms shared by every conv kernel.
 *
 * @module
 */

/** Geometry of the forward convolution all conv kernels are phrased in. */
export interface ConvShape {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  oh: number;
  ow: number;
  groups: number;
  kh: number;
  kw: number;
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
}

/** Element offsets of the bound buffers (tensor storage offsets). */
export interface ConvOffsets {
  /** Offset of the x-shaped operand. @default 0 */
  x?: number;
  /** Offset of the weight. @default 0 */
  w?: number;
  /** Offset of the y-shaped operand. @default 0 */
  y?: number;
  /** Offset of the bias. @default 0 */
  b?: number;
}

/** Workgroup width of every kernel in this file. */
export const CONV_WG = 8;

/** Invocation grid: `x` workgroups wide (at most 65535), `y` rows; invocation t = gx + gy*8x. */
export function convGrid(invocations: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(invocations / CONV_WG));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

/**
 * How a weight-gradient kernel splits its reduction: `splits` partial sums over `perSplit` items
 * (pixels or rows) each, the kernel's e0 uniform, and the workgroups `grid` (y = the split).
 */
export interface SplitTiling {
  splits: number;
  perSplit: number;
  grid: [number, number, number];
}

/** Options of `splitTiling`. */
export interface SplitTilingOptions {
  /** Size of one split's dispatch, in the unit of `target` (invocations or workgroups). */
  splitSize: number;
  /** How much work (in that unit) to aim for over all splits. */
  target: number;
  /** Fewest items a split loops over (short splits cost more in partial sums than they save). */
  minItems: number;
}

/**
 * Splits a reduction over `total` items that each invocation loops over, for `groups` = [x, z]
 * workgroups a split: enough splits that about `target` work runs, each at least `minItems` long
 * and at most 65535 (llvmpipe ends a loop after 65535 iterations).
 */
export function splitTiling(
  total: number,
  groups: readonly [number, number],
  opts: SplitTilingOptions,
): SplitTiling {
  const want = Math.max(
    1,
    Math.ceil(total / 65535),
    Math.min(Math.ceil(opts.target / opts.splitSize), Math.floor(total / opts.minItems), 65535),
  );
  const perSplit = Math.ceil(total / want);
  const splits = Math.ceil(total / perSplit);
  return { splits, perSplit, grid: [groups[0], splits, groups[1]] };
}

/**
 * Uniform block shared by the conv kernels: 28 u32 (geometry, offsets, grid width, and two
 * kernel-specific fields `e0`, `e1`).
 */
export function convUniforms(
  s: ConvShape,
  off: ConvOffsets,
  grid: readonly number[],
  e0 = 0,
  e1 = 0,
): ArrayBuffer {
  const u = new Int32Array(28);
  u.set([
    s.n,
    s.c,
    s.h,
    s.w,
    s.o,
    s.oh,
    s.ow,
    s.groups,
    s.kh,
    s.kw,
    s.stride[0],
    s.stride[1],
    s.padding[0],
    s.padding[1],
    s.dilation[0],
    s.dilation[1],
    s.c / s.groups,
    s.o / s.groups,
    off.x ?? 0,
    off.w ?? 0,
    off.y ?? 0,
    off.b ?? 0,
    grid[0] * CONV_WG,
    e0,
    e1,
  ]);
  return u.buffer;
}

/** Options of the implicit-GEMM conv kernels. */
export interface ConvGemmSpec {
  /** Output channels per invocation (register tile height); 4 pixels (a vec4) wide. */
  tm: number;
  /** Whether a per-output-channel bias is added in the epilogue. */
  bias: boolean;
  /**
   * Accumulators in individually named registers (the tile loops unrolled when the WGSL is
   * generated) instead of an array indexed by loop variables, which llvmpipe keeps in memory;
   * for CPU adapters (as `MatmulSpec.named`). @default false
   */
  named?: boolean;
}
