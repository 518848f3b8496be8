/**
 * Frame and object samplers (`training/dataset/vos_sampler.py`).
 *
 * @module
 */
import type { Rng } from "../rng.ts";
import type { SegmentLoader, VosFrame, VosVideo } from "../raw/types.ts";

/** Tries before giving up on a video whose first frames show no object (reference: 1000). */
export const SAMPLER_MAX_RETRIES = 1000;

/** What a sampler picked: frames in clip order and the object ids to track. */
export interface SampledFramesAndObjects {
  frames: VosFrame[];
  objectIds: number[];
}

/** A way to pick a clip from a video. */
export interface VosSampler {
  sample(video: VosVideo, loader: SegmentLoader, rng: Rng): Promise<SampledFramesAndObjects>;
}

/** Sampling failed for this video (too short, no visible object): the dataset retries another. */
export class SamplingError extends Error {
  override name = "SamplingError";
}

/** Options for {@linkcode RandomUniformSampler}. */
export interface RandomUniformSamplerOptions {
  numFrames: number;
  maxNumObjects: number;
  /** Probability of reversing the clip in time. @default 0 */
  reverseTimeProb?: number;
}

/**
 * `num_frames` consecutive frames from a random start, reversed with `reverse_time_prob`;
 * up to `max_num_objects` objects chosen at random among those visible on the clip's first
 * frame, retrying the start when none is.
 */
export class RandomUniformSampler implements VosSampler {
  readonly numFrames: number;
  readonly maxNumObjects: number;
  readonly reverseTimeProb: number;
  constructor(opts: RandomUniformSamplerOptions) {
    this.numFrames = opts.numFrames;
    this.maxNumObjects = opts.maxNumObjects;
    this.reverseTimeProb = opts.reverseTimeProb ?? 0;
  }

  async sample(video: VosVideo, loader: SegmentLoader, rng: Rng): Promise<SampledFramesAndObjects> {
    for (let retry = 0; retry < SAMPLER_MAX_RETRIES; retry++) {
      if (video.frames.length < this.numFrames) {
        throw new SamplingError(
          `Cannot sample ${this.numFrames} frames from video ${video.videoName} as it only has ${video.frames.length} annotated frames`,
        );
      }
      const start = rng.randrange(0, video.frames.length - this.numFrames + 1);
      let frames = video.frames.slice(start, start + this.numFrames);
      if (rng.uniform(0, 1) < this.reverseTimeProb) frames = frames.reverse();
      const visible = await loader.visibleObjectIds(frames[0].frameIdx);
      if (visible.length > 0) {
        const objectIds = rng.sample(visible, Math.min(visible.length, this.maxNumObjects));
        return { frames, objectIds };
      }
    }
    throw new SamplingError(`No visible objects in video ${video.videoName}`);
  }
}

/** Every frame (sorted by index unless `sortFrames` is false) and every first-frame object. */
export class EvalSampler implements VosSampler {
  readonly sortFrames: boolean;
  constructor(sortFrames = true) {
    this.sortFrames = sortFrames;
  }
  async sample(video: VosVideo, loader: SegmentLoader): Promise<SampledFramesAndObjects> {
    const frames = this.sortFrames
      ? video.frames.slice().sort((a, b) => a.frameIdx - b.frameIdx)
      : video.frames.slice();
    const objectIds = [...(await loader.load(frames[0].frameIdx)).keys()];
    if (objectIds.length === 0) throw new SamplingError("First frame of the video has no objects");
    return { frames, objectIds };
  }
}
