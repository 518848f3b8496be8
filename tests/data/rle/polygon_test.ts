import {
  bboxToCounts,
  countsToString,
  decodeRle,
  MAX_POLYGON_COORD,
  polygonsToRle,
  polygonToCounts,
  rleArea,
  rleBbox,
  RleError,
  segmentationToRle,
} from "../../../src/data/rle/mod.ts";
import { Sa1bSegmentLoader } from "../../../src/data/raw/mod.ts";
import { DatasetError } from "../../../src/data/raw/types.ts";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../assert.ts";

/** Row-major 0/1 image of `h` x `w` whose pixel (x, y) is `on(x, y)`. */
function image(h: number, w: number, on: (x: number, y: number) => boolean): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.push(on(x, y) ? 1 : 0);
  return out;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("polygonToCounts() reproduces pycocotools outputs asserted by public test suites", () => {
  // twsl/pytorchcocotools tests/mask/test_fr_py_objects.py asserts these strings against
  // pycocotools' own frPyObjects (one RLE per polygon, 25x25 and a 427x640 COCO annotation).
  const s = (r: { counts: number[] }) => countsToString(r.counts);
  assertEquals(
    s(polygonToCounts([10, 10, 20, 10, 20, 20, 21, 21, 10, 20], { height: 25, width: 25 })),
    "T8:?00000000001O00000:F`2",
  );
  assertEquals(
    s(bboxToCounts([10, 10, 10, 10], { height: 25, width: 25 })),
    "T8:?00000000000000000c3",
  );
  const coco = { height: 427, width: 640 };
  const a = [
    266.83,
    189.37,
    267.79,
    175.29,
    269.46,
    170.04,
    271.37,
    165.98,
    270.89,
    163.12,
    269.12,
    159.54,
    272.8,
    156.44,
    287.36,
    156.44,
    293.33,
    157.87,
    296.91,
    160.49,
    296.91,
    161.21,
    291.89,
    161.92,
    289.98,
    165.03,
    291.42,
    169.56,
    285.16,
    196.54,
  ];
  const b = [
    266.35,
    214.44,
    270.41,
    217.3,
    276.38,
    218.97,
    282.11,
    218.97,
    285.93,
    217.3,
    286.88,
    207.28,
    267.07,
    201.07,
  ];
  assertEquals(
    s(polygonToCounts(a, coco)),
    "\\`_3;j<6B@nCc0Q<@kCc0S<;01N10001O001O00001O001O0000O1L4K6K4L4B]COh<O<O001O0O2Omk^4",
  );
  assertEquals(
    s(polygonToCounts(b, coco)),
    "RT_32n<<O100O0010O000010O0001O00001O000O101O0ISPc4",
  );
  // The union is what annToRLE gives: every pixel of either polygon, nothing else.
  const merged = decodeRle(polygonsToRle([a, b], coco)).data;
  const da = decodeRle(polygonToCounts(a, coco)).data,
    db = decodeRle(polygonToCounts(b, coco)).data;
  let diff = 0;
  for (let i = 0; i < merged.length; i++) if (merged[i] !== (da[i] | db[i])) diff++;
  assertEquals(diff, 0, "union pixels");
  // pixano's tests (tests/utils/test_image.py, "Polygons to RLE using pycocotools") encode this
  // polygon with frPyObjects + merge to "]12810Oh0" = runs [45, 2, 8, 3, 8, 2, 32].
  const p = [
    3.5,
    4.5,
    3.5,
    5.5,
    3.5,
    6.5,
    4.5,
    7.5,
    5.5,
    7.5,
    6.5,
    7.5,
    6.5,
    6.5,
    5.5,
    5.5,
    4.5,
    4.5,
  ];
  assertEquals(polygonsToRle([p], { height: 10, width: 10 }).counts, "]12810Oh0");
  assertEquals(polygonToCounts(p, { height: 10, width: 10 }).counts, [45, 2, 8, 3, 8, 2, 32]);
});

