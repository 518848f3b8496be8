import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../assert.ts";
import {
  buildTransforms,
  ClipLoader,
  collateBatch,
  ColorJitter,
  flatImgBatch,
  flatObjToImgIdx,
  generateSyntheticDataset,
  inverseAffineMatrix,
  moseTrainTransformSpecs,
  PngRawDataset,
  RandomAffine,
  RandomHorizontalFlip,
  RandomUniformSampler,
  repeatFactorIndices,
  resizeBytes,
  Rng,
  SamplingError,
  sizeWithAspectRatio,
  TrainMixedDataset,
  type VideoDatapoint,
  VosDataset,
} from "../../../src/data/mod.ts";

const FIX = new URL("../../../../shared/fixtures/", import.meta.url).pathname;

function tinyClip(
  t: number,
  w: number,
  h: number,
  box: [number, number, number, number],
): VideoDatapoint {
  const frames = [];
  for (let i = 0; i < t; i++) {
    const data = new Uint8Array(w * h * 3);
    for (let k = 0; k < data.length; k++) data[k] = (k * 13 + i) % 251;
    const seg = new Uint8Array(w * h);
    for (let y = box[1]; y < box[3]; y++) for (let x = box[0]; x < box[2]; x++) seg[y * w + x] = 1;
    frames.push({
      image: { width: w, height: h, data },
      objects: [{ objectId: 1, frameIndex: i, segment: seg }],
    });
  }
  return { frames, videoId: 7, size: [h, w] };
}

Deno.test("RandomUniformSampler picks consecutive frames and first-frame-visible objects", async () => {
  const raw = await PngRawDataset.open({
    imgFolder: `${FIX}davis2017/JPEGImages`,
    gtFolder: `${FIX}davis2017/Annotations`,
  });
  const tennis = raw.videoNames.indexOf("tennis");
  const { video, segmentLoader } = await raw.getVideo(tennis);
  const s = new RandomUniformSampler({ numFrames: 2, maxNumObjects: 2, reverseTimeProb: 1 });
  const r = await s.sample(video, segmentLoader, new Rng(1));
  assertEquals(r.frames.map((f) => f.frameIdx), [1, 0]); // reversed
  assertEquals(r.objectIds.length, 2);
  for (const id of r.objectIds) assert([1, 2, 255].includes(id));
  const long = new RandomUniformSampler({ numFrames: 3, maxNumObjects: 1 });
  await assertRejects(
    () => long.sample(video, segmentLoader, new Rng(1)),
    SamplingError,
    "only has 2",
  );
});

Deno.test("VosDataset retries another video when one is too short (training)", async () => {
  const raw = await PngRawDataset.open({
    imgFolder: `${FIX}davis2016/JPEGImages`,
    gtFolder: `${FIX}davis2016/Annotations`,
  });
  let retries = 0;
  const ds = new VosDataset({
    videoDataset: raw,
    sampler: new RandomUniformSampler({ numFrames: 45, maxNumObjects: 3 }),
    transforms: [],
    onRetry: () => retries++,
  });
  const dp = await ds.get(1, new Rng(3)); // car-shadow has 40 frames: must fall back to blackswan
  assertEquals(dp.frames.length, 45);
  assertEquals(dp.videoId, 0);
  assert(retries >= 1);
  assertEquals(dp.size, [480, 854]);
  assertEquals(dp.frames[0].objects[0].objectId, 1);
});

Deno.test("RandomHorizontalFlip mirrors images and masks, consistently across the clip", () => {
  const dp = tinyClip(3, 5, 4, [0, 0, 2, 4]);
  new RandomHorizontalFlip({ consistentTransform: true, p: 1 }).apply(dp, new Rng(0));
  for (const f of dp.frames) {
    assertEquals(f.objects[0].segment[4], 1);
    assertEquals(f.objects[0].segment[0], 0);
  }
});

