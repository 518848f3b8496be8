/**
 * Host-side tensors: what a checkpoint holds, independent of the GPU runtime. The nn layer turns
 * them into GPU tensors; the checkpoint layer only reads and writes bytes.
 */

/** Element types a checkpoint can carry (the torch names, without the `torch.` prefix). */
export type HostDType =
  | "float32"
  | "float16"
  | "bfloat16"
  | "float64"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Bytes per element of each {@link HostDType}. */
export const DTYPE_SIZE: Readonly<Record<HostDType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** The floating dtypes, which `castTensor` converts between. */
export const FLOAT_DTYPES: readonly HostDType[] = ["float32", "float16", "bfloat16", "float64"];

/**
 * A tensor in host memory: raw little-endian bytes, contiguous and row-major, so it can be
 * uploaded to a GPU buffer or written to a file without reordering.
 *
 * `data` may share memory with other tensors read from the same storage; treat it as read-only.
 */
export interface HostTensor {
  /** Element type. */
  dtype: HostDType;
  /** Sizes, outermost first; `[]` is a scalar (one element). */
  shape: number[];
  /** `numel(shape) * DTYPE_SIZE[dtype]` bytes, little-endian, row-major. */
  data: Uint8Array;
  /** Set when the tensor was saved as a `torch.nn.Parameter` with `requires_grad=True`. */
  requiresGrad?: boolean;
}

/** A model's parameters and buffers by their PyTorch `state_dict()` names, in file order. */
export type StateDict = Map<string, HostTensor>;

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** True for a value shaped like a {@link HostTensor} (the decoded-tree leaf for tensors). */
export function isHostTensor(v: unknown): v is HostTensor {
  if (typeof v !== "object" || v === null) return false;
  const t = v as Partial<HostTensor>;
  return typeof t.dtype === "string" && t.dtype in DTYPE_SIZE && Array.isArray(t.shape) &&
    t.data instanceof Uint8Array;
}

type TypedSource =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array;

/**
 * Makes a {@link HostTensor} from raw bytes or a typed array holding the elements (for
 * float16/bfloat16 pass the raw bits as a Uint16Array). The bytes are copied.
 *
 * @throws {RangeError} when the element count does not match the shape.
 */
export function hostTensor(
  dtype: HostDType,
  shape: readonly number[],
  values: TypedSource,
): HostTensor {
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) {
      throw new RangeError(`Cannot make a tensor of shape [${shape}]: sizes must be integers >= 0`);
    }
  }
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  const want = numel(shape) * DTYPE_SIZE[dtype];
  if (bytes.byteLength !== want) {
    throw new RangeError(
      `Cannot make a ${dtype} tensor of shape [${shape}] from ${bytes.byteLength} bytes: ` +
        `it needs ${want}`,
    );
  }
  return { dtype, shape: [...shape], data: bytes };
}

/** A float32 tensor from numbers (handy in tests and for small buffers). */
export function float32Tensor(shape: readonly number[], values: ArrayLike<number>): HostTensor {
  return hostTensor("float32", shape, Float32Array.from(values));
}

function aligned(data: Uint8Array, align: number): Uint8Array {
  return data.byteOffset % align === 0 ? data : data.slice();
}

/**
 * The elements as the matching typed array, without conversion: Float32Array, Float64Array,
 * BigInt64Array, Int32Array, Int16Array, Int8Array, Uint8Array (uint8 and bool), and the raw
 * bits as Uint16Array for float16 and bfloat16. Shares memory with `t.data` when aligned.
 */
