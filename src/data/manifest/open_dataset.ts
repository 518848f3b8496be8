/**
 * Opens the raw dataset a manifest describes, restricted to the videos it validated, so
 * training reads exactly what `build-dataset` checked.
 *
 * @module
 */
import { JsonRawDataset, PngRawDataset, Sa1bRawDataset } from "../raw/raw_datasets.ts";
import type { VosRawDataset } from "../raw/types.ts";
import type { DatasetManifest } from "./manifest.ts";

/** Options for {@linkcode openManifestDataset}: the reference's per-format knobs. */
export interface OpenManifestDatasetOptions {
  /** Keep every n-th frame (DAVIS, SA-V). @default 1 */
  sampleRate?: number;
  /** DAVIS palette values that are not objects. @default [] (reference: 255 is an object) */
  ignoreValues?: number[];
  /** SA-V: keep only frames whose annotation has no null. @default true */
  rmUnannotated?: boolean;
  /** SA-1B: copies of the image per clip. @default 1 */
  numFrames?: number;
  /** SA-1B. @default 1.1 */
  maskAreaFracThresh?: number;
  /** SA-1B. @default -1 */
  uncertainIou?: number;
}

/** The raw dataset (PNG, JSON or SA-1B) behind a manifest. */
export async function openManifestDataset(
  m: DatasetManifest,
  opts: OpenManifestDatasetOptions = {},
): Promise<VosRawDataset> {
  const videos = m.videos.map((v) => v.name);
  if (m.format === "davis") {
    return await PngRawDataset.open({
      imgFolder: m.frames,
      gtFolder: m.annotations,
      videos,
      sampleRate: opts.sampleRate,
      ignoreValues: opts.ignoreValues,
      isPalette: (m.options.masks ?? "palette") === "palette",
    });
  }
  if (m.format === "sav") {
    return await JsonRawDataset.open({
      imgFolder: m.frames,
      gtFolder: m.annotations,
      videos,
      sampleRate: opts.sampleRate,
      annEvery: m.options.annEvery ?? 4,
      rmUnannotated: opts.rmUnannotated,
    });
  }
  return await Sa1bRawDataset.open({
    imgFolder: m.frames,
    gtFolder: m.annotations,
    videos,
    numFrames: opts.numFrames,
    maskAreaFracThresh: opts.maskAreaFracThresh,
    uncertainIou: opts.uncertainIou,
  });
}