Deno.test("polygonToCounts() fills an axis-aligned rectangle's pixels whose centres lie inside", () => {
  // Corners (1, 1) and (3, 3): pixel centres 1.5 and 2.5 are inside on both axes.
  const r = polygonToCounts([1, 1, 3, 1, 3, 3, 1, 3], { height: 4, width: 4 });
  assertEquals(r.counts, [5, 2, 2, 2, 5]);
  assertEquals(
    [...decodeRle(r).data],
    image(4, 4, (x, y) => x >= 1 && x <= 2 && y >= 1 && y <= 2),
  );
  // [0, 9] covers 9 pixels per side (cocoapi issue #659's "off by one" against fillPoly's 10).
  const nine = polygonToCounts([0, 0, 0, 9, 9, 9, 9, 0], { height: 100, width: 100 });
  assertEquals(rleArea(nine), 81);
  assertEquals(rleBbox(nine), [0, 0, 9, 9]);
  // Reversed and rotated vertex orders give the same mask.
  assertEquals(polygonToCounts([9, 0, 9, 9, 0, 9, 0, 0], { height: 100, width: 100 }), nine);
  // A rectangle reaching past the image is clipped to it.
  const over = polygonToCounts([-5, -5, 5, -5, 5, 5, -5, 5], { height: 4, width: 4 });
  assertEquals([...decodeRle(over).data], image(4, 4, () => true));
});

Deno.test("polygonToCounts() rasterises a right triangle by pixel centres, excluding the hypotenuse", () => {
  // (0,0) (8,0) (0,8): the hypotenuse walk gives column x the boundary row 7 - x, so pixel
  // (x, y) is on iff x + y <= 6 (centres with x + y = 7 lie on the hypotenuse and stay off).
  const r = polygonToCounts([0, 0, 8, 0, 0, 8], { height: 10, width: 10 });
  assertEquals([...decodeRle(r).data], image(10, 10, (x, y) => x + y <= 6));
  assertEquals(rleArea(r), 28);
  assertEquals(rleBbox(r), [0, 0, 7, 7]);
});

Deno.test("polygonsToRle() merges several polygons and reads a 4-number first entry as boxes like frPyObjects", () => {
  const size = { height: 12, width: 12 };
  const two = polygonsToRle([[0, 0, 4, 0, 4, 4, 0, 4], [2, 2, 8, 2, 8, 8, 2, 8]], size);
  // 4x4 + 6x6 - 2x2 overlap.
  assertEquals(rleArea(two), 16 + 36 - 4);
  assertEquals(rleBbox(two), [0, 0, 8, 8]);
  // Disjoint polygons: the areas add up.
  const apart = polygonsToRle([[0, 0, 2, 0, 2, 2, 0, 2], [6, 6, 9, 6, 9, 9, 6, 9]], size);
  assertEquals(rleArea(apart), 4 + 9);
  const boxes = polygonsToRle([[1, 1, 2, 3], [6, 6, 3, 3]], size);
  assertEquals(
    boxes.counts,
    polygonsToRle([[1, 1, 3, 1, 3, 4, 1, 4], [6, 6, 9, 6, 9, 9, 6, 9]], size).counts,
  );
  // A single polygon is the plain rleFrPoly result, compressed.
  assertEquals(
    polygonsToRle([[1, 1, 3, 1, 3, 3, 1, 3]], size).counts,
    countsToString(polygonToCounts([1, 1, 3, 1, 3, 3, 1, 3], size).counts),
  );
});

