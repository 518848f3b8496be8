/**
 * Geometric augmentations of `training/dataset/transforms.py`: horizontal flip, random affine
 * (with the "skip when a frame-0 mask vanishes" rule) and resize, applied to the image and
 * every object mask of each frame.
 *
 * @module
 */
import type { Rng } from "../../rng.ts";
import type { DatapointFrame, VideoDatapoint } from "../datapoint.ts";
import type { Transform } from "./transform.ts";
import { applyNow, type FramePlan, type PlannableTransform } from "./plan.ts";
import { hostBufferPool } from "../buffer_pool.ts";
import {
  affineMask,
  hflipBytes,
  inverseAffineMatrix,
  resizeBytes,
  resizeMask,
} from "./resample.ts";

/** Mirrors a frame's image and masks left-right (new arrays; loaders may share the old). */
export function hflipFrame(f: DatapointFrame): void {
  const { width: w, height: h, data } = f.image;
  f.image = { width: w, height: h, data: hflipBytes(data, w, h, 3) };
  hostBufferPool.release(data);
  for (const o of f.objects) {
    const m = hflipBytes(o.segment, w, h, 1);
    hostBufferPool.release(o.segment);
    o.segment = m;
  }
}

/** Options for {@linkcode RandomHorizontalFlip}. */
export interface RandomHorizontalFlipOptions {
  consistentTransform: boolean;
  /** @default 0.5 */
  p?: number;
}

/** `RandomHorizontalFlip`: the whole clip (consistent) or each frame with probability p. */
export class RandomHorizontalFlip implements Transform, PlannableTransform {
  readonly consistent: boolean;
  readonly p: number;
  constructor(opts: RandomHorizontalFlipOptions) {
    this.consistent = opts.consistentTransform;
    this.p = opts.p ?? 0.5;
  }
  plan(dp: VideoDatapoint, rng: Rng, plans: FramePlan[]): void {
    const flip = (i: number) => {
      const f = dp.frames[i], { width: w, height: h } = plans[i];
      for (const o of f.objects) {
        const m = hflipBytes(o.segment, w, h, 1);
        hostBufferPool.release(o.segment);
        o.segment = m;
      }
      plans[i].ops.push({ op: "hflip" });
    };
    if (this.consistent) {
      if (rng.random() < this.p) dp.frames.forEach((_, i) => flip(i));
      return;
    }
    dp.frames.forEach((_, i) => {
      if (rng.random() < this.p) flip(i);
    });
  }
  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    return applyNow(this, dp, rng);
  }
}

/** Options for {@linkcode RandomAffine} (the reference's names and defaults). */
export interface RandomAffineOptions {
  /** Rotation range: d means U[-d, d] degrees, or [min, max]. */
  degrees: number | [number, number];
  consistentTransform: boolean;
  /** Scale range [min, max]; none when absent. */
  scale?: [number, number];
  /** Max translation as fractions of width and height. */
  translate?: [number, number];
  /** Shear: s means x-shear U[-s, s], or [min, max] / [xmin, xmax, ymin, ymax]. */
  shear?: number | number[];
  /** Image fill outside the source. @default [123, 116, 103] */
  imageMean?: [number, number, number];
  /** Attempts before giving up (the clip is then left unchanged). @default 1 */
  numTentatives?: number;
  /** @default "bicubic" */
  imageInterpolation?: "bicubic" | "bilinear";
  /** Called when the affine is skipped because a frame-0 mask would vanish. */
  onSkip?: () => void;
}

interface AffineParams {
  angle: number;
  translate: [number, number];
  scale: number;
  shear: [number, number];
}

/**
 * `RandomAffine`: rotation / shear / scale / translation about the image centre; masks use
 * nearest sampling with fill 0, images the chosen interpolation with fill `imageMean`. If an
 * object's mask on the first frame becomes empty, the attempt is dropped (after
 * `numTentatives` attempts the clip is returned untransformed).
 */
export class RandomAffine implements Transform, PlannableTransform {
  readonly degrees: [number, number];
  readonly shear?: number[];
  readonly opts: RandomAffineOptions;
  constructor(opts: RandomAffineOptions) {
    this.opts = opts;
    this.degrees = Array.isArray(opts.degrees) ? opts.degrees : [-opts.degrees, opts.degrees];
    this.shear = opts.shear === undefined || opts.shear === 0
      ? undefined
      : Array.isArray(opts.shear)
      ? opts.shear
      : [-opts.shear, opts.shear];
  }

  /** torchvision `RandomAffine.get_params`. */
  params(rng: Rng, w: number, h: number): AffineParams {
    const angle = rng.uniform(this.degrees[0], this.degrees[1]);
    let translate: [number, number] = [0, 0];
    if (this.opts.translate) {
      const mx = this.opts.translate[0] * w, my = this.opts.translate[1] * h;
      translate = [Math.round(rng.uniform(-mx, mx)), Math.round(rng.uniform(-my, my))];
    }
    const scale = this.opts.scale ? rng.uniform(this.opts.scale[0], this.opts.scale[1]) : 1;
    let shear: [number, number] = [0, 0];
    if (this.shear) {
      shear = [rng.uniform(this.shear[0], this.shear[1]), 0];
      if (this.shear.length === 4) shear[1] = rng.uniform(this.shear[2], this.shear[3]);
    }
    return { angle, translate, scale, shear };
  }

