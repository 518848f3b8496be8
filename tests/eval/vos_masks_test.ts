import { assertEquals, assertRejects } from "../assert.ts";
import {
  composeObjectMasks,
  evaluate,
  readMaskPng,
  readPromptMasks,
  splitObjectMasks,
  vocMaskPalette,
  writePredictionMasks,
} from "../../src/eval/mod.ts";

const fixtures = new URL("../../../shared/fixtures/", import.meta.url).pathname;

Deno.test("composeObjectMasks() lets the lower id win overlaps", () => {
  const masks = new Map([[2, new Uint8Array([1, 1, 0, 0])], [1, new Uint8Array([0, 1, 1, 0])]]);
  assertEquals(Array.from(composeObjectMasks(masks, 2, 2)), [2, 1, 1, 0]);
  assertEquals([...splitObjectMasks([0, 3, 1, 3]).entries()].map(([k, v]) => [k, Array.from(v)]), [
    [1, [0, 0, 1, 0]],
    [3, [0, 1, 0, 1]],
  ]);
});

Deno.test("vocMaskPalette() is the DAVIS palette of vos_inference.py", () => {
  const p = vocMaskPalette();
  assertEquals(p.slice(0, 9), [
    [0, 0, 0],
    [128, 0, 0],
    [0, 128, 0],
    [128, 128, 0],
    [0, 0, 128],
    [128, 0, 128],
    [0, 128, 128],
    [128, 128, 128],
    [64, 0, 0],
  ]);
});

Deno.test("readPromptMasks() and writePredictionMasks() round-trip both layouts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ann = `${fixtures}davis2017/Annotations`;
    const p = await readPromptMasks(ann, "tennis", "00000");
    assertEquals([...p.masks.keys()], [1, 2, 255]);
    assertEquals([p.width, p.height], [854, 480]);
    await writePredictionMasks(`${dir}/davis`, "tennis", "00000", p.masks, p, {
      palette: p.palette,
    });
    const back = await readMaskPng(`${dir}/davis/tennis/00000.png`);
    const orig = await readMaskPng(`${ann}/tennis/00000.png`);
    assertEquals(back.data, orig.data);
    assertEquals(back.palette, orig.palette);
    // SA-V layout: one folder per object; reading it back gives the same masks.
    for (const f of ["00000", "00001"]) {
      const m = await readPromptMasks(ann, "tennis", f);
      await writePredictionMasks(`${dir}/sav`, "tennis", f, m.masks, m, { perObjectFiles: true });
    }
    const sav = await readPromptMasks(`${dir}/sav`, "tennis", "00001", { perObjectFiles: true });
    const direct = await readPromptMasks(ann, "tennis", "00001");
    assertEquals([...sav.masks.keys()], [...direct.masks.keys()]);
    for (const [id, m] of direct.masks) assertEquals(sav.masks.get(id), m);
    const r = await evaluate({
      gtRoot: `${dir}/sav`,
      predRoot: `${dir}/sav`,
      skipFirstAndLast: false,
    });
    assertEquals([r.layout, r.objects.map((o) => o.object), r.jf], [
      "sav",
      ["001", "002", "255"],
      100,
    ]);
    const none = await readPromptMasks(ann, "tennis", "00009", { allowMissing: true });
    assertEquals(none.masks.size, 0);
    await assertRejects(
      () => readPromptMasks(ann, "tennis", "00009"),
      Deno.errors.NotFound,
      "00009.png",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