Deno.test("inverseAffineMatrix() is identity at zero and rotates about the centre", () => {
  const m = inverseAffineMatrix([5, 5], 0, [0, 0], 1, [0, 0]);
  for (const [a, b] of m.map((v, i) => [v, [1, 0, 0, 0, 1, 0][i]])) assertAlmostEquals(a, b, 1e-12);
  const r = inverseAffineMatrix([5, 5], 90, [0, 0], 1, [0, 0]);
  // the centre maps to itself
  assertAlmostEquals(r[0] * 5 + r[1] * 5 + r[2], 5, 1e-9);
  assertAlmostEquals(r[3] * 5 + r[4] * 5 + r[5], 5, 1e-9);
});

Deno.test("RandomAffine is skipped when the first frame's mask would vanish", () => {
  // a 1-pixel object in a corner: any sizeable rotation pushes it out
  const dp = tinyClip(2, 32, 32, [0, 0, 1, 1]);
  const before = dp.frames[0].image.data.slice();
  let skipped = 0;
  const aff = new RandomAffine({
    degrees: [40, 40],
    consistentTransform: true,
    onSkip: () => skipped++,
  });
  aff.apply(dp, new Rng(0));
  assertEquals(skipped, 1);
  assertEquals(dp.frames[0].image.data, before);
  const big = tinyClip(2, 32, 32, [8, 8, 24, 24]);
  new RandomAffine({
    degrees: 25,
    shear: 20,
    consistentTransform: true,
    imageInterpolation: "bilinear",
  })
    .apply(big, new Rng(0));
  const area = big.frames[0].objects[0].segment.reduce((a, b) => a + b, 0);
  assert(area > 150 && area < 400, `area ${area}`);
  const rot = tinyClip(1, 32, 32, [8, 8, 24, 24]);
  new RandomAffine({ degrees: [25, 25], consistentTransform: true, imageInterpolation: "bilinear" })
    .apply(rot, new Rng(0));
  // the top-left corner comes from outside the source: fill colour
  assertEquals([...rot.frames[0].image.data.slice(0, 3)], [123, 116, 103]);
});

Deno.test("resizeBytes() keeps constants, and sizeWithAspectRatio() follows the reference", () => {
  const src = new Uint8Array(7 * 5 * 3).fill(77);
  const up = resizeBytes(src, 7, 5, 3, 16, 16);
  assert(up.every((v) => v === 77));
  const down = resizeBytes(new Uint8Array(40 * 20).fill(200), 40, 20, 1, 7, 3);
  assert(down.every((v) => v === 200));
  assertEquals(sizeWithAspectRatio(854, 480, 512), [911, 512]);
  assertEquals(sizeWithAspectRatio(854, 480, 512, 600), [600, 337]);
});

Deno.test("ColorJitter with unit factors and buildTransforms() argument checks", () => {
  const dp = tinyClip(1, 6, 6, [0, 0, 3, 3]);
  const before = dp.frames[0].image.data.slice();
  new ColorJitter({
    consistentTransform: true,
    brightness: [1, 1],
    contrast: [1, 1],
    saturation: [1, 1],
  })
    .apply(dp, new Rng(1));
  assertEquals(dp.frames[0].image.data, before);
  assertThrows(
    () =>
      buildTransforms([{ type: "RandomAffine", degrees: 5, consistent_transform: true, bogus: 1 }]),
    TypeError,
    "bogus",
  );
  assertThrows(
    () => buildTransforms([{ _target_: "training.dataset.transforms.Nope" }]),
    TypeError,
    "Nope",
  );
  assertEquals(buildTransforms(moseTrainTransformSpecs(64)).length, 7); // ToTensor+Normalize fused
});

