import { assert, assertEquals } from "../../assert.ts";
import {
  buildDataset,
  ClipLoader,
  extractVideos,
  generateSyntheticDataset,
  listVideos,
  moseTrainTransformSpecs,
} from "../../../src/data/mod.ts";

Deno.test("synthetic mp4 -> extracted frames -> buildDataset() -> ClipLoader batches", async () => {
  const root = await Deno.makeTempDir();
  try {
    await generateSyntheticDataset({
      out: `${root}/synth`,
      videos: 2,
      frames: 16,
      width: 64,
      height: 48,
      seed: 2,
      formats: ["videos", "sav"],
    });
    const summary = await extractVideos(
      await listVideos(`${root}/synth/videos`),
      `${root}/frames`,
      {
        sampleRate: 4,
      },
    );
    assertEquals(summary.failed.length, 0);
    const m = await buildDataset({
      frames: `${root}/frames`,
      annotations: `${root}/synth/sav`,
      format: "sav",
      out: `${root}/dataset.json`,
      annEvery: 4,
    });
    assertEquals(m.totals.videos, 2);
    assertEquals(m.videos[0].annotatedFrames, [0, 4, 8, 12]);
    const loader = await ClipLoader.create({
      datasets: [{
        raw: { kind: "manifest", path: `${root}/dataset.json` },
        sampler: { numFrames: 3, maxNumObjects: 2 },
        transforms: moseTrainTransformSpecs(32),
      }],
      batchSizes: [2],
      workers: 0,
    });
    try {
      let n = 0;
      for await (const b of loader.epoch(0)) {
        assertEquals([b.numFrames, b.numVideos, b.height, b.width], [3, 2, 32, 32]);
        assert(b.numObjects >= 2 && b.numObjects <= 4);
        for (let k = 0; k < b.numObjects; k++) {
          // frame ids come from the 4-step annotated frames
          assertEquals(b.metadata.uniqueObjectsIdentifier[k * 3 + 2] % 4, 0);
        }
        loader.recycle(b);
        n++;
      }
      assertEquals(n, 1);
    } finally {
      loader.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
