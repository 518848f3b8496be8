/**
 * A SAM 2 training step fed from a GPU batch (the loader ran the pixels on the GPU and kept the
 * images there) trains on that tensor as is: the same loss as from the host batch of
 * `pixels: "cpu"` holding the same images, and the tensor is freed when the step ends, like the
 * input the step would otherwise have uploaded.
 *
 * "The same images": the GPU pixel path is within its stated tolerance of the CPU path, not
 * bit-exact (the affine warp's float32 coordinates; on this config also ~1e-4 of the values one
 * or two 8-bit levels apart), and this mini model's loss moves by ~5e-4 relative for that.
 * So the host batch of the comparison is the `pixels: "cpu"` batch (same clips, masks, objects,
 * seed) with the GPU batch's images put in; that its own images are within the tolerance is
 * checked here too.
 */
import { assert, assertEquals } from "../../assert.ts";
import { gpu, initGpu } from "../../../src/gpu/mod.ts";
import {
  type BatchedVideoDatapoint,
  ClipLoader,
  type GpuBatchedVideoDatapoint,
  isGpuBatch,
  type LoaderBatch,
  loaderOptionsFromReferenceConfig,
} from "../../../src/data/mod.ts";
import { SeededTrainRandom } from "../../../src/sam2/train/mod.ts";
import { checkDataPaths, runTraining } from "../../../src/train/mod.ts";
import { createSam2TrainTask } from "../../../src/train/trainer/sam2_task.ts";
import { gcReleasedBytes, keep, Tensor, tensor } from "../../../src/tensor/mod.ts";

await initGpu();

const here = new URL(".", import.meta.url).pathname;

interface Seen {
  loss: number;
  batch: LoaderBatch | null;
  imagesBefore: Float32Array | null;
  disposedInStep: boolean | null;
}

/**
 * One training step of the mini config from the loader's first batch; with `images`, the host
 * batch's images are swapped for these before the step (its own are kept in `ownImages`).
 */
async function oneStep(
  pixels: "cpu" | "gpu",
  images?: Float32Array,
): Promise<Seen & { ownImages?: Float32Array }> {
  const dir = await Deno.makeTempDir();
  const seen: Seen & { ownImages?: Float32Array } = {
    loss: NaN,
    batch: null,
    imagesBefore: null,
    disposedInStep: null,
  };
  try {
    const report = await runTraining({
      config: "mini_trainer.yaml",
      cwd: here,
      overrides: [`launcher.experiment_log_dir=${dir}`],
      maxSteps: 1,
      print: () => {},
      createData: async (cfg, ctx) => {
        const train = cfg.trainer.data!.train as unknown as Record<string, unknown>;
        const opts = loaderOptionsFromReferenceConfig(train, { seed: ctx.seed, workers: 0 });
        const { options } = checkDataPaths(opts, here);
        const loader = await ClipLoader.create({ ...options, pixels, imagesOnGpu: true });
        // no `recycle`: what frees the GPU batch's tensor can only be the step's scope
        return {
          numBatches: (e: number) => loader.numBatches(e),
          close: () => loader.close(),
          epoch: async function* (e: number) {
            for await (const b of loader.epoch(e)) {
              if (images) {
                const host = b as BatchedVideoDatapoint;
                seen.ownImages ??= host.imgBatch.slice();
                host.imgBatch.set(images);
              }
              yield b;
            }
          },
        };
      },
      createTask: (cfg, ctx) => {
        const task = createSam2TrainTask(cfg, ctx, { random: () => new SeededTrainRandom(7) });
        const inner = task.step.bind(task);
        task.step = async (b: LoaderBatch) => {
          seen.batch = b;
          if (isGpuBatch(b)) {
            seen.imagesBefore = new Float32Array(
              await gpu().read(b.imgBatch.storage.buffer, 0, b.imgBatch.size * 4),
            );
          } else seen.imagesBefore = b.imgBatch.slice();
          const out = await inner(b);
          if (isGpuBatch(b)) seen.disposedInStep = b.imgBatch.disposed;
          return out;
        };
        return task;
      },
    });
    assertEquals(report.result!.progress.steps.train, 1, "the step trained");
    seen.loss = report.result!.lastLoss;
    return seen;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a SAM 2 training step from a GPU-mode batch takes its image tensor as is and gives the loss of the CPU-mode batch with the same images", async () => {
  const onGpu = await oneStep("gpu");
  const b = onGpu.batch!;
  assert(isGpuBatch(b) && b.imgBatch instanceof Tensor, "pixels: 'gpu' gives a GPU tensor");
  const cpu = await oneStep("cpu", onGpu.imagesBefore!);
  assert(cpu.batch && !isGpuBatch(cpu.batch), "pixels: 'cpu' gives host images");
  assertEquals(cpu.imagesBefore, onGpu.imagesBefore, "the host batch got the GPU batch's images");
  // the 'cpu' batch's own images: the GPU path's tolerance (as tests/data/train/gpu_batch_test)
  const own = cpu.ownImages!, got = onGpu.imagesBefore!;
  let bad = 0;
  for (let i = 0; i < own.length; i++) if (Math.abs(own[i] - got[i]) > 1e-6) bad++;
  assert(bad <= 0.02 * own.length, `${bad} of ${own.length} values differ`);
  assert(Number.isFinite(cpu.loss) && cpu.loss > 0, `loss ${cpu.loss}`);
  const rel = Math.abs(onGpu.loss - cpu.loss) / Math.abs(cpu.loss);
  assert(rel <= 1e-4, `GPU-batch loss ${onGpu.loss} vs CPU-batch loss ${cpu.loss}: ${rel} rel`);
  // the step's scope owns the tensor: alive while the step ran, freed once it ended
  assertEquals(onGpu.disposedInStep, false, "still alive inside the step");
  assert(b.imgBatch.disposed, "freed with the step's tidyAsync scope (the data has no recycle)");
});

