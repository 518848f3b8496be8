/** Counters of the buffer pool; `peakBytes` is the high-water mark tests check across steps. */
export interface PoolStats {
  /** Bytes of buffers currently handed out (by size class). */
  liveBytes: number;
  /** Highest `liveBytes` seen since creation or the last `resetPeak()`. */
  peakBytes: number;
  /** Bytes held by the pool, handed out or free. */
  heldBytes: number;
  /** Number of `createBuffer` calls the pool made. */
  allocations: number;
  /** Number of acquisitions served from a free list. */
  reuses: number;
}

/**
 * Size-class buffer pool. Sizes round up to a class (powers of two below 1 MiB, then steps of a
 * quarter of the power of two above), so a training step that allocates the same shapes every
 * iteration reuses the same buffers and the high-water mark stays flat. Reuse is safe while
 * commands are still pending because every use is encoded in submission order on one queue.
 */
export class GpuBufferPool {
  #device: GPUDevice;
  #free = new Map<number, GPUBuffer[]>();
  #stats: PoolStats = { liveBytes: 0, peakBytes: 0, heldBytes: 0, allocations: 0, reuses: 0 };
  /** Usage flags of every pooled buffer. */
  static readonly usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
    GPUBufferUsage.COPY_DST;

  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /** The size class a request of `bytes` is served from. */
  static sizeClass(bytes: number): number {
    const b = Math.max(256, Math.ceil(bytes / 4) * 4);
    const p = 2 ** Math.ceil(Math.log2(b));
    if (p <= 1 << 20) return p;
    const step = p / 8;
    return Math.ceil(b / step) * step;
  }

  /** A buffer of at least `bytes` bytes (contents undefined). */
  acquire(bytes: number, label = "tensor"): GPUBuffer {
    const size = GpuBufferPool.sizeClass(bytes);
    const list = this.#free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.#stats.reuses++;
    } else {
      if (size > this.#device.limits.maxBufferSize) {
        throw new RangeError(
          `Cannot allocate ${size} bytes for ${label}: above the device's maxBufferSize ` +
            `${this.#device.limits.maxBufferSize}`,
        );
      }
      buf = this.#device.createBuffer({ size, usage: GpuBufferPool.usage, label });
      this.#stats.allocations++;
      this.#stats.heldBytes += size;
    }
    this.#stats.liveBytes += size;
    if (this.#stats.liveBytes > this.#stats.peakBytes) {
      this.#stats.peakBytes = this.#stats.liveBytes;
    }
    return buf;
  }

  /** Returns a buffer obtained from `acquire` to its free list. */
  release(buf: GPUBuffer): void {
    const size = buf.size;
    this.#stats.liveBytes -= size;
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(buf);
  }

  /** A snapshot of the counters. */
  stats(): PoolStats {
    return { ...this.#stats };
  }

  /** Starts a new high-water mark at the current live bytes. */
  resetPeak(): void {
    this.#stats.peakBytes = this.#stats.liveBytes;
  }

  /** Destroys every free buffer (live ones are untouched). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.#stats.heldBytes -= b.size;
        b.destroy();
      }
    }
    this.#free.clear();
  }
}
