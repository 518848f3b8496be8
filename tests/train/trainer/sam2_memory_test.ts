/**
 * GPU memory across SAM 2 training steps: the trainer frees every tensor a step made (the step
 * runs in a `tidyAsync` scope that also drops the unused tape), so the pool's live bytes and
 * high-water mark are the same after every step once the optimizer state exists.
 */
import { assert, assertEquals } from "../../assert.ts";
import { gpu, initGpu } from "../../../src/gpu/mod.ts";
import type { BatchedVideoDatapoint } from "../../../src/data/mod.ts";
import { SeededTrainRandom } from "../../../src/sam2/train/mod.ts";
import { gcReleasedBytes } from "../../../src/tensor/mod.ts";
import { runTraining } from "../../../src/train/mod.ts";
import { createSam2TrainTask } from "../../../src/train/trainer/sam2_task.ts";

await initGpu();

const here = new URL(".", import.meta.url).pathname;

Deno.test("a SAM2Train training step leaves no GPU memory behind and its peak is stable", async () => {
  const dir = await Deno.makeTempDir();
  const live: number[] = [];
  const peak: number[] = [];
  try {
    const pool = gpu().pool;
    const report = await runTraining({
      config: "mini_trainer.yaml",
      cwd: here,
      overrides: [`launcher.experiment_log_dir=${dir}`, "trainer.logging.log_freq=1000"],
      maxSteps: 6,
      // host batches, so that the first can be cloned and replayed (a GPU batch serves one step)
      pixels: "cpu",
      print: () => {},
      createTask: (cfg, ctx) => {
        // The same batch and the same prompt decisions every step, so every step does the
        // same work and allocates the same buffers.
        const task = createSam2TrainTask(cfg, ctx, { random: () => new SeededTrainRandom(7) });
        const inner = task.step.bind(task);
        let first: BatchedVideoDatapoint | null = null;
        task.step = (b: BatchedVideoDatapoint) => {
          first ??= structuredClone(b);
          // The previous step is done (backward, clip, AdamW) and this one has only dropped
          // the previous gradients (zeroGrad): measure what the previous step left.
          const s = pool.stats();
          live.push(s.liveBytes + gcReleasedBytes()); // exact whenever the collector runs
          peak.push(s.peakBytes);
          pool.resetPeak();
          return inner(first);
        };
        return task;
      },
    });
    assertEquals(report.result!.progress.steps.train, 6, "every step trained (none skipped)");
    const s = pool.stats();
    live.push(s.liveBytes + gcReleasedBytes());
    peak.push(s.peakBytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const mib = (b: number) => (b / 2 ** 20).toFixed(2);
  const shown = live.map((l, i) => `after ${i}: live ${mib(l)} MiB, peak ${mib(peak[i])} MiB`);
  // live[i] / peak[i] were read after i steps; step 1 created the AdamW state. The last entry
  // was read after the run, gradients still held, so only its peak is compared.
  const steady = live.slice(2, 6);
  assert(steady.every((l) => l === steady[0]), `live bytes grow:\n${shown.join("\n")}`);
  assert(steady[0] > live[0], "the optimizer state is part of the live bytes");
  const peaks = peak.slice(2);
  const lo = Math.min(...peaks), hi = Math.max(...peaks);
  assert(hi <= lo * 1.03, `peak varies by more than 3%:\n${shown.join("\n")}`);
});
