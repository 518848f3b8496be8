/**
 * The pixel work of the photometric transforms, on uint8 RGB with PIL's semantics: blends in
 * float32 truncated to uint8 (`ImagingBlend`), ITU-R 601-2 luma in 16-bit fixed point, hue
 * through 8-bit HSV. Kept apart from the transforms (color.ts), which only draw parameters and
 * record plans that these functions execute.
 *
 * @module
 */
import type { RgbImage } from "../../image/rgb.ts";

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