Deno.test("MOSE transforms + collateBatch() give [T,B,3,H,W] normalised images and masks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await generateSyntheticDataset({
      out: `${dir}/s`,
      videos: 2,
      frames: 6,
      width: 64,
      height: 48,
      seed: 4,
      formats: ["davis"],
    });
    const raw = await PngRawDataset.open({
      imgFolder: `${dir}/s/davis/JPEGImages`,
      gtFolder: `${dir}/s/davis/Annotations`,
    });
    const ds = new VosDataset({
      videoDataset: raw,
      sampler: new RandomUniformSampler({ numFrames: 4, maxNumObjects: 2 }),
      transforms: buildTransforms(moseTrainTransformSpecs(32)),
    });
    const rng = new Rng(11);
    const clips = [await ds.get(0, rng), await ds.get(1, rng)];
    const b = collateBatch(clips, "all", { recycleClips: false });
    const O = clips[0].frames[0].objects.length + clips[1].frames[0].objects.length;
    assertEquals([b.numFrames, b.numVideos, b.numObjects, b.height, b.width], [4, 2, O, 32, 32]);
    assertEquals(b.imgBatch.length, 4 * 2 * 3 * 32 * 32);
    assertEquals(b.masks.length, 4 * O * 32 * 32);
    let mn = Infinity, mx = -Infinity;
    for (const v of b.imgBatch) [mn, mx] = [Math.min(mn, v), Math.max(mx, v)];
    assert(mn >= -2.2 && mx <= 2.7 && mx > mn, `range ${mn}..${mx}`);
    assertEquals([...b.objToFrameIdx.slice(0, 2)], [0, 0]);
    assertEquals(b.metadata.frameOrigSize[0], 48);
    assertEquals(b.metadata.uniqueObjectsIdentifier[0], clips[0].videoId);
    const flat = flatObjToImgIdx(b);
    assertEquals(flat[O], 1); // t=1, video 0 -> 0*T + 1
    assertEquals(flatImgBatch(b).length, b.imgBatch.length);
    // same seed, same clip
    const again = await ds.get(0, new Rng(11));
    assertEquals(again.frames[0].tensor, clips[0].frames[0].tensor);
    assert(again.frames[0].tensor !== clips[0].frames[0].tensor);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("repeatFactorIndices() and TrainMixedDataset plans follow the reference rules", () => {
  assertEquals(repeatFactorIndices([2, 1, 0], 0), [0, 0, 1]);
  const half = repeatFactorIndices(new Array(1000).fill(0.5), 3).length;
  assert(half > 430 && half < 570, `${half}`);
  const a = { repeatFactors: new Float64Array(10).fill(2) }; // 20 items
  const b = { repeatFactors: new Float64Array(5).fill(1) }; // 5 items
  const m = new TrainMixedDataset({ datasets: [a, b], batchSizes: [2, 1] });
  assertAlmostEquals(m.datasetProb[0], 10 / 15, 1e-12);
  const plan = m.plan(0);
  assertEquals(plan.length, 15);
  assertEquals(plan.filter((p) => p.datasetIdx === 0).length, 10);
  assert(plan.every((p) => p.indices.length === (p.datasetIdx === 0 ? 2 : 1)));
  assertEquals(m.plan(0), plan, "plans are deterministic");
  // phases split one data epoch into chunks; ranks split batches
  const ph = new TrainMixedDataset({ datasets: [a], batchSizes: [1], phasesPerEpoch: 2 });
  const e0 = ph.plan(0).flatMap((p) => p.indices), e1 = ph.plan(1).flatMap((p) => p.indices);
  assertEquals([e0.length, e1.length], [10, 10]);
  assertEquals(
    [...e0, ...e1].sort((x, y) => x - y),
    repeatFactorIndices(a.repeatFactors, 0).sort((x, y) => x - y),
  );
  const r0 = new TrainMixedDataset({
    datasets: [b],
    batchSizes: [1],
    rank: 0,
    worldSize: 2,
    dropLast: false,
  });
  const r1 = new TrainMixedDataset({
    datasets: [b],
    batchSizes: [1],
    rank: 1,
    worldSize: 2,
    dropLast: false,
  });
  assertEquals([r0.plan(0).length, r1.plan(0).length], [3, 3]); // 5 padded to 6
});