Deno.test("polygonToCounts() on random polygons: valid runs, area equals decoded pixels, bbox inside the vertices, order-free", () => {
  const rand = mulberry32(5);
  for (let t = 0; t < 200; t++) {
    const h = 1 + Math.floor(rand() * 40), w = 1 + Math.floor(rand() * 40);
    const k = 3 + Math.floor(rand() * 8);
    const poly: number[] = [];
    for (let i = 0; i < k; i++) poly.push(rand() * (w + 10) - 5, rand() * (h + 10) - 5);
    const r = polygonToCounts(poly, { height: h, width: w, where: `case ${t}` });
    assertEquals(r.counts.reduce((s, c) => s + c, 0), h * w, `case ${t} covers the image`);
    const m = decodeRle(r, `case ${t}`);
    const on = m.data.reduce((s, v) => s + v, 0);
    assertEquals(rleArea(r), on, `case ${t} area`);
    if (on > 0) {
      const [bx, by, bw, bh] = rleBbox(r);
      const xs = poly.filter((_, i) => i % 2 === 0), ys = poly.filter((_, i) => i % 2 === 1);
      assert(bx >= Math.floor(Math.min(...xs)) && bx + bw <= Math.ceil(Math.max(...xs)) + 1);
      assert(by >= Math.floor(Math.min(...ys)) && by + bh <= Math.ceil(Math.max(...ys)) + 1);
    }
    // The same outline walked backwards, or from another vertex, gives the same runs.
    const rev: number[] = [];
    for (let i = k - 1; i >= 0; i--) rev.push(poly[2 * i], poly[2 * i + 1]);
    assertEquals(polygonToCounts(rev, { height: h, width: w }).counts, r.counts, `case ${t} rev`);
    const rot = [...poly.slice(2), ...poly.slice(0, 2)];
    assertEquals(polygonToCounts(rot, { height: h, width: w }).counts, r.counts, `case ${t} rot`);
  }
});

Deno.test("polygonToCounts() rejects NaN, infinite, huge and non-numeric coordinates and odd lists with the index", () => {
  const size = { height: 10, width: 10, where: "ann[2].segmentation[0]" };
  const bad: [unknown, string][] = [
    [[0, 0, 5, NaN, 5, 5], "ann[2].segmentation[0][3]: coordinates must be finite numbers"],
    [[0, 0, Infinity, 0, 5, 5], "[2]: coordinates must be finite"],
    [[0, 0, 5, 0, "5", 5], "[4]: coordinates must be finite numbers, got 5"],
    [[0, 0, 1e12, 0, 5, 5], `[2]: coordinate 1000000000000 is beyond ±${MAX_POLYGON_COORD}`],
    [[0, 0, 5, 0, 5], "needs an even number of coordinates (x, y pairs), got 5"],
    [{ 0: 1 }, "a polygon must be a list of numbers"],
    [[0, 0, 2e8, 0, 0, 1e8, 2e8, 1e8], "the outline is"],
  ];
  for (const [poly, msg] of bad) {
    const e = assertThrows(() => polygonToCounts(poly as number[], size), RleError);
    assertStringIncludes(e.message, msg);
  }
  for (const [h, w] of [[-1, 4], [2.5, 4], [1 << 15, 1 << 15]]) {
    assertThrows(() => polygonToCounts([0, 0, 1, 0, 1, 1], { height: h, width: w }), RleError);
  }
  // An empty polygon draws nothing (pycocotools does the same).
  assertEquals(polygonToCounts([], { height: 3, width: 2 }).counts, [6]);
});

Deno.test("polygonsToRle() and segmentationToRle() reject what frPyObjects cannot read, with clear messages", () => {
  const size = { height: 8, width: 8 };
  assertStringIncludes(assertThrows(() => polygonsToRle([], size), RleError).message, "non-empty");
  assertStringIncludes(
    assertThrows(() => polygonsToRle([[1, 2]], size), RleError).message,
    "2 coordinates is neither a box (4) nor a polygon (6 or more)",
  );
  assertStringIncludes(
    assertThrows(() => polygonsToRle([[0, 0, 4, 4], [1, 1, 2, 2, 3]], size), RleError).message,
    "polygons[1]: a box must be [x, y, width, height]",
  );
  assertStringIncludes(
    assertThrows(() => segmentationToRle(42, size), RleError).message,
    "expected a list of polygons or an RLE {size, counts}, got 42",
  );
  assertThrows(() => segmentationToRle({ size: [2, 2], counts: [1, 1] }, size), RleError);
  // Uncompressed RLE (the pytorchcocotools case) compresses to pycocotools' string.
  const u = { size: [25, 25], counts: [130, 5, 20, 5, 20, 5, 20, 5, 20, 5, 390] };
  assertEquals(segmentationToRle(u, { height: 25, width: 25 }).counts, "R45d00000000b;");
  const c = { size: [25, 25] as [number, number], counts: "R45d00000000b;" };
  assertEquals(segmentationToRle(c, { height: 25, width: 25 }), c);
});

