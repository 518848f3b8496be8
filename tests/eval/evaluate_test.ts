import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../assert.ts";
import {
  decodeMaskPng,
  encodeMaskPng,
  evaluate,
  formatReferenceCsv,
  type JFResult,
  pyFixed1,
  readMaskPng,
  writeJFReport,
  writeMaskPng,
} from "../../src/eval/mod.ts";

const fixtures = new URL("../../../shared/fixtures/", import.meta.url).pathname;

/** Copies the first `n` GT frames of each DAVIS 2016 video, optionally shifted right by dx. */
async function davisSubset(root: string, n: number, dx = 0): Promise<void> {
  for (const video of ["blackswan", "car-shadow"]) {
    await Deno.mkdir(`${root}/${video}`, { recursive: true });
    for (let i = 0; i < n; i++) {
      const name = `${String(i).padStart(5, "0")}.png`;
      const m = await readMaskPng(`${fixtures}davis2016/Annotations/${video}/${name}`);
      const data = new Uint8Array(m.data.length);
      for (let y = 0; y < m.height; y++) {
        for (let x = dx; x < m.width; x++) data[y * m.width + x] = m.data[y * m.width + x - dx];
      }
      await writeMaskPng(`${root}/${video}/${name}`, { width: m.width, height: m.height, data });
    }
  }
}

Deno.test("evaluate() scores the DAVIS masks against themselves as 100", async () => {
  const r = await evaluate({
    gtRoot: `${fixtures}davis2017/Annotations`,
    predRoot: `${fixtures}davis2017/Annotations`,
  });
  assertEquals([r.j, r.f, r.jf], [100, 100, 100]);
  assertEquals(r.layout, "davis");
  // Videos with fewer than 3 frames have nothing left after skipping first and last.
  assertEquals(r.videos.map((v) => v.video), ["blackswan"]);
  const all = await evaluate({
    gtRoot: `${fixtures}davis2017/Annotations`,
    predRoot: `${fixtures}davis2017/Annotations`,
    skipFirstAndLast: false,
  });
  assertEquals(all.videos.map((v) => v.video), ["bear", "blackswan", "bmx-trees", "tennis"]);
  // tennis: objects 1, 2 and the void value 255 (the reference scores every GT value).
  assertEquals(all.objects.filter((o) => o.video === "tennis").map((o) => o.object), [
    "1",
    "2",
    "255",
  ]);
  assertEquals(all.jf, 100);
});

