/**
 * The GPU pixel path against the CPU path: same transforms, same seed, so the same drawn
 * parameters; masks stay on the CPU (identical), pixels go through the WGSL kernels.
 */
import { assert, assertEquals, AssertionError, assertThrows } from "../assert.ts";
import { gpu, initGpu } from "../../src/gpu/mod.ts";
import { Tensor } from "../../src/tensor/mod.ts";
import {
  buildTransforms,
  ClipLoader,
  GpuPixelPipeline,
  GpuPlanError,
  moseTrainTransformSpecs,
  PIXEL_OPS_ON_GPU,
  readFrameTensors,
  Rng,
  type TransformSpec,
  type VideoDatapoint,
} from "../../src/data/mod.ts";

await initGpu();

const DIR = new URL("../fixtures/transforms/", import.meta.url);
const index = JSON.parse(Deno.readTextFileSync(new URL("index.json", DIR)));
const blob = Deno.readFileSync(new URL("transforms.bin", DIR));
function bytes(name: string): Uint8Array {
  const a = index.arrays[name];
  return blob.slice(a.offset, a.offset + a.shape.reduce((x: number, y: number) => x * y, 1));
}
const IMG = bytes("image"), MASK = bytes("mask"), W = 64, H = 48;

/** A clip of `t` frames of the 64x48 DAVIS crop, each shifted a little, with its mask. */
function clip(t: number): VideoDatapoint {
  return {
    videoId: 1,
    size: [H, W],
    frames: Array.from({ length: t }, (_, k) => {
      const data = new Uint8Array(W * H * 3), seg = new Uint8Array(W * H);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const sx = Math.min(W - 1, x + k), i = y * W + x;
          data.set(IMG.subarray((y * W + sx) * 3, (y * W + sx) * 3 + 3), i * 3);
          seg[i] = MASK[y * W + sx];
        }
      }
      return {
        image: { width: W, height: H, data },
        objects: [{ objectId: 1, frameIndex: k, segment: seg }],
      };
    }),
  };
}

function run(specs: TransformSpec[], seed: number, frames: number, gpuPath: boolean) {
  let dp = clip(frames);
  const rng = new Rng(seed);
  const ts = buildTransforms(gpuPath ? [...specs, PIXEL_OPS_ON_GPU] : specs);
  for (const t of ts) dp = t.apply(dp, rng);
  return dp;
}

async function gpuRun(specs: TransformSpec[], seed: number, frames: number) {
  const dp = run(specs, seed, frames, true);
  const pipe = new GpuPixelPipeline();
  const t = pipe.run(dp);
  await readFrameTensors(dp, t);
  t.dispose();
  return dp;
}

/**
 * Compares the frame tensors: values within 1e-6 count as equal (both sides read the same
 * float32 tables, so equal bytes give equal floats); at most `maxFrac` of them may differ.
 */
function compareClips(name: string, cpu: VideoDatapoint, gpu: VideoDatapoint, maxFrac: number) {
  let bad = 0, total = 0, sumAbs = 0;
  cpu.frames.forEach((f, t) => {
    const a = f.tensor!, b = gpu.frames[t].tensor!;
    assertEquals(b.length, a.length, `${name} frame ${t} tensor size`);
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      sumAbs += d;
      if (d > 1e-6) bad++;
    }
    total += a.length;
    assertEquals(gpu.frames[t].image.width, f.image.width);
    f.objects.forEach((o, k) => assertEquals(gpu.frames[t].objects[k].segment, o.segment));
  });
  if (bad > maxFrac * total) {
    throw new AssertionError(
      `${name}: ${bad} of ${total} values differ (allowed ${maxFrac * 100}%), mean |diff| ` +
        `${sumAbs / total}`,
    );
  }
  return { bad, total };
}

