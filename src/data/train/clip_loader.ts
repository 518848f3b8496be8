/**
 * The training data loader: walks an epoch plan of {@linkcode TrainMixedDataset}, loads
 * clips in Workers (or inline with `workers: 0`) with bounded prefetch, and yields collated
 * batches in plan order. Every clip draws from its own generator seeded from (seed, epoch,
 * batch, position), so batches do not depend on the number of workers or their timing.
 *
 * @module
 */
import { Rng } from "../rng.ts";
import { type ClipDatasetSpec, type ClipSourceSpec, openClipSource } from "./clip_dataset_spec.ts";
import {
  type BatchedVideoDatapoint,
  collateBatch,
  collateGpuBatch,
  type GpuBatchedVideoDatapoint,
  type LoaderBatch,
  recycleBatch,
  recycleDatapoint,
} from "./collate.ts";
import { transferablesOf } from "./_wire.ts";
import type { VideoDatapoint } from "./datapoint.ts";
import {
  type PlannedBatch,
  TrainMixedDataset,
  type TrainMixedDatasetOptions,
} from "./mixed_dataset.ts";
import type { ClipSource } from "./concat_dataset.ts";
import {
  clipOutputSize,
  GpuPixelPipeline,
  GpuPlanError,
  readFrameTensors,
  writeFrameTensors,
} from "./transforms/gpu_pipeline.ts";
import { executePlansCpu } from "./transforms/plan.ts";
import { PIXEL_OPS_ON_GPU } from "./transforms/build.ts";
import { initGpu } from "../../gpu/runtime.ts";
import { keep } from "../../tensor/scope.ts";
import { Tensor } from "../../tensor/tensor.ts";

/** Where the pixel transforms run (see {@linkcode ClipLoaderOptions.pixels}). */
export type PixelDevice = "cpu" | "gpu" | "auto";

/**
 * The batches a loader with `pixels: P` and `imagesOnGpu: G` yields: host images unless `G`;
 * with `G`, host images for "cpu", a GPU image tensor for "gpu", either for "auto" (decided
 * by the adapter at run time: narrow with `isGpuBatch`).
 */
export type LoaderBatchOf<P extends PixelDevice, G extends boolean> = G extends true
  ? (P extends "cpu" ? BatchedVideoDatapoint
    : P extends "gpu" ? GpuBatchedVideoDatapoint
    : LoaderBatch)
  : BatchedVideoDatapoint;

/** Options for {@linkcode ClipLoader}. */
export interface ClipLoaderOptions {
  datasets: ClipSourceSpec[];
  /** Clips per batch for each dataset. */
  batchSizes: number[];
  /** Loader Workers; 0 loads inline. @default 2 */
  workers?: number;
  /** Clips requested ahead of the consumer. @default 2 * workers + batch size */
  prefetch?: number;
  /** Base seed of all data randomness. @default 0 */
  seed?: number;
  /** Name of the batches (`dict_key`). @default "all" */
  dictKey?: string;
  /** Mixing options (shuffle, dropLast, phasesPerEpoch, datasetProb, rank, worldSize). */
  mixing?: Omit<TrainMixedDatasetOptions, "datasets" | "batchSizes">;
  /**
   * Where pixel transforms run: "gpu" (Workers decode, draw and do masks; warp, resize,
   * jitter and normalise run as WGSL kernels), "cpu", or "auto": the GPU on a real GPU, the
   * CPU on a software adapter or none.
   * @default "auto"
   */
  pixels?: PixelDevice;
  /**
   * When the pixels run on the GPU, leave the images there: each clip is written into its slot
   * of the batch's [T, B, 3, H, W] tensor, which the batch carries as `imgBatch`
   * (`GpuBatchedVideoDatapoint`; see there who frees it), and nothing is read back (~100 MB
   * per 8-frame 1024 px clip). The SAM 2 training task takes such a batch as its model input
   * as is. Without it the frames are read back and batches hold host arrays, so the batch
   * type does not depend on the adapter. No effect when the pixels run on the CPU.
   * @default false
   */
  imagesOnGpu?: boolean;
}

function pixelsOnGpuSpec(d: ClipDatasetSpec): ClipDatasetSpec {
  return { ...d, transforms: [...d.transforms, PIXEL_OPS_ON_GPU] };
}

