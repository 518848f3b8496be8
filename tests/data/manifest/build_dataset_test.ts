import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../assert.ts";
import {
  buildDataset,
  DatasetValidationError,
  openManifestDataset,
  readManifest,
} from "../../../src/data/mod.ts";
import { withSyntheticDataset, withTempDir } from "../_tmp_dataset.ts";

const FIX = new URL("../../../../shared/fixtures/", import.meta.url).pathname;

Deno.test("buildDataset() validates DAVIS 2017 fixtures and writes the manifest", async () => {
  await withTempDir(async (dir) => {
    const m = await buildDataset({
      frames: `${FIX}davis2017`,
      format: "davis",
      out: dir,
      verify: "header",
    });
    assertEquals(m.videos.map((v) => v.name), ["bear", "blackswan", "bmx-trees", "tennis"]);
    const tennis = m.videos.find((v) => v.name === "tennis")!;
    assertEquals(tennis.objects.map((o) => o.id), [1, 2, 255]);
    assertEquals([tennis.width, tennis.height], [854, 480]);
    const bmx = m.videos.find((v) => v.name === "bmx-trees")!;
    assertEquals([bmx.frameIndices.length, bmx.annotatedFrames], [4, [0]]);
    assert(m.warnings.some((w) => w.includes("255")));
    assertEquals(await readManifest(`${dir}/manifest.json`), m);
    const ds = await openManifestDataset(m);
    assertEquals(ds.videoNames, ["bear", "blackswan", "bmx-trees", "tennis"]);
  });
});

Deno.test("buildDataset() counts per-object frames of SA-V style synthetic data", async () => {
  await withSyntheticDataset({ videos: 2, frames: 9, formats: ["sav", "davis"] }, async (dir) => {
    const m = await buildDataset({
      frames: `${dir}/syn/davis/JPEGImages`,
      annotations: `${dir}/syn/sav`,
      format: "sav",
      out: `${dir}/m.json`,
    });
    assertEquals(m.totals.videos, 2);
    assertEquals(m.videos[0].annotatedFrames, [0, 4, 8]);
    assertEquals(m.options.annEvery, 4);
    for (const o of m.videos[0].objects) assert(o.frames <= 3 && o.frames >= 0);
    const d = await buildDataset({
      frames: `${dir}/syn/davis`,
      format: "davis",
      out: `${dir}/d.json`,
    });
    assertEquals(d.videos[0].annotatedFrames.length, 9);
    assertEquals(
      d.videos[0].objects.length,
      m.videos[0].objects.filter((o) => o.frames > 0).length,
    );
  });
});

Deno.test("buildDataset() names the broken frame and the mis-sized mask, writing nothing", async () => {
  await withSyntheticDataset(
    { frames: 3, width: 32, height: 32, formats: ["davis", "sav"] },
    async (dir) => {
      const bad = `${dir}/syn/davis/JPEGImages/syn_0000/00001.jpg`;
      await Deno.writeFile(bad, new TextEncoder().encode("not a jpeg"));
      const e = await assertRejects(
        () => buildDataset({ frames: `${dir}/syn/davis`, format: "davis", out: `${dir}/m.json` }),
        DatasetValidationError,
      );
      assertStringIncludes(e.message, bad);
      let exists = true;
      await Deno.stat(`${dir}/m.json`).catch(() => (exists = false));
      assert(!exists, "manifest written despite errors");
      // SA-V json whose masks are not the frame size
      await Deno.remove(bad);
      const json = JSON.parse(await Deno.readTextFile(`${dir}/syn/sav/syn_0000_manual.json`));
      json.masklet[0][0].size = [16, 64];
      await Deno.writeTextFile(`${dir}/syn/sav/syn_0000_manual.json`, JSON.stringify(json));
      const e2 = await assertRejects(
        () =>
          buildDataset({
            frames: `${dir}/syn/davis/JPEGImages`,
            annotations: `${dir}/syn/sav`,
            format: "sav",
            out: `${dir}/m.json`,
            annEvery: 1,
          }),
        DatasetValidationError,
      );
      assertStringIncludes(e2.message, "syn_0000_manual.json");
      assertStringIncludes(e2.message, "masklet[0][0]");
    },
  );
});

Deno.test("buildDataset() accepts one folder of binary PNGs per object (ids folder + 1)", async () => {
  const { decodeIndexedPng, encodePalettePng } = await import("../../../src/data/mod.ts");
  await withSyntheticDataset({
    frames: 3,
    width: 32,
    height: 24,
    seed: 6,
    formats: ["davis"],
    objects: [2, 2],
  }, async (dir) => {
    const src = `${dir}/syn/davis/Annotations/syn_0000`;
    const dst = `${dir}/per/syn_0000`;
    for (const k of [0, 1]) {
      await Deno.mkdir(`${dst}/${k}`, { recursive: true });
      for (const t of [0, 1, 2]) {
        const name = `0000${t}.png`;
        const png = decodeIndexedPng(await Deno.readFile(`${src}/${name}`));
        const data = png.data.map((v) => (v === k + 1 ? 1 : 0));
        await Deno.writeFile(
          `${dst}/${k}/${name}`,
          encodePalettePng({ width: 32, height: 24, data }),
        );
      }
    }
    const m = await buildDataset({
      frames: `${dir}/syn/davis/JPEGImages`,
      annotations: `${dir}/per`,
      format: "davis",
      out: `${dir}/m.json`,
    });
    assertEquals(m.options.masks, "per-object");
    assertEquals(m.videos[0].objects.map((o) => o.id), [1, 2]);
    assertEquals(m.videos[0].annotatedFrames, [0, 1, 2]);
    const ds = await openManifestDataset(m);
    const { segmentLoader } = await ds.getVideo(0);
    assertEquals([...(await segmentLoader.load(0)).keys()], [1, 2]);
  });
});

Deno.test("buildDataset() writes the manifest at an extension-less path as a file", async () => {
  await withTempDir(async (dir) => {
    await buildDataset({
      frames: `${FIX}davis2017/JPEGImages`,
      format: "davis",
      out: `${dir}/staging/outs/manifest`,
      verify: "header",
      videos: ["bear"],
    });
    const st = await Deno.stat(`${dir}/staging/outs/manifest`);
    assert(st.isFile);
    assertEquals((await readManifest(`${dir}/staging/outs/manifest`)).videos.length, 1);
  });
});

Deno.test("buildDataset() indexes SA-1B images, polygon annotations without an image size too", async () => {
  await withSyntheticDataset({ seed: 3, formats: ["sa1b"] }, async (dir) => {
    const names = [...Deno.readDirSync(`${dir}/syn/sa1b`)].map((e) => e.name).sort();
    const json = names.find((n) => n.endsWith(".json"))!;
    // SA-1B-style json without its `image` record and with the masks as COCO polygons: the
    // polygons are rasterised at the image's own size.
    await Deno.writeTextFile(
      `${dir}/syn/sa1b/${json}`,
      JSON.stringify({
        annotations: [
          { segmentation: [[2, 2, 20, 2, 20, 12, 2, 12]], area: 180 },
          { segmentation: [[30, 5, 40, 5, 35, 15]], area: 50 },
        ],
      }),
    );
    const m = await buildDataset({
      frames: `${dir}/syn/sa1b`,
      annotations: `${dir}/syn/sa1b`,
      format: "sa1b",
      out: `${dir}/m.json`,
    });
    assertEquals(m.totals.videos, 1);
    assertEquals(m.videos[0].objects.map((o) => o.id), [0, 1]);
    assertEquals([m.videos[0].width, m.videos[0].height], [64, 48]);
  });
});
