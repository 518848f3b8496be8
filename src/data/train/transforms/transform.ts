/**
 * The transform interface: a step that rewrites a clip, drawing all its randomness from the
 * generator it is given (the reference draws from Python's global `random`).
 *
 * @module
 */
import type { Rng } from "../../rng.ts";
import type { VideoDatapoint } from "../datapoint.ts";

/** One step of the augmentation pipeline. */
export interface Transform {
  apply(dp: VideoDatapoint, rng: Rng, epoch?: number): VideoDatapoint;
}
