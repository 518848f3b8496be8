/**
 * The shapes every raw dataset hands to the sampler: a video is a list of frames (index +
 * image path) and a segment loader gives object masks per frame (the reference's `VOSVideo`,
 * `VOSFrame` and `*SegmentLoader`).
 *
 * @module
 */
import type { BinaryMask } from "../rle/rle.ts";

/** One frame of a video: its original frame index and the image file. */
export interface VosFrame {
  frameIdx: number;
  imagePath: string;
}

/** A video of a raw dataset (`VOSVideo`). */
export interface VosVideo {
  videoName: string;
  /** Numeric id (index in the dataset, or the SA-1B image id). */
  videoId: number;
  frames: VosFrame[];
}

/** Masks of one frame by object id; `null` marks an object not annotated on that frame. */
export type FrameSegments = Map<number, BinaryMask | null>;

/** Loads object masks for frames of one video. */
export interface SegmentLoader {
  /** Masks of frame `frameIdx`, restricted to `objIds` when given (JSON / SA-1B loaders). */
  load(frameIdx: number, objIds?: readonly number[]): Promise<FrameSegments>;
  /**
   * Objects the sampler may pick on this frame: non-empty masks, or every kept annotation
   * for SA-1B (the reference's `LazySegments` shortcut).
   */
  visibleObjectIds(frameIdx: number): Promise<number[]>;
}

/** A raw dataset: names of its videos and a way to open one. */
export interface VosRawDataset {
  readonly videoNames: readonly string[];
  getVideo(idx: number): Promise<{ video: VosVideo; segmentLoader: SegmentLoader }>;
}

/** Bad dataset content (annotation, folder layout): the message names the file. */
export class DatasetError extends Error {
  override name = "DatasetError";
  /** The offending file or folder. */
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.file = file;
  }
}
