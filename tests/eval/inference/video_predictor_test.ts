import { generateSyntheticDataset } from "../../../src/data/mod.ts";
import {
  evaluate,
  listVideoFrames,
  masksFromLogits,
  predictVideos,
  readMaskPng,
  readPromptMasks,
  resizeRgbBicubic,
  VideoPredictor,
  writePredictionMasks,
} from "../../../src/eval/mod.ts";
import { gpu, initGpu } from "../../../src/gpu/mod.ts";
import {
  assert,
  assertAllClose,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../../assert.ts";
import { gcReleasedBytes } from "../../../src/tensor/mod.ts";
import { MINI, MINI_CONFIG, rectMasks, writeRectVideo } from "./_dataset.ts";

let shared: Promise<VideoPredictor> | undefined;
/** The mini predictor as vos_inference builds it (non-overlapping masks), loaded once. */
function miniPredictor(): Promise<VideoPredictor> {
  return shared ??= (async () => {
    await initGpu();
    return await VideoPredictor.load({
      checkpoint: MINI,
      modelConfig: MINI_CONFIG,
      nonOverlapMasks: true,
    });
  })();
}

let present: Promise<VideoPredictor> | undefined;
/**
 * The mini predictor with its object-score head biased to "present", so that tracked frames
 * get real mask logits instead of NO_OBJ_SCORE (the random weights predict every object absent).
 */
function presentPredictor(): Promise<VideoPredictor> {
  return present ??= (async () => {
    await initGpu();
    const p = await VideoPredictor.load({ checkpoint: MINI, modelConfig: MINI_CONFIG });
    const key = "sam_mask_decoder.pred_obj_score_head.layers.2.bias";
    const bias = p.model.stateDict().get(key);
    assert(bias, `${key} exists`);
    p.model.loadStateDict(new Map([[key, { shape: [1], data: Float32Array.of(50) }]]), {
      strict: false,
    });
    return p;
  })();
}

/** Asserts that some tracked-frame logits are real scores (not all NO_OBJ_SCORE). */
function assertTracked(logits: Float32Array, what: string): void {
  assert(logits.some((v) => v !== -1024 && Math.abs(v) > 1e-3), `${what}: real mask logits`);
}

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vos_inference_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("listVideoFrames() sorts frames by their integer names and names a missing folder", async () => {
  await withTemp(async (dir) => {
    for (const n of ["10", "2", "0"]) await Deno.writeFile(`${dir}/${n}.jpg`, new Uint8Array());
    await Deno.writeFile(`${dir}/notes.txt`, new Uint8Array());
    assertEquals((await listVideoFrames(dir)).map((f) => f.name), ["0", "2", "10"]);
    const e = await assertRejects(() => listVideoFrames(`${dir}/missing`), Deno.errors.NotFound);
    assertStringIncludes(e.message, `${dir}/missing`);
  });
});

Deno.test("masksFromLogits() keeps the first highest-scoring object per pixel, then thresholds", () => {
  // 3 pixels, objects 2 and 7: px0 both positive (7 wins), px1 tie (first wins), px2 both < 0.
  const logits = Float32Array.from([1, 4, -1, /* obj 7: */ 3, 4, -2]);
  const overl = masksFromLogits(logits, [2, 7], 3, { nonOverlap: true, scoreThresh: 0 });
  assertEquals([...overl.get(2)!], [0, 1, 0]);
  assertEquals([...overl.get(7)!], [1, 0, 0]);
  const free = masksFromLogits(logits, [2, 7], 3, { nonOverlap: false, scoreThresh: 2 });
  assertEquals([...free.get(2)!], [0, 1, 0]);
  assertEquals([...free.get(7)!], [1, 1, 0]);
});

Deno.test("resizeRgbBicubic() keeps a flat image flat and a same-size image unchanged", () => {
  const flat = { width: 10, height: 6, data: new Uint8Array(10 * 6 * 3).fill(77) };
  const small = resizeRgbBicubic(flat, 4, 4);
  assertEquals([small.width, small.height], [4, 4]);
  assert(small.data.every((v) => v === 77), "flat image stays 77 after resampling");
  const ramp = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 9) };
  assertEquals(resizeRgbBicubic(ramp, 3, 2).data, ramp.data);
});

