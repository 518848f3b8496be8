import { assert, assertEquals, assertRejects } from "../../assert.ts";
import {
  DatasetError,
  encodePalettePng,
  ImageDecodeError,
  JsonRawDataset,
  JsonSegmentLoader,
  PalettisedPngSegmentLoader,
  PngRawDataset,
  Rng,
  Sa1bRawDataset,
  Sa1bSegmentLoader,
} from "../../../src/data/mod.ts";
import { withSyntheticDataset, withTempDir } from "../_tmp_dataset.ts";

const FIX = new URL("../../../../shared/fixtures/", import.meta.url).pathname;

Deno.test("PngRawDataset lists DAVIS 2016 videos, frames and object 1", async () => {
  const ds = await PngRawDataset.open({
    imgFolder: `${FIX}davis2016/JPEGImages`,
    gtFolder: `${FIX}davis2016/Annotations`,
  });
  assertEquals(ds.videoNames, ["blackswan", "car-shadow"]);
  const { video, segmentLoader } = await ds.getVideo(0);
  assertEquals(video.frames.length, 50);
  assertEquals(video.frames[7].frameIdx, 7);
  assert(video.frames[7].imagePath.endsWith("blackswan/00007.jpg"));
  const segs = await segmentLoader.load(7);
  assertEquals([...segs.keys()], [1]);
  const m = segs.get(1)!;
  assertEquals([m.width, m.height], [854, 480]);
  assertEquals(await segmentLoader.visibleObjectIds(0), [1]);
});

Deno.test("PngRawDataset honours file list, excluded list, sampleRate and truncateVideo", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/list.txt`, "blackswan\ncar-shadow.mp4\n");
    await Deno.writeTextFile(`${dir}/ex.txt`, "car-shadow\n");
    const ds = await PngRawDataset.open({
      imgFolder: `${FIX}davis2016/JPEGImages`,
      gtFolder: `${FIX}davis2016/Annotations`,
      fileListTxt: `${dir}/list.txt`,
      excludedVideosListTxt: `${dir}/ex.txt`,
      sampleRate: 3,
      truncateVideo: 10,
    });
    assertEquals(ds.videoNames, ["blackswan"]);
    const { video } = await ds.getVideo(0);
    assertEquals(video.frames.map((f) => f.frameIdx), [0, 3, 6, 9]);
  });
});

Deno.test("PalettisedPngSegmentLoader keeps void 255 as an object, like the reference", async () => {
  const l = await PalettisedPngSegmentLoader.open(`${FIX}davis2017/Annotations/tennis`);
  assertEquals([...(await l.load(0)).keys()].sort((a, b) => a - b), [1, 2, 255]);
  const l2 = await PalettisedPngSegmentLoader.open(`${FIX}davis2017/Annotations/tennis`, {
    ignoreValues: [255],
  });
  assertEquals([...(await l2.load(0)).keys()].sort((a, b) => a - b), [1, 2]);
  const bmx = await PalettisedPngSegmentLoader.open(`${FIX}davis2017/Annotations/bmx-trees`);
  await assertRejects(() => bmx.load(1), DatasetError, "no mask PNG for frame 1");
});

Deno.test("PngRawDataset with one folder per object (MultiplePNG) gives ids folder+1", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/img/v`, { recursive: true });
    for (const k of [0, 3]) await Deno.mkdir(`${dir}/gt/v/${k}`, { recursive: true });
    for (let t = 0; t < 2; t++) await Deno.writeFile(`${dir}/img/v/0000${t}.jpg`, new Uint8Array());
    const data = new Uint8Array(6 * 4);
    data[5] = 1;
    await Deno.writeFile(
      `${dir}/gt/v/0/00000.png`,
      encodePalettePng({ width: 6, height: 4, data }),
    );
    await Deno.writeFile(
      `${dir}/gt/v/3/00001.png`,
      encodePalettePng({ width: 6, height: 4, data }),
    );
    const ds = await PngRawDataset.open({
      imgFolder: `${dir}/img`,
      gtFolder: `${dir}/gt`,
      isPalette: false,
    });
    const { segmentLoader } = await ds.getVideo(0);
    const s0 = await segmentLoader.load(0);
    assertEquals([...s0.keys()], [1, 4]);
    assertEquals(s0.get(1)!.data[5], 1);
    assertEquals(s0.get(4)!.data.reduce((a, b) => a + b, 0), 0);
    assertEquals(await segmentLoader.visibleObjectIds(1), [4]);
  });
});

