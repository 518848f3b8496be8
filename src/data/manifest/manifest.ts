/**
 * The dataset manifest: what `build-dataset` checked and what `train` / `eval` read to find
 * videos, frames and objects without walking and re-validating the folders.
 *
 * @module
 */
import { DatasetError } from "../raw/types.ts";

/** Annotation formats {@linkcode buildDataset} understands. */
export type DatasetFormat = "davis" | "sav" | "sa1b";

/** One object of a video. */
export interface ManifestObject {
  /** Object id as the segment loader reports it (palette index, masklet index, annotation index). */
  id: number;
  /** Annotated frames on which the object's mask is non-empty. */
  frames: number;
  /** First frame index where it is visible (-1: never). */
  firstFrame: number;
}

/** One video (or, for SA-1B, one image). */
export interface ManifestVideo {
  name: string;
  width: number;
  height: number;
  /** Image frame indices found (sorted). */
  frameIndices: number[];
  /** Frame indices that carry an annotation (sorted). */
  annotatedFrames: number[];
  objects: ManifestObject[];
}

/** The manifest JSON written by {@linkcode buildDataset}. */
export interface DatasetManifest {
  schema: 1;
  format: DatasetFormat;
  /** Absolute folder of frames (DAVIS `JPEGImages`, SA-V extracted frames, SA-1B images). */
  frames: string;
  /** Absolute folder of annotations (DAVIS `Annotations`, SA-V json, SA-1B json). */
  annotations: string;
  /** Format options used (SA-V `annEvery`, ...). */
  options: {
    annEvery?: number;
    verify: "decode" | "header";
    /** DAVIS: palette PNGs, or one sub-folder of binary PNGs per object. */
    masks?: "palette" | "per-object";
  };
  videos: ManifestVideo[];
  totals: { videos: number; frames: number; annotatedFrames: number; objects: number };
  /** Things that are allowed but worth knowing (objects appearing after frame 0, void pixels). */
  warnings: string[];
}

/**
 * Reads and checks a manifest file written by {@linkcode buildDataset}.
 *
 * @throws {DatasetError} naming the file when it is missing, not JSON or not a manifest.
 */
export async function readManifest(path: string): Promise<DatasetManifest> {
  let m: DatasetManifest;
  try {
    m = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new DatasetError(path, `cannot read manifest (${(e as Error).message})`);
  }
  if (
    !m || m.schema !== 1 || !["davis", "sav", "sa1b"].includes(m.format) || !Array.isArray(m.videos)
  ) {
    throw new DatasetError(
      path,
      "is not a dataset manifest (schema 1): rebuild it with build-dataset",
    );
  }
  return m;
}
