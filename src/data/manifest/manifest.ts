/**
 * The dataset manifest: what `build-dataset` checked and what `train` / `eval` read to find
 * videos, frames and objects without walking and re-validating the folders.
 *
 * On disk (schema 2) the frames and annotations folders are written relative to the folder
 * the manifest is in, so a manifest that is restored from a cache, shared between checkouts
 * or cloned with its project elsewhere still points at the data beside it. Schema 1 files
 * (absolute paths) are still read. In memory, {@linkcode readManifest} and `buildDataset`
 * give absolute paths.
 *
 * @module
 */
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { DatasetError } from "../raw/types.ts";

/** The manifest schema written now: paths relative to the manifest's folder. */
export const MANIFEST_SCHEMA = 2;

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
  /** 2: paths in the file are relative to its folder; 1 (older files): absolute. */
  schema: 1 | 2;
  format: DatasetFormat;
  /**
   * Folder of frames (DAVIS `JPEGImages`, SA-V extracted frames, SA-1B images): absolute in
   * memory; in the file, relative to the manifest's folder.
   */
  frames: string;
  /** Folder of annotations (DAVIS `Annotations`, SA-V json, SA-1B json), like `frames`. */
  annotations: string;
  /** Format options used (SA-V `annEvery`, ...). */
  options: {
    annEvery?: number;
    verify: "decode" | "header";
    /** DAVIS: palette PNGs, or one sub-folder of binary PNGs per object. */
    masks?: "palette" | "per-object";
  };
  /**
   * Content digests of `frames` and `annotations` when the builder knew them (a pipeline stage
   * does): the manifest lists names and counts, not bytes, so these make it change with the data.
   */
  digests?: { frames?: string; annotations?: string };
  videos: ManifestVideo[];
  totals: { videos: number; frames: number; annotatedFrames: number; objects: number };
  /** Things that are allowed but worth knowing (objects appearing after frame 0, void pixels). */
  warnings: string[];
}

/**
 * The manifest as it is written to a file in `dir`: schema 2, the frames and annotations
 * folders relative to `dir` (`"."` for `dir` itself).
 */
export function manifestForFile(m: DatasetManifest, dir: string): DatasetManifest {
  const rel = (p: string) => relative(resolve(dir), resolve(p)) || ".";
  return { ...m, schema: MANIFEST_SCHEMA, frames: rel(m.frames), annotations: rel(m.annotations) };
}

/**
 * Reads and checks a manifest file written by {@linkcode buildDataset}; its frames and
 * annotations folders come back absolute (resolved against the file's folder).
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
    !m || (m.schema !== 1 && m.schema !== 2) || !["davis", "sav", "sa1b"].includes(m.format) ||
    !Array.isArray(m.videos) || typeof m.frames !== "string" ||
    typeof m.annotations !== "string"
  ) {
    throw new DatasetError(
      path,
      "is not a dataset manifest (schema 1 or 2): rebuild it with build-dataset",
    );
  }
  if (m.schema === 1 && (!isAbsolute(m.frames) || !isAbsolute(m.annotations))) {
    throw new DatasetError(
      path,
      "is a schema 1 manifest with relative folders (schema 1 wrote absolute ones): rebuild it " +
        "with build-dataset",
    );
  }
  const dir = dirname(resolve(path));
  return { ...m, frames: resolve(dir, m.frames), annotations: resolve(dir, m.annotations) };
}
