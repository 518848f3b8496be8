import { GpuBufferPool } from "./pool.ts";
import { GpuError, GpuUnavailableError } from "./errors.ts";
import { kernelCacheKey, type KernelSource } from "./kernel_source.ts";
import { Profiler } from "./profiler.ts";

/** A storage buffer range bound to a kernel (whole buffer when offset/size are absent). */
export interface BufferArg {
  buffer: GPUBuffer;
  /** Byte offset (multiple of minStorageBufferOffsetAlignment). @default 0 */
  offset?: number;
  /** Byte size. @default the rest of the buffer */
  size?: number;
  /** What the range holds (e.g. "Tensor [4, 96] f32"), named when it is over the binding limit. */
  what?: string;
}

/** One kernel launch. */
export interface LaunchArgs {
  /** Storage buffers, in the order of the kernel's non-uniform bindings. */
  buffers: readonly (GPUBuffer | BufferArg)[];
  /** Contents of the uniform binding (the kernel's `uniform` binding, if it has one). */
  uniforms?: ArrayBuffer | ArrayBufferView;
  /** Workgroup counts. */
  workgroups: readonly [number, number?, number?];
}

/** Options of `initGpu`. */
export interface InitGpuOptions {
  /** Adapter power preference. @default "high-performance" */
  powerPreference?: GPUPowerPreference;
  /** Dispatches encoded before the runtime submits on its own. @default 512 */
  maxPendingDispatches?: number;
}

const UNIFORM_CHUNK = 64 * 1024;
const UNIFORM_BIND = 512;

/**
 * The process-wide WebGPU runtime: device, buffer pool, pipeline cache, batched command encoding,
 * error reporting and profiling. Kernels are encoded into one open compute pass and submitted
 * together; only a read back (or `flush`) submits, because on lavapipe an awaited submit costs
 * ~12 ms while one more dispatch in the same submit costs ~0.035 ms.
 */
export class GpuRuntime {
  /** The device. */
  readonly device: GPUDevice;
  /** Adapter description (e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"). */
  readonly adapterName: string;
  /** True on Mesa's CPU rasteriser (lavapipe), where kernel configurations differ. */
  readonly isCpuAdapter: boolean;
  /** Whether `shader-f16` is enabled. */
  readonly hasF16: boolean;
  /** Whether `timestamp-query` is enabled. */
  readonly hasTimestamps: boolean;
  /** The buffer pool every tensor allocates from. */
  readonly pool: GpuBufferPool;
  /** Per-kernel timings while `profiling` is on. */
  readonly profiler = new Profiler();
  /** When true, each launch is timed (see `Profiler`). */
  profiling = false;
  /** When true, every launch is submitted on its own so errors name exactly one op. */
  debug = false;

  #pipelines = new Map<string, { p: GPUComputePipeline; bgl: GPUBindGroupLayout }>();
  #bySource = new WeakMap<KernelSource, { p: GPUComputePipeline; bgl: GPUBindGroupLayout }>();
  #layouts = new Map<string, { bgl: GPUBindGroupLayout; pl: GPUPipelineLayout }>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #labels: string[] = [];
  #maxPending: number;
  #uniformChunks: { buf: GPUBuffer; data: Uint8Array<ArrayBuffer> }[] = [];
  #uniformUsed = 0; // chunks in use by the open batch
  #uniformPos = 0; // byte position in the current chunk
  #uniformAlign: number;
  #errors: Promise<GpuError | null>[] = [];
  #lost: GpuError | null = null;
  #tsQuery: GPUQuerySet | null = null;
  #tsResolve: GPUBuffer | null = null;
  #tsPending: { label: string; slot: number }[] = [];
  #trash: GPUBuffer[] = [];
  // Bind groups are reused across launches with the same buffers (uniforms use dynamic offsets):
  // createBindGroup was most of a launch's CPU cost (~45 of ~110 us on lavapipe).
  #bindGroups = new Map<string, GPUBindGroup>();
  #bufferIds = new WeakMap<GPUBuffer, number>();
  #nextBufferId = 1;
  #maxBindingOverride: number | null = null;