/** Resolves `ClipLoaderOptions.pixels` ("auto": a GPU adapter that is not a CPU rasteriser). */
async function pixelDevice(pixels: "cpu" | "gpu" | "auto"): Promise<"cpu" | "gpu"> {
  if (pixels !== "auto") return pixels;
  if (!("gpu" in navigator) || !navigator.gpu) return "cpu";
  try {
    return (await initGpu()).isCpuAdapter ? "cpu" : "gpu";
  } catch {
    return "cpu";
  }
}

function itemSeed(seed: number, epoch: number, batch: number, pos: number): number[] {
  const r = new Rng(((seed * 1000003) ^ (epoch * 9176)) + batch * 131 + pos * 7919 + 1);
  return new Rng(r.nextU32() * 1024 + (r.nextU32() >>> 22)).state();
}

interface Pending {
  resolve: (dp: VideoDatapoint) => void;
  reject: (e: Error) => void;
}

/**
 * Prefetching, Worker-backed loader of collated clip batches; `B` is the batch type its
 * `pixels` option gives (see {@linkcode LoaderBatchOf}).
 */
export class ClipLoader<B extends LoaderBatch = LoaderBatch> {
  readonly opts: ClipLoaderOptions;
  readonly mixed: TrainMixedDataset;
  private inline: ClipSource[];
  private workers: Worker[] = [];
  private pending = new Map<number, Pending>();
  private nextId = 0;
  private rr = 0;
  private gpuPixels: GpuPixelPipeline | null = null;

  private constructor(opts: ClipLoaderOptions, datasets: ClipSource[]) {
    this.opts = opts;
    this.inline = datasets;
    this.mixed = new TrainMixedDataset({
      ...(opts.mixing ?? {}),
      datasets,
      batchSizes: opts.batchSizes,
    });
  }