Deno.test("SAM 2 training steps fed GPU batches leave no GPU memory behind", async () => {
  const dir = await Deno.makeTempDir();
  const live: number[] = [];
  const peak: number[] = [];
  const pool = gpu().pool;
  try {
    const report = await runTraining({
      config: "mini_trainer.yaml",
      cwd: here,
      overrides: [`launcher.experiment_log_dir=${dir}`, "trainer.logging.log_freq=1000"],
      maxSteps: 5,
      print: () => {},
      createData: async (cfg, ctx) => {
        const train = cfg.trainer.data!.train as unknown as Record<string, unknown>;
        const opts = loaderOptionsFromReferenceConfig(train, { seed: ctx.seed, workers: 0 });
        return await ClipLoader.create({
          ...checkDataPaths(opts, here).options,
          pixels: "gpu",
          imagesOnGpu: true,
        });
      },
      createTask: (cfg, ctx) => {
        // As sam2_memory_test: the same batch every step (same work, same buffers), here as a
        // fresh GPU batch per step whose tensor is kept out of every scope, as the loader's:
        // only the step taking it over can free it.
        const task = createSam2TrainTask(cfg, ctx, { random: () => new SeededTrainRandom(7) });
        const inner = task.step.bind(task);
        let first: { batch: GpuBatchedVideoDatapoint; images: Float32Array } | null = null;
        task.step = async (b: LoaderBatch) => {
          assert(isGpuBatch(b), "pixels: 'gpu' gives GPU batches");
          first ??= {
            batch: b,
            images: new Float32Array(
              await gpu().read(b.imgBatch.storage.buffer, 0, b.imgBatch.size * 4),
            ),
          };
          const s = pool.stats();
          live.push(s.liveBytes + gcReleasedBytes()); // exact whenever the collector runs
          peak.push(s.peakBytes);
          pool.resetPeak();
          const images = keep(tensor(first.images, first.batch.imgBatch.shape));
          return inner({ ...first.batch, imgBatch: images });
        };
        return task;
      },
    });
    assertEquals(report.result!.progress.steps.train, 5, "every step trained (none skipped)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  const shown = live.map((l, i) => `before step ${i}: live ${mib(l)} MiB, peak ${mib(peak[i])}`);
  // step 0 created the AdamW state; from then on each step must free its batch tensor
  const steady = live.slice(2);
  assert(steady.every((l) => l === steady[0]), `live bytes grow:\n${shown.join("\n")}`);
  // The loader makes the next GPU batch while a step runs, so a step's peak may or may not
  // include it (timing): the peak must not grow, the live bytes (above) must not move at all.
  const peaks = peak.slice(2);
  assert(
    peaks[peaks.length - 1] <= Math.max(...peaks.slice(0, -1)) * 1.03,
    `peak grows:\n${shown.join("\n")}`,
  );
});
