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
import type { RgbImage } from "../../image/rgb.ts";
import type { VideoDatapoint } from "../datapoint.ts";
import type { Transform } from "./transform.ts";
import { applyNow, type FramePlan, type PlannableTransform } from "./plan.ts";

/** PIL "L" conversion of one RGB pixel. */
export function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

const f32 = Math.fround;

/**
 * PIL `ImagingBlend` of one byte: `(float)in1 + alpha * (in2 - in1)` with a float32 alpha,
 * clipped to [0, 255] and truncated.
 */
export function blend8(in1: number, in2: number, alpha: number): number {
  const v = f32(in1 + f32(f32(alpha) * (in2 - in1)));
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
}

/** 256-entry table of a PIL blend of every byte with the constant `base`. */
export function blendLut(base: number, f: number): Uint8Array {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = blend8(base, v, f);
  return lut;
}

/** 65536-entry table [luma << 8 | v] of the saturation blend (`ImageEnhance.Color`). */
export function saturationLut(f: number): Uint8Array {
  const sat = new Uint8Array(65536);
  for (let l = 0; l < 256; l++) {
    for (let v = 0; v < 256; v++) sat[(l << 8) | v] = blend8(l, v, f);
  }
  return sat;
}

/** PIL's contrast degenerate value: the mean "L" of the image, rounded (`ImageStat`). */
export function contrastMean(lumaSum: number, pixels: number): number {
  return Math.trunc(lumaSum / pixels + 0.5);
}

/** `F.adjust_brightness` on PIL: blend with black. */
export function adjustBrightness(img: RgbImage, f: number): void {
  const d = img.data, lut = blendLut(0, f);
  for (let i = 0; i < d.length; i++) d[i] = lut[d[i]];
}

/** `F.adjust_contrast` on PIL: blend with the rounded mean luma. */
export function adjustContrast(img: RgbImage, f: number): void {
  const d = img.data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 3) sum += luma(d[i], d[i + 1], d[i + 2]);
  const lut = blendLut(contrastMean(sum, d.length / 3), f);
  for (let i = 0; i < d.length; i++) d[i] = lut[d[i]];
}

/** `F.adjust_saturation` on PIL: blend with the pixel's luma (a 256x256 table). */
export function adjustSaturation(img: RgbImage, f: number): void {
  const d = img.data;
  const lut = saturationLut(f);
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    const l = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) << 8;
    d[i] = lut[l | r];
    d[i + 1] = lut[l | g];
    d[i + 2] = lut[l | b];
  }
}

/**
 * `F.adjust_hue` on PIL: to 8-bit HSV (`rgb2hsv`, float32 steps), hue byte plus
 * `uint8(h * 255)` modulo 256, back to RGB (`hsv2rgb`).
 */
export function adjustHue(img: RgbImage, hShift: number): void {
  const d = img.data;
  const shift = ((Math.trunc(hShift * 255) % 256) + 256) % 256;
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    const mx = Math.max(r, g, b), mn = Math.min(r, g, b);
    if (mx === mn) continue; // s = 0: grey stays grey whatever the hue
    const cr = f32(mx - mn);
    const s = f32(cr / mx);
    const rc = f32((mx - r) / cr), gc = f32((mx - g) / cr), bc = f32((mx - b) / cr);
    let h = r === mx ? f32(bc - gc) : g === mx ? f32(2 + rc - bc) : f32(4 + gc - rc);
    h = f32((h / 6 + 1) % 1);
    const uh = (Math.max(0, Math.min(255, Math.trunc(h * 255))) + shift) & 255;
    const us = Math.max(0, Math.min(255, Math.trunc(s * 255)));
    if (us === 0) {
      d[i] = d[i + 1] = d[i + 2] = mx;
      continue;
    }
    const hi = Math.floor((uh * 6) / 255);
    const fr = f32((uh * 6) / 255 - hi);
    const fs = f32(us / 255);
    const c8 = (v: number) => Math.max(0, Math.min(255, roundHalfAway(v)));
    const p = c8(mx * (1 - fs));
    const q = c8(mx * (1 - f32(fs * fr)));
    const t = c8(mx * (1 - fs * (1 - fr)));
    const v = mx;
    const rgb = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][hi % 6];
    d[i] = rgb[0];
    d[i + 1] = rgb[1];
    d[i + 2] = rgb[2];
  }
}

function roundHalfAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** `T.Grayscale(3)`: luma replicated on the three channels. */
export function toGrayscale(img: RgbImage): void {
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const l = luma(d[i], d[i + 1], d[i + 2]);
    d[i] = d[i + 1] = d[i + 2] = l;
  }
}

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

/**
 * Applies jitter ops in order with the same uint8 results as running them one by one, but
 * with fewer passes: per-channel maps (brightness, contrast) are composed into one table that
 * is applied together with the next saturation / hue step, or at the end.
 */
export function applyJitter(img: RgbImage, ops: [number, number][]): void {
  const d = img.data;
  let lut: Uint8Array | null = null; // pending per-channel map
  const compose = (next: Uint8Array) => {
    if (!lut) lut = next;
    else for (let v = 0; v < 256; v++) lut[v] = next[lut[v]];
  };
  const flush = () => {
    if (!lut) return;
    const l = lut;
    for (let i = 0; i < d.length; i++) d[i] = l[d[i]];
    lut = null;
  };
  for (const [fn, f] of ops) {
    if (fn === 0) compose(blendLut(0, f));
    else if (fn === 1) {
      let sum = 0;
      if (lut) {
        const l: Uint8Array = lut;
        for (let i = 0; i < d.length; i += 3) sum += luma(l[d[i]], l[d[i + 1]], l[d[i + 2]]);
      } else for (let i = 0; i < d.length; i += 3) sum += luma(d[i], d[i + 1], d[i + 2]);
      compose(blendLut(contrastMean(sum, d.length / 3), f));
    } else if (fn === 2) {
      const sat = saturationLut(f);
      const pre: Uint8Array = lut ?? identityLut;
      for (let i = 0; i < d.length; i += 3) {
        const r = pre[d[i]], g = pre[d[i + 1]], b = pre[d[i + 2]];
        const l = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) << 8;
        d[i] = sat[l | r];
        d[i + 1] = sat[l | g];
        d[i + 2] = sat[l | b];
      }
      lut = null;
    } else if (fn === 3) {
      flush();
      adjustHue(img, f);
    }
  }
  flush();
}

const identityLut = Uint8Array.from({ length: 256 }, (_, i) => i);

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
