/**
 * Reuse of large typed-array buffers. On VMs with free-page reporting (Firecracker here),
 * touching freshly allocated memory costs page faults that dominate clip preparation (a new
 * 100 MB batch is ~0.5 s of faults, a reused one ~20 ms to fill), so transforms, collation
 * and the loader take their outputs from this pool and give back what they replaced.
 * Reused buffers are NOT zeroed: takers overwrite every element (or fill first).
 *
 * @module
 */

/** A per-thread pool of ArrayBuffers keyed by exact byte length. */
export class HostBufferPool {
  #free = new Map<number, ArrayBuffer[]>();
  #owned = new WeakSet<ArrayBuffer>();
  #retained = 0;
  /** Most bytes kept for reuse; beyond that released buffers are left to the GC. */
  maxBytes: number;

  constructor(maxBytes = 1.5 * 2 ** 30) {
    this.maxBytes = maxBytes;
  }

  #take(bytes: number): ArrayBuffer {
    const list = this.#free.get(bytes);
    const buf = list?.pop();
    if (buf) {
      this.#retained -= bytes;
      return buf;
    }
    const b = new ArrayBuffer(bytes);
    this.#owned.add(b);
    return b;
  }

  /** A Uint8Array of length n (contents undefined). */
  u8(n: number): Uint8Array {
    return new Uint8Array(this.#take(n));
  }

  /** A Float32Array of length n (contents undefined). */
  f32(n: number): Float32Array {
    return new Float32Array(this.#take(n * 4));
  }

  /** Takes a buffer into the pool's care (e.g. one transferred back from a Worker). */
  adopt(buf: ArrayBuffer): void {
    if (buf.byteLength === 0) return; // detached
    this.#owned.add(buf);
    this.release(buf);
  }

  /** Whether the pool handed out this buffer. */
  owns(buf: ArrayBufferLike): boolean {
    return this.#owned.has(buf as ArrayBuffer);
  }

  /** Gives back a buffer (or a view spanning it) that came from this pool; others are ignored. */
  release(x: ArrayBufferLike | ArrayBufferView): void {
    const buf = (ArrayBuffer.isView(x) ? x.buffer : x) as ArrayBuffer;
    if (!this.#owned.has(buf) || buf.byteLength === 0) return;
    if (this.#retained + buf.byteLength > this.maxBytes) return;
    const list = this.#free.get(buf.byteLength) ?? [];
    if (list.includes(buf)) return;
    list.push(buf);
    this.#free.set(buf.byteLength, list);
    this.#retained += buf.byteLength;
  }

  /** Bytes currently kept for reuse. */
  get retainedBytes(): number {
    return this.#retained;
  }
}

/** This thread's pool, shared by transforms, collation and the loader. */
export const hostBufferPool: HostBufferPool = new HostBufferPool();
