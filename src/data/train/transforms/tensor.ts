/**
 * `ToTensorAPI` (uint8 HWC -> float32 CHW in [0, 1]) and `NormalizeAPI` ((x - mean) / std).
 *
 * @module
 */
import { hostBufferPool } from "../buffer_pool.ts";
import type { VideoDatapoint } from "../datapoint.ts";
import type { Transform } from "./transform.ts";

/** Converts each frame's image to a [3, H, W] float32 tensor in [0, 1]. */
export class ToTensorAPI implements Transform {
  apply(dp: VideoDatapoint): VideoDatapoint {
    for (const f of dp.frames) {
      const { width: w, height: h, data } = f.image;
      const n = w * h, t = hostBufferPool.f32(3 * n);
      for (let i = 0; i < n; i++) {
        t[i] = data[i * 3] / 255;
        t[n + i] = data[i * 3 + 1] / 255;
        t[2 * n + i] = data[i * 3 + 2] / 255;
      }
      f.tensor = t;
    }
    return dp;
  }
}

/**
 * `ToTensorAPI` then `NormalizeAPI` in one pass through per-channel tables computed with
 * float32 steps as torch does (`x / 255`, then `(x - mean) / std`).
 */
export class ToTensorNormalize implements Transform {
  readonly luts: Float32Array[];
  constructor(opts: { mean: number[]; std: number[] }) {
    this.luts = [0, 1, 2].map((c) => {
      const lut = new Float32Array(256);
      const m = Math.fround(opts.mean[c]), s = Math.fround(opts.std[c]);
      for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
      return lut;
    });
  }
  apply(dp: VideoDatapoint): VideoDatapoint {
    const [l0, l1, l2] = this.luts;
    for (const f of dp.frames) {
      const { width: w, height: h, data } = f.image;
      const n = w * h, t = hostBufferPool.f32(3 * n);
      for (let i = 0, j = 0; i < n; i++, j += 3) {
        t[i] = l0[data[j]];
        t[n + i] = l1[data[j + 1]];
        t[2 * n + i] = l2[data[j + 2]];
      }
      f.tensor = t;
    }
    return dp;
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