Deno.test("ClipLoader yields the same batches inline and with a Worker", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await generateSyntheticDataset({
      out: `${dir}/s`,
      videos: 2,
      frames: 5,
      width: 48,
      height: 32,
      seed: 5,
      formats: ["davis"],
    });
    const spec = {
      raw: {
        kind: "png" as const,
        imgFolder: `${dir}/s/davis/JPEGImages`,
        gtFolder: `${dir}/s/davis/Annotations`,
      },
      sampler: { numFrames: 3, maxNumObjects: 2 },
      transforms: moseTrainTransformSpecs(16),
    };
    const run = async (workers: number) => {
      const l = await ClipLoader.create({
        datasets: [spec],
        batchSizes: [1],
        workers,
        seed: 9,
        pixels: "cpu",
      });
      try {
        const out = [];
        for await (const b of l.epoch(0)) {
          out.push({ imgBatch: b.imgBatch.slice(), masks: b.masks.slice() });
        }
        return out;
      } finally {
        l.close();
      }
    };
    const a = await run(0), b = await run(1);
    assertEquals(a.length, 2);
    assertEquals(b.length, 2);
    for (let i = 0; i < a.length; i++) {
      assertEquals(b[i].imgBatch, a[i].imgBatch);
      assertEquals(b[i].masks, a[i].masks);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HostBufferPool reuses only its own buffers", async () => {
  const { HostBufferPool } = await import("../../../src/data/mod.ts");
  const pool = new HostBufferPool(1 << 20);
  const a = pool.u8(100);
  pool.release(a);
  assertEquals(pool.retainedBytes, 100);
  const b = pool.u8(100);
  assert(b.buffer === a.buffer, "buffer not reused");
  pool.release(new Uint8Array(100)); // not the pool's: ignored
  assertEquals(pool.retainedBytes, 0);
  const big = pool.f32(1 << 19); // 2 MiB > maxBytes: not retained
  pool.release(big);
  assertEquals(pool.retainedBytes, 0);
});

Deno.test("applyJitter() equals the ops run one by one (PIL order semantics)", async () => {
  const m = await import("../../../src/data/mod.ts");
  const rng = new Rng(21);
  for (let t = 0; t < 20; t++) {
    const data = new Uint8Array(7 * 5 * 3);
    for (let i = 0; i < data.length; i++) data[i] = rng.randrange(256);
    const order = rng.permutation(4).filter((k) => k !== 3 || rng.random() < 0.5);
    const ops: [number, number][] = order.map((
      k,
    ) => [k, k === 3 ? rng.uniform(-0.1, 0.1) : rng.uniform(0.5, 1.5)]);
    const a = { width: 7, height: 5, data: data.slice() },
      b = { width: 7, height: 5, data: data.slice() };
    m.applyJitter(a, ops);
    for (const [k, f] of ops) {
      [m.adjustBrightness, m.adjustContrast, m.adjustSaturation, m.adjustHue][k](b, f);
    }
    assertEquals(a.data, b.data, `ops ${JSON.stringify(ops)}`);
  }
});

Deno.test("ConcatDataset chains datasets and their repeat factors", async () => {
  const { ConcatDataset } = await import("../../../src/data/mod.ts");
  const mk = (n: number, f: number, tag: number) => ({
    length: n,
    repeatFactors: new Float64Array(n).fill(f),
    get: (idx: number) =>
      Promise.resolve({ frames: [], videoId: tag * 100 + idx, size: [1, 1] as [number, number] }),
  });
  const c = new ConcatDataset([mk(2, 1, 1), mk(3, 2, 2)]);
  assertEquals(c.length, 5);
  assertEquals([...c.repeatFactors], [1, 1, 2, 2, 2]);
  assertEquals((await c.get(1, new Rng(0))).videoId, 101);
  assertEquals((await c.get(2, new Rng(0))).videoId, 200);
  assertThrows(() => c.get(5, new Rng(0)), RangeError);
});

Deno.test("RandomMosaicVideoAPI tiles the frame and keeps the mask in the target cell", async () => {
  const { RandomMosaicVideoAPI } = await import("../../../src/data/mod.ts");
  const dp = tinyClip(2, 16, 8, [0, 0, 16, 8]); // object covers the whole frame
  new RandomMosaicVideoAPI({ prob: 1 }).apply(dp, new Rng(4));
  for (const f of dp.frames) {
    const seg = f.objects[0].segment;
    const area = seg.reduce((a, b) => a + b, 0);
    assertEquals(area, 8 * 4); // one 8x4 cell of the 2x2 grid
    assertEquals(f.image.data.length, 16 * 8 * 3);
  }
  assertEquals(dp.frames[0].objects[0].segment, dp.frames[1].objects[0].segment); // same cell
});
