/**
 * Segment loaders, one per annotation layout, with the reference's semantics
 * (`training/dataset/vos_segment_loader.py`).
 *
 * @module
 */
import { join } from "node:path";
import { type BinaryMask, type CocoRle, decodeRle, rleArea, RleError } from "../rle/rle.ts";
import { polygonsToRle } from "../rle/polygon.ts";
import { decodeIndexedPng, type IndexedImage } from "../image/png.ts";
import { ImageDecodeError } from "../image/errors.ts";
import { DatasetError, type FrameSegments, type SegmentLoader } from "./types.ts";
import { listDir, readJson } from "./_fs.ts";

function nonEmpty(m: BinaryMask | null): boolean {
  if (!m) return false;
  for (let i = 0; i < m.data.length; i++) if (m.data[i]) return true;
  return false;
}

async function readMaskPng(path: string, color: "error" | "nonzero") {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new DatasetError(path, `cannot read mask (${(e as Error).message})`);
  }
  return decodeIndexedPng(bytes, { name: path, color });
}

/** Options for {@linkcode JsonSegmentLoader}. */
export interface JsonSegmentLoaderOptions {
  /** Annotation i belongs to frame i * annEvery (overridden by a json `fps`). @default 1 */
  annEvery?: number;
  /** Frame rate of the extracted frames, used with a json `fps`. @default 24 */
  framesFps?: number;
  /** Only these masklets may be used. */
  validObjIds?: number[];
}

/** SA-V `*_manual.json` masklets (COCO RLE per annotated frame and object). */
export class JsonSegmentLoader implements SegmentLoader {
  readonly path: string;
  annEvery: number;
  readonly frameAnnots: (CocoRle | null)[][];
  readonly validObjIds?: number[];

  private constructor(
    path: string,
    frameAnnots: (CocoRle | null)[][],
    annEvery: number,
    valid?: number[],
  ) {
    this.path = path;
    this.frameAnnots = frameAnnots;
    this.annEvery = annEvery;
    this.validObjIds = valid;
  }

  /**
   * Reads and checks the json: `masklet` (or `masks`) must be a list of per-frame lists of
   * RLE objects or nulls, one entry per masklet.
   *
   * @throws {DatasetError} naming the file and the entry at fault.
   */
  static async open(path: string, opts: JsonSegmentLoaderOptions = {}): Promise<JsonSegmentLoader> {
    return JsonSegmentLoader.fromJson(path, await readJson(path), opts);
  }

  /** Same as {@linkcode JsonSegmentLoader.open} for already parsed json. */
  static fromJson(
    path: string,
    data: unknown,
    opts: JsonSegmentLoaderOptions = {},
  ): JsonSegmentLoader {
    let annEvery = opts.annEvery ?? 1;
    const framesFps = opts.framesFps ?? 24;
    let annots: unknown;
    if (Array.isArray(data)) annots = data;
    else if (data && typeof data === "object") {
      const d = data as Record<string, unknown>;
      const field = "masklet" in d ? "masklet" : "masks";
      annots = d[field];
      if (annots === undefined) throw new DatasetError(path, `has neither "masklet" nor "masks"`);
      if ("fps" in d) {
        const fps = Math.trunc(Number(Array.isArray(d.fps) ? d.fps[0] : d.fps));
        if (!(fps > 0) || framesFps % fps !== 0) {
          throw new DatasetError(
            path,
            `"fps" ${JSON.stringify(d.fps)} must divide frames fps ${framesFps}`,
          );
        }
        annEvery = framesFps / fps;
      }
    } else throw new DatasetError(path, "expected a json object or list of frames");
    if (!Array.isArray(annots)) throw new DatasetError(path, `"masklet" must be a list of frames`);
    if (!Number.isInteger(annEvery) || annEvery < 1) {
      throw new DatasetError(path, `annEvery must be a positive integer, got ${annEvery}`);
    }
    let nObj = -1;
    annots.forEach((row, i) => {
      if (!Array.isArray(row)) {
        throw new DatasetError(path, `masklet[${i}] must be a list of objects`);
      }
      if (nObj < 0) nObj = row.length;
      if (row.length !== nObj) {
        throw new DatasetError(
          path,
          `masklet[${i}] has ${row.length} objects, masklet[0] has ${nObj}`,
        );
      }
      row.forEach((r, o) => {
        if (r === null) return;
        const ok = r && typeof r === "object" && Array.isArray(r.size) && r.size.length === 2 &&
          (typeof r.counts === "string" || Array.isArray(r.counts));
        if (!ok) throw new DatasetError(path, `masklet[${i}][${o}] is not an RLE {size, counts}`);
      });
    });
    return new JsonSegmentLoader(path, annots as (CocoRle | null)[][], annEvery, opts.validObjIds);
  }

