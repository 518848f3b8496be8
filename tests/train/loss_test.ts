import { initGpu } from "../../src/gpu/mod.ts";
import type { MultiStepMultiMasksAndIousConfig, SamHeadsOutput } from "../../src/sam2/mod.ts";
import { type Tensor, tensor } from "../../src/tensor/mod.ts";
import { MultiStepMultiMasksAndIous } from "../../src/train/mod.ts";
import { assert, assertAlmostEquals, assertEquals } from "../assert.ts";

const CONFIG: MultiStepMultiMasksAndIousConfig = {
  _target_: "training.loss_fns.MultiStepMultiMasksAndIous",
  weight_dict: { loss_mask: 20, loss_dice: 1, loss_iou: 1, loss_class: 1 },
  focal_alpha: 0.25,
  focal_gamma: 2,
  supervise_all_iou: true,
  iou_use_l1_loss: true,
  pred_obj_scores: true,
  focal_gamma_obj_score: 0,
  focal_alpha_obj_score: -1,
};

/** Deterministic pseudo-random values in [-a, a]. */
function values(n: number, seed: number, a = 4): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 * 2 - 1) * a;
  });
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const bce = (x: number, t: number) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));

/** loss_fns.py in float64 for one step: per-object (mask, dice, iou, class) sums. */
function refStep(
  x: Float64Array,
  ious: Float64Array,
  score: Float64Array,
  gt: Uint8Array,
  o: number,
  m: number,
  hw: number,
  n: number,
) {
  let mask = 0, dice = 0, iou = 0, cls = 0;
  for (let b = 0; b < o; b++) {
    const g = gt.subarray(b * hw, (b + 1) * hw);
    const present = g.some((v) => v > 0) ? 1 : 0;
    const f: number[] = [], d: number[] = [], l: number[] = [];
    for (let k = 0; k < m; k++) {
      let fs = 0, inter = 0, ps = 0, ts = 0, ai = 0, au = 0;
      for (let i = 0; i < hw; i++) {
        const v = x[(b * m + k) * hw + i], t = g[i], p = sig(v);
        const pt = p * t + (1 - p) * (1 - t);
        fs += (0.25 * t + 0.75 * (1 - t)) * bce(v, t) * (1 - pt) ** 2;
        inter += p * t, ps += p, ts += t;
        ai += v > 0 && t > 0 ? 1 : 0, au += v > 0 || t > 0 ? 1 : 0;
      }
      f.push(fs / hw / n);
      d.push((1 - (2 * inter + 1) / (ps + ts + 1)) / n);
      l.push(Math.abs(ious[b * m + k] - ai / Math.max(au, 1)) / n);
    }
    let best = 0;
    for (let k = 1; k < m; k++) if (20 * f[k] + d[k] < 20 * f[best] + d[best]) best = k;
    mask += f[best] * present, dice += d[best] * present;
    iou += (l.reduce((a, c) => a + c, 0) / m) * present;
    cls += bce(score[b], present) / n;
  }
  return { mask, dice, iou, cls };
}

function step(
  x: Float64Array,
  o: number,
  m: number,
  h: number,
  ious: Float64Array,
  s: Float64Array,
) {
  const hi = tensor(Float32Array.from(x), [o, m, h, h], { requiresGrad: true });
  const io = tensor(Float32Array.from(ious), [o, m], { requiresGrad: true });
  const sc = tensor(Float32Array.from(s), [o, 1], { requiresGrad: true });
  return {
    heads: { highResMultimasks: hi, ious: io, objectScoreLogits: sc } as unknown as SamHeadsOutput,
    hi,
    io,
  };
}

Deno.test("MultiStepMultiMasksAndIous matches loss_fns.py: best-of-3 by 20*focal+dice, IoU on all masks, gating by object presence", async () => {
  await initGpu();
  const o = 2, h = 6, hw = h * h;
  // Object 0 is a 3x3 square, object 1 is absent (no mask supervision, class target 0).
  const gt = new Uint8Array(o * hw);
  for (let y = 1; y < 4; y++) for (let x = 2; x < 5; x++) gt[y * h + x] = 1;
  // Float32 inputs, so the float64 reference sees the same values.
  const f32 = (a: Float64Array) => Float64Array.from(Float32Array.from(a));
  const x3 = f32(values(o * 3 * hw, 1)), x1 = f32(values(o * hw, 2));
  const i3 = f32(values(o * 3, 3, 0.5).map((v) => v + 0.5)), i1 = f32(values(o, 4, 0.5));
  const s3 = f32(Float64Array.from([1.5, 0.3])), s1 = f32(Float64Array.from([-0.7, -2]));
  const a = step(x3, o, 3, h, i3, s3), b = step(x1, o, 1, h, i1, s1);
  const loss = new MultiStepMultiMasksAndIous(CONFIG).forward(
    [{ multistep: [a.heads, b.heads] }],
    [{ data: gt, numObjects: o, height: h, width: h }],
  );
  const r3 = refStep(x3, i3, s3, gt, o, 3, hw, o), r1 = refStep(x1, i1, s1, gt, o, 1, hw, o);
  const want = {
    loss_mask: r3.mask + r1.mask,
    loss_dice: r3.dice + r1.dice,
    loss_iou: r3.iou + r1.iou,
    loss_class: r3.cls + r1.cls,
  };
  const core = 20 * want.loss_mask + want.loss_dice + want.loss_iou + want.loss_class;
  for (const [k, v] of Object.entries({ ...want, core_loss: core })) {
    const got = await (loss as unknown as Record<string, Tensor>)[k].item();
    assertAlmostEquals(got, v, 1e-5 * Math.max(1, Math.abs(v)), k);
  }
  loss.core_loss.backward();
  // The absent object gets no mask gradient; for object 0 only the selected mask does.
  const g = (await a.hi.grad!.toArray()) as Float32Array;
  const nonzero = (b: number, k: number) =>
    g.subarray((b * 3 + k) * hw, (b * 3 + k + 1) * hw).some((v) => v !== 0);
  assertEquals([0, 1, 2].map((k) => nonzero(1, k)), [false, false, false]);
  assertEquals([0, 1, 2].filter((k) => nonzero(0, k)).length, 1);
  // supervise_all_iou: every IoU prediction of the present object is trained, none of the other.
  const gi = (await a.io.grad!.toArray()) as Float32Array;
  assert(gi.subarray(0, 3).every((v) => Math.abs(v) > 0), `IoU grads ${gi}`);
  assertEquals([...gi.subarray(3)], [0, 0, 0]);
});
