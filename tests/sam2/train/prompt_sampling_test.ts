import {
  type PointRequest,
  RecordingTrainRandom,
  ReplayMismatchError,
  ReplayTrainRandom,
  sampleOnePointFromErrorCenter,
  SeededTrainRandom,
} from "../../../src/sam2/train/mod.ts";
import { assertEquals, assertRejects, assertThrows } from "../../assert.ts";
import { centerClickFixtures } from "./_center_click_fixtures.ts";

Deno.test("sampleOnePointFromErrorCenter() picks the reference's click (numpy + cv2) on every fixture case", async () => {
  const fx = await centerClickFixtures();
  let positives = 0, negatives = 0;
  for (const c of fx.cases) {
    const gt = { data: c.gt, numObjects: c.objects, height: c.height, width: c.width };
    const p = sampleOnePointFromErrorCenter(gt, c.pred);
    assertEquals(p.numObjects, c.objects);
    assertEquals(p.numPoints, 1);
    const got = c.clicks.map((_, b) => [p.coords[2 * b], p.coords[2 * b + 1], p.labels[b]]);
    assertEquals(got, c.clicks, `${c.name}: [x, y, label] per object`);
    for (const [, , l] of c.clicks) l ? positives++ : negatives++;
  }
  // The fixture exercises both labels and ties broken by the first row-major pixel.
  if (positives < 5 || negatives < 5) throw new Error(`${positives} +, ${negatives} - clicks`);
});

/** A one-object batch from rows of 0/1. */
function batch(rows: number[][]) {
  return {
    data: Uint8Array.from(rows.flat()),
    numObjects: 1,
    height: rows.length,
    width: rows[0].length,
  };
}

/** A [h, w] 0/1 image with the rectangle rows y0..y1, columns x0..x1 (inclusive) set. */
function rect(h: number, w: number, boxes: [number, number, number, number][]): number[][] {
  return Array.from(
    { length: h },
    (_, y) =>
      Array.from(
        { length: w },
        (_, x) =>
          boxes.some(([y0, y1, x0, x1]) => y >= y0 && y <= y1 && x >= x0 && x <= x1) ? 1 : 0,
      ),
  );
}

Deno.test("sampleOnePointFromErrorCenter() takes the deepest error pixel, the first on a tie, FP on an FN/FP tie, (0, 0) without errors", () => {
  // GT: rows 1..3, columns 1..5 of a 5x7 image; distances 2 on row 2, columns 2..4: first wins.
  const gt = batch(rect(5, 7, [[1, 3, 1, 5]]));
  let p = sampleOnePointFromErrorCenter(gt, null);
  assertEquals([...p.coords, ...p.labels], [2, 2, 1]);
  // Predicting columns 1..2 leaves FN columns 3..5, deepest at (4, 2).
  p = sampleOnePointFromErrorCenter(gt, batch(rect(5, 7, [[1, 3, 1, 2]])).data);
  assertEquals([...p.coords, ...p.labels], [4, 2, 1]);
  // An FN block and an FP block of equal depth 2: positive needs a strictly deeper FN.
  const left = batch(rect(5, 9, [[1, 3, 1, 3]]));
  p = sampleOnePointFromErrorCenter(left, batch(rect(5, 9, [[1, 3, 5, 7]])).data);
  assertEquals([...p.coords, ...p.labels], [6, 2, 0]);
  // Exactly right: both maps are empty.
  p = sampleOnePointFromErrorCenter(gt, gt.data.slice());
  assertEquals([...p.coords, ...p.labels], [0, 0, 0]);
  // Padding makes the image edge a boundary: in one row every pixel has distance 1 (first
  // wins); without padding the run [1, 5] reaches the edge and x = 5 is deepest.
  const row = batch([[0, 1, 1, 1, 1, 1]]);
  p = sampleOnePointFromErrorCenter(row, null);
  assertEquals([...p.coords, ...p.labels], [1, 0, 1]);
  p = sampleOnePointFromErrorCenter(row, null, { padding: false });
  assertEquals([...p.coords, ...p.labels], [5, 0, 1]);
});

Deno.test("sampleOnePointFromErrorCenter() rejects a prediction of the wrong size", () => {
  const gt = { data: new Uint8Array(6), numObjects: 1, height: 2, width: 3 };
  assertThrows(() => sampleOnePointFromErrorCenter(gt, new Uint8Array(5)), RangeError, "1x2x3");
});

Deno.test("SeededTrainRandom.samplePoints() with method center draws nothing and is recorded and replayed with its method", async () => {
  const gt = batch(rect(5, 7, [[1, 3, 1, 5]]));
  const req = (method?: "center" | "uniform"): PointRequest => ({
    frame: 0,
    phase: "correction",
    gt,
    pred: () => Promise.resolve(new Uint8Array(35)),
    method,
  });
  const a = new SeededTrainRandom(7), b = new SeededTrainRandom(7);
  const rec = new RecordingTrainRandom(a);
  const p = await rec.samplePoints(req("center"));
  assertEquals([...p.coords, ...p.labels], [2, 2, 1]);
  // The center click consumed no draw: both generators are still in step.
  assertEquals(a.random(), b.random());
  assertEquals(rec.recording.sampler_calls[0].method, "center");
  const replay = new ReplayTrainRandom(rec.recording);
  assertEquals([...(await replay.samplePoints(req("center"))).coords], [2, 2]);
  await assertRejects(
    () => new ReplayTrainRandom(rec.recording).samplePoints(req()),
    ReplayMismatchError,
    `method="center"`,
  );
});
