/**
 * Pixel plans: a pipeline built by `buildTransforms` records pixel ops and runs them once at
 * the end (flip fused into the warp); that must give the bytes of applying each transform on
 * its own, draw for draw.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  buildTransforms,
  executePlansCpu,
  framePlans,
  instantiate,
  moseTrainTransformSpecs,
  PIXEL_OPS_ON_GPU,
  type PlannedFrame,
  RandomAffine,
  RandomHorizontalFlip,
  Rng,
  type TransformSpec,
  type VideoDatapoint,
} from "../../src/data/mod.ts";

function clip(t: number, w = 40, h = 30): VideoDatapoint {
  return {
    videoId: 0,
    size: [h, w],
    frames: Array.from({ length: t }, (_, k) => {
      const data = new Uint8Array(w * h * 3), seg = new Uint8Array(w * h);
      for (let i = 0; i < w * h; i++) {
        const x = i % w, y = Math.floor(i / w);
        data[i * 3] = (x * 7 + k * 13) & 255;
        data[i * 3 + 1] = (y * 11 + x * 3) & 255;
        data[i * 3 + 2] = (x * y + 5 * k) & 255;
        seg[i] = x > 8 + k && x < 30 && y > 6 && y < 24 ? 1 : 0;
      }
      return {
        image: { width: w, height: h, data },
        objects: [{ objectId: 1, frameIndex: k, segment: seg }],
      };
    }),
  };
}

function run(ts: { apply: (dp: VideoDatapoint, rng: Rng) => VideoDatapoint }[], seed: number) {
  let dp = clip(3);
  const rng = new Rng(seed);
  for (const t of ts) dp = t.apply(dp, rng);
  return { dp, next: rng.nextU32() };
}

const SPECS: TransformSpec[] = [
  { type: "RandomHorizontalFlip", consistent_transform: false, p: 0.5 },
  {
    type: "RandomAffine",
    degrees: 20,
    shear: 10,
    consistent_transform: false,
    image_interpolation: "bilinear",
  },
  { type: "RandomResizeAPI", sizes: [24, 36], square: true, consistent_transform: false },
  {
    type: "ColorJitter",
    consistent_transform: false,
    brightness: 0.2,
    contrast: 0.2,
    saturation: 0.2,
    hue: 0.05,
  },
  { type: "RandomGrayscale", p: 0.3, consistent_transform: false },
  { type: "ToTensorAPI" },
  { type: "NormalizeAPI", mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
];

Deno.test("buildTransforms() (plans run once, flip fused) equals each transform applied on its own", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const a = run(buildTransforms(SPECS), seed);
    const b = run(instantiate(SPECS), seed);
    assertEquals(a.next, b.next, "same number of draws");
    a.dp.frames.forEach((f, t) => {
      const g = b.dp.frames[t];
      assertEquals(f.tensor, g.tensor, `seed ${seed} frame ${t} tensor`);
      assertEquals(f.objects[0].segment, g.objects[0].segment, `seed ${seed} frame ${t} mask`);
      assertEquals((f as PlannedFrame).pixelPlan, undefined);
    });
  }
});

Deno.test("PIXEL_OPS_ON_GPU leaves the drawn ops pending; running them on the CPU gives the same clip", () => {
  const specs = moseTrainTransformSpecs(32);
  for (const seed of [1, 2, 3]) {
    const cpu = run(buildTransforms(specs), seed);
    const pending = run(buildTransforms([...specs, PIXEL_OPS_ON_GPU]), seed);
    assertEquals(pending.next, cpu.next, "same number of draws");
    const f0 = pending.dp.frames[0] as PlannedFrame;
    assert(
      f0.pixelPlan && f0.pixelPlan.ops.at(-1)?.op === "tensor",
      "plan ends with the tensor op",
    );
    assertEquals(f0.image.width, 40, "pixels untouched until the plan runs");
    executePlansCpu(pending.dp);
    pending.dp.frames.forEach((f, t) => {
      assertEquals(f.tensor, cpu.dp.frames[t].tensor);
      assertEquals(f.objects[0].segment, cpu.dp.frames[t].objects[0].segment);
    });
  }
});

Deno.test("RandomAffine.plan() records nothing when the first frame's mask would vanish", () => {
  const dp = clip(2);
  dp.frames[0].objects[0].segment.fill(0);
  dp.frames[0].objects[0].segment[0] = 1; // one corner pixel: a 40 degree turn loses it
  let skipped = 0;
  const plans = framePlans(dp);
  new RandomAffine({ degrees: [40, 40], consistentTransform: true, onSkip: () => skipped++ })
    .plan(dp, new Rng(0), plans);
  assertEquals(skipped, 1);
  assertEquals(plans.map((p) => p.ops.length), [0, 0]);
  new RandomHorizontalFlip({ consistentTransform: true, p: 1 }).plan(dp, new Rng(0), plans);
  assertEquals(plans[1].ops, [{ op: "hflip" }]);
  assertEquals(dp.frames[0].objects[0].segment[39], 1, "masks are flipped at planning time");
});