Deno.test("predictVideos() writes every frame, keeps object ids, and frame 0 reproduces the input masks (J 100)", async () => {
  const predictor = await miniPredictor();
  await withTemp(async (root) => {
    await writeRectVideo(root, "rects", 3, 128);
    const out = `${root}/pred`;
    const r = await predictVideos({
      predictor,
      baseVideoDir: `${root}/JPEGImages`,
      inputMaskDir: `${root}/Annotations`,
      outputMaskDir: out,
    });
    assertEquals(r.videos.map((v) => [v.name, v.frames, v.objects]), [["rects", 3, 2]]);
    const files = [];
    for await (const e of Deno.readDir(`${out}/rects`)) files.push(e.name);
    assertEquals(files.sort(), ["00000.png", "00001.png", "00002.png"]);
    for await (const e of Deno.readDir(out)) assert(!e.name.startsWith("."), `leftover ${e.name}`);
    const frame0 = await readPromptMasks(out, "rects", "00000");
    assertEquals([...frame0.masks.keys()], [1, 3]);
    for (const [id, m] of rectMasks(128)) assertEquals(frame0.masks.get(id), m, `object ${id}`);
    for (const f of ["00001", "00002"]) {
      const png = await readMaskPng(`${out}/rects/${f}.png`);
      assertEquals([png.width, png.height], [128, 128]);
      assert(png.data.every((v) => v === 0 || v === 1 || v === 3), `${f}: only ids 0, 1, 3`);
    }
    // Ground truth = the input (frame 0 only): every object scores 100 on it.
    const score = await evaluate({
      gtRoot: `${root}/Annotations`,
      predRoot: out,
      skipFirstAndLast: false,
    });
    assertEquals(score.objects.map((o) => [o.object, o.j, o.f]), [["1", 100, 100], [
      "3",
      100,
      100,
    ]]);
  });
});

Deno.test("predictVideos() resizes a synthetic DAVIS video's masks to the model and back", async () => {
  const predictor = await miniPredictor();
  await withTemp(async (root) => {
    await generateSyntheticDataset({
      out: `${root}/syn`,
      videos: 1,
      frames: 3,
      width: 64,
      height: 48,
      formats: ["davis"],
    });
    const davis = `${root}/syn/davis`;
    const r = await predictVideos({
      predictor,
      baseVideoDir: `${davis}/JPEGImages`,
      inputMaskDir: `${davis}/Annotations`,
      outputMaskDir: `${root}/pred`,
    });
    const [v] = r.videos;
    assertEquals([v.frames, v.width, v.height], [3, 64, 48]);
    const input = await readPromptMasks(`${davis}/Annotations`, v.name, "00000");
    const pred0 = await readPromptMasks(`${root}/pred`, v.name, "00000");
    assertEquals(v.objects, input.masks.size);
    for (const id of pred0.masks.keys()) {
      assert(input.masks.has(id), `predicted id ${id} is an input id`);
    }
    const frames = (await listVideoFrames(`${davis}/JPEGImages/${v.name}`)).map((f) => f.name);
    for (const f of frames) {
      const png = await readMaskPng(`${root}/pred/${v.name}/${f}.png`);
      assertEquals([png.width, png.height], [64, 48]);
    }
  });
});

Deno.test("VideoPredictor tracks objects batched exactly as the reference tracks each alone", async () => {
  const predictor = await presentPredictor();
  await withTemp(async (root) => {
    await writeRectVideo(root, "pair", 3, 32);
    const frames = await listVideoFrames(`${root}/JPEGImages/pair`);
    const run = async (ids: number[]) => {
      const all = rectMasks(32);
      const logits: Float32Array[] = [];
      await predictor.predictVideo({
        frames,
        prompts: new Map(ids.map((id) => [id, all.get(id)!])),
        maskWidth: 32,
        maskHeight: 32,
        onFrame: (f) => {
          logits.push(f.logits);
        },
      });
      return logits;
    };
    const both = await run([3, 1]); // rows in ascending id order: 1, 3
    const one = await run([1]), three = await run([3]);
    assertTracked(both[2], "frame 2");
    for (let t = 0; t < frames.length; t++) {
      assertAllClose(both[t].subarray(0, 1024), one[t], { atol: 1e-3, rtol: 1e-4 });
      assertAllClose(both[t].subarray(1024), three[t], { atol: 1e-3, rtol: 1e-4 });
    }
  });
});

