/**
 * gpu: the process's WebGPU device, buffer pool, pipeline cache, batched submission, errors and
 * profiling. Tensor code calls `gpu().launch(kernel, args)`; nothing here knows about tensors.
 *
 * @example
 * ```ts
 * import { initGpu } from "./mod.ts";
 * const rt = await initGpu();
 * console.log(rt.adapterName, rt.pool.stats().liveBytes);
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./kernel_source.ts";
export * from "./pool.ts";
export * from "./profiler.ts";
export * from "./runtime.ts";
