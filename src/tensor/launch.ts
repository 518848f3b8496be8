import { type BufferArg, gpu } from "../gpu/runtime.ts";
import { type DType, dtypeBytes } from "../kernels/dtype.ts";
import {
  elementwiseKernel,
  elementwiseUniforms,
  elementwiseWorkgroups,
  MAX_RANK,
} from "../kernels/elementwise.ts";
import { broadcastShapes, contiguousStrides, fmtShape, numel, sameShape } from "./shape.ts";
import { Tensor } from "./tensor.ts";

/** Options of `runElementwise`. */
export interface ElementwiseOptions {
  /** Output dtype. @default the first input's dtype (f32 without inputs) */
  outDtype?: DType;
  /** Up to 4 f32 scalars visible as `s0..s3`. @default [] */
  scalars?: readonly number[];
  /** WGSL helpers the expression calls (`erf_`, `tanh_`, `sigmoid_`, `softplus_`). @default [] */
  helpers?: readonly string[];
  /** Output shape (inputs broadcast to it). @default broadcast of the input shapes */
  shape?: readonly number[];
  /** Write into this tensor (any strided view of the right shape) instead of a new one. */
  out?: Tensor;
  /** Let the expression read `out`'s current value as `o` (needs `out`). @default false */
  readOut?: boolean;
}

/** Strides of `t` broadcast to `shape` (0 on stretched and new leading dims). */
export function broadcastStrides(t: Tensor, shape: readonly number[]): number[] {
  const r = shape.length;
  const s = new Array<number>(r).fill(0);
  for (let i = 0; i < t.rank; i++) {
    const j = r - t.rank + i;
    s[j] = t.shape[i] === 1 && shape[j] !== 1 ? 0 : t.strides[i];
  }
  return s;
}

/**
 * Launches an elementwise kernel over the broadcast of `inputs` (no autograd: ops call this in
 * forward and backward). `expr` sees `x0..`, `s0..s3`, `idx`; see `ElementwiseSpec`.
 */
export function runElementwise(
  name: string,
  expr: string,
  inputs: readonly Tensor[],
  opts: ElementwiseOptions = {},
): Tensor {
  const shape = opts.shape ??
    (opts.out ? opts.out.shape : broadcastShapes(...inputs.map((t) => t.shape)));
  if (shape.length > MAX_RANK) {
    throw new RangeError(`${name}: rank ${shape.length} is above the supported ${MAX_RANK}`);
  }
  const outDtype = opts.outDtype ?? opts.out?.dtype ?? inputs[0]?.dtype ?? "f32";
  const out = opts.out ?? Tensor.empty(shape, outDtype);
  if (!sameShape(out.shape, shape)) {
    throw new RangeError(
      `${name}: out has shape ${fmtShape(out.shape)}, expected ${fmtShape(shape)}`,
    );
  }
  const n = numel(shape);
  if (n === 0) return out;
  const flat = (t: Tensor) => t.isContiguous && sameShape(t.shape, shape);
  for (const t of inputs) {
    t.assertAlive(name);
    if (opts.out && t.storage === opts.out.storage) {
      throw new Error(
        `${name}: an input shares storage with out (WebGPU forbids aliasing a written binding); ` +
          "use readOut and `o` for in-place updates",
      );
    }
  }
  const kernel = elementwiseKernel({
    name,
    expr,
    inputs: inputs.map((t) => ({ dtype: t.dtype, strided: !flat(t) })),
    out: { dtype: out.dtype, strided: !out.isContiguous },
    helpers: opts.helpers,
    readOut: opts.readOut,
  });
  const inStrides = inputs.map((t) => broadcastStrides(t, shape));
  const chunks = planChunks(name, shape, [
    { tensor: out, offset: out.offset, strides: out.strides },
    ...inputs.map((t, k) => ({ tensor: t, offset: t.offset, strides: inStrides[k] })),
  ]);
  for (const c of chunks) {
    const cn = numel(c.shape);
    gpu().launch(kernel, {
      buffers: c.bindings,
      uniforms: elementwiseUniforms({
        n: cn,
        base: c.flatStart,
        shape: c.shape,
        outStrides: out.strides,
        outOffset: c.offsets[0],
        inStrides,
        inOffsets: c.offsets.slice(1),
        scalars: opts.scalars,
      }),
      workgroups: elementwiseWorkgroups(cn),
    });
  }
  return out;
}

