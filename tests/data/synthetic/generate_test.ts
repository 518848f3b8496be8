import { assert, assertEquals, assertRejects } from "../../assert.ts";
import {
  decodeIndexedPng,
  decodeRgb,
  decodeRle,
  generateSyntheticDataset,
} from "../../../src/data/mod.ts";

async function tmp(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "syn_test_" });
}

Deno.test("generateSyntheticDataset() writes mp4, SA-V json, DAVIS and SA-1B with equal masks", async () => {
  const root = await tmp();
  try {
    const out = `${root}/ds`;
    const info = await generateSyntheticDataset({
      out,
      videos: 2,
      frames: 9,
      width: 64,
      height: 48,
      seed: 3,
      annEvery: 4,
    });
    assertEquals(info.videos.map((v) => v.name), ["syn_0000", "syn_0001"]);
    for (const v of info.videos) {
      assert((await Deno.stat(`${out}/videos/${v.name}.mp4`)).size > 100);
      const sav = JSON.parse(await Deno.readTextFile(`${out}/sav/${v.name}_manual.json`));
      assertEquals(sav.masklet.length, 3); // frames 0, 4, 8
      assertEquals(sav.masklet_num, v.objects);
      for (let i = 0; i < sav.masklet.length; i++) {
        const stem = String(i * 4).padStart(5, "0");
        const png = decodeIndexedPng(
          await Deno.readFile(`${out}/davis/Annotations/${v.name}/${stem}.png`),
        );
        assertEquals([png.width, png.height], [64, 48]);
        for (let o = 0; o < v.objects; o++) {
          const m = decodeRle(sav.masklet[i][o]);
          for (let p = 0; p < m.data.length; p++) {
            assertEquals(m.data[p], png.data[p] === o + 1 ? 1 : 0);
          }
        }
      }
      const jpg = await decodeRgb(`${out}/davis/JPEGImages/${v.name}/00008.jpg`);
      assertEquals([jpg.width, jpg.height], [64, 48]);
      const sa = JSON.parse(await Deno.readTextFile(`${out}/sa1b/${v.sa1bImages[0]}.json`));
      assertEquals(sa.image.width, 64);
      assert(sa.annotations.every((a: { area: number }) => a.area > 0));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("generateSyntheticDataset() is deterministic for a seed and refuses a non-empty out", async () => {
  const root = await tmp();
  try {
    const opts = {
      videos: 1,
      frames: 4,
      width: 32,
      height: 32,
      seed: 9,
      formats: ["sav" as const],
    };
    await generateSyntheticDataset({ out: `${root}/a`, ...opts });
    await generateSyntheticDataset({ out: `${root}/b`, ...opts });
    assertEquals(
      await Deno.readTextFile(`${root}/a/sav/syn_0000_manual.json`),
      await Deno.readTextFile(`${root}/b/sav/syn_0000_manual.json`),
    );
    await assertRejects(
      () => generateSyntheticDataset({ out: `${root}/a`, ...opts }),
      Error,
      "not empty",
    );
    await assertRejects(
      () => generateSyntheticDataset({ out: `${root}/c`, ...opts, width: 33 }),
      RangeError,
      "even",
    );
    let leftovers = 0;
    for await (const e of Deno.readDir(root)) if (e.name.includes("staging")) leftovers++;
    assertEquals(leftovers, 0);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
