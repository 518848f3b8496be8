/**
 * `ToTensorAPI` (uint8 HWC -> float32 CHW in [0, 1]) and `NormalizeAPI` ((x - mean) / std).
 *
 * @module
 */
import type { VideoDatapoint } from "../datapoint.ts";
import type { Transform } from "./transform.ts";
import { applyNow, type FramePlan, type PlannableTransform } from "./plan.ts";
import { toTensorLuts } from "./tensor_ops.ts";
import type { Rng } from "../../rng.ts";

/** Converts each frame's image to a [3, H, W] float32 tensor in [0, 1]. */
export class ToTensorAPI implements Transform, PlannableTransform {
  plan(_dp: VideoDatapoint, _rng: unknown, plans: FramePlan[]): void {
    for (const p of plans) p.ops.push({ op: "tensor" });
  }
  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    return applyNow(this, dp, rng);
  }
}

/**
 * `ToTensorAPI` then `NormalizeAPI` in one pass through per-channel tables computed with
 * float32 steps as torch does (`x / 255`, then `(x - mean) / std`).
 */
export class ToTensorNormalize implements Transform, PlannableTransform {
  readonly luts: Float32Array[];
  readonly mean: number[];
  readonly std: number[];
  constructor(opts: { mean: number[]; std: number[] }) {
    this.luts = toTensorLuts(opts.mean, opts.std);
    this.mean = opts.mean;
    this.std = opts.std;
  }
  plan(_dp: VideoDatapoint, _rng: unknown, plans: FramePlan[]): void {
    for (const p of plans) p.ops.push({ op: "tensor", mean: this.mean, std: this.std });
  }
  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    return applyNow(this, dp, rng);
  }
}

/** Normalises each channel of the frame tensors. */
export class NormalizeAPI implements Transform {
  readonly mean: number[];
  readonly std: number[];
  constructor(opts: { mean: number[]; std: number[] }) {
    this.mean = opts.mean;
    this.std = opts.std;
  }
  apply(dp: VideoDatapoint): VideoDatapoint {
    for (const f of dp.frames) {
      if (!f.tensor) throw new Error("NormalizeAPI needs ToTensorAPI first");
      const n = f.image.width * f.image.height;
      for (let c = 0; c < 3; c++) {
        const m = this.mean[c], s = this.std[c];
        const ms = Math.fround(m), ss = Math.fround(s);
        for (let i = c * n; i < (c + 1) * n; i++) f.tensor[i] = (f.tensor[i] - ms) / ss;
      }
    }
    return dp;
  }
}