/** Names a tensor in binding-limit messages: `Tensor [2, 3] f32 (24 bytes)`. */
function describe(t: Tensor): string {
  return `Tensor ${t.name ? `${t.name} ` : ""}${fmtShape(t.shape)} ${t.dtype} ` +
    `(${t.storage.bytes} bytes)`;
}

/** One past the last storage element a view reads (its offset when it is empty). */
function viewEnd(t: Tensor): number {
  if (t.size === 0) return t.offset;
  return t.shape.reduce((e, d, i) => e + (d - 1) * t.strides[i], t.offset + 1);
}

/**
 * The storage buffer of a tensor, as a binding from byte 0 (offsets go through uniforms): the
 * whole buffer, or, for a storage above the binding limit, its first `maxStorageBufferBindingSize`
 * bytes when the view lies within them. Otherwise the whole storage is returned, named, so that
 * the launch fails with a message naming the kernel, the tensor and the limit (kernels that
 * split use `planChunks`, or `bindingOfView` for a view anywhere in a large storage).
 */
export function bindingOf(t: Tensor): BufferArg {
  const max = gpu().maxBinding;
  const buffer = t.storage.buffer;
  const fits = t.storage.bytes <= max || viewEnd(t) * dtypeBytes(t.dtype) <= max;
  if (!fits) return { buffer, size: buffer.size, what: describe(t) };
  return { buffer, size: Math.floor(Math.min(buffer.size, max) / 4) * 4 };
}

/**
 * A binding covering just the elements a view reads, with the element offset of the view's
 * [0, ..., 0] inside it (what a kernel's uniforms should use instead of `t.offset`). Lets a
 * kernel that does not split its launch still read a view (a slice of qkv, say) of a storage
 * above the binding limit, as long as the view itself fits one binding.
 */
export function bindingOfView(t: Tensor): { binding: BufferArg; offset: number } {
  const [c] = planChunks(`view of ${fmtShape(t.shape)}`, [], [
    { tensor: t, offset: t.offset, strides: [], inner: Math.max(1, viewEnd(t) - t.offset) },
  ]);
  return { binding: c.bindings[0], offset: c.offsets[0] };
}

/** One operand of a launch that may be split, seen over the launch's iteration dims. */
export interface SplitOperand {
  /** The tensor whose storage is bound (dtype, storage; shape for messages). */
  tensor: Tensor;
  /** Element offset (in the storage) of iteration index [0, ..., 0]. */
  offset: number;
  /** Element stride per iteration dim (0 where the operand does not move along it). */
  strides: readonly number[];
  /**
   * Elements one iteration point spans in the storage through the dims the launch never splits
   * (a matmul row of A spans (K-1)·sAk + 1). @default 1
   */
  inner?: number;
}

/** One launch of a split problem: a block of the iteration space and the ranges it binds. */
export interface LaunchChunk {
  /** First index of the block per iteration dim. */
  start: readonly number[];
  /** Block shape: 1 before the split dim, a range of it, whole after it. */
  shape: readonly number[];
  /** Row-major flat index of the block's first point in the whole iteration space. */
  flatStart: number;
  /** Per operand: the storage range to bind. */
  bindings: BufferArg[];
  /** Per operand: element index, inside its binding, of the block's first point. */
  offsets: number[];
}

const MAX_CHUNKS = 1 << 20;

/**
 * Elements of `dtype` that one window of a split launch may span: a window's start is aligned
 * down (wasting under minStorageBufferOffsetAlignment bytes) and its size rounded up to 16 bytes
 * (kernels that read vec4<f32> see only whole vec4s of a binding).
 */
export function windowBudget(dtype: DType): number {
  const rt = gpu();
  return Math.floor((rt.maxBinding - rt.bindingAlignment - 16) / dtypeBytes(dtype));
}

/**
 * Splits a launch so that no storage binding exceeds the device's maxStorageBufferBindingSize.
 * Operands whose whole storage fits are bound whole (as `bindingOf` does) and never constrain
 * the split; the others are bound as windows (offset aligned down to
 * minStorageBufferOffsetAlignment) covering what a block touches. A block is 1 along the dims
 * before the split dim, a run of the split dim, and whole after it, so it is a contiguous range
 * of the row-major iteration space (kernels add `flatStart` to flat indices they expose) and,
 * for a contiguous output over those dims, a contiguous range of the output. The split dim is
 * the outermost one at which one index fits; the run is as long as every window allows.
 * One chunk (whole buffers, the operands' own offsets) when nothing is over the limit; none
 * when the iteration space is empty.
 *
 * @throws {RangeError} naming the op, the tensor and the limit when even one iteration point
 * spans more than a binding.
 */