  /** Number of masklets (objects). */
  get numObjects(): number {
    return this.frameAnnots[0]?.length ?? 0;
  }

  private row(frameIdx: number): (CocoRle | null)[] {
    if (frameIdx % this.annEvery !== 0) {
      throw new DatasetError(
        this.path,
        `frame ${frameIdx} is not annotated (annEvery ${this.annEvery})`,
      );
    }
    const row = this.frameAnnots[frameIdx / this.annEvery];
    if (!row) {
      throw new DatasetError(
        this.path,
        `no annotation for frame ${frameIdx} (${this.frameAnnots.length} annotated frames)`,
      );
    }
    return row;
  }

  /** Decodes the requested masklets of a frame (null where a masklet has no mask there). */
  load(frameIdx: number, objIds?: readonly number[]): Promise<FrameSegments> {
    const row = this.row(frameIdx);
    let ids = row.map((_, i) => i);
    if (this.validObjIds) ids = ids.filter((i) => this.validObjIds!.includes(i));
    if (objIds) ids = ids.filter((i) => objIds.includes(i));
    const out: FrameSegments = new Map();
    for (const id of ids) {
      const r = row[id];
      try {
        out.set(
          id,
          r === null ? null : decodeRle(r, `masklet[${frameIdx / this.annEvery}][${id}]`),
        );
      } catch (e) {
        if (e instanceof RleError) throw new DatasetError(this.path, e.message);
        throw e;
      }
    }
    return Promise.resolve(out);
  }

  /** Masklets with a non-empty mask on this frame, from the RLE runs (no decoding). */
  visibleObjectIds(frameIdx: number): Promise<number[]> {
    const row = this.row(frameIdx);
    const out: number[] = [];
    row.forEach((r, id) => {
      if (r === null || (this.validObjIds && !this.validObjIds.includes(id))) return;
      try {
        if (rleArea(r, `masklet[${frameIdx / this.annEvery}][${id}]`) > 0) out.push(id);
      } catch (e) {
        if (e instanceof RleError) throw new DatasetError(this.path, e.message);
        throw e;
      }
    });
    return Promise.resolve(out);
  }

  /** Per masklet, the frames with a mask; masklets with fewer than `numFramesMin` dropped. */
  validObjFrameIds(numFramesMin?: number): Map<number, number[]> {
    const res = new Map<number, number[]>();
    for (let o = 0; o < this.numObjects; o++) res.set(o, []);
    this.frameAnnots.forEach((row, i) => {
      row.forEach((r, o) => {
        if (r !== null) res.get(o)!.push(i * this.annEvery);
      });
    });
    if (numFramesMin !== undefined) {
      for (const [o, f] of res) if (f.length < numFramesMin) res.delete(o);
    }
    return res;
  }
}

/** Options for {@linkcode PalettisedPngSegmentLoader}. */
export interface PalettisedPngOptions {
  /**
   * Index values that are not objects besides 0. The reference keeps every non-zero index,
   * DAVIS void (255) included. @default []
   */
  ignoreValues?: number[];
}

/** DAVIS/MOSE palette PNGs: each non-zero palette index is an object id. */
export class PalettisedPngSegmentLoader implements SegmentLoader {
  readonly root: string;
  readonly frameToFile: Map<number, string>;
  readonly ignore: Set<number>;

  private constructor(root: string, frameToFile: Map<number, string>, ignore: number[]) {
    this.root = root;
    this.frameToFile = frameToFile;
    this.ignore = new Set(ignore);
  }

  /** Indexes the PNG files of a video's mask folder by frame number. */
  static async open(
    root: string,
    opts: PalettisedPngOptions = {},
  ): Promise<PalettisedPngSegmentLoader> {
    const map = new Map<number, string>();
    for (const name of await listDir(root, (e) => e.isFile && e.name.endsWith(".png"))) {
      const stem = name.slice(0, -4);
      if (!/^\d+$/.test(stem)) {
        throw new DatasetError(join(root, name), "mask is not named by a frame number");
      }
      map.set(Number(stem), name);
    }
    return new PalettisedPngSegmentLoader(root, map, opts.ignoreValues ?? []);
  }

  #last: { frameIdx: number; png: IndexedImage } | null = null;

