/**
 * A map-style training dataset of clips (`training/dataset/vos_dataset.py::VOSDataset`):
 * opens a raw video, samples frames and objects, loads images and masks, runs transforms.
 *
 * @module
 */
import { decodeRgb, type RgbImage } from "../image/rgb.ts";
import type { Rng } from "../rng.ts";
import type { SegmentLoader, VosRawDataset } from "../raw/types.ts";
import type { SampledFramesAndObjects, VosSampler } from "./sampler.ts";
import type { DatapointFrame, VideoDatapoint } from "./datapoint.ts";
import type { Transform } from "./transforms/transform.ts";

/** Videos tried before a training sample fails (reference: 100). */
export const DATASET_MAX_RETRIES = 100;

/** Options for {@linkcode VosDataset}. */
export interface VosDatasetOptions {
  videoDataset: VosRawDataset;
  sampler: VosSampler;
  transforms: Transform[];
  /** Training retries another random video when sampling fails. @default true */
  training?: boolean;
  /** Repeat factor of every video. @default 1 */
  multiplier?: number;
  /** A sampled object missing on a frame gets an all-zero mask (else it is dropped). @default true */
  alwaysTarget?: boolean;
  /** Called on each retried failure (the reference logs a warning). */
  onRetry?: (idx: number, error: Error) => void;
}

/** Clips from a raw dataset, one per index, all randomness from the generator passed in. */
export class VosDataset {
  readonly opts: VosDatasetOptions;
  readonly repeatFactors: Float64Array;
  constructor(opts: VosDatasetOptions) {
    this.opts = opts;
    this.repeatFactors = new Float64Array(opts.videoDataset.videoNames.length).fill(
      opts.multiplier ?? 1,
    );
  }

  get length(): number {
    return this.opts.videoDataset.videoNames.length;
  }

  /** The transformed clip for video `idx` (another random video on failure when training). */
  async get(idx: number, rng: Rng, epoch = 0): Promise<VideoDatapoint> {
    const o = this.opts;
    let lastErr: Error | undefined;
    for (let retry = 0; retry < DATASET_MAX_RETRIES; retry++) {
      try {
        const { video, segmentLoader } = await o.videoDataset.getVideo(idx);
        const sampled = await o.sampler.sample(video, segmentLoader, rng);
        let dp = await this.construct(video.videoId, sampled, segmentLoader);
        for (const t of o.transforms) dp = t.apply(dp, rng, epoch);
        return dp;
      } catch (e) {
        lastErr = e as Error;
        if (!(o.training ?? true)) throw e;
        o.onRetry?.(idx, lastErr);
        idx = rng.randrange(0, this.length);
      }
    }
    throw new Error(`Loading failed after ${DATASET_MAX_RETRIES} retries: ${lastErr?.message}`);
  }

  private async construct(
    videoId: number,
    sampled: SampledFramesAndObjects,
    loader: SegmentLoader,
  ): Promise<VideoDatapoint> {
    const images = await loadImages(sampled.frames.map((f) => f.imagePath));
    const frames: DatapointFrame[] = [];
    let h = 0, w = 0;
    for (let i = 0; i < sampled.frames.length; i++) {
      const img = images[i];
      [h, w] = [img.height, img.width];
      const segs = await loader.load(sampled.frames[i].frameIdx, sampled.objectIds);
      const frame: DatapointFrame = { image: img, objects: [] };
      for (const id of sampled.objectIds) {
        let segment: Uint8Array;
        if (segs.has(id)) {
          const m = segs.get(id);
          if (!m) {
            throw new Error(
              `None targets are not supported (object ${id}, frame ${sampled.frames[i].frameIdx})`,
            );
          }
          if (m.width !== w || m.height !== h) {
            throw new Error(
              `Mask of object ${id} is ${m.width}x${m.height}, image ${
                sampled.frames[i].imagePath
              } is ${w}x${h}`,
            );
          }
          segment = m.data;
        } else {
          if (!(this.opts.alwaysTarget ?? true)) continue;
          segment = new Uint8Array(h * w);
        }
        frame.objects.push({ objectId: id, frameIndex: sampled.frames[i].frameIdx, segment });
      }
      frames.push(frame);
    }
    return { frames, videoId, size: [h, w] };
  }
}

/** Decodes each path once; repeated paths (SA-1B copies) get their own copy. */
async function loadImages(paths: string[]): Promise<RgbImage[]> {
  const unique = [...new Set(paths)];
  const decoded = new Map<string, RgbImage>();
  await Promise.all(unique.map(async (p) => decoded.set(p, await decodeRgb(p))));
  const seen = new Set<string>();
  return paths.map((p) => {
    const img = decoded.get(p)!;
    if (!seen.has(p)) {
      seen.add(p);
      return img;
    }
    return { width: img.width, height: img.height, data: img.data.slice() };
  });
}
