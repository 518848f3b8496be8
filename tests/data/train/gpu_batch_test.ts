/**
 * GPU batches: with `pixels: "gpu"` and `imagesOnGpu` the loader runs each clip's pixel plans
 * straight into its slot of the batch's [T, B, 3, H, W] tensor and yields that tensor, never
 * reading the images back nor building a host image array; the values are those of `pixels: "cpu"` for the same
 * seed (within the GPU path's stated tolerance: the affine warp's float32 coordinates).
 */
import { assert, assertEquals } from "../../assert.ts";
import { gpu, initGpu } from "../../../src/gpu/mod.ts";
import {
  type BatchedVideoDatapoint,
  type ClipDatasetSpec,
  ClipLoader,
  type GpuBatchedVideoDatapoint,
  hostBufferPool,
  isGpuBatch,
  moseTrainTransformSpecs,
  recycleBatch,
  type TransformSpec,
} from "../../../src/data/mod.ts";
import { Tensor } from "../../../src/tensor/mod.ts";

await initGpu();

const FIX = new URL("../../../../shared/fixtures/davis2016/", import.meta.url).pathname;

function spec(transforms: TransformSpec[]): ClipDatasetSpec {
  return {
    raw: { kind: "png", imgFolder: `${FIX}JPEGImages`, gtFolder: `${FIX}Annotations` },
    sampler: { numFrames: 2, maxNumObjects: 1, reverseTimeProb: 0 },
    transforms,
    multiplier: 1,
  };
}

/** The first batch of epoch 0, and what the loader did meanwhile (read backs, host arrays). */
async function firstBatch<P extends "cpu" | "gpu">(
  pixels: P,
  transforms: TransformSpec[],
  workers = 0,
) {
  const loader = await ClipLoader.create({
    datasets: [spec(transforms)],
    batchSizes: [2],
    workers,
    seed: 3,
    pixels,
    imagesOnGpu: true,
  });
  const g = gpu();
  const read = g.read.bind(g), f32 = hostBufferPool.f32.bind(hostBufferPool);
  let reads = 0;
  const f32Sizes: number[] = [];
  g.read = (...a: Parameters<typeof read>) => {
    reads++;
    return read(...a);
  };
  hostBufferPool.f32 = (n: number) => {
    f32Sizes.push(n);
    return f32(n);
  };
  try {
    const it = loader.epoch(0);
    const b = (await it.next()).value!;
    await it.return(undefined);
    return { batch: b, reads, f32Sizes };
  } finally {
    g.read = read;
    hostBufferPool.f32 = f32;
    loader.close();
  }
}

async function imagesOf(b: GpuBatchedVideoDatapoint): Promise<Float32Array> {
  return new Float32Array(await gpu().read(b.imgBatch.storage.buffer, 0, b.imgBatch.size * 4));
}

function assertSameTargets(gpuB: GpuBatchedVideoDatapoint, cpuB: BatchedVideoDatapoint) {
  assertEquals(
    [gpuB.numFrames, gpuB.numVideos, gpuB.numObjects, gpuB.height, gpuB.width],
    [cpuB.numFrames, cpuB.numVideos, cpuB.numObjects, cpuB.height, cpuB.width],
  );
  assertEquals(gpuB.masks, cpuB.masks);
  assertEquals(gpuB.objToFrameIdx, cpuB.objToFrameIdx);
  assertEquals(gpuB.metadata, cpuB.metadata);
  assertEquals(gpuB.dictKey, cpuB.dictKey);
}

Deno.test("ClipLoader pixels: 'gpu', imagesOnGpu: yields the images as a [T, B, 3, H, W] tensor equal to 'cpu' mode, with no read back and no host image array", async () => {
  const transforms = moseTrainTransformSpecs(48);
  const cpu = await firstBatch("cpu", transforms);
  const gpuRun = await firstBatch("gpu", transforms);
  const b = gpuRun.batch;
  assert(isGpuBatch(b) && b.imgBatch instanceof Tensor, "the batch carries a GPU tensor");
  assert(!isGpuBatch(cpu.batch) && cpu.batch.imgBatch instanceof Float32Array);
  assertEquals(b.imgBatch.shape, [2, 2, 3, 48, 48]);
  assertEquals(gpuRun.reads, 0, "the loader read nothing back from the GPU");
  const plane = 3 * 48 * 48;
  // (the masks' resize planes also come from the pool: only image-sized requests count)
  assertEquals(
    gpuRun.f32Sizes.filter((n) => n === plane || n === 2 * 2 * plane),
    [],
    "no host float32 image (frame tensor or batch array) was requested",
  );
  // the CPU path did build them: the spy sees what it should
  assert(cpu.f32Sizes.includes(plane), "the CPU frame tensors went through the pool");
  assert(cpu.f32Sizes.includes(2 * 2 * plane), "the CPU batch array went through the pool");
  assertSameTargets(b, cpu.batch);
  const got = await imagesOf(b), want = cpu.batch.imgBatch;
  assertEquals(got.length, want.length);
  let bad = 0;
  for (let i = 0; i < want.length; i++) if (Math.abs(got[i] - want[i]) > 1e-6) bad++;
  // gpu_pipeline.ts: the warp maps coordinates in float32 (PIL: double), so a few samples near a
  // truncation or border decision pick another pixel; the same bound as the per-clip test
  assert(bad <= 0.02 * want.length, `${bad} of ${want.length} values differ`);
  assert(bad < want.length / 2, "most values agree exactly");
  // the consumer owns the tensor; recycling the batch frees it
  recycleBatch(b);
  assert(b.imgBatch.disposed, "recycling the batch (ClipLoader.recycle) disposed its tensor");
});

Deno.test("ClipLoader pixels: 'gpu', imagesOnGpu, through a Worker, with a clip the GPU cannot run (hue): the CPU-made frames go up into the batch tensor, equal to 'cpu' mode", async () => {
  const transforms: TransformSpec[] = [
    { type: "RandomHorizontalFlip", consistent_transform: true },
    { type: "RandomResizeAPI", sizes: 24, square: true, consistent_transform: true },
    { type: "ColorJitter", consistent_transform: true, brightness: 0.1, hue: 0.05 },
    { type: "ToTensorAPI" },
    { type: "NormalizeAPI", mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  ];
  const cpu = await firstBatch("cpu", transforms);
  const gpuRun = await firstBatch("gpu", transforms, 1);
  const b = gpuRun.batch;
  assert(isGpuBatch(b), "a GPU-mode batch is on the GPU whichever path its clips took");
  assertEquals(gpuRun.reads, 0);
  assertSameTargets(b, cpu.batch);
  // the hue clips ran the CPU plan: exactly the CPU batch
  assertEquals(await imagesOf(b), cpu.batch.imgBatch);
  b.imgBatch.dispose();
});