  /** Reads the index map of a frame (the last one is kept: the sampler and the clip share it). */
  async loadIndices(frameIdx: number): Promise<IndexedImage> {
    if (this.#last?.frameIdx === frameIdx) return this.#last.png;
    const file = this.frameToFile.get(frameIdx);
    if (file === undefined) throw new DatasetError(this.root, `no mask PNG for frame ${frameIdx}`);
    const png = await readMaskPng(join(this.root, file), "error");
    this.#last = { frameIdx, png };
    return png;
  }

  async load(frameIdx: number, objIds?: readonly number[]): Promise<FrameSegments> {
    const png = await this.loadIndices(frameIdx);
    const ids: number[] = [];
    const seen = new Uint8Array(256);
    for (let i = 0; i < png.data.length; i++) {
      const v = png.data[i];
      if (!seen[v]) {
        seen[v] = 1;
        if (v !== 0 && !this.ignore.has(v)) ids.push(v);
      }
    }
    const out: FrameSegments = new Map();
    for (const id of ids) {
      if (objIds && !objIds.includes(id)) continue;
      const data = new Uint8Array(png.data.length);
      for (let i = 0; i < data.length; i++) data[i] = png.data[i] === id ? 1 : 0;
      out.set(id, { height: png.height, width: png.width, data });
    }
    return out;
  }

  async visibleObjectIds(frameIdx: number): Promise<number[]> {
    const png = await this.loadIndices(frameIdx);
    // first-appearance order, like the reference's pd.unique
    const seen = new Uint8Array(256);
    const ids: number[] = [];
    for (let i = 0; i < png.data.length; i++) {
      const v = png.data[i];
      if (seen[v]) continue;
      seen[v] = 1;
      if (v !== 0 && !this.ignore.has(v)) ids.push(v);
    }
    return ids;
  }
}

/** One sub-folder per object (`<video>/<k>/<00000>.png`, object id k + 1), binary PNGs. */
export class MultiplePngSegmentLoader implements SegmentLoader {
  readonly root: string;
  readonly singleObjectMode: boolean;
  readonly height: number;
  readonly width: number;
  readonly objects: { id: number; folder: string }[];

  private constructor(
    root: string,
    single: boolean,
    h: number,
    w: number,
    objects: { id: number; folder: string }[],
  ) {
    this.root = root;
    this.singleObjectMode = single;
    this.height = h;
    this.width = w;
    this.objects = objects;
  }

  /** Lists object folders (or, in single-object mode, `root` is one object's folder). */
  static async open(root: string, singleObjectMode = false): Promise<MultiplePngSegmentLoader> {
    const objects: { id: number; folder: string }[] = [];
    const idOf = (name: string, where: string) => {
      if (!/^\d+$/.test(name)) {
        throw new DatasetError(where, "object folder is not named by a number");
      }
      return Number(name) + 1;
    };
    if (singleObjectMode) {
      const name = root.replace(/\/+$/, "").split("/").pop()!;
      objects.push({ id: idOf(name, root), folder: root });
    } else {
      for (const d of await listDir(root, (e) => e.isDirectory)) {
        objects.push({ id: idOf(d, join(root, d)), folder: join(root, d) });
      }
    }
    if (objects.length === 0) throw new DatasetError(root, "has no object folders");
    let first: string | undefined;
    for (const o of objects) {
      const pngs = await listDir(o.folder, (e) => e.isFile && e.name.endsWith(".png"));
      if (pngs.length) {
        first = join(o.folder, pngs[0]);
        break;
      }
    }
    if (!first) throw new DatasetError(root, "has no mask PNGs");
    const png = await readMaskPng(first, "nonzero");
    return new MultiplePngSegmentLoader(root, singleObjectMode, png.height, png.width, objects);
  }

  async load(frameIdx: number, objIds?: readonly number[]): Promise<FrameSegments> {
    const out: FrameSegments = new Map();
    for (const o of this.objects) {
      if (objIds && !objIds.includes(o.id)) continue;
      const path = join(o.folder, `${String(frameIdx).padStart(5, "0")}.png`);
      let mask: BinaryMask;
      try {
        const png = await readMaskPng(path, "nonzero");
        const data = new Uint8Array(png.data.length);
        for (let i = 0; i < data.length; i++) data[i] = png.data[i] ? 1 : 0;
        mask = { height: png.height, width: png.width, data };
      } catch (e) {
        if (!(e instanceof DatasetError) || e instanceof ImageDecodeError) throw e;
        let exists = true;
        try {
          await Deno.stat(path);
        } catch {
          exists = false;
        }
        if (exists) throw e;
        mask = {
          height: this.height,
          width: this.width,
          data: new Uint8Array(this.height * this.width),
        };
      }
      out.set(o.id, mask);
    }
    return out;
  }

