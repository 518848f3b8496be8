/**
 * Photometric augmentations with PIL's uint8 semantics (the reference jitters PIL images):
 * `ImageEnhance` blends `in1 + alpha * (in2 - in1)` in float32 (PIL's `ImagingBlend` takes a
 * C float), truncated to uint8; ITU-R 601-2 luma in 16-bit fixed point for grayscale; hue
 * through PIL's 8-bit HSV. `ColorJitter` (factors U[1-x, 1+x], random order, consistent
 * across the clip or per frame) and `RandomGrayscale`.
 *
 * @module
 */
import type { Rng } from "../../rng.ts";
import type { VideoDatapoint } from "../datapoint.ts";
import type { Transform } from "./transform.ts";
import { applyNow, type FramePlan, type PlannableTransform } from "./plan.ts";

type Range = [number, number];

/** Options for {@linkcode ColorJitter}: x means [max(0, 1-x), 1+x]; hue h means [-h, h]. */
export interface ColorJitterOptions {
  consistentTransform: boolean;
  brightness?: number | Range;
  contrast?: number | Range;
  saturation?: number | Range;
  hue?: number | Range | null;
}

function factorRange(v: number | Range | undefined): Range | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v : [Math.max(0, 1 - v), 1 + v];
}

/** `ColorJitter` of the reference (which always samples all factors it was given). */
export class ColorJitter implements Transform, PlannableTransform {
  readonly brightness: Range | null;
  readonly contrast: Range | null;
  readonly saturation: Range | null;
  readonly hue: Range | null;
  readonly consistent: boolean;
  constructor(opts: ColorJitterOptions) {
    this.consistent = opts.consistentTransform;
    this.brightness = factorRange(opts.brightness);
    this.contrast = factorRange(opts.contrast);
    this.saturation = factorRange(opts.saturation);
    this.hue = opts.hue === undefined || opts.hue === null
      ? null
      : Array.isArray(opts.hue)
      ? opts.hue
      : [-opts.hue, opts.hue];
  }

  /** `T.ColorJitter.get_params`: a random order of the four ops and their factors. */
  params(rng: Rng) {
    const order = rng.permutation(4);
    const u = (r: Range | null) => (r ? rng.uniform(r[0], r[1]) : null);
    return {
      order,
      b: u(this.brightness),
      c: u(this.contrast),
      s: u(this.saturation),
      h: u(this.hue),
    };
  }

  plan(_dp: VideoDatapoint, rng: Rng, plans: FramePlan[]): void {
    let p = this.consistent ? this.params(rng) : undefined;
    for (const plan of plans) {
      if (!this.consistent) p = this.params(rng);
      const steps: [number, number][] = [];
      for (const fn of p!.order) {
        const v = [p!.b, p!.c, p!.s, p!.h][fn];
        if (v !== null) steps.push([fn, v]);
      }
      plan.ops.push({ op: "jitter", steps });
    }
  }

  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    return applyNow(this, dp, rng);
  }
}

/** `RandomGrayscale`: the whole clip (consistent) or each frame with probability p. */
export class RandomGrayscale implements Transform, PlannableTransform {
  readonly p: number;
  readonly consistent: boolean;
  constructor(opts: { consistentTransform: boolean; p?: number }) {
    this.consistent = opts.consistentTransform;
    this.p = opts.p ?? 0.5;
  }
  plan(_dp: VideoDatapoint, rng: Rng, plans: FramePlan[]): void {
    if (this.consistent) {
      if (rng.random() < this.p) { for (const p of plans) p.ops.push({ op: "grayscale" }); }
      return;
    }
    for (const p of plans) if (rng.random() < this.p) p.ops.push({ op: "grayscale" });
  }
  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    return applyNow(this, dp, rng);
  }
}