Deno.test("JsonRawDataset reads the SA-V masklets with annEvery 4 and rmUnannotated", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/frames/sav_000001`, { recursive: true });
    for (let t = 0; t < 483; t++) {
      await Deno.writeFile(
        `${dir}/frames/sav_000001/${String(t).padStart(5, "0")}.jpg`,
        new Uint8Array(),
      );
    }
    const ds = await JsonRawDataset.open({
      imgFolder: `${dir}/frames`,
      gtFolder: `${FIX}sav`,
      annEvery: 4,
    });
    const { video, segmentLoader } = await ds.getVideo(0);
    assertEquals(video.frames.length, 121);
    assertEquals(video.frames[1].frameIdx, 4);
    const segs = await segmentLoader.load(8, [0, 3]);
    assertEquals([...segs.keys()], [0, 3]);
    assertEquals([segs.get(0)!.height, segs.get(0)!.width], [848, 480]);
    await assertRejects(() => segmentLoader.load(5), DatasetError, "not annotated");
    const valid = segmentLoader.validObjFrameIds(121);
    assertEquals([...valid.keys()], [0, 1, 2, 3, 4]);
    const vis = await segmentLoader.visibleObjectIds(0);
    assert(!vis.includes(3), "masklet 3 first appears at annotated frame 113");
  });
});

Deno.test("Sa1bRawDataset applies area / stability / mask_area_frac_thresh filters", async () => {
  await withSyntheticDataset({ seed: 2, formats: ["sa1b"], objects: [3, 3] }, async (dir) => {
    const ds = await Sa1bRawDataset.open({
      imgFolder: `${dir}/syn/sa1b`,
      gtFolder: `${dir}/syn/sa1b`,
      numFrames: 2,
    });
    assertEquals(ds.videoNames, ["sa_1"]);
    const { video, segmentLoader } = await ds.getVideo(0);
    assertEquals([video.videoId, video.frames.length], [1, 2]);
    const n = (await segmentLoader.visibleObjectIds(0)).length;
    assert(n >= 1);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/syn/sa1b/sa_1.json`));
    json.annotations[0].uncertain_iou = 0.5;
    json.annotations.push({ ...json.annotations[0], area: 0, uncertain_iou: undefined });
    const f = Sa1bSegmentLoader.fromJson("x.json", json, { uncertainIou: 0.8 });
    assertEquals(f.segments.length, n - 1);
    const big = Sa1bSegmentLoader.fromJson("x.json", json, {
      maskAreaFracThresh: 0.0001,
      imageSize: { width: 64, height: 48 },
    });
    assertEquals(big.segments.length, 0);
  });
});

Deno.test("annotation readers fuzzed with mutated SA-V json fail with DatasetError naming the file", async () => {
  const text = await Deno.readTextFile(`${FIX}sav/sav_000001_manual.json`);
  const rng = new Rng(77);
  let bad = 0;
  for (let t = 0; t < 60; t++) {
    let s = text;
    const mode = rng.randrange(3);
    if (mode === 0) s = s.slice(0, rng.randrange(s.length));
    else {
      for (let k = rng.randint(1, 5); k > 0; k--) {
        const p = rng.randrange(s.length);
        s = s.slice(0, p) + String.fromCharCode(rng.randint(32, 126)) + s.slice(p + 1);
      }
    }
    try {
      let data: unknown;
      try {
        data = JSON.parse(s);
      } catch (e) {
        throw new DatasetError("m.json", `invalid JSON: ${(e as Error).message}`);
      }
      const l = JsonSegmentLoader.fromJson("m.json", data, { annEvery: 4 });
      for (let i = 0; i < l.frameAnnots.length; i += 10) await l.load(i * 4);
    } catch (e) {
      assert(e instanceof DatasetError, `unexpected ${e}`);
      assert(e.message.startsWith("m.json"));
      bad++;
    }
  }
  assert(bad > 20, `${bad}`);
  for (
    const bogus of [null, 3, { masklet: 1 }, { masklet: [[{ size: 1 }]] }, {
      masklet: [[], [null]],
    }]
  ) {
    let err: unknown;
    try {
      JsonSegmentLoader.fromJson("b.json", bogus);
    } catch (e) {
      err = e;
    }
    assert(err instanceof DatasetError, `accepted ${JSON.stringify(bogus)}`);
  }
});

Deno.test("PalettisedPngSegmentLoader fuzzed with mutated PNG bytes names the file", async () => {
  await withTempDir(async (dir) => {
    const base = await Deno.readFile(`${FIX}davis2017/Annotations/tennis/00000.png`);
    const rng = new Rng(8);
    let bad = 0;
    for (let t = 0; t < 30; t++) {
      const b = base.slice(0, rng.random() < 0.3 ? rng.randrange(base.length) : base.length);
      for (let k = rng.randint(1, 4); k > 0; k--) b[rng.randrange(b.length)] = rng.randrange(256);
      await Deno.writeFile(`${dir}/00000.png`, b);
      const l = await PalettisedPngSegmentLoader.open(dir);
      try {
        await l.load(0);
      } catch (e) {
        assert(e instanceof ImageDecodeError, `unexpected ${e}`);
        assert(e.message.includes(`${dir}/00000.png`));
        bad++;
      }
    }
    assert(bad > 10, `${bad}`);
  });
});

Deno.test("Sa1bSegmentLoader fuzzed with mutated json names the file and never crashes", async () => {
  await withSyntheticDataset(
    { frames: 1, width: 32, height: 24, seed: 3, formats: ["sa1b"] },
    async (dir) => {
      const text = await Deno.readTextFile(`${dir}/syn/sa1b/sa_1.json`);
      const rng = new Rng(31);
      let bad = 0;
      for (let t = 0; t < 80; t++) {
        let s = text;
        for (let k = rng.randint(1, 4); k > 0; k--) {
          const p = rng.randrange(s.length);
          s = s.slice(0, p) + String.fromCharCode(rng.randint(32, 126)) + s.slice(p + 1);
        }
        if (rng.random() < 0.2) s = s.slice(0, rng.randrange(s.length));
        await Deno.writeTextFile(`${dir}/m.json`, s);
        try {
          const l = await Sa1bSegmentLoader.open(`${dir}/m.json`);
          await l.load(0);
        } catch (e) {
          assert(e instanceof DatasetError, `unexpected ${e}`);
          assert(e.message.includes(`${dir}/m.json`));
          bad++;
        }
      }
      assert(bad > 20, `${bad}`);
    },
  );
});