  /** Opens the datasets (and starts the Workers). Call {@linkcode ClipLoader.close} when done. */
  static async create<P extends PixelDevice = "auto", G extends boolean = false>(
    opts: ClipLoaderOptions & { pixels?: P; imagesOnGpu?: G },
  ): Promise<ClipLoader<LoaderBatchOf<P, G>>> {
    const onGpu = await pixelDevice(opts.pixels ?? "auto") === "gpu";
    if (onGpu) await initGpu();
    const specs = onGpu
      ? opts.datasets.map((d) => Array.isArray(d) ? d.map(pixelsOnGpuSpec) : pixelsOnGpuSpec(d))
      : opts.datasets;
    const datasets = await Promise.all(specs.map(openClipSource));
    const loader = new ClipLoader<LoaderBatchOf<P, G>>(opts, datasets);
    if (onGpu) loader.gpuPixels = new GpuPixelPipeline();
    const n = opts.workers ?? 2;
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL("./loader_worker.ts", import.meta.url).href, { type: "module" });
      ready.push(
        new Promise((resolve, reject) => {
          w.onmessage = (ev) => {
            const m = ev.data;
            if (m.type === "ready") resolve();
            else if (m.type === "error" && m.id === -1) {
              reject(new Error(`Loader worker: ${m.message}`));
            } else loader.onWorkerMessage(m);
          };
          w.onerror = (e) => {
            e.preventDefault();
            const err = new Error(`Loader worker crashed: ${e.message}`);
            reject(err);
            for (const p of loader.pending.values()) p.reject(err);
            loader.pending.clear();
          };
        }),
      );
      w.postMessage({ type: "init", specs });
      loader.workers.push(w);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      loader.close();
      throw e;
    }
    return loader;
  }

  private onWorkerMessage(m: { type: string; id: number; dp?: VideoDatapoint; message?: string }) {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.type === "item") p.resolve(m.dp!);
    else p.reject(new Error(m.message));
  }

  private async fetch(
    datasetIdx: number,
    idx: number,
    rngState: number[],
    epoch: number,
  ): Promise<{ dp: VideoDatapoint; worker?: Worker }> {
    if (this.workers.length === 0) {
      return { dp: await this.inline[datasetIdx].get(idx, Rng.fromState(rngState), epoch) };
    }
    const id = this.nextId++;
    const worker = this.workers[this.rr++ % this.workers.length];
    const dp = await new Promise<VideoDatapoint>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ type: "get", id, datasetIdx, idx, rngState, epoch });
    });
    return { dp, worker };
  }

  /**
   * Gives a consumed batch's buffers back for the next batches (optional for host batches,
   * saves page faults); disposes a GPU batch's image tensor unless a training step took it.
   */
  recycle(batch: B): void {
    recycleBatch(batch);
  }

  /** Number of batches in an epoch for this rank. */
  numBatches(epoch: number): number {
    return this.mixed.plan(epoch).length;
  }

  /** Yields the collated batches of `epoch`, prefetching clips ahead of the consumer. */
  async *epoch(epoch: number): AsyncGenerator<B> {
    const plan: PlannedBatch[] = this.mixed.plan(epoch);
    const items: { b: number; d: number; idx: number; pos: number }[] = [];
    plan.forEach((pb, b) =>
      pb.indices.forEach((idx, pos) => items.push({ b, d: pb.datasetIdx, idx, pos }))
    );
    const depth = this.opts.prefetch ??
      2 * Math.max(1, this.workers.length) + Math.max(...this.opts.batchSizes);
    const inflight: Promise<{ dp: VideoDatapoint; worker?: Worker }>[] = [];
    let issued = 0;
    const issue = () => {
      while (issued < items.length && inflight.length < depth) {
        const it = items[issued++];
        const p = this.fetch(
          it.d,
          it.idx,
          itemSeed(this.opts.seed ?? 0, epoch, it.b, it.pos),
          epoch,
        );
        p.catch(() => {}); // handled when awaited
        inflight.push(p);
      }
    };
    for (const pb of plan) {
      const got: { dp: VideoDatapoint; worker?: Worker }[] = [];
      for (let k = 0; k < pb.indices.length; k++) {
        issue();
        got.push(await inflight.shift()!);
      }
      issue();
      const dps = got.map((g) => g.dp), key = this.opts.dictKey ?? "all";
      let batch: LoaderBatch;
      if (this.gpuPixels && this.opts.imagesOnGpu) batch = this.#collateOnGpu(dps, key);
      else {
        if (this.gpuPixels) { for (const dp of dps) await this.#pixelsOnGpu(dp); }
        batch = collateBatch(dps, key, { recycleClips: false });
      }
      for (const g of got) {
        if (!g.worker) recycleDatapoint(g.dp);
        else if (this.workers.includes(g.worker)) {
          const buffers = transferablesOf(g.dp);
          g.worker.postMessage({ type: "recycle", buffers }, buffers);
        }
      }
      yield batch as B;
    }
  }

  /** Whether pixel transforms run on the GPU (see `ClipLoaderOptions.pixels`). */
  get pixelsOnGpu(): boolean {
    return this.gpuPixels !== null;
  }

  /** Runs a clip's pixel plans on the GPU and reads its frames back (`imagesOnGpu` off). */
  async #pixelsOnGpu(dp: VideoDatapoint): Promise<void> {
    let t;
    try {
      t = this.gpuPixels!.run(dp);
    } catch (e) {
      // an op without a kernel (hue): the CPU runs the same plan, same result
      if (!(e instanceof GpuPlanError)) throw e;
      executePlansCpu(dp);
      return;
    }
    try {
      await readFrameTensors(dp, t);
    } finally {
      t.dispose();
    }
  }

  /**
   * Runs each clip's pixel plans on the GPU straight into its slot of one [T, B, 3, H, W]
   * tensor and collates the rest: the images are never read back. The tensor is kept out of
   * any open scope: the batch's consumer owns it.
   */
  #collateOnGpu(dps: VideoDatapoint[], dictKey: string): GpuBatchedVideoDatapoint {
    const { frames: T, height: H, width: W } = clipOutputSize(dps[0]);
    const images = keep(Tensor.empty([T, dps.length, 3, H, W], "f32"));
    try {
      dps.forEach((dp, b) => {
        try {
          this.gpuPixels!.run(dp, { out: images, batchIndex: b });
        } catch (e) {
          // an op without a kernel (hue): the CPU runs the same plan (same result), and the
          // frames go up into the clip's slot
          if (!(e instanceof GpuPlanError)) throw e;
          executePlansCpu(dp);
          writeFrameTensors(dp, images, b);
        }
      });
      return collateGpuBatch(dps, images, dictKey);
    } catch (e) {
      images.dispose();
      throw e;
    }
  }

  /** Stops the Workers. */
  close(): void {
    for (const w of this.workers) w.terminate();
    this.workers = [];
    for (const p of this.pending.values()) p.reject(new Error("Loader closed"));
    this.pending.clear();
  }
}