  async visibleObjectIds(frameIdx: number): Promise<number[]> {
    const segs = await this.load(frameIdx);
    return [...segs].filter(([, m]) => nonEmpty(m)).map(([id]) => id);
  }
}

/** Options for {@linkcode Sa1bSegmentLoader}. */
export interface Sa1bSegmentLoaderOptions {
  /** Drop masks whose area / image area is at least this (no filter when > 1). @default 1.1 */
  maskAreaFracThresh?: number;
  /** Drop annotations whose `uncertain_iou` (stability score) is below this. @default -1 */
  uncertainIou?: number;
  /**
   * Image size, needed when `maskAreaFracThresh <= 1`; polygon segmentations are rasterised at
   * this size when the json has no `image: {height, width}`.
   */
  imageSize?: { width: number; height: number };
}

/**
 * SA-1B image json: kept annotations decode lazily, keyed 0..n-1 in kept order. A
 * `segmentation` is an RLE `{size, counts}` (SA-1B) or, as in COCO-style json, a list of
 * polygons `[[x0, y0, x1, y1, ...], ...]`, turned into an RLE like pycocotools' `annToRLE`
 * (at the json's `image.height` x `image.width`, else at `imageSize`).
 */
export class Sa1bSegmentLoader implements SegmentLoader {
  readonly path: string;
  readonly segments: CocoRle[];
  private cache = new Map<number, BinaryMask>();

  private constructor(path: string, segments: CocoRle[]) {
    this.path = path;
    this.segments = segments;
  }

  /**
   * Reads the json and applies the reference filters: `area > 0`, `uncertain_iou >=
   * uncertainIou`, `area / (W*H) < maskAreaFracThresh`.
   */
  static async open(path: string, opts: Sa1bSegmentLoaderOptions = {}): Promise<Sa1bSegmentLoader> {
    return Sa1bSegmentLoader.fromJson(path, await readJson(path), opts);
  }

  /** Same as {@linkcode Sa1bSegmentLoader.open} for already parsed json. */
  static fromJson(
    path: string,
    data: unknown,
    opts: Sa1bSegmentLoaderOptions = {},
  ): Sa1bSegmentLoader {
    const thresh = opts.maskAreaFracThresh ?? 1.1;
    const unc = opts.uncertainIou ?? -1;
    const anns = (data as { annotations?: unknown })?.annotations;
    if (!Array.isArray(anns)) throw new DatasetError(path, `"annotations" must be a list`);
    let imageArea = 0;
    if (thresh <= 1.0) {
      if (!opts.imageSize) throw new DatasetError(path, "image size needed for maskAreaFracThresh");
      imageArea = opts.imageSize.width * opts.imageSize.height;
    }
    const kept: CocoRle[] = [];
    const polygonSize = () => {
      const img = (data as { image?: { height?: unknown; width?: unknown } })?.image;
      if (img && Number.isInteger(img.height) && Number.isInteger(img.width)) {
        return { height: img.height as number, width: img.width as number };
      }
      if (opts.imageSize) return opts.imageSize;
      throw new DatasetError(
        path,
        `polygon segmentations need the image size: the json has no "image": {"height", ` +
          `"width"} and no imageSize was given`,
      );
    };
    anns.forEach((a, i) => {
      if (!a || typeof a !== "object") {
        throw new DatasetError(path, `annotations[${i}] is not an object`);
      }
      if (typeof a.area !== "number") {
        throw new DatasetError(path, `annotations[${i}].area is not a number`);
      }
      if (!(a.area > 0)) return;
      if ("uncertain_iou" in a && a.uncertain_iou < unc) return;
      if (thresh <= 1.0 && a.area / imageArea >= thresh) return;
      const s = a.segmentation;
      if (Array.isArray(s)) {
        try {
          kept.push(
            polygonsToRle(s, { ...polygonSize(), where: `annotations[${i}].segmentation` }),
          );
        } catch (e) {
          if (e instanceof RleError) throw new DatasetError(path, e.message);
          throw e;
        }
        return;
      }
      if (!s || typeof s !== "object" || !Array.isArray(s.size) || s.counts === undefined) {
        throw new DatasetError(
          path,
          `annotations[${i}].segmentation is neither an RLE {size, counts} nor a list of polygons`,
        );
      }
      kept.push(s);
    });
    return new Sa1bSegmentLoader(path, kept);
  }

  /** Decodes (once) the requested kept annotations; all of them without `objIds`. */
  load(_frameIdx: number, objIds?: readonly number[]): Promise<FrameSegments> {
    const out: FrameSegments = new Map();
    const ids = objIds ?? this.segments.map((_, i) => i);
    for (const id of ids) {
      if (id < 0 || id >= this.segments.length) continue;
      let m = this.cache.get(id);
      if (!m) {
        try {
          m = decodeRle(this.segments[id], `annotation ${id}`);
        } catch (e) {
          if (e instanceof RleError) throw new DatasetError(this.path, e.message);
          throw e;
        }
        this.cache.set(id, m);
      }
      out.set(id, m);
    }
    return Promise.resolve(out);
  }

  visibleObjectIds(_frameIdx?: number): Promise<number[]> {
    return Promise.resolve(this.segments.map((_, i) => i));
  }
}
