import {
  maskToBox,
  ReplayMismatchError,
  ReplayTrainRandom,
  sampleBoxPoints,
  sampleRandomPointsFromErrors,
  SeededTrainRandom,
  type TrainRandomRecording,
} from "../../../src/sam2/mod.ts";
import { assert, assertEquals, assertRejects, assertThrows } from "../../assert.ts";
import { MINI } from "../_mini.ts";

/** A 1-object 4x4 mask batch from rows of 0/1. */
function mask4(rows: number[][]) {
  return { data: Uint8Array.from(rows.flat()), numObjects: 1, height: 4, width: 4 };
}

Deno.test("ReplayTrainRandom returns the recorded draws of train_step.json in order", async () => {
  const rec = JSON.parse(
    await Deno.readTextFile(new URL("train_step.json", MINI)),
  ) as TrainRandomRecording;
  const r = new ReplayTrainRandom(rec);
  assertEquals(r.random(), 0.44364223696266714);
  assertEquals(r.integers(1, 2), 1);
  assertEquals(r.integers(1, 2), 2);
  r.random();
  assertEquals(r.choice([1, 2, 3], 1), [1]);
  const gt = { data: new Uint8Array(2 * 128 * 128), numObjects: 2, height: 128, width: 128 };
  const p = await r.samplePoints({ frame: 0, phase: "prepare_prompt_inputs", gt, pred: null });
  assertEquals([...p.coords], [34, 51, 78, 84]);
  assertEquals([...p.labels], [1, 1]);
  assertThrows(() => r.assertExhausted(), ReplayMismatchError, "rng calls");
});

Deno.test("ReplayTrainRandom names the call index when the sequence diverges", async () => {
  const rec: TrainRandomRecording = {
    rng_calls: [{ call: "random", result: 0.5 }, {
      call: "integers",
      args: [1, 2],
      kwargs: { endpoint: true },
      result: 2,
    }],
    sampler_calls: [{
      fn: "get_next_point",
      phase: "correction",
      frame: 1,
      from_gt_only: false,
      points: [[[3, 4]]],
      labels: [[0]],
    }],
  };
  const r = new ReplayTrainRandom(rec);
  r.random();
  assertThrows(() => r.integers(1, 3), ReplayMismatchError, "rng call #1");
  const gt = mask4([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
  await assertRejects(
    () =>
      Promise.resolve().then(() =>
        r.samplePoints({ frame: 1, phase: "correction", gt, pred: null })
      ),
    ReplayMismatchError,
    "sampler call #0",
  );
  assertThrows(() => r.random(), ReplayMismatchError, "rng call #2");
});

Deno.test("sampleRandomPointsFromErrors() takes positives from misses, negatives from false alarms", () => {
  const gt = mask4([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]);
  // Prediction misses (2,2) and adds (0,3): each uniform draw lands in one of the two entries.
  const pred = Uint8Array.from([0, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  const low = sampleRandomPointsFromErrors(gt, pred, () => 0.1);
  const high = sampleRandomPointsFromErrors(gt, pred, () => 0.9);
  assertEquals([...low.coords, ...low.labels], [3, 0, 0]);
  assertEquals([...high.coords, ...high.labels], [2, 2, 1]);
  // From the GT only: a positive click inside the object.
  const fromGt = sampleRandomPointsFromErrors(gt, null, () => 0.99);
  assertEquals([...fromGt.coords, ...fromGt.labels], [2, 2, 1]);
  // A perfect prediction: a negative click on the background.
  const exact = sampleRandomPointsFromErrors(gt, Uint8Array.from(gt.data), () => 0);
  assertEquals([...exact.coords, ...exact.labels], [0, 0, 0]);
});

Deno.test("maskToBox() and sampleBoxPoints() reproduce the reference's inverted box of an empty mask", () => {
  const empty = mask4([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
  assertEquals([...maskToBox(empty)], [4, 4, -1, -1]);
  // Noise scale min(0.1*(-5), 20) = -0.5; a draw of 1 gives noise +1 -> -0.5 per coordinate.
  const box = sampleBoxPoints(empty, () => 1);
  assertEquals([...box.coords], [3, 3, 0, 0]);
  assertEquals([...box.labels], [2, 3]);
  const full = mask4([[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]);
  assertEquals([...maskToBox(full)], [1, 1, 2, 2]);
  // A draw of 0.5 is zero noise: the exact box.
  assertEquals([...sampleBoxPoints(full, () => 0.5).coords], [1, 1, 2, 2]);
});

Deno.test("SeededTrainRandom is reproducible per seed and stays in range", () => {
  const a = new SeededTrainRandom(7), b = new SeededTrainRandom(7), c = new SeededTrainRandom(8);
  const seq = (r: SeededTrainRandom) => [r.random(), r.integers(1, 2), ...r.choice([1, 2, 3], 2)];
  const sa = seq(a);
  assertEquals(sa, seq(b));
  assert(sa.join() !== seq(c).join(), "different seeds should differ");
  const r = new SeededTrainRandom(1);
  for (let i = 0; i < 200; i++) {
    const x = r.random();
    assert(x >= 0 && x < 1, `random() out of range: ${x}`);
    const k = r.integers(2, 4);
    assert(k >= 2 && k <= 4 && Number.isInteger(k), `integers() out of range: ${k}`);
    const ch = r.choice([5, 6, 7], 3);
    assertEquals([...ch].sort(), [5, 6, 7]);
  }
});