Deno.test("VideoPredictor starts an object on its first mask, as vos_separate_inference_per_object", async () => {
  const predictor = await presentPredictor();
  await withTemp(async (root) => {
    await writeRectVideo(root, "late", 4, 32);
    const frames = await listVideoFrames(`${root}/JPEGImages/late`);
    const bands = rectMasks(32);
    const hw = 32 * 32;
    const run = async (byFrame: Map<number, Map<number, Uint8Array>>) => {
      const logits: Float32Array[] = [];
      await predictor.predictVideo({
        frames,
        promptsByFrame: byFrame,
        maskWidth: 32,
        maskHeight: 32,
        onFrame: (f) => {
          logits.push(f.logits);
        },
      });
      return logits;
    };
    const empty = new Uint8Array(hw);
    // Object 3 is empty on frame 0 and appears on frame 2; object 1's later mask is unused.
    const both = await run(
      new Map([[0, new Map([[1, bands.get(1)!], [3, empty]])], [2, new Map(bands)]]),
    );
    const alone3 = await run(new Map([[2, new Map([[3, bands.get(3)!]])]]));
    const alone1 = await run(new Map([[0, new Map([[1, bands.get(1)!]])]]));
    assertTracked(both[3], "frame 3");
    for (let t = 0; t < 4; t++) {
      assertAllClose(both[t].subarray(0, hw), alone1[t], { atol: 1e-3, rtol: 1e-4 });
      assertAllClose(both[t].subarray(hw), alone3[t], { atol: 1e-3, rtol: 1e-4 });
    }
    assert(both[1].subarray(hw).every((v) => v === -1024), "object 3 absent before its frame");
    assertEquals(Uint8Array.from(both[2].subarray(hw), (v) => (v > 0 ? 1 : 0)), bands.get(3));
  });
});

Deno.test("predictVideos({ useAllMasks }) makes every mask file a conditioning frame, future ones in memory too", async () => {
  const predictor = await miniPredictor();
  await withTemp(async (root) => {
    await writeRectVideo(root, "all", 4, 32);
    const bands = rectMasks(32);
    await writePredictionMasks(`${root}/Annotations`, "all", "00002", bands, {
      width: 32,
      height: 32,
    });
    await predictVideos({
      predictor,
      baseVideoDir: `${root}/JPEGImages`,
      inputMaskDir: `${root}/Annotations`,
      outputMaskDir: `${root}/pred`,
      useAllMasks: true,
    });
    const frame2 = await readPromptMasks(`${root}/pred`, "all", "00002");
    for (const [id, m] of bands) assertEquals(frame2.masks.get(id), m, `object ${id} on frame 2`);
    // Frame 1 attends to both conditioning frames (max_cond_frames_in_attn = -1): the model is
    // given frame 2's memory before frame 2 is reached, as after the reference's preflight.
    const frames = await listVideoFrames(`${root}/JPEGImages/all`);
    const frame1 = (byFrame: Map<number, Map<number, Uint8Array>>) =>
      predictor.predictVideo({
        frames,
        promptsByFrame: byFrame,
        allObjectsFromFirstFrame: true,
        useAllMasks: true,
        maskWidth: 32,
        maskHeight: 32,
        onFrame: () => {},
      });
    const model = predictor.model;
    const seen: string[] = [];
    const original = model.prepareMemoryConditionedFeatures;
    model.prepareMemoryConditionedFeatures = function (args) {
      const d = args.outputDict;
      if (!args.isInitCondFrame) {
        seen.push(
          `${args.frameIdx}: cond ${[...d.condFrameOutputs.keys()]} | ${[
            ...d.nonCondFrameOutputs.keys(),
          ]}`,
        );
      }
      return original.call(this, args);
    };
    try {
      await frame1(new Map([[0, bands], [2, bands]]));
    } finally {
      model.prepareMemoryConditionedFeatures = original;
    }
    assertEquals(seen, ["1: cond 0,2 | ", "3: cond 0,2 | 1"]);
    const late = new Map([[0, new Map([[1, bands.get(1)!]])], [2, bands]]);
    const e = await assertRejects(() => frame1(late), Error);
    assertStringIncludes(e.message, "object 3 appears only on frame 2");
  });
});

