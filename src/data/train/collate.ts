/**
 * Collation of clips into the batch the model trains on (`training/utils/data_utils.py::
 * collate_fn` and `BatchedVideoDatapoint`), as flat typed arrays with their shapes; when the
 * pixel transforms ran on the GPU, the images can stay there as one tensor
 * ({@linkcode GpuBatchedVideoDatapoint}) and only masks and indices are on the host.
 *
 * @module
 */
import { Tensor } from "../../tensor/tensor.ts";
import { hostBufferPool } from "./buffer_pool.ts";
import type { VideoDatapoint } from "./datapoint.ts";

/** A batch of B clips of T frames with O objects in total per frame. */
export interface BatchedVideoDatapoint {
  /** [T, B, 3, H, W] float32, normalised images. */
  imgBatch: Float32Array;
  /** [T, O, 2] int32: (t, video index in batch) of each object. */
  objToFrameIdx: Int32Array;
  /** [T, O, H, W] 0/1 bytes. */
  masks: Uint8Array;
  metadata: {
    /** [T, O, 3] int32: (video id, object id, original frame index). */
    uniqueObjectsIdentifier: Int32Array;
    /** [T, O, 2] int32: original (height, width). */
    frameOrigSize: Int32Array;
  };
  dictKey: string;
  numFrames: number;
  numVideos: number;
  numObjects: number;
  height: number;
  width: number;
}

/**
 * A batch whose pixel transforms ran on the GPU (`ClipLoaderOptions.imagesOnGpu`): the same
 * fields as {@linkcode BatchedVideoDatapoint}, but the images never came back to the host.
 * `imgBatch` is the [T, B, 3, H, W] float32 tensor the model takes as is.
 *
 * Ownership: the tensor belongs to whoever consumes the batch (it is `keep`-ed, so no scope
 * frees it by accident). A training step takes it over (the SAM 2 task adopts it into the
 * step's `tidyAsync` scope, which frees it when the step ends, as the input tensor it would
 * otherwise upload); {@linkcode recycleBatch} frees it too, so a batch never stepped on does
 * not hold GPU memory either.
 */
export interface GpuBatchedVideoDatapoint extends Omit<BatchedVideoDatapoint, "imgBatch"> {
  /** [T, B, 3, H, W] float32 GPU tensor, normalised images. */
  imgBatch: Tensor;
}

/** What a loader yields: images on the host, or on the GPU when the pixels ran there. */
export type LoaderBatch = BatchedVideoDatapoint | GpuBatchedVideoDatapoint;

/** Whether a batch carries its images as a GPU tensor. */
export function isGpuBatch(b: LoaderBatch): b is GpuBatchedVideoDatapoint {
  return b.imgBatch instanceof Tensor;
}

/**
 * Stacks clips: all must have the same frame count and tensor size, and each clip the same
 * objects on every frame (true for `VosDataset` with `alwaysTarget`).
 *
 * @throws {RangeError} when clips do not line up.
 */
export function collateBatch(
  batch: VideoDatapoint[],
  dictKey = "all",
  opts: CollateOptions = {},
): BatchedVideoDatapoint {
  const rest = collateTargets(batch, dictKey, true);
  const { numFrames: T, numVideos: B, height: H, width: W } = rest;
  const plane = 3 * H * W;
  const imgBatch = hostBufferPool.f32(T * B * plane);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) imgBatch.set(batch[b].frames[t].tensor!, (t * B + b) * plane);
  }
  if (opts.recycleClips ?? true) { for (const v of batch) recycleDatapoint(v); }
  return { imgBatch, ...rest };
}

/**
 * Collates clips whose images the GPU already wrote into `images` ([T, B, 3, H, W] float32,
 * clip b at index b of dim 1, e.g. by `GpuPixelPipeline.run(dp, { out: images, batchIndex:
 * b })`): masks, indices and metadata as {@linkcode collateBatch}, the images left where they
 * are. The clips' frames carry no tensors; their `image` gives the final size.
 *
 * @throws {RangeError} when clips do not line up or `images` is not [T, B, 3, H, W] float32.
 */
export function collateGpuBatch(
  batch: VideoDatapoint[],
  images: Tensor,
  dictKey = "all",
): GpuBatchedVideoDatapoint {
  const rest = collateTargets(batch, dictKey, false);
  const want = [rest.numFrames, rest.numVideos, 3, rest.height, rest.width];
  if (images.shape.join() !== want.join() || images.dtype !== "f32") {
    throw new RangeError(
      `collateGpuBatch: images are ${images.dtype} [${images.shape}], the clips need f32 ` +
        `[${want}]`,
    );
  }
  return { imgBatch: images, ...rest };
}