Deno.test("evaluate() falls monotonically as predictions shift further", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await davisSubset(`${dir}/gt`, 5);
    const scores: JFResult[] = [];
    for (const dx of [0, 3, 12, 24]) {
      await davisSubset(`${dir}/pred${dx}`, 5, dx);
      scores.push(await evaluate({ gtRoot: `${dir}/gt`, predRoot: `${dir}/pred${dx}` }));
    }
    assertEquals(scores[0].jf, 100);
    for (let i = 1; i < scores.length; i++) {
      assert(scores[i].j < scores[i - 1].j, `J ${scores[i].j} < ${scores[i - 1].j}`);
      assert(scores[i].jf < scores[i - 1].jf, `J&F ${scores[i].jf} < ${scores[i - 1].jf}`);
    }
    // 854x480 gives a disk of radius 8: a 3-pixel shift keeps every boundary pixel matched,
    // larger shifts lose more and more.
    assertEquals(scores[1].f, 100);
    assert(scores[2].f < 100 && scores[3].f < scores[2].f, `F ${scores.map((s) => s.f)}`);
    assertEquals(scores[0].objects.map((o) => o.frames), [3, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Writes a w x h binary PNG with the rectangles given as [x0, x1, y0, y1] set to 255. */
async function binaryPng(path: string, w: number, h: number, rects: number[][]): Promise<void> {
  const data = new Uint8Array(w * h);
  for (const [x0, x1, y0, y1] of rects) {
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) data[y * w + x] = 255;
  }
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(path, encodeMaskPng({ width: w, height: h, data }, [[0, 0, 0]]));
}

Deno.test("evaluate() reads the SA-V layout, one folder per object", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Object 000 predicted exactly on all 4 frames; object 001 shifted by 2 px (J 3/7,
    // F 0.6 on a 20x20 image, see metrics_test) on evaluated frames 1 and 2.
    for (let t = 0; t < 4; t++) {
      const f = `${String(t * 4).padStart(5, "0")}.png`;
      await binaryPng(`${dir}/gt/v1/000/${f}`, 20, 20, [[1, 3, 1, 3]]);
      await binaryPng(`${dir}/pred/v1/000/${f}`, 20, 20, [[1, 3, 1, 3]]);
      await binaryPng(`${dir}/gt/v1/001/${f}`, 20, 20, [[5, 9, 5, 9]]);
      await binaryPng(`${dir}/pred/v1/001/${f}`, 20, 20, [[7, 11, 5, 9]]);
    }
    const r = await evaluate({ gtRoot: `${dir}/gt`, predRoot: `${dir}/pred` });
    assertEquals(r.layout, "sav");
    assertEquals(r.objects.map((o) => [o.object, o.frames]), [["000", 2], ["001", 2]]);
    assertAlmostEquals(r.objects[1].j, 300 / 7, 1e-9);
    assertAlmostEquals(r.objects[1].f, 60, 1e-9);
    assertAlmostEquals(r.j, (100 + 300 / 7) / 2, 1e-9);
    assertAlmostEquals(r.f, 80, 1e-9);
    assertEquals(r.videos.length, 1);
    assertStringIncludes(formatReferenceCsv(r), "v1          ,001, 51.4, 42.9, 60.0\n");
    // An object whose GT is empty on every evaluated frame cannot be scored (as in the
    // reference, which asserts); the error names it.
    await binaryPng(`${dir}/gt/v1/002/00000.png`, 20, 20, [[1, 2, 1, 2]]);
    await binaryPng(`${dir}/gt/v1/002/00004.png`, 20, 20, []);
    await binaryPng(`${dir}/gt/v1/002/00008.png`, 20, 20, [[1, 2, 1, 2]]);
    for (const f of ["00000.png", "00004.png", "00008.png"]) {
      await binaryPng(`${dir}/pred/v1/002/${f}`, 20, 20, []);
    }
    await assertRejects(
      () => evaluate({ gtRoot: `${dir}/gt`, predRoot: `${dir}/pred` }),
      Error,
      "Object 002 of video v1 has no foreground",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evaluate() skips the first and last frames unless told not to", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (let t = 0; t < 3; t++) {
      const f = `${t}.png`;
      const gt = [[2, 6, 2, 6]];
      await binaryPng(`${dir}/gt/v/${f}`, 20, 20, gt);
      // Wrong (empty) on the first and last frame, right in the middle.
      await binaryPng(`${dir}/pred/v/${f}`, 20, 20, t === 1 ? gt : []);
    }
    const skip = await evaluate({ gtRoot: `${dir}/gt`, predRoot: `${dir}/pred` });
    assertEquals(skip.jf, 100);
    const keep = await evaluate({
      gtRoot: `${dir}/gt`,
      predRoot: `${dir}/pred`,
      skipFirstAndLast: false,
    });
    assertAlmostEquals(keep.j, 100 / 3, 1e-9);
    assertAlmostEquals(keep.f, 100 / 3, 1e-9);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evaluate() reports missing predictions, size mismatches and strict differences", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const f of ["0.png", "1.png", "2.png"]) {
      await binaryPng(`${dir}/gt/v/${f}`, 20, 20, [[2, 6, 2, 6]]);
    }
    await binaryPng(`${dir}/pred/v/0.png`, 20, 20, []);
    await assertRejects(
      () => evaluate({ gtRoot: `${dir}/gt`, predRoot: `${dir}/pred` }),
      Deno.errors.NotFound,
      `${dir}/pred/v/1.png not found`,
    );
    await binaryPng(`${dir}/pred/v/1.png`, 10, 20, []);
    await assertRejects(
      () => evaluate({ gtRoot: `${dir}/gt`, predRoot: `${dir}/pred` }),
      Error,
      "Shape mismatch",
    );
    await Deno.mkdir(`${dir}/pred/extra`);
    await assertRejects(
      () => evaluate({ gtRoot: `${dir}/gt`, predRoot: `${dir}/pred`, strict: true }),
      Error,
      "but not in",
    );
    await Deno.writeTextFile(`${dir}/gt/v/1.png`, "not a png");
    await binaryPng(`${dir}/pred/v/1.png`, 20, 20, []);
    await assertRejects(
      () => evaluate({ gtRoot: `${dir}/gt`, predRoot: `${dir}/pred` }),
      Error,
      `${dir}/gt/v/1.png`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeMaskPng() unpacks low bit depths and refuses colour images", async () => {
  const { encode } = await import("fast-png");
  const packed = encode({
    width: 3,
    height: 2,
    data: new Uint8Array([0b00011000, 0b11100100]), // rows are byte-aligned
    depth: 2,
    channels: 1,
    palette: [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]],
  });
  assertEquals(Array.from(decodeMaskPng(packed).data), [0, 1, 2, 3, 2, 1]);
  const rgb = encode({ width: 1, height: 1, data: new Uint8Array([1, 2, 3]), channels: 3 });
  let msg = "";
  try {
    decodeMaskPng(rgb, "x.png");
  } catch (e) {
    msg = (e as Error).message;
  }
  assertStringIncludes(msg, '"x.png"');
  assertStringIncludes(msg, "has 3 channels");
  const gray16 = encode({
    width: 2,
    height: 1,
    data: new Uint16Array([7, 300]),
    depth: 16,
    channels: 1,
  });
  const wide = decodeMaskPng(gray16);
  assert(wide.data instanceof Uint16Array, "16-bit gray keeps its values");
  assertEquals(Array.from(wide.data), [7, 300]);
});

Deno.test("pyFixed1() rounds like Python's format(x, '.1f')", () => {
  assertEquals(pyFixed1(0.25), "0.2");
  assertEquals(pyFixed1(0.75), "0.8");
  assertEquals(pyFixed1(12.25), "12.2");
  assertEquals(pyFixed1(42.857142857), "42.9");
  assertEquals(pyFixed1(100), "100.0");
  assertEquals(pyFixed1(0.35), "0.3"); // 0.35 is 0.34999... in binary
});

Deno.test("writeJFReport() writes the reference CSV, tables, JSON and reports", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await evaluate({
      gtRoot: `${fixtures}davis2017/Annotations`,
      predRoot: `${fixtures}davis2017/Annotations`,
      skipFirstAndLast: false,
      videos: ["bear", "tennis"],
    });
    const files = await writeJFReport(r, `${dir}/out`, { title: "Fixture <check>" });
    const csv = await Deno.readTextFile(files.referenceCsv);
    assertEquals(csv.split("\n").slice(0, 4), [
      "sequence    ,obj,  J&F,    J,    F",
      "Global score,   , 100.0, 100.0, 100.0",
      "bear        ,001, 100.0, 100.0, 100.0",
      "tennis      ,001, 100.0, 100.0, 100.0",
    ]);
    assertEquals(
      (await Deno.readTextFile(files.videoCsv)).split("\n")[1],
      "bear,1,100.0000,100.0000,100.0000",
    );
    assertEquals(JSON.parse(await Deno.readTextFile(files.json)).jf, 100);
    const svg = await Deno.readTextFile(files.svg);
    assertEquals((svg.match(/<rect /g) ?? []).length, 3 * 3 + 3); // 2 videos + global, legend
    assertStringIncludes(await Deno.readTextFile(files.markdown), "| tennis | 3 | 100.0 |");
    assertStringIncludes(await Deno.readTextFile(files.html), "Fixture &lt;check&gt;");
    const left = [...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).filter((n) =>
      n.includes(".tmp-")
    );
    assertEquals(left, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evaluate() gives the same result on a Worker pool", async () => {
  const opts = {
    gtRoot: `${fixtures}davis2017/Annotations`,
    predRoot: `${fixtures}davis2017/Annotations`,
    skipFirstAndLast: false,
    videos: ["bear", "tennis"],
  };
  const seen: number[] = [];
  const inline = await evaluate(opts);
  const pooled = await evaluate({
    ...opts,
    concurrency: 2,
    onVideo: (_v, done) => seen.push(done),
  });
  assertEquals(pooled, inline);
  assertEquals(seen, [1, 2]);
  const dir = await Deno.makeTempDir();
  try {
    for (const v of ["a", "b"]) {
      await binaryPng(`${dir}/gt/${v}/0.png`, 8, 8, [[1, 2, 1, 2]]);
      await Deno.mkdir(`${dir}/pred/${v}`, { recursive: true });
    }
    await assertRejects(
      () =>
        evaluate({
          gtRoot: `${dir}/gt`,
          predRoot: `${dir}/pred`,
          concurrency: 2,
          skipFirstAndLast: false,
        }),
      Deno.errors.NotFound,
      "0.png not found",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