Deno.test("predictVideos({ perObjPngFile }) reads and writes one folder per object, overlaps allowed", async () => {
  const predictor = await miniPredictor();
  await withTemp(async (root) => {
    await writeRectVideo(root, "sav", 2, 32);
    // Object 3 covers object 1's band too: per-object files keep both (no non-overlap rule).
    const masks = rectMasks(32);
    const wide = Uint8Array.from(masks.get(1)!, (v, i) => v | masks.get(3)![i]);
    await writePredictionMasks(
      `${root}/SavAnn`,
      "sav",
      "00000",
      new Map([[1, masks.get(1)!], [
        3,
        wide,
      ]]),
      { width: 32, height: 32 },
      { perObjectFiles: true },
    );
    await predictVideos({
      predictor,
      baseVideoDir: `${root}/JPEGImages`,
      inputMaskDir: `${root}/SavAnn`,
      outputMaskDir: `${root}/pred`,
      perObjPngFile: true,
    });
    const dirs = [];
    for await (const e of Deno.readDir(`${root}/pred/sav`)) dirs.push(e.name);
    assertEquals(dirs.sort(), ["001", "003"]);
    for (const d of dirs) {
      const files = [];
      for await (const e of Deno.readDir(`${root}/pred/sav/${d}`)) files.push(e.name);
      assertEquals(files.sort(), ["00000.png", "00001.png"]);
    }
    const frame0 = await readPromptMasks(`${root}/pred`, "sav", "00000", { perObjectFiles: true });
    assertEquals(frame0.masks.get(1), masks.get(1));
    assertEquals(frame0.masks.get(3), wide);
  });
});

Deno.test("VideoPredictor keeps GPU memory flat once frames leave the memory window", async () => {
  await initGpu();
  // 2 object pointers: the memory window is then num_maskmem's (6 frames + margin = 9).
  const predictor = await VideoPredictor.load({
    checkpoint: MINI,
    modelConfig: MINI_CONFIG,
    overrides: ["++model.max_obj_ptrs_in_encoder=2"],
  });
  try {
    await withTemp(async (root) => {
      const n = 12;
      await writeRectVideo(root, "long", n, 32);
      assertEquals(predictor.memoryWindow(n), 9);
      const frames = await listVideoFrames(`${root}/JPEGImages/long`);
      const live: number[] = [];
      await predictor.predictVideo({
        frames,
        prompts: rectMasks(32),
        maskWidth: 32,
        maskHeight: 32,
        onFrame: () => {
          live.push(gpu().pool.stats().liveBytes + gcReleasedBytes());
        },
      });
      assertEquals(live.length, n);
      assert(live[8] > live[1], `state grows while the window fills: ${live}`);
      assertEquals(live.slice(9), [live[9], live[9], live[9]], `flat after the window: ${live}`);
    });
  } finally {
    predictor.dispose();
  }
});

Deno.test("VideoPredictor.load() and predictVideos() name a missing checkpoint, config or video", async () => {
  await initGpu();
  const ck = await assertRejects(
    () => VideoPredictor.load({ checkpoint: "/no/such/model.pt", modelConfig: MINI_CONFIG }),
    Deno.errors.NotFound,
  );
  assertStringIncludes(ck.message, `Checkpoint "/no/such/model.pt" does not exist`);
  const cfg = await assertRejects(
    () => VideoPredictor.load({ checkpoint: MINI, modelConfig: "/no/such/mini.yaml" }),
    Deno.errors.NotFound,
  );
  assertStringIncludes(cfg.message, `Model config "/no/such/mini.yaml" not found`);
  const predictor = await miniPredictor();
  await withTemp(async (root) => {
    await Deno.mkdir(`${root}/JPEGImages`);
    await Deno.mkdir(`${root}/Annotations`);
    const e = await assertRejects(() =>
      predictVideos({
        predictor,
        baseVideoDir: `${root}/JPEGImages`,
        inputMaskDir: `${root}/Annotations`,
        outputMaskDir: `${root}/pred`,
        videos: ["ghost"],
      }), Deno.errors.NotFound);
    assertStringIncludes(e.message, `Video folder "${root}/JPEGImages/ghost" does not exist`);
  });
});