  constructor(adapter: GPUAdapter, device: GPUDevice, opts: InitGpuOptions = {}) {
    this.device = device;
    const info = adapter.info;
    this.adapterName = info.description || `${info.vendor} ${info.architecture} ${info.device}`;
    this.isCpuAdapter = /llvmpipe|lavapipe|swiftshader/i.test(this.adapterName) ||
      info.isFallbackAdapter === true;
    this.hasF16 = device.features.has("shader-f16");
    this.hasTimestamps = device.features.has("timestamp-query");
    this.pool = new GpuBufferPool(device);
    this.#maxPending = opts.maxPendingDispatches ?? 512;
    this.#uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    device.lost.then((info) => {
      this.#lost = new GpuError(`GPU device lost (${info.reason}): ${info.message}`, this.#labels);
    });
  }

  /**
   * Largest storage binding in bytes (128 MiB on lavapipe), or the smaller pretend limit set by
   * `setMaxBindingOverride`.
   */
  get maxBinding(): number {
    const max = this.device.limits.maxStorageBufferBindingSize;
    return this.#maxBindingOverride === null ? max : Math.min(max, this.#maxBindingOverride);
  }

  /** Alignment in bytes of a storage binding's offset (minStorageBufferOffsetAlignment). */
  get bindingAlignment(): number {
    return this.device.limits.minStorageBufferOffsetAlignment;
  }

  /**
   * Pretends the device binds at most `bytes` per storage binding (null restores the device's
   * limit). Tests use a small pretend limit so that split launches run on small tensors; every
   * launch is then checked against it, so an unsplit binding over it fails like on the device.
   */
  setMaxBindingOverride(bytes: number | null): void {
    if (bytes !== null && (!Number.isInteger(bytes) || bytes < 4 * this.bindingAlignment)) {
      throw new RangeError(
        `setMaxBindingOverride(${bytes}): need an integer of at least 4 binding alignments ` +
          `(${4 * this.bindingAlignment} bytes)`,
      );
    }
    this.#maxBindingOverride = bytes;
  }

  /** Compiled pipeline for a kernel, from the cache when the same source was compiled before. */
  pipeline(k: KernelSource): GPUComputePipeline {
    return this.#compiled(k).p;
  }

  #compiled(k: KernelSource): { p: GPUComputePipeline; bgl: GPUBindGroupLayout } {
    const known = this.#bySource.get(k);
    if (known) return known;
    const key = kernelCacheKey(k);
    let entry = this.#pipelines.get(key);
    if (!entry) {
      const layoutKey = k.bindings.join(",");
      let layout = this.#layouts.get(layoutKey);
      if (!layout) {
        const bgl = this.device.createBindGroupLayout({
          label: layoutKey,
          entries: k.bindings.map((b, i) => ({
            binding: i,
            visibility: GPUShaderStage.COMPUTE,
            buffer: {
              type: b === "uniform" ? "uniform" : b === "read" ? "read-only-storage" : "storage",
              hasDynamicOffset: b === "uniform",
            } as GPUBufferBindingLayout,
          })),
        });
        layout = { bgl, pl: this.device.createPipelineLayout({ bindGroupLayouts: [bgl] }) };
        this.#layouts.set(layoutKey, layout);
      }
      const module = this.device.createShaderModule({ label: k.label, code: k.code });
      const p = this.device.createComputePipeline({
        label: k.label,
        layout: layout.pl,
        compute: { module, entryPoint: "main" },
      });
      entry = { p, bgl: layout.bgl };
      this.#pipelines.set(key, entry);
    }
    this.#bySource.set(k, entry);
    return entry;
  }

  /** Number of distinct compiled pipelines (test-suite compile cost). */
  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  #begin(): GPUCommandEncoder {
    this.#throwPending();
    if (!this.#encoder) {
      this.device.pushErrorScope("out-of-memory");
      this.device.pushErrorScope("validation");
      this.#encoder = this.device.createCommandEncoder();
    }
    return this.#encoder;
  }

  #endPass(): void {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
  }

  #uniformSlot(
    bytes: ArrayBuffer | ArrayBufferView,
  ): { buffer: GPUBuffer; offset: number; size: number } {
    const src = bytes instanceof ArrayBuffer
      ? new Uint8Array(bytes)
      : new Uint8Array(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
    const size = Math.max(16, Math.ceil(src.byteLength / 16) * 16);
    if (size > UNIFORM_CHUNK) throw new RangeError(`Uniform block of ${size} bytes is too large`);
    // wgpu keeps the previous pipeline's minimum uniform size when the next pipeline shares the
    // bind group layout (dispatch fails with "bound with size 32 where the shader expects 144"),
    // so every uniform binding is at least UNIFORM_BIND bytes.
    const bind = Math.max(size, UNIFORM_BIND);
    if (this.#uniformUsed === 0 || this.#uniformPos + bind > UNIFORM_CHUNK) {
      if (this.#uniformUsed >= this.#uniformChunks.length) {
        this.#uniformChunks.push({
          buf: this.device.createBuffer({
            size: UNIFORM_CHUNK,
            usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
            label: "uniforms",
          }),
          data: new Uint8Array(UNIFORM_CHUNK),
        });
      }
      this.#uniformUsed++;
      this.#uniformPos = 0;
    }
    const chunk = this.#uniformChunks[this.#uniformUsed - 1];
    const offset = this.#uniformPos;
    chunk.data.set(src, offset);
    this.#uniformPos = Math.ceil((offset + size) / this.#uniformAlign) * this.#uniformAlign;
    return { buffer: chunk.buf, offset, size: bind };
  }

  /**
   * Encodes one dispatch of `kernel`. Nothing is submitted until a read back, `flush()`, or
   * `maxPendingDispatches` launches have accumulated.
   */
  launch(kernel: KernelSource, args: LaunchArgs): void {
    const enc = this.#begin(); // opens the error scopes first, so compile errors land in them
    const { p: pipeline, bgl } = this.#compiled(kernel);
    const entries: GPUBindGroupEntry[] = [];
    const dyn: number[] = [];
    let key = kernel.bindings.join(",");
    let bi = 0;
    for (let i = 0; i < kernel.bindings.length; i++) {
      if (kernel.bindings[i] === "uniform") {
        if (!args.uniforms) throw new Error(`Kernel ${kernel.label} needs uniforms`);
        const slot = this.#uniformSlot(args.uniforms);
        dyn.push(slot.offset);
        entries.push({ binding: i, resource: { buffer: slot.buffer, offset: 0, size: slot.size } });
        key += `|u${this.#idOf(slot.buffer)}:${slot.size}`;
      } else {
        const b = args.buffers[bi++];
        if (!b) throw new Error(`Kernel ${kernel.label} needs buffer #${bi - 1}`);
        const r = "buffer" in b ? b : { buffer: b };
        const offset = r.offset ?? 0;
        const size = r.size ?? r.buffer.size - offset;
        if (size > this.maxBinding) {
          const what = "buffer" in b && b.what ? `${b.what}, ` : "";
          throw new RangeError(
            `Kernel ${kernel.label}: binding #${bi - 1} (${what}${size} bytes) exceeds the ` +
              `device's maxStorageBufferBindingSize ${this.maxBinding}, and this op does not ` +
              "split its launch over sub-ranges: use smaller inputs (batch, resolution)",
          );
        }
        entries.push({ binding: i, resource: { buffer: r.buffer, offset, size } });
        key += `|${this.#idOf(r.buffer)}:${offset}:${size}`;
      }
    }
    let bindGroup = this.#bindGroups.get(key);
    if (!bindGroup) {
      if (this.#bindGroups.size >= 8192) this.#bindGroups.clear();
      bindGroup = this.device.createBindGroup({ label: kernel.label, layout: bgl, entries });
      this.#bindGroups.set(key, bindGroup);
    }
    const [x, y = 1, z = 1] = args.workgroups;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new RangeError(
        `Kernel ${kernel.label}: dispatch ${x}x${y}x${z} exceeds ${maxWg} workgroups per dimension`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return;
    this.#labels.push(kernel.label);
    if (this.profiling && this.hasTimestamps) {
      this.#endPass();
      const slot = this.#tsPending.length * 2;
      this.#ensureTimestamps(slot + 2);
      const pass = enc.beginComputePass({
        timestampWrites: {
          querySet: this.#tsQuery!,
          beginningOfPassWriteIndex: slot,
          endOfPassWriteIndex: slot + 1,
        },
      });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup, dyn);
      pass.dispatchWorkgroups(x, y, z);
      pass.end();
      this.#tsPending.push({ label: kernel.label, slot });
      if (this.#tsPending.length >= 256) this.flush();
    } else {
      if (!this.#pass) this.#pass = enc.beginComputePass();
      this.#pass.setPipeline(pipeline);
      this.#pass.setBindGroup(0, bindGroup, dyn);
      this.#pass.dispatchWorkgroups(x, y, z);
    }
    if (this.debug || this.#labels.length >= this.#maxPending) this.flush();
  }

  #idOf(b: GPUBuffer): number {
    let id = this.#bufferIds.get(b);
    if (id === undefined) this.#bufferIds.set(b, id = this.#nextBufferId++);
    return id;
  }

  /** Destroys the pool's free buffers and forgets bind groups that may reference them. */
  trimPool(): void {
    this.#bindGroups.clear();
    this.pool.trim();
  }

  #ensureTimestamps(n: number): void {
    if (this.#tsQuery && this.#tsQuery.count >= n) return;
    // Only grows between flushes when nothing is pending in it.
    if (this.#tsPending.length > 0 && this.#tsQuery) return;
    this.#tsQuery?.destroy();
    this.#tsResolve?.destroy();
    this.#tsQuery = this.device.createQuerySet({ type: "timestamp", count: 512 });
    this.#tsResolve = this.device.createBuffer({
      size: 512 * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
  }

  /** Encodes a buffer-to-buffer copy in submission order with the kernels around it. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    const enc = this.#begin();
    this.#endPass();
    enc.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.#labels.push("copy");
  }

  /** Writes CPU data into a buffer, ordered after every kernel encoded so far. */
  write(dst: GPUBuffer, dstOffset: number, data: ArrayBufferView): void {
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    const padded = Math.ceil(bytes.byteLength / 4) * 4;
    if (this.#encoder === null) {
      if (padded === bytes.byteLength) {
        this.device.queue.writeBuffer(dst, dstOffset, bytes);
      } else {
        const tmp = new Uint8Array(padded);
        tmp.set(bytes);
        this.device.queue.writeBuffer(dst, dstOffset, tmp);
      }
      return;
    }
    const staging = this.device.createBuffer({
      size: Math.max(4, padded),
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
      label: "upload",
    });
    new Uint8Array(staging.getMappedRange()).set(bytes);
    staging.unmap();
    this.copy(staging, 0, dst, dstOffset, padded);
    this.#trash.push(staging);
  }

  /** Submits everything encoded so far (does not wait for the GPU). */
  flush(): void {
    this.#throwPending();
    if (!this.#encoder) return;
    this.#endPass();
    const enc = this.#encoder;
    const labels = this.#labels;
    const ts = this.#tsPending;
    let tsRead: GPUBuffer | null = null;
    if (ts.length > 0) {
      enc.resolveQuerySet(this.#tsQuery!, 0, ts.length * 2, this.#tsResolve!, 0);
      tsRead = this.device.createBuffer({
        size: ts.length * 16,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      enc.copyBufferToBuffer(this.#tsResolve!, 0, tsRead, 0, ts.length * 16);
    }
    for (let i = 0; i < this.#uniformUsed; i++) {
      const c = this.#uniformChunks[i];
      const used = i === this.#uniformUsed - 1 ? this.#uniformPos : UNIFORM_CHUNK;
      if (used > 0) this.device.queue.writeBuffer(c.buf, 0, c.data, 0, Math.ceil(used / 4) * 4);
    }
    this.device.queue.submit([enc.finish()]);
    const validation = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    this.#errors.push(
      Promise.all([validation, oom]).then(([v, o]) => {
        const e = v ?? o;
        return e
          ? new GpuError(`GPU ${v ? "validation" : "out-of-memory"} error: ${e.message}`, labels)
          : null;
      }),
    );
    this.#encoder = null;
    this.#labels = [];
    this.#uniformUsed = 0;
    this.#uniformPos = 0;
    this.#tsPending = [];
    for (const b of this.#trash) b.destroy();
    this.#trash = [];
    if (tsRead) {
      const buf = tsRead;
      buf.mapAsync(GPUMapMode.READ).then(() => {
        const t = new BigUint64Array(buf.getMappedRange());
        for (const { label, slot } of ts) {
          this.profiler.record(label, Number(t[slot + 1] - t[slot]) / 1e6);
        }
        buf.unmap();
        buf.destroy();
      });
    }
  }

  #throwPending(): void {
    if (this.#lost) throw this.#lost;
  }

  /**
   * Submits pending work and waits for the GPU, then throws the first device error any earlier
   * submission reported.
   */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.#checkErrors();
  }

  async #checkErrors(): Promise<void> {
    const errs = this.#errors;
    this.#errors = [];
    for (const e of await Promise.all(errs)) if (e) throw e;
    if (this.#lost) throw this.#lost;
  }

  /** Copies `bytes` bytes at `offset` of `src` to the CPU (flushes pending work). */
  async read(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const start = Math.floor(offset / 4) * 4;
    const end = Math.ceil((offset + bytes) / 4) * 4;
    const staging = this.device.createBuffer({
      size: Math.max(4, end - start),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "readback",
    });
    if (end > start) this.copy(src, start, staging, 0, end - start);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      await this.#checkErrors();
      throw e;
    }
    const out = staging.getMappedRange().slice(offset - start, offset - start + bytes);
    staging.unmap();
    staging.destroy();
    await this.#checkErrors();
    return out;
  }

  /** Runs `fn` with profiling on, waits for the GPU, and returns the per-kernel timings. */
  async profile(fn: () => void | Promise<void>): Promise<ReturnType<Profiler["report"]>> {
    this.profiler.clear();
    const was = this.profiling;
    this.profiling = true;
    try {
      await fn();
      await this.sync();
      // Let the timestamp read backs land.
      await new Promise((r) => setTimeout(r, 0));
      await this.device.queue.onSubmittedWorkDone();
      await new Promise((r) => setTimeout(r, 0));
    } finally {
      this.profiling = was;
    }
    return this.profiler.report();
  }
}

let runtime: GpuRuntime | null = null;
let pending: Promise<GpuRuntime> | null = null;

/**
 * Obtains the process's GPU device once (highest-performance adapter, the adapter's largest
 * buffer and binding limits, `shader-f16` and `timestamp-query` when offered).
 *
 * @throws {GpuUnavailableError} when WebGPU or an adapter is missing, naming what to install.
 */
export function initGpu(opts: InitGpuOptions = {}): Promise<GpuRuntime> {
  if (runtime) return Promise.resolve(runtime);
  if (!pending) {
    pending = (async () => {
      if (!("gpu" in navigator) || !navigator.gpu) {
        throw new GpuUnavailableError(
          "WebGPU is not available in this runtime: use Deno 2 or newer (navigator.gpu)",
        );
      }
      const adapter = await navigator.gpu.requestAdapter({
        powerPreference: opts.powerPreference ?? "high-performance",
      });
      if (!adapter) {
        throw new GpuUnavailableError(
          "No WebGPU adapter found: install a GPU driver with Vulkan support, or on a CPU-only " +
            "Debian/Ubuntu machine install Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`)",
        );
      }
      const wanted: GPUFeatureName[] = ["shader-f16", "timestamp-query"];
      const l = adapter.limits;
      const device = await adapter.requestDevice({
        requiredFeatures: wanted.filter((f) => adapter.features.has(f)),
        requiredLimits: {
          maxBufferSize: l.maxBufferSize,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
        },
      });
      runtime = new GpuRuntime(adapter, device, opts);
      return runtime;
    })();
    pending.catch(() => pending = null);
  }
  return pending;
}

/**
 * The runtime obtained by `initGpu`. Tensor ops are synchronous, so the device must exist first.
 *
 * @throws {Error} when `initGpu()` has not completed.
 */
export function gpu(): GpuRuntime {
  if (!runtime) throw new Error("The GPU is not initialised: `await initGpu()` before tensor ops");
  return runtime;
}

/** Submits every op on its own so that a device error names exactly one kernel. */
export function setGpuDebug(on: boolean): void {
  gpu().debug = on;
}

/**
 * Waits until every submitted GPU command has finished (no-op when the GPU was never
 * initialised). Call before a process exits: wgpu's teardown waits only briefly for in-flight
 * work and panics ("timed out while waiting on the last successful submission") when a slow
 * adapter such as lavapipe is still busy.
 */
export async function settleGpu(): Promise<void> {
  const r = runtime;
  if (!r) return;
  r.flush();
  await r.device.queue.onSubmittedWorkDone();
}
