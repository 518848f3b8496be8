import { gpu } from "../gpu/runtime.ts";

/**
 * A pooled GPU buffer shared by a tensor and its views, reference counted: each Tensor object
 * holds one reference and releases it on `dispose()`; the buffer returns to the pool at zero.
 */
export class Storage {
  /** The buffer (from `gpu().pool`). */
  readonly buffer: GPUBuffer;
  /** Usable bytes (the buffer may be larger: size classes). */
  readonly bytes: number;
  #refs = 0;

  constructor(bytes: number, label?: string) {
    this.bytes = bytes;
    this.buffer = gpu().pool.acquire(Math.max(bytes, 4), label);
  }

  /** Current number of holders. */
  get refs(): number {
    return this.#refs;
  }

  /** Adds a holder. */
  retain(): void {
    if (this.#refs < 0) throw new Error("Storage used after its buffer was released");
    this.#refs++;
  }

  /** Drops a holder; the last one returns the buffer to the pool. */
  release(): void {
    if (--this.#refs === 0) {
      this.#refs = -1;
      gpu().pool.release(this.buffer);
    }
  }
}
