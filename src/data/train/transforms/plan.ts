/**
 * Pixel plans: the transforms draw their random parameters and transform the masks on the CPU,
 * and record what they do to each frame's pixels as a list of ops with explicit parameters.
 * The same plan then runs on the CPU ({@linkcode executeFramePlanCpu}) or on the GPU
 * (`GpuPixelPipeline`), so both paths draw the same numbers from the same generator.
 *
 * @module
 */
import type { Rng } from "../../rng.ts";
import type { DatapointFrame, VideoDatapoint } from "../datapoint.ts";
import { hostBufferPool } from "../buffer_pool.ts";
import { applyJitter, toGrayscale } from "./color_ops.ts";
import { hflipBytes } from "./resample.ts";
import { affineRgb, resizeBytes } from "./resample.ts";
import { toTensorLuts, toTensorNormalize } from "./tensor_ops.ts";
import type { Transform } from "./transform.ts";

/** Colour jitter op ids, as in torchvision's `ColorJitter.get_params` order. */
export const JITTER_BRIGHTNESS = 0, JITTER_CONTRAST = 1, JITTER_SATURATION = 2, JITTER_HUE = 3;

/** One pixel op with all its parameters drawn. */
export type ImageOp =
  | { op: "hflip" }
  | {
    op: "affine";
    /** Inverse matrix (output -> input), PIL convention, 2x3 row-major. */
    matrix: number[];
    fill: [number, number, number];
    interpolation: "bilinear" | "bicubic";
  }
  | { op: "resize"; width: number; height: number }
  /** Jitter steps in order: [op id, factor]. */
  | { op: "jitter"; steps: [number, number][] }
  | { op: "grayscale" }
  /** `ToTensorAPI` (+ `NormalizeAPI` when mean/std are set): the last op of a plan. */
  | { op: "tensor"; mean?: number[]; std?: number[] };

/** A frame's pending pixel ops and the size its image has after them. */
export interface FramePlan {
  width: number;
  height: number;
  ops: ImageOp[];
}

/** A frame that may carry a pending plan (plain data, so it crosses Worker boundaries). */
export interface PlannedFrame extends DatapointFrame {
  pixelPlan?: FramePlan;
}

/** A transform that can record its pixel work instead of doing it. */
export interface PlannableTransform extends Transform {
  /**
   * Draws exactly what `apply` draws, transforms the masks, and appends pixel ops to `plans`
   * (one per frame, holding the frames' current logical sizes).
   */
  plan(dp: VideoDatapoint, rng: Rng, plans: FramePlan[]): void;
}

/** Whether `t` can record a plan. */
export function isPlannable(t: Transform): t is PlannableTransform {
  return typeof (t as Partial<PlannableTransform>).plan === "function";
}

/** The frames' plans, created (empty, at the image size) where missing. */
export function framePlans(dp: VideoDatapoint): FramePlan[] {
  return dp.frames.map((f: PlannedFrame) =>
    f.pixelPlan ??= { width: f.image.width, height: f.image.height, ops: [] }
  );
}

const lutCache = new Map<string, Float32Array[]>();
function lutsFor(mean?: number[], std?: number[]): Float32Array[] {
  const key = JSON.stringify([mean, std]);
  let l = lutCache.get(key);
  if (!l) lutCache.set(key, l = toTensorLuts(mean, std));
  return l;
}

/**
 * Runs a frame's pending plan on the CPU and clears it. A flip followed by an affine warp is
 * done in one pass (the warp reads the source mirrored: the same bytes, no copy).
 */
export function executeFramePlanCpu(f: PlannedFrame): void {
  const plan = f.pixelPlan;
  if (!plan) return;
  delete f.pixelPlan;
  let flip = false;
  const set = (data: Uint8Array, width: number, height: number) => {
    hostBufferPool.release(f.image.data);
    f.image = { width, height, data };
  };
  const materialiseFlip = () => {
    if (!flip) return;
    flip = false;
    set(hflipBytes(f.image.data, f.image.width, f.image.height, 3), f.image.width, f.image.height);
  };
  for (const op of plan.ops) {
    const { width: w, height: h } = f.image;
    switch (op.op) {
      case "hflip":
        flip = !flip;
        break;
      case "affine":
        set(affineRgb(f.image.data, w, h, op.matrix, op.fill, op.interpolation, flip), w, h);
        flip = false;
        break;
      case "resize":
        materialiseFlip();
        if (op.width !== w || op.height !== h) {
          set(resizeBytes(f.image.data, w, h, 3, op.width, op.height), op.width, op.height);
        }
        break;
      case "jitter":
        materialiseFlip();
        applyJitter(f.image, op.steps);
        break;
      case "grayscale":
        materialiseFlip();
        toGrayscale(f.image);
        break;
      case "tensor":
        materialiseFlip();
        f.tensor = toTensorNormalize(f.image, lutsFor(op.mean, op.std));
        break;
    }
  }
  materialiseFlip();
}

/** Runs every frame's pending plan on the CPU. */
export function executePlansCpu(dp: VideoDatapoint): VideoDatapoint {
  for (const f of dp.frames) executeFramePlanCpu(f);
  return dp;
}

/** Applies a plannable transform now: plan, then run the plan on the CPU. */
export function applyNow(t: PlannableTransform, dp: VideoDatapoint, rng: Rng): VideoDatapoint {
  executePlansCpu(dp); // anything left pending by an earlier deferred step comes first
  t.plan(dp, rng, framePlans(dp));
  return executePlansCpu(dp);
}

/** Options for {@linkcode deferPixelWork}. */
export interface DeferPixelWorkOptions {
  /**
   * Leave the plans pending at the end (for the GPU); otherwise a last step runs them on the
   * CPU. @default false
   */
  leavePending?: boolean;
}

/**
 * Wraps a pipeline so that plannable transforms only record pixel ops and the pixel work runs
 * once, after the last step (on the CPU, or later on the GPU with `leavePending`). A transform that
 * cannot plan (e.g. the mosaic) first has the pending ops run on the CPU, then applies as usual.
 */
export function deferPixelWork(ts: Transform[], opts: DeferPixelWorkOptions = {}): Transform[] {
  const out: Transform[] = ts.map((t): Transform => {
    if (isPlannable(t)) {
      return {
        apply(dp, rng) {
          t.plan(dp, rng, framePlans(dp));
          return dp;
        },
      };
    }
    return {
      apply(dp, rng, epoch) {
        return t.apply(executePlansCpu(dp), rng, epoch);
      },
    };
  });
  if (!opts.leavePending && out.length > 0) {
    // the last step also runs the plans (one list entry per transform, as configured)
    const last = out[out.length - 1];
    out[out.length - 1] = {
      apply: (dp, rng, epoch) => executePlansCpu(last.apply(dp, rng, epoch)),
    };
  }
  return out;
}