const NORM: TransformSpec = {
  type: "NormalizeAPI",
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

Deno.test("GpuPixelPipeline resize, jitter, grayscale, normalise equal the CPU path exactly", async () => {
  const specs: TransformSpec[] = [
    { type: "RandomHorizontalFlip", consistent_transform: false },
    { type: "RandomResizeAPI", sizes: [40, 56, 72], square: true, consistent_transform: false },
    {
      type: "ColorJitter",
      consistent_transform: false,
      brightness: 0.3,
      contrast: 0.3,
      saturation: 0.3,
    },
    { type: "RandomGrayscale", p: 0.5, consistent_transform: false },
    { type: "ColorJitter", consistent_transform: true, brightness: 0.1, contrast: 0.05 },
    { type: "RandomResizeAPI", sizes: 33, square: true, consistent_transform: true },
    { type: "ToTensorAPI" },
    NORM,
  ];
  for (const seed of [1, 2, 3]) {
    compareClips(`seed ${seed}`, run(specs, seed, 3, false), await gpuRun(specs, seed, 3), 0);
  }
});

Deno.test("GpuPixelPipeline MOSE transforms equal the CPU path up to float32 warp coordinates", async () => {
  // PIL maps the affine sample points in double, the kernel in float32 (~1e-5 px at this
  // size): a pixel whose bilinear value sits that close to an integer truncates the other
  // way (one level), and a sample at the border can take the fill instead. After the
  // upscale each such pixel touches a few outputs: allow 2% of the values.
  const specs = moseTrainTransformSpecs(96);
  let bad = 0, total = 0;
  for (const seed of [4, 5, 6]) {
    const r = compareClips(
      `seed ${seed}`,
      run(specs, seed, 3, false),
      await gpuRun(specs, seed, 3),
      0.02,
    );
    bad += r.bad;
    total += r.total;
  }
  assert(bad < total, "compared something");
});

Deno.test("GpuPixelPipeline bicubic affine stays within the same tolerance", async () => {
  const specs: TransformSpec[] = [
    {
      type: "RandomAffine",
      degrees: 30,
      shear: 10,
      scale: [0.8, 1.2],
      translate: [0.1, 0.1],
      consistent_transform: false,
    },
    { type: "ToTensorAPI" },
    NORM,
  ];
  compareClips("bicubic", run(specs, 7, 2, false), await gpuRun(specs, 7, 2), 0.02);
});

Deno.test("GpuPixelPipeline refuses plans it has no kernel for, naming why", () => {
  const dp = run(
    [{ type: "ColorJitter", consistent_transform: true, hue: 0.1 }, { type: "ToTensorAPI" }],
    1,
    1,
    true,
  );
  const e = assertThrows(() => new GpuPixelPipeline().run(dp), GpuPlanError);
  assert(e.message.includes("hue"), e.message);
  const noTensor = run([{ type: "RandomHorizontalFlip", consistent_transform: true }], 1, 1, true);
  assertThrows(() => new GpuPixelPipeline().run(noTensor), GpuPlanError, "ToTensorAPI");
});

Deno.test("ClipLoader pixels: 'gpu' (through a Worker) gives the batches of 'cpu'", async () => {
  const FIX = new URL("../../../shared/fixtures/davis2016/", import.meta.url).pathname;
  const opts = (pixels: "cpu" | "gpu", workers: number) => ({
    datasets: [{
      raw: { kind: "png" as const, imgFolder: `${FIX}JPEGImages`, gtFolder: `${FIX}Annotations` },
      sampler: { numFrames: 2, maxNumObjects: 1, reverseTimeProb: 0 },
      transforms: moseTrainTransformSpecs(48),
      multiplier: 1,
    }],
    batchSizes: [1],
    workers,
    seed: 3,
    pixels,
  });
  const first = async (pixels: "cpu" | "gpu", workers: number) => {
    const loader = await ClipLoader.create(opts(pixels, workers));
    try {
      assertEquals(loader.pixelsOnGpu, pixels === "gpu");
      const it = loader.epoch(0);
      const b = (await it.next()).value!;
      await it.return(undefined);
      return b;
    } finally {
      loader.close();
    }
  };
  const cpu = await first("cpu", 0), gpu = await first("gpu", 1);
  assertEquals(gpu.masks, cpu.masks);
  assertEquals([gpu.numFrames, gpu.height, gpu.width], [cpu.numFrames, cpu.height, cpu.width]);
  let bad = 0;
  for (let i = 0; i < cpu.imgBatch.length; i++) {
    if (Math.abs(cpu.imgBatch[i] - gpu.imgBatch[i]) > 1e-6) bad++;
  }
  // the float32 warp coordinates again (see above): at most 2% of the values
  assert(bad <= 0.02 * cpu.imgBatch.length, `${bad} of ${cpu.imgBatch.length} values differ`);
});

Deno.test("GpuPixelPipeline.run() writes a clip into its slot of a [T, B, 3, H, W] batch", async () => {
  const specs = moseTrainTransformSpecs(24);
  const pipe = new GpuPixelPipeline();
  const batch = Tensor.empty([2, 2, 3, 24, 24], "f32");
  const single: Float32Array[] = [];
  for (const b of [0, 1]) {
    pipe.run(run(specs, 10 + b, 2, true), { out: batch, batchIndex: b });
    const t = pipe.run(run(specs, 10 + b, 2, true));
    single.push(new Float32Array(await gpu().read(t.storage.buffer, 0, 2 * 3 * 24 * 24 * 4)));
    t.dispose();
  }
  const all = new Float32Array(await gpu().read(batch.storage.buffer, 0, 4 * 3 * 24 * 24 * 4));
  const plane = 3 * 24 * 24;
  for (let t = 0; t < 2; t++) {
    for (const b of [0, 1]) {
      assertEquals(
        all.subarray((t * 2 + b) * plane, (t * 2 + b + 1) * plane),
        single[b].subarray(t * plane, (t + 1) * plane),
      );
    }
  }
  assertThrows(
    () => pipe.run(run(specs, 1, 2, true), { out: batch, batchIndex: 2 }),
    RangeError,
    "needs",
  );
  batch.dispose();
});
