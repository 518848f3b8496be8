/**
 * `ToTensorAPI` (uint8 HWC -> float32 CHW in [0, 1]) and `NormalizeAPI` ((x - mean) / std).
 *
 * @module
 */
import { hostBufferPool } from "../buffer_pool.ts";
import type { VideoDatapoint } from "../datapoint.ts";
import type { Transform } from "./transform.ts";
import { applyNow, type FramePlan, type PlannableTransform } from "./plan.ts";
import type { Rng } from "../../rng.ts";

/**
 * Per-channel tables of `F.normalize(F.to_tensor(x))` for every byte value, in torch's float32
 * steps (`x / 255`, then `(x - mean) / std`); without mean/std, only `x / 255`.
 */
export function toTensorLuts(mean?: number[], std?: number[]): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      const x = Math.fround(v / 255);
      lut[v] = mean && std
        ? Math.fround(Math.fround(x - Math.fround(mean[c])) / Math.fround(std[c]))
        : x;
    }
    return lut;
  });
}

/** An RGB uint8 HWC image to a [3, H, W] float32 tensor through {@linkcode toTensorLuts}. */
export function toTensorNormalize(
  img: { width: number; height: number; data: Uint8Array },
  luts: Float32Array[],
  out?: Float32Array,
): Float32Array {
  const n = img.width * img.height, d = img.data;
  const t = out ?? hostBufferPool.f32(3 * n);
  const [l0, l1, l2] = luts;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    t[i] = l0[d[j]];
    t[n + i] = l1[d[j + 1]];
    t[2 * n + i] = l2[d[j + 2]];
  }
  return t;
}

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