  plan(dp: VideoDatapoint, rng: Rng, plans: FramePlan[]): void {
    for (let t = 0; t < (this.opts.numTentatives ?? 1); t++) {
      if (this.attempt(dp, rng, plans)) return;
    }
    this.opts.onSkip?.();
  }

  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    return applyNow(this, dp, rng);
  }

  /** One try: masks warped and ops recorded, or false (nothing changed) if a frame-0 mask vanishes. */
  private attempt(dp: VideoDatapoint, rng: Rng, plans: FramePlan[]): boolean {
    const { width: w, height: h } = plans[0];
    let p = this.opts.consistentTransform ? this.params(rng, w, h) : undefined;
    const masks: Uint8Array[][] = [];
    const mats: number[][] = [];
    for (let i = 0; i < dp.frames.length; i++) {
      const f = dp.frames[i], fw = plans[i].width, fh = plans[i].height;
      if (!this.opts.consistentTransform) p = this.params(rng, w, h);
      const m = inverseAffineMatrix(
        [fw * 0.5, fh * 0.5],
        p!.angle,
        p!.translate,
        p!.scale,
        p!.shear,
      );
      const fm: Uint8Array[] = [];
      for (const o of f.objects) {
        const tm = affineMask(o.segment, fw, fh, m);
        if (i === 0 && !tm.some((v) => v !== 0)) {
          hostBufferPool.release(tm);
          for (const ms of masks) for (const x of ms) hostBufferPool.release(x);
          for (const x of fm) hostBufferPool.release(x);
          return false;
        }
        fm.push(tm);
      }
      masks.push(fm);
      mats.push(m);
    }
    const fill = this.opts.imageMean ?? [123, 116, 103];
    const interpolation = this.opts.imageInterpolation ?? "bicubic";
    dp.frames.forEach((f, i) => {
      plans[i].ops.push({ op: "affine", matrix: mats[i], fill, interpolation });
      f.objects.forEach((o, k) => {
        hostBufferPool.release(o.segment);
        o.segment = masks[i][k];
      });
    });
    return true;
  }
}

/** Resizes a frame's masks to `ow` x `oh` (torch's float32 antialiased bilinear, rounded). */
export function resizeFrameMasks(f: DatapointFrame, w: number, h: number, ow: number, oh: number) {
  for (const o of f.objects) {
    const r = resizeMask(o.segment, w, h, ow, oh);
    hostBufferPool.release(o.segment);
    o.segment = r;
  }
}

/** Resizes a frame and its masks to `ow` x `oh` (image as PIL, masks as torch tensors). */
export function resizeFrame(f: DatapointFrame, ow: number, oh: number): void {
  const { width: w, height: h } = f.image;
  if (w === ow && h === oh) return;
  const old = f.image.data;
  f.image = { width: ow, height: oh, data: resizeBytes(old, w, h, 3, ow, oh) };
  hostBufferPool.release(old);
  resizeFrameMasks(f, w, h, ow, oh);
}

/** Size for `size` as the shorter side, capped by `maxSize` (reference `get_size_with_aspect_ratio`). */
export function sizeWithAspectRatio(
  w: number,
  h: number,
  size: number,
  maxSize?: number,
): [number, number] {
  if (maxSize !== undefined) {
    const mn = Math.min(w, h), mx = Math.max(w, h);
    if ((mx / mn) * size > maxSize) size = (maxSize * mn) / mx;
  }
  if ((w <= h && w === size) || (h <= w && h === size)) return [w, h];
  if (w < h) return [Math.round(size), Math.round((size * h) / w)];
  return [Math.round((size * w) / h), Math.round(size)];
}

/** Options for {@linkcode RandomResizeAPI}. */
export interface RandomResizeOptions {
  /** Candidate sizes (shorter side, or the side of the square). */
  sizes: number | number[];
  consistentTransform: boolean;
  maxSize?: number;
  /** Resize to size x size, aspect not kept. @default false */
  square?: boolean;
}

/** `RandomResizeAPI`: a size picked at random per clip (consistent) or per frame. */
export class RandomResizeAPI implements Transform, PlannableTransform {
  readonly sizes: number[];
  readonly opts: RandomResizeOptions;
  constructor(opts: RandomResizeOptions) {
    this.opts = opts;
    this.sizes = typeof opts.sizes === "number" ? [opts.sizes] : opts.sizes;
  }
  private resize(f: DatapointFrame, plan: FramePlan, size: number): void {
    const { width: w, height: h } = plan;
    const [ow, oh] = this.opts.square
      ? [size, size]
      : sizeWithAspectRatio(w, h, size, this.opts.maxSize);
    if (ow === w && oh === h) return;
    resizeFrameMasks(f, w, h, ow, oh);
    plan.ops.push({ op: "resize", width: ow, height: oh });
    plan.width = ow;
    plan.height = oh;
  }
  plan(dp: VideoDatapoint, rng: Rng, plans: FramePlan[]): void {
    if (this.opts.consistentTransform) {
      const size = rng.choice(this.sizes);
      dp.frames.forEach((f, i) => this.resize(f, plans[i], size));
      return;
    }
    dp.frames.forEach((f, i) => this.resize(f, plans[i], rng.choice(this.sizes)));
  }
  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    return applyNow(this, dp, rng);
  }
}