/** Everything of a batch but its images; checks the clips line up. */
function collateTargets(
  batch: VideoDatapoint[],
  dictKey: string,
  needTensors: boolean,
): Omit<BatchedVideoDatapoint, "imgBatch"> {
  if (batch.length === 0) throw new RangeError("Cannot collate an empty batch");
  const T = batch[0].frames.length;
  const f0 = batch[0].frames[0];
  const H = f0.image.height, W = f0.image.width, B = batch.length;
  const perVideo = batch.map((v, b) => {
    if (v.frames.length !== T) {
      throw new RangeError(`Clip ${b} has ${v.frames.length} frames, clip 0 has ${T}`);
    }
    const n = v.frames[0].objects.length;
    for (const f of v.frames) {
      if (needTensors && !f.tensor) {
        throw new RangeError(`Clip ${b} has no tensors: add ToTensorAPI to its transforms`);
      }
      if (f.image.height !== H || f.image.width !== W) {
        throw new RangeError(
          `Clip ${b} frames are ${f.image.width}x${f.image.height}, clip 0 is ${W}x${H}`,
        );
      }
      if (f.objects.length !== n) throw new RangeError(`Clip ${b} has a varying number of objects`);
    }
    return n;
  });
  const O = perVideo.reduce((a, b) => a + b, 0);
  const hw = H * W;
  const objToFrameIdx = new Int32Array(T * O * 2);
  const masks = hostBufferPool.u8(T * O * hw);
  const ids = new Int32Array(T * O * 3);
  const sizes = new Int32Array(T * O * 2);
  for (let t = 0; t < T; t++) {
    let o = 0;
    for (let b = 0; b < B; b++) {
      const v = batch[b], f = v.frames[t];
      for (const obj of f.objects) {
        const k = t * O + o;
        objToFrameIdx[k * 2] = t;
        objToFrameIdx[k * 2 + 1] = b;
        masks.set(obj.segment, k * hw);
        ids[k * 3] = v.videoId;
        ids[k * 3 + 1] = obj.objectId;
        ids[k * 3 + 2] = obj.frameIndex;
        sizes[k * 2] = v.size[0];
        sizes[k * 2 + 1] = v.size[1];
        o++;
      }
    }
  }
  return {
    objToFrameIdx,
    masks,
    metadata: { uniqueObjectsIdentifier: ids, frameOrigSize: sizes },
    dictKey,
    numFrames: T,
    numVideos: B,
    numObjects: O,
    height: H,
    width: W,
  };
}

/** Options for {@linkcode collateBatch}. */
export interface CollateOptions {
  /** Give the clips' pool buffers back once copied (the clips are unusable after). @default true */
  recycleClips?: boolean;
}

/** Gives a clip's pooled buffers (images, tensors, masks) back to this thread's pool. */
export function recycleDatapoint(dp: VideoDatapoint): void {
  for (const f of dp.frames) {
    hostBufferPool.release(f.image.data);
    if (f.tensor) hostBufferPool.release(f.tensor);
    for (const o of f.objects) hostBufferPool.release(o.segment);
  }
}

/**
 * Gives a batch's buffers back to this thread's pool once the consumer is done with it; a GPU
 * batch's image tensor is disposed (a no-op when a training step already freed it).
 */
export function recycleBatch(b: LoaderBatch): void {
  if (isGpuBatch(b)) b.imgBatch.dispose();
  else hostBufferPool.release(b.imgBatch);
  hostBufferPool.release(b.masks);
}

/** `flat_obj_to_img_idx`: index of each object's image in the video-major flat batch [B*T]. */
export function flatObjToImgIdx(b: LoaderBatch): Int32Array {
  const out = new Int32Array(b.numFrames * b.numObjects);
  for (let k = 0; k < out.length; k++) {
    out[k] = b.objToFrameIdx[k * 2 + 1] * b.numFrames + b.objToFrameIdx[k * 2];
  }
  return out;
}

/** `flat_img_batch`: images reordered video-major, [B*T, 3, H, W]. */
export function flatImgBatch(b: BatchedVideoDatapoint): Float32Array {
  const plane = 3 * b.height * b.width;
  const out = new Float32Array(b.imgBatch.length);
  for (let t = 0; t < b.numFrames; t++) {
    for (let v = 0; v < b.numVideos; v++) {
      out.set(
        b.imgBatch.subarray((t * b.numVideos + v) * plane, (t * b.numVideos + v + 1) * plane),
        (v * b.numFrames + t) * plane,
      );
    }
  }
  return out;
}
