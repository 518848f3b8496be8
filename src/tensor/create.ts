import { gpu } from "../gpu/runtime.ts";
import type { DType } from "../kernels/dtype.ts";
import { runElementwise } from "./launch.ts";
import { fmtShape, numel } from "./shape.ts";
import { Tensor } from "./tensor.ts";

/** Options of the factories. */
export interface CreateOptions {
  /** Element type. @default "f32" */
  dtype?: DType;
  /** Make it a leaf that collects `.grad`. @default false */
  requiresGrad?: boolean;
}

function f32ToF16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const e = ((x >>> 23) & 0xff) - 127 + 15;
  const m = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const mm = (m | 0x800000) >>> (1 - e);
    return sign | ((mm + 0x1000) >>> 13);
  }
  return (sign | (e << 10) | (m >>> 13)) + ((m >>> 12) & 1);
}

/**
 * A tensor from CPU data (row-major). `shape` defaults to `[data.length]`.
 *
 * @throws {RangeError} when the data length does not match the shape.
 */
export function tensor(
  data: ArrayLike<number>,
  shape: readonly number[] = [data.length],
  opts: CreateOptions = {},
): Tensor {
  const dtype = opts.dtype ?? "f32";
  if (numel(shape) !== data.length) {
    throw new RangeError(`tensor(): ${data.length} values do not fill shape ${fmtShape(shape)}`);
  }
  const t = Tensor.empty(shape, dtype);
  let bytes: ArrayBufferView;
  switch (dtype) {
    case "f32":
      bytes = data instanceof Float32Array ? data : Float32Array.from(data);
      break;
    case "i32":
      bytes = data instanceof Int32Array ? data : Int32Array.from(data);
      break;
    case "u32":
      bytes = data instanceof Uint32Array ? data : Uint32Array.from(data);
      break;
    case "f16":
      bytes = Uint16Array.from(Array.from(data, f32ToF16Bits));
      break;
  }
  if (bytes.byteLength > 0) gpu().write(t.storage.buffer, 0, bytes);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

/** A tensor with every element `value`. */
export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  const t = runElementwise("fill", "s0", [], {
    shape,
    scalars: [value],
    outDtype: opts.dtype ?? "f32",
  });
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

/** Zeros. */
export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}

/** Ones. */
export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

/** A one-element tensor of shape []. */
export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return full([], value, opts);
}

/** 0, 1, ..., n-1 (times `step`, plus `start`). */
export function arange(
  n: number,
  opts: CreateOptions & { start?: number; step?: number } = {},
): Tensor {
  return runElementwise("arange", "s0 + s1 * f32(idx)", [], {
    shape: [n],
    scalars: [opts.start ?? 0, opts.step ?? 1],
    outDtype: opts.dtype ?? "f32",
  });
}
