import { distanceTransformL2 } from "../../../src/sam2/train/mod.ts";
import { assert, assertAllClose, assertEquals, assertThrows } from "../../assert.ts";
import { centerClickFixtures } from "./_center_click_fixtures.ts";

/** Largest |a - b| and where, for a readable failure. */
function worst(a: Float32Array, b: Float32Array): { diff: number; at: number } {
  let diff = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > diff) diff = d, at = i;
  }
  return { diff, at };
}

/** The padded FN / FP map of one object, as the fixture script built it. */
function paddedErrorMap(
  gt: Uint8Array,
  pred: Uint8Array | null,
  h: number,
  w: number,
  b: number,
  falseNegative: boolean,
): Uint8Array {
  const pw = w + 2, out = new Uint8Array((h + 2) * pw);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = b * h * w + y * w + x, g = gt[i] > 0, p = (pred?.[i] ?? 0) > 0;
      out[(y + 1) * pw + x + 1] = (falseNegative ? g && !p : !g && p) ? 1 : 0;
    }
  }
  return out;
}

Deno.test("distanceTransformL2() matches cv2.distanceTransform(DIST_L2, 0) on every padded FN and FP map of the fixtures", async () => {
  const fx = await centerClickFixtures();
  let maps = 0, nonZero = 0;
  for (const c of fx.cases) {
    const ph = c.height + 2, pw = c.width + 2;
    for (let b = 0; b < c.objects; b++) {
      for (const [k, fn] of [[0, true], [1, false]] as const) {
        const mask = paddedErrorMap(c.gt, c.pred, c.height, c.width, b, fn);
        const ours = distanceTransformL2({ data: mask, height: ph, width: pw });
        const off = c.dtOffsets[b][k];
        const cv = fx.dt.subarray(off, off + ph * pw);
        const { diff, at } = worst(ours, cv);
        assert(
          diff <= 1e-4,
          `${c.name} object ${b} ${fn ? "FN" : "FP"}: |ours - cv2| = ${diff} at pixel ${at} ` +
            `(ours ${ours[at]}, cv2 ${cv[at]})`,
        );
        maps++;
        if (cv.some((v) => v > 0)) nonZero++;
      }
    }
  }
  assert(nonZero > 20, `only ${nonZero} of ${maps} fixture maps have any distance > 0`);
});

Deno.test("distanceTransformL2() matches cv2 without padding, including rows, columns or images with no zero pixel", async () => {
  const fx = await centerClickFixtures();
  assert(fx.raw.length >= 4, "fixture has raw maps");
  for (const r of fx.raw) {
    const ours = distanceTransformL2({ data: r.mask, height: r.height, width: r.width });
    const cv = fx.dt.subarray(r.dtOffset, r.dtOffset + r.height * r.width);
    const { diff, at } = worst(ours, cv);
    // cv2 gives sqrt(1e15) ~ 3.16e7 where no zero exists at all: compare relatively there.
    const tol = Math.max(1e-4, Math.abs(cv[at] ?? 0) * 1e-6);
    assert(
      diff <= tol,
      `${r.height}x${r.width}: |ours - cv2| = ${diff} at ${at} (ours ${ours[at]}, cv2 ${cv[at]})`,
    );
  }
});

Deno.test("distanceTransformL2() gives exact Euclidean distances on a hand-checked image", () => {
  // 5x5 all inside except the top-left corner pixel.
  const data = new Uint8Array(25).fill(1);
  data[0] = 0;
  const d = distanceTransformL2({ data, height: 5, width: 5 });
  const want = [];
  for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) want.push(Math.hypot(x, y));
  assertAllClose(d, Float32Array.from(want), { atol: 0, rtol: 0 });
  assertEquals(
    [...distanceTransformL2({ data: [0, 1, 1, 1, 0], height: 1, width: 5 })],
    [0, 1, 2, 1, 0],
  );
});

Deno.test("distanceTransformL2() rejects a size that does not match the data", () => {
  assertThrows(
    () => distanceTransformL2({ data: new Uint8Array(5), height: 2, width: 3 }),
    RangeError,
    "expected 2x3=6",
  );
  assertThrows(
    () => distanceTransformL2({ data: [], height: -1, width: 0 }),
    RangeError,
    "non-negative",
  );
});
