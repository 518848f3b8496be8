/**
 * Raw video datasets with the reference's options and semantics
 * (`training/dataset/vos_raw_dataset.py`): DAVIS/MOSE-style PNG folders, SA-V json, SA-1B.
 * Folder listings are sorted so that indices are stable across machines.
 *
 * @module
 */
import { join } from "node:path";
import { imageSize } from "../image/rgb.ts";
import { frameIndexOf, listDir, readNameList } from "./_fs.ts";
import {
  JsonSegmentLoader,
  MultiplePngSegmentLoader,
  PalettisedPngSegmentLoader,
  Sa1bSegmentLoader,
} from "./segment_loaders.ts";
import {
  DatasetError,
  type SegmentLoader,
  type VosFrame,
  type VosRawDataset,
  type VosVideo,
} from "./types.ts";

async function subsetOf(
  videos: string[] | undefined,
  fileListTxt: string | undefined,
  excluded: string | string[] | undefined,
  all: () => Promise<string[]>,
): Promise<string[]> {
  const subset = videos
    ? videos.slice()
    : fileListTxt
    ? await readNameList(fileListTxt)
    : await all();
  const ex = new Set<string>();
  for (const f of excluded === undefined ? [] : Array.isArray(excluded) ? excluded : [excluded]) {
    for (const n of await readNameList(f)) ex.add(n);
  }
  return subset.filter((n) => !ex.has(n));
}

/** Options for {@linkcode PngRawDataset}. */
export interface PngRawDatasetOptions {
  /** `JPEGImages`-like folder: `<video>/<frame>.jpg`. */
  imgFolder: string;
  /** `Annotations`-like folder: `<video>/<frame>.png` (palette) or `<video>/<k>/<frame>.png`. */
  gtFolder: string;
  /** Only the videos listed (one per line). */
  fileListTxt?: string;
  /** Only these videos (takes precedence over `fileListTxt`). */
  videos?: string[];
  /** Videos to leave out (one per line). */
  excludedVideosListTxt?: string;
  /** Keep every n-th frame. @default 1 */
  sampleRate?: number;
  /** Palette PNGs (true) or one folder per object (false). @default true */
  isPalette?: boolean;
  /** Each object folder is its own video. @default false */
  singleObjectMode?: boolean;
  /** Keep only the first n frames (<= 0: all). @default -1 */
  truncateVideo?: number;
  /** Repeat each video once per frame (sampling proportional to length). @default false */
  framesSamplingMult?: boolean;
  /** Palette values that are not objects (the reference ignores none, not even 255). @default [] */
  ignoreValues?: number[];
}

/** DAVIS / MOSE style dataset (`PNGRawDataset`). */
export class PngRawDataset implements VosRawDataset {
  readonly opts: PngRawDatasetOptions;
  readonly videoNames: string[];
  private constructor(opts: PngRawDatasetOptions, names: string[]) {
    this.opts = opts;
    this.videoNames = names;
  }

  /** Lists the videos (and, in single-object mode, their object folders). */
  static async open(opts: PngRawDatasetOptions): Promise<PngRawDataset> {
    let names = (await subsetOf(
      opts.videos,
      opts.fileListTxt,
      opts.excludedVideosListTxt,
      () => listDir(opts.imgFolder, (e) => e.isDirectory),
    )).sort();
    if (opts.singleObjectMode) {
      const expanded: string[] = [];
      for (const v of names) {
        for (const o of await listDir(join(opts.gtFolder, v), (e) => e.isDirectory)) {
          expanded.push(`${v}/${o}`);
        }
      }
      names = expanded.sort();
    }
    if (opts.framesSamplingMult) {
      const mult: string[] = [];
      for (const v of names) {
        const n = (await listDir(join(opts.imgFolder, v.split("/")[0]))).length;
        for (let i = 0; i < n; i++) mult.push(v);
      }
      names = mult;
    }
    return new PngRawDataset(opts, names);
  }

  async getVideo(idx: number): Promise<{ video: VosVideo; segmentLoader: SegmentLoader }> {
    const name = this.videoNames[idx];
    if (name === undefined) throw new RangeError(`Video index ${idx} out of range`);
    const o = this.opts;
    const frameRoot = join(o.imgFolder, o.singleObjectMode ? name.split("/")[0] : name);
    const maskRoot = join(o.gtFolder, name);
    const segmentLoader = (o.isPalette ?? true)
      ? await PalettisedPngSegmentLoader.open(maskRoot, { ignoreValues: o.ignoreValues })
      : await MultiplePngSegmentLoader.open(maskRoot, o.singleObjectMode ?? false);
    let files = await listDir(frameRoot, (e) => e.isFile && e.name.endsWith(".jpg"));
    if ((o.truncateVideo ?? -1) > 0) files = files.slice(0, o.truncateVideo);
    const step = o.sampleRate ?? 1;
    const frames: VosFrame[] = [];
    for (let i = 0; i < files.length; i += step) {
      frames.push({
        frameIdx: frameIndexOf(files[i], join(frameRoot, files[i])),
        imagePath: join(frameRoot, files[i]),
      });
    }
    return { video: { videoName: name, videoId: idx, frames }, segmentLoader };
  }
}

