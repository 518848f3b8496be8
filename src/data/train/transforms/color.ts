/**
 * Photometric augmentations with PIL's uint8 semantics (`ImageEnhance` blends, ITU-R 601-2
 * luma for grayscale): `ColorJitter` (factors U[1-x, 1+x], random order, consistent across
 * the clip or per frame) and `RandomGrayscale`.
 *
 * @module
 */
import type { Rng } from "../../rng.ts";
import type { RgbImage } from "../../image/rgb.ts";
import type { VideoDatapoint } from "../datapoint.ts";
import type { Transform } from "./transform.ts";

/** PIL "L" conversion of one RGB pixel. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

function clip8(v: number): number {
  return v <= 0 ? 0 : v < 256 ? v | 0 : 255;
}

/** 256-entry table of `clip8(base + f * (v - base))` (a PIL blend with a constant). */
function blendLut(base: number, f: number): Uint8Array {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = clip8(base + f * (v - base));
  return lut;
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
  const mean = Math.trunc(sum / (d.length / 3) + 0.5);
  const lut = blendLut(mean, f);
  for (let i = 0; i < d.length; i++) d[i] = lut[d[i]];
}

/** `F.adjust_saturation` on PIL: blend with the pixel's luma (a 256x256 table). */
export function adjustSaturation(img: RgbImage, f: number): void {
  const d = img.data;
  const lut = new Uint8Array(65536);
  for (let l = 0; l < 256; l++) {
    for (let v = 0; v < 256; v++) lut[(l << 8) | v] = clip8(l + f * (v - l));
  }
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    const l = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) << 8;
    d[i] = lut[l | r];
    d[i + 1] = lut[l | g];
    d[i + 2] = lut[l | b];
  }
}

/** `F.adjust_hue`: shifts hue by `h` turns (in [-0.5, 0.5]) in HSV space. */
export function adjustHue(img: RgbImage, hShift: number): void {
  const d = img.data;
  for (let i = 0; i < d.length; i += 3) {
    const r = d[i] / 255, g = d[i + 1] / 255, b = d[i + 2] / 255;
    const mx = Math.max(r, g, b), mn = Math.min(r, g, b), c = mx - mn;
    let h = 0;
    if (c > 0) {
      if (mx === r) h = ((g - b) / c) % 6;
      else if (mx === g) h = (b - r) / c + 2;
      else h = (r - g) / c + 4;
      h /= 6;
    }
    h = (((h + hShift) % 1) + 1) % 1;
    const s = mx === 0 ? 0 : c / mx, v = mx;
    const k = (n: number) => (n + h * 6) % 6;
    const f = (n: number) => v - v * s * Math.max(0, Math.min(k(n), 4 - k(n), 1));
    d[i] = Math.round(f(5) * 255);
    d[i + 1] = Math.round(f(3) * 255);
    d[i + 2] = Math.round(f(1) * 255);
  }
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
export class ColorJitter implements Transform {
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

  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    let p = this.consistent ? this.params(rng) : undefined;
    for (const f of dp.frames) {
      if (!this.consistent) p = this.params(rng);
      for (const fn of p!.order) {
        if (fn === 0 && p!.b !== null) adjustBrightness(f.image, p!.b);
        else if (fn === 1 && p!.c !== null) adjustContrast(f.image, p!.c);
        else if (fn === 2 && p!.s !== null) adjustSaturation(f.image, p!.s);
        else if (fn === 3 && p!.h !== null) adjustHue(f.image, p!.h);
      }
    }
    return dp;
  }
}

/** `RandomGrayscale`: the whole clip (consistent) or each frame with probability p. */
export class RandomGrayscale implements Transform {
  readonly p: number;
  readonly consistent: boolean;
  constructor(opts: { consistentTransform: boolean; p?: number }) {
    this.consistent = opts.consistentTransform;
    this.p = opts.p ?? 0.5;
  }
  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    if (this.consistent) {
      if (rng.random() < this.p) { for (const f of dp.frames) toGrayscale(f.image); }
      return dp;
    }
    for (const f of dp.frames) if (rng.random() < this.p) toGrayscale(f.image);
    return dp;
  }
}
