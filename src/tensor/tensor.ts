import { gpu } from "../gpu/runtime.ts";
import { type DType, dtypeBytes } from "../kernels/dtype.ts";
import { track } from "./scope.ts";
import { contiguousStrides, fmtShape, numel } from "./shape.ts";
import { Storage } from "./storage.ts";
import type { Node } from "./autograd_node.ts";

export type { DType };

/** Typed array a tensor reads back as (f16 is widened to f32). */
export type TensorData = Float32Array | Int32Array | Uint32Array;

let gcReleased = 0;
const finalizer = new FinalizationRegistry<Storage>((s) => {
  const pool = gpu().pool, live = pool.stats().liveBytes;
  s.release();
  gcReleased += live - pool.stats().liveBytes;
});

/**
 * Pool bytes the garbage collector has returned so far from tensors that were never disposed
 * (a leak indicator: 0 in code that disposes or scopes everything). The collector runs when it
 * likes, so a memory check that compares live bytes across an `await` adds this to stay exact.
 *
 * @example
 * ```ts
 * const accounted = () => gpu().pool.stats().liveBytes + gcReleasedBytes();
 * ```
 */
export function gcReleasedBytes(): number {
  return gcReleased;
}

/**
 * An n-d array on the GPU: `shape`, `strides` and `offset` (in elements) over a shared `Storage`.
 * Views (reshape of contiguous data, permute, slice, expand) share storage; ops that need
 * contiguous input call `contiguous()`, which copies only when needed.
 *
 * Memory: a tensor holds its storage until `dispose()` (or the end of the `tidy` scope that
 * created it, or `using`); a tensor that is garbage collected undisposed releases it too.
 *
 * Autograd: `requiresGrad` leaves collect `.grad` on `backward()` like PyTorch (accumulating);
 * tensors computed from them carry the tape node that produced them.
 */
export class Tensor {
  /** Dimensions. */
  readonly shape: readonly number[];
  /** Element strides per dimension (0 for broadcast dimensions). */
  readonly strides: readonly number[];
  /** Offset of element [0, ..., 0] in the storage, in elements. */
  readonly offset: number;
  /** Element type. */
  readonly dtype: DType;
  /** The shared buffer. */
  readonly storage: Storage;
  /** Whether gradients flow to (and, for leaves, accumulate in `.grad` of) this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after `backward()`. */
  grad: Tensor | null = null;
  /** Tape node that produced this tensor (internal to autograd). */
  node: Node | null = null;
  /** Optional name for messages (parameters carry their state-dict key). */
  name?: string;
  #disposed = false;

  /** Wraps a storage; prefer the factory functions (`tensor`, `zeros`, ...) and ops. */
  constructor(
    storage: Storage,
    shape: readonly number[],
    dtype: DType,
    strides?: readonly number[],
    offset = 0,
    opts: { track?: boolean } = {},
  ) {
    this.storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
    this.offset = offset;
    this.dtype = dtype;
    storage.retain();
    finalizer.register(this, storage, this);
    if (opts.track !== false) track(this);
  }

  /** Allocates an uninitialised contiguous tensor. */
  static empty(shape: readonly number[], dtype: DType = "f32"): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new RangeError(`Invalid shape ${fmtShape(shape)}`);
    }
    const bytes = numel(shape) * dtypeBytes(dtype);
    // Tensors above the storage binding limit are allowed: elementwise ops, matmul, layer norm,
    // softmax and sums split their launches over sub-ranges; other kernels name the limit.
    const maxBuffer = gpu().device.limits.maxBufferSize;
    if (bytes > maxBuffer) {
      throw new RangeError(
        `Tensor ${fmtShape(shape)} ${dtype} needs ${bytes} bytes, above the device's ` +
          `maxBufferSize ${maxBuffer}: use smaller inputs (batch, resolution)`,
      );
    }
    return new Tensor(new Storage(bytes, `tensor${fmtShape(shape)}`), shape, dtype);
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Whether `dispose()` was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Whether elements are laid out row-major without gaps (size-1 dims ignored). */
  get isContiguous(): boolean {
    let acc = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] === 1) continue;
      if (this.strides[i] !== acc) return false;
      acc *= this.shape[i];
    }
    return true;
  }

  /** Throws if the tensor was disposed (ops call this on their inputs). */
  assertAlive(op = "op"): void {
    if (this.#disposed) {
      throw new Error(
        `${op}: tensor ${this.name ?? ""}${fmtShape(this.shape)} was used after dispose()`,
      );
    }
  }

  /**
   * Releases this tensor's hold on its storage (idempotent). Its tape node stays, so a disposed
   * intermediate still passes gradients through (what backward needs was saved separately).
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    finalizer.unregister(this);
    this.storage.release();
  }

  /** `using t = ...` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A new Tensor object sharing storage, shape and strides (not tracked by scopes if asked). */
  alias(opts: { track?: boolean } = {}): Tensor {
    return new Tensor(this.storage, this.shape, this.dtype, this.strides, this.offset, opts);
  }

  /** A view with other shape/strides/offset over the same storage (no autograd; see ops). */
  view(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    return new Tensor(this.storage, shape, this.dtype, strides, offset);
  }

  /**
   * Reads the elements to the CPU in row-major order (flushes pending GPU work). f16 is
   * returned as f32.
   */
  async toArray(): Promise<TensorData> {
    this.assertAlive("toArray");
    // deno-lint-ignore no-explicit-any
    const src: Tensor = this.isContiguous ? this : (this as any).contiguous();
    const n = this.size;
    const bytes = n * dtypeBytes(this.dtype);
    const buf = await gpu().read(src.storage.buffer, src.offset * dtypeBytes(this.dtype), bytes);
    if (src !== this) src.dispose();
    switch (this.dtype) {
      case "f32":
        return new Float32Array(buf);
      case "i32":
        return new Int32Array(buf);
      case "u32":
        return new Uint32Array(buf);
      case "f16": {
        const h = new Uint16Array(buf);
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = halfToFloat(h[i]);
        return out;
      }
    }
  }

  /** Same as `toArray()`. */
  data(): Promise<TensorData> {
    return this.toArray();
  }

  /** The single element of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new RangeError(`item() needs a one-element tensor, got ${fmtShape(this.shape)}`);
    }
    return (await this.toArray())[0];
  }

  /** Nested arrays (for printing and small tests). */
  async toNested(): Promise<unknown> {
    const d = Array.from(await this.toArray());
    const build = (dim: number, off: number): unknown => {
      if (dim === this.rank) return d[off];
      const step = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }

  /** `Tensor([2, 3] f32)` */
  toString(): string {
    return `Tensor(${fmtShape(this.shape)} ${this.dtype}${this.requiresGrad ? " grad" : ""})`;
  }
}

/** IEEE half bits to a number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
