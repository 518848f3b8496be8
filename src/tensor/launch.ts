import { gpu } from "../gpu/runtime.ts";
import type { DType } from "../kernels/dtype.ts";
import {
  elementwiseKernel,
  elementwiseUniforms,
  elementwiseWorkgroups,
  MAX_RANK,
} from "../kernels/elementwise.ts";
import { broadcastShapes, fmtShape, numel, sameShape } from "./shape.ts";
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
  const uniforms = elementwiseUniforms({
    n,
    shape,
    outStrides: out.strides,
    outOffset: out.offset,
    inStrides: inputs.map((t) => broadcastStrides(t, shape)),
    inOffsets: inputs.map((t) => t.offset),
    scalars: opts.scalars,
  });
  gpu().launch(kernel, {
    buffers: [out, ...inputs].map((t) => bindingOf(t)),
    uniforms,
    workgroups: elementwiseWorkgroups(n),
  });
  return out;
}

/** The whole storage buffer of a tensor, as a binding (offsets go through uniforms). */
export function bindingOf(t: Tensor): { buffer: GPUBuffer; size: number } {
  const max = gpu().maxBinding;
  if (t.storage.bytes > max) {
    throw new RangeError(
      `Tensor ${fmtShape(t.shape)} ${t.dtype} (${t.storage.bytes} bytes) exceeds the device's ` +
        `maxStorageBufferBindingSize ${max}`,
    );
  }
  return { buffer: t.storage.buffer, size: Math.min(t.storage.buffer.size, max) };
}
