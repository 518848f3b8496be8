/**
 * A sampled clip on its way through the transforms (the reference's `VideoDatapoint`,
 * `Frame`, `Object` in `training/utils/data_utils.py`), on CPU typed arrays.
 *
 * @module
 */
import type { RgbImage } from "../image/rgb.ts";

/** One object on one frame: its id, original frame index and mask (HxW, 0/1 bytes). */
export interface DatapointObject {
  objectId: number;
  frameIndex: number;
  segment: Uint8Array;
}

/** One frame: the image (RGB uint8 until `ToTensor`, then CHW float32) and its objects. */
export interface DatapointFrame {
  image: RgbImage;
  /**
   * Set by the to-tensor transform: [3, H, W] float32. Never set when the pixel transforms
   * ran on the GPU: those frames went straight into the batch's GPU tensor
   * (`GpuBatchedVideoDatapoint.imgBatch`) and `image` only gives their final size.
   */
  tensor?: Float32Array;
  objects: DatapointObject[];
}

/** A clip of one video. `size` is the original [height, width]. */
export interface VideoDatapoint {
  frames: DatapointFrame[];
  videoId: number;
  size: [number, number];
}