export function typedView(
  t: HostTensor,
):
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array {
  const size = DTYPE_SIZE[t.dtype];
  const d = aligned(t.data, size);
  const n = d.byteLength / size;
  switch (t.dtype) {
    case "float32":
      return new Float32Array(d.buffer, d.byteOffset, n);
    case "float64":
      return new Float64Array(d.buffer, d.byteOffset, n);
    case "int64":
      return new BigInt64Array(d.buffer, d.byteOffset, n);
    case "int32":
      return new Int32Array(d.buffer, d.byteOffset, n);
    case "int16":
      return new Int16Array(d.buffer, d.byteOffset, n);
    case "int8":
      return new Int8Array(d.buffer, d.byteOffset, n);
    case "float16":
    case "bfloat16":
      return new Uint16Array(d.buffer, d.byteOffset, n);
    case "uint8":
    case "bool":
      return d;
  }
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half bits to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A number to IEEE half bits, rounding to nearest even like torch's `.half()`. */
export function floatToHalf(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow to inf
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    const rounded = rem > mid || (rem === mid && (half & 1)) ? half + 1 : half;
    return sign | rounded;
  }
  const half = mant >>> 13;
  const rem = mant & 0x1fff;
  let out = (e << 10) | half;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) out += 1; // may carry into the exponent
  e = out >>> 10;
  return sign | (e >= 31 ? 0x7c00 : out);
}

/** bfloat16 bits to a number. */
export function bfloat16ToFloat(b: number): number {
  u32Scratch[0] = b << 16;
  return f32Scratch[0];
}

/** A number to bfloat16 bits, rounding to nearest even like torch's `.bfloat16()`. */
export function floatToBfloat16(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff)) return ((u >>> 16) & 0x8000) | 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * The elements as a new-or-shared Float32Array, converting from any dtype (float64 rounds,
 * int64 goes through Number, bool is 0/1). For float32 it shares memory with `t.data`.
 */
export function toFloat32(t: HostTensor): Float32Array {
  const v = typedView(t);
  if (v instanceof Float32Array) return v;
  const out = new Float32Array(v.length);
  if (t.dtype === "float16") {
    for (let i = 0; i < v.length; i++) out[i] = halfToFloat(v[i] as number);
  } else if (t.dtype === "bfloat16") {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < v.length; i++) bits[i] = (v[i] as number) << 16;
  } else if (v instanceof BigInt64Array) {
    for (let i = 0; i < v.length; i++) out[i] = Number(v[i]);
  } else {
    out.set(v as ArrayLike<number>);
  }
  return out;
}

/**
 * The tensor converted to another floating dtype (float32, float16, bfloat16, float64), with
 * round-to-nearest-even. Returns `t` itself when the dtype already matches.
 *
 * @throws {RangeError} when either dtype is not floating.
 */
export function castTensor(t: HostTensor, dtype: HostDType): HostTensor {
  if (t.dtype === dtype) return t;
  if (!FLOAT_DTYPES.includes(t.dtype) || !FLOAT_DTYPES.includes(dtype)) {
    throw new RangeError(`Cannot cast a ${t.dtype} tensor to ${dtype}: only float dtypes convert`);
  }
  const src = t.dtype === "float64" ? (typedView(t) as Float64Array) : toFloat32(t);
  const n = src.length;
  let out: Uint16Array | Float32Array | Float64Array;
  if (dtype === "float32") out = Float32Array.from(src);
  else if (dtype === "float64") out = Float64Array.from(src);
  else {
    const bits = new Uint16Array(n);
    // float64 -> half goes through float32 first, as torch does for double.half().
    const f = src instanceof Float64Array ? Float32Array.from(src) : src;
    if (dtype === "float16") { for (let i = 0; i < n; i++) bits[i] = floatToHalf(f[i]); }
    else for (let i = 0; i < n; i++) bits[i] = floatToBfloat16(f[i]);
    out = bits;
  }
  const result: HostTensor = {
    dtype,
    shape: [...t.shape],
    data: new Uint8Array(out.buffer, 0, out.byteLength),
  };
  if (t.requiresGrad !== undefined) result.requiresGrad = t.requiresGrad;
  return result;
}

/** True when both tensors have the same dtype, shape and bytes (a bitwise comparison). */
export function tensorsEqual(a: HostTensor, b: HostTensor): boolean {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length) return false;
  for (let i = 0; i < a.shape.length; i++) if (a.shape[i] !== b.shape[i]) return false;
  if (a.data.byteLength !== b.data.byteLength) return false;
  for (let i = 0; i < a.data.byteLength; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