/** Options for {@linkcode JsonRawDataset}. */
export interface JsonRawDatasetOptions {
  /** Extracted frames: `<video>/<00000>.jpg`, named by original frame index. */
  imgFolder: string;
  /** Folder of `<video>_manual.json`. */
  gtFolder: string;
  /** Only the videos listed (one per line). */
  fileListTxt?: string;
  /** Only these videos / images (takes precedence over `fileListTxt`). */
  videos?: string[];
  excludedVideosListTxt?: string | string[];
  /** Keep every n-th extracted frame. @default 1 */
  sampleRate?: number;
  /** Keep only frames whose annotation has no null masklet. @default true */
  rmUnannotated?: boolean;
  /** Annotation i is frame i * annEvery (SA-V: 4). @default 1 */
  annEvery?: number;
  /** Frame rate of extracted frames (with a json `fps`). @default 24 */
  framesFps?: number;
}

/** SA-V dataset (`JSONRawDataset`). */
export class JsonRawDataset implements VosRawDataset {
  readonly opts: JsonRawDatasetOptions;
  readonly videoNames: string[];
  private constructor(opts: JsonRawDatasetOptions, names: string[]) {
    this.opts = opts;
    this.videoNames = names;
  }

  static async open(opts: JsonRawDatasetOptions): Promise<JsonRawDataset> {
    const names = await subsetOf(
      opts.videos,
      opts.fileListTxt,
      opts.excludedVideosListTxt,
      () => listDir(opts.imgFolder, (e) => e.isDirectory),
    );
    return new JsonRawDataset(opts, names.sort());
  }

  async getVideo(idx: number): Promise<{ video: VosVideo; segmentLoader: JsonSegmentLoader }> {
    const name = this.videoNames[idx];
    if (name === undefined) throw new RangeError(`Video index ${idx} out of range`);
    const o = this.opts;
    const segmentLoader = await JsonSegmentLoader.open(join(o.gtFolder, `${name}_manual.json`), {
      annEvery: o.annEvery ?? 1,
      framesFps: o.framesFps ?? 24,
    });
    const dir = join(o.imgFolder, name);
    const ids = (await listDir(dir, (e) => e.isFile && e.name.endsWith(".jpg"))).map((f) =>
      frameIndexOf(f, join(dir, f))
    );
    let frames: VosFrame[] = [];
    for (let i = 0; i < ids.length; i += o.sampleRate ?? 1) {
      frames.push({
        frameIdx: ids[i],
        imagePath: join(dir, `${String(ids[i]).padStart(5, "0")}.jpg`),
      });
    }
    if (o.rmUnannotated ?? true) {
      const valid = new Set<number>();
      segmentLoader.frameAnnots.forEach((a, i) => {
        if (a !== null && !a.includes(null)) valid.add(i * segmentLoader.annEvery);
      });
      frames = frames.filter((f) => valid.has(f.frameIdx));
    }
    return { video: { videoName: name, videoId: idx, frames }, segmentLoader };
  }
}

/** Options for {@linkcode Sa1bRawDataset}. */
export interface Sa1bRawDatasetOptions {
  /** Folder of `<name>.jpg`. */
  imgFolder: string;
  /** Folder of `<name>.json`. */
  gtFolder: string;
  /** Only the videos listed (one per line). */
  fileListTxt?: string;
  /** Only these videos / images (takes precedence over `fileListTxt`). */
  videos?: string[];
  excludedVideosListTxt?: string;
  /** Copies of the image per "video". @default 1 */
  numFrames?: number;
  /** @default 1.1 (no filtering) */
  maskAreaFracThresh?: number;
  /** Minimum `uncertain_iou` (stability). @default -1 (no filtering) */
  uncertainIou?: number;
}

/** SA-1B images as one-image videos (`SA1BRawDataset`). */
export class Sa1bRawDataset implements VosRawDataset {
  readonly opts: Sa1bRawDatasetOptions;
  readonly videoNames: string[];
  private constructor(opts: Sa1bRawDatasetOptions, names: string[]) {
    this.opts = opts;
    this.videoNames = names;
  }

  static async open(opts: Sa1bRawDatasetOptions): Promise<Sa1bRawDataset> {
    const names = await subsetOf(
      opts.videos,
      opts.fileListTxt,
      opts.excludedVideosListTxt,
      async () =>
        (await listDir(opts.imgFolder, (e) => e.isFile && e.name.endsWith(".jpg"))).map((n) =>
          n.split(".")[0]
        ),
    );
    return new Sa1bRawDataset(opts, names);
  }

  async getVideo(idx: number): Promise<{ video: VosVideo; segmentLoader: Sa1bSegmentLoader }> {
    const name = this.videoNames[idx];
    if (name === undefined) throw new RangeError(`Video index ${idx} out of range`);
    const o = this.opts;
    const imagePath = join(o.imgFolder, `${name}.jpg`);
    const thresh = o.maskAreaFracThresh ?? 1.1;
    const segmentLoader = await Sa1bSegmentLoader.open(join(o.gtFolder, `${name}.json`), {
      maskAreaFracThresh: thresh,
      uncertainIou: o.uncertainIou ?? -1,
      imageSize: thresh <= 1 ? await imageSize(imagePath) : undefined,
    });
    const idPart = name.split("_").pop()!;
    if (!/^\d+$/.test(idPart)) {
      throw new DatasetError(
        imagePath,
        `SA-1B image names end in _<number> (sa_123), got "${name}"`,
      );
    }
    const frames = Array.from({ length: o.numFrames ?? 1 }, (_, i) => ({ frameIdx: i, imagePath }));
    return { video: { videoName: idPart, videoId: Number(idPart), frames }, segmentLoader };
  }
}