Deno.test("Sa1bSegmentLoader reads polygon segmentations at the json's image size and names bad ones", async () => {
  const json = {
    image: { image_id: 1, height: 6, width: 8, file_name: "sa_1.jpg" },
    annotations: [
      { area: 4, segmentation: [[1, 1, 3, 1, 3, 3, 1, 3]] },
      { area: 6, segmentation: { size: [6, 8], counts: [9, 3, 3, 3, 30] } },
    ],
  };
  const loader = Sa1bSegmentLoader.fromJson("sa_1.json", json);
  assertEquals(loader.segments[0].size, [6, 8]);
  const masks = await loader.load(0);
  assertEquals(
    [...masks.get(0)!.data],
    image(6, 8, (x, y) => x >= 1 && x <= 2 && y >= 1 && y <= 2),
  );
  assertEquals(masks.get(1)!.data.reduce((s, v) => s + v, 0), 6);
  // Without "image" the caller's imageSize is used; without either the error says so.
  const noImage = { annotations: json.annotations };
  const sized = Sa1bSegmentLoader.fromJson("x.json", noImage, {
    imageSize: { width: 8, height: 6 },
  });
  assertEquals(sized.segments[0].size, [6, 8]);
  const e1 = assertThrows(() => Sa1bSegmentLoader.fromJson("x.json", noImage), DatasetError);
  assertStringIncludes(e1.message, "x.json: polygon segmentations need the image size");
  const broken = {
    image: json.image,
    annotations: [{ area: 3, segmentation: [[0, 0, 4, 0, NaN, 4]] }],
  };
  const e2 = assertThrows(() => Sa1bSegmentLoader.fromJson("y.json", broken), DatasetError);
  assertStringIncludes(e2.message, "y.json: annotations[0].segmentation[0][4]: coordinates");
});

Deno.test("polygonToCounts() fuzzed with mutated polygons returns valid runs or an RleError naming the input", () => {
  const rand = mulberry32(11);
  const junk = [NaN, Infinity, -Infinity, 1e300, -3e9, "7", null, [1, 2], undefined, {}];
  let errors = 0, ok = 0;
  for (let t = 0; t < 400; t++) {
    const h = 1 + Math.floor(rand() * 30), w = 1 + Math.floor(rand() * 30);
    const poly: unknown[] = [];
    const k = Math.floor(rand() * 8);
    for (let i = 0; i < 2 * k; i++) poly.push(rand() * 60 - 15);
    const mode = Math.floor(rand() * 4);
    if (mode === 0 && poly.length) poly[Math.floor(rand() * poly.length)] = junk[t % junk.length];
    if (mode === 1) poly.push(rand() * 10); // odd length
    if (mode === 2 && poly.length) {
      // Far enough to exceed the outline limit or the int range, or merely far off the image.
      const far = rand() < 0.5 ? 2e7 + rand() * 1e9 : rand() * 1e4;
      poly[Math.floor(rand() * poly.length)] = rand() < 0.5 ? far : -far;
    }
    try {
      const r = polygonToCounts(poly as number[], { height: h, width: w, where: `fuzz ${t}` });
      assertEquals(r.counts.reduce((s, c) => s + c, 0), h * w, `fuzz ${t}: runs cover the image`);
      assert(r.counts.every((c, i) => Number.isInteger(c) && (c > 0 || i === 0)), `fuzz ${t}`);
      ok++;
    } catch (e) {
      if (!(e instanceof RleError)) throw e;
      assertStringIncludes(e.message, `fuzz ${t}`);
      errors++;
    }
  }
  assert(ok > 100 && errors > 50, `${ok} rasterised, ${errors} rejected`);
});