export function planChunks(
  op: string,
  shape: readonly number[],
  operands: readonly SplitOperand[],
): LaunchChunk[] {
  const n = numel(shape);
  if (n === 0) return [];
  const rt = gpu();
  const limit = rt.maxBinding;
  const rank = shape.length;
  const big = operands.map((o) => o.tensor.storage.bytes > limit);
  if (!big.some((b) => b)) {
    return [{
      start: shape.map(() => 0),
      shape,
      flatStart: 0,
      bindings: operands.map((o) => bindingOf(o.tensor)),
      offsets: operands.map((o) => o.offset),
    }];
  }
  const align = rt.bindingAlignment;
  const budget = operands.map((o) => windowBudget(o.tensor.dtype));
  // span(k, j): elements spanned by one index of dim j (dims after j whole, plus `inner`).
  const span = (k: number, j: number) => {
    const o = operands[k];
    let s = o.inner ?? 1;
    for (let i = j + 1; i < rank; i++) s += (shape[i] - 1) * o.strides[i];
    return s;
  };
  let split = -1; // -1: the whole space fits in windows
  while (split < rank) {
    if (operands.every((_, k) => !big[k] || span(k, split) <= budget[k])) break;
    split++;
  }
  if (split === rank) {
    const k = operands.findIndex((_, k) => big[k] && span(k, rank - 1) > budget[k]);
    throw new RangeError(
      `${op}: ${describe(operands[k].tensor)} is above the device's maxStorageBufferBindingSize ` +
        `${limit}, and what one of the ${fmtShape(shape)} launch's points reads spans ${
          span(k, rank - 1)
        } elements, more than one binding holds: use smaller inputs`,
    );
  }
  // Run length along the split dim.
  let run = split === -1 ? 1 : shape[split];
  if (split >= 0) {
    operands.forEach((o, k) => {
      const st = o.strides[split];
      if (big[k] && st > 0) run = Math.min(run, Math.floor((budget[k] - span(k, split)) / st) + 1);
    });
  }
  const outer = split <= 0 ? 1 : numel(shape.slice(0, split));
  const nChunks = outer * (split === -1 ? 1 : Math.ceil(shape[split] / run));
  if (nChunks > MAX_CHUNKS) {
    throw new RangeError(
      `${op}: splitting ${fmtShape(shape)} under the maxStorageBufferBindingSize ${limit} ` +
        `needs ${nChunks} launches (the operands' layout scatters each block): make them ` +
        "contiguous first or use smaller inputs",
    );
  }
  const flatStrides = contiguousStrides(shape);
  const chunks: LaunchChunk[] = [];
  const start = shape.map(() => 0);
  for (let q = 0; q < outer; q++) {
    // Row-major multi-index of q over the dims before the split dim.
    let rem = q;
    for (let i = split - 1; i >= 0; i--) {
      start[i] = rem % shape[i];
      rem = Math.floor(rem / shape[i]);
    }
    const len = split === -1 ? 1 : shape[split];
    for (let s0 = 0; s0 < len; s0 += run) {
      const cs = shape.map((d, i) => i < split ? 1 : i === split ? Math.min(run, d - s0) : d);
      if (split >= 0) start[split] = s0;
      const bindings: BufferArg[] = [];
      const offsets: number[] = [];
      operands.forEach((o, k) => {
        let lo = o.offset;
        for (let i = 0; i < rank; i++) lo += start[i] * o.strides[i];
        if (!big[k]) {
          bindings.push(bindingOf(o.tensor));
          offsets.push(lo);
          return;
        }
        let hi = lo + (o.inner ?? 1);
        for (let i = 0; i < rank; i++) hi += (cs[i] - 1) * o.strides[i];
        const b = dtypeBytes(o.tensor.dtype);
        const buffer = o.tensor.storage.buffer;
        const byteStart = Math.floor((lo * b) / align) * align;
        const byteEnd = Math.min(Math.ceil((hi * b) / 16) * 16, buffer.size);
        bindings.push({ buffer, offset: byteStart, size: byteEnd - byteStart });
        offsets.push(lo - byteStart / b);
      });
      let flatStart = 0;
      for (let i = 0; i < rank; i++) flatStart += start[i] * flatStrides[i];
      chunks.push({ start: [...start], shape: cs, flatStart, bindings, offsets });
    }
  }
  return chunks;
}
