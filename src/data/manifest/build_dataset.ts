/**
 * `build-dataset`: validates a dataset folder (every frame readable, masks the size of their
 * frames, object ids consistent) and writes the manifest that training and evaluation take.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { decodeRgb, imageSize } from "../image/rgb.ts";
import { ImageDecodeError } from "../image/errors.ts";
import { decodeIndexedPng } from "../image/png.ts";
import { rleArea, rleCounts, RleError } from "../rle/rle.ts";
import { writeFileAtomic } from "../fs_atomic.ts";
import { frameIndexOf, listDir } from "../raw/_fs.ts";
import {
  JsonSegmentLoader,
  PalettisedPngSegmentLoader,
  Sa1bSegmentLoader,
} from "../raw/segment_loaders.ts";
import { DatasetError } from "../raw/types.ts";
import {
  type DatasetFormat,
  type DatasetManifest,
  MANIFEST_SCHEMA,
  manifestForFile,
  type ManifestObject,
  type ManifestVideo,
} from "./manifest.ts";

/** Options for {@linkcode buildDataset}. */
export interface BuildDatasetOptions {
  /** Frames folder: DAVIS `JPEGImages` (or its parent), SA-V extracted frames, SA-1B images. */
  frames: string;
  /**
   * Annotations folder. Default: DAVIS `Annotations` beside (or inside) `frames`; SA-V and
   * SA-1B: `frames` itself.
   */
  annotations?: string;
  format: DatasetFormat;
  /**
   * Manifest path: written as this file, unless it is an existing folder (or ends in "/"),
   * which then receives `manifest.json`.
   */
  out: string;
  /**
   * Folder the manifest's paths are written relative to: where the manifest will be read
   * from, when it is written elsewhere first (a pipeline stage writes into a staging folder
   * that is then moved into place). @default the folder the manifest is written to
   */
  relativeTo?: string;
  /** SA-V: annotation i is frame i * annEvery. @default 4 */
  annEvery?: number;
  /** "decode" decodes every frame; "header" only reads image headers. @default "decode" */
  verify?: "decode" | "header";
  /** Only these videos (names). */
  videos?: string[];
  /**
   * Content digests of the frames and annotations folders (e.g. the pipeline's Merkle hashes),
   * recorded in the manifest so that it changes whenever the data does.
   */
  digests?: { frames?: string; annotations?: string };
  /** Called as work advances (videos done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Frames checked at once. @default 4 */
  concurrency?: number;
}

/** Validation found problems; `problems` lists each with its file. */
export class DatasetValidationError extends Error {
  override name = "DatasetValidationError";
  readonly problems: { file: string; message: string }[];
  constructor(problems: { file: string; message: string }[]) {
    const shown = problems.slice(0, 10).map((p) => `  ${p.file}: ${p.message}`).join("\n");
    const more = problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : "";
    super(`Dataset is not valid (${problems.length} problem(s)):\n${shown}${more}`);
    this.problems = problems;
  }
}

async function pool<T>(items: T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

function problemOf(e: unknown, file: string): { file: string; message: string } {
  if (e instanceof DatasetError) {
    return { file: e.file, message: e.message.slice(e.file.length + 2) };
  }
  if (e instanceof ImageDecodeError) return { file: e.file, message: e.message };
  return { file, message: (e as Error).message ?? String(e) };
}

/**
 * Validates a dataset and writes its manifest atomically. In the file, the frames and
 * annotations folders are relative to the manifest's folder (or to `relativeTo`); the manifest
 * returned has them absolute, as {@linkcode readManifest} gives them.
 *
 * @throws {DatasetValidationError} listing every problem with its file; nothing is written then.
 * @example
 * ```ts
 * const m = await buildDataset({ frames: "data/davis/JPEGImages", format: "davis", out: "out/" });
 * console.log(m.totals);
 * ```
 */
export async function buildDataset(opts: BuildDatasetOptions): Promise<DatasetManifest> {
  let frames = resolve(opts.frames);
  let annotations = opts.annotations ? resolve(opts.annotations) : undefined;
  const verify = opts.verify ?? "decode";
  const annEvery = opts.annEvery ?? 4;
  if (opts.format === "davis" && !annotations) {
    if (await exists(join(frames, "JPEGImages"))) {
      annotations = join(frames, "Annotations");
      frames = join(frames, "JPEGImages");
    } else annotations = join(dirname(frames), "Annotations");
  }
  annotations ??= frames;
  if (!["davis", "sav", "sa1b"].includes(opts.format)) {
    throw new RangeError(`Unknown dataset format "${opts.format}" (davis, sav or sa1b)`);
  }
  const problems: { file: string; message: string }[] = [];
  const warnings: string[] = [];
  const videos: ManifestVideo[] = [];
  const conc = opts.concurrency ?? 4;
  const layout: { masks?: "palette" | "per-object" } = {};

  const checkImage = async (path: string): Promise<{ width: number; height: number } | null> => {
    try {
      if (verify === "decode") {
        const img = await decodeRgb(path);
        return { width: img.width, height: img.height };
      }
      return await imageSize(path);
    } catch (e) {
      problems.push(problemOf(e, path));
      return null;
    }
  };

  /** Checks frames of one folder: all readable and of one size. */
  const checkFrames = async (dir: string, files: string[]) => {
    const sizes = new Map<string, { width: number; height: number } | null>();
    await pool(files, conc, async (f) => {
      sizes.set(f, await checkImage(join(dir, f)));
    });
    let size: { width: number; height: number } | undefined;
    for (const f of files) {
      const s = sizes.get(f);
      if (!s) continue;
      if (!size) size = s;
      else if (s.width !== size.width || s.height !== size.height) {
        problems.push({
          file: join(dir, f),
          message: `frame is ${s.width}x${s.height}, other frames are ${size.width}x${size.height}`,
        });
      }
    }
    return size;
  };

  if (opts.format === "davis" || opts.format === "sav") {
    let names = await listDir(frames, (e) => e.isDirectory);
    if (opts.videos) names = names.filter((n) => opts.videos!.includes(n));
    if (names.length === 0) throw new DatasetError(frames, "contains no video folders");
    let done = 0;
    for (const name of names) {
      const dir = join(frames, name);
      const before = problems.length;
      try {
        const files = await listDir(dir, (e) => e.isFile && e.name.endsWith(".jpg"));
        if (files.length === 0) {
          problems.push({ file: dir, message: "has no .jpg frames" });
          continue;
        }
        const frameIndices = files.map((f) => frameIndexOf(f, join(dir, f)));
        const size = await checkFrames(dir, files);
        if (!size) continue;
        const v = opts.format === "davis"
          ? await davisVideo(
            name,
            join(annotations, name),
            frameIndices,
            size,
            problems,
            warnings,
            layout,
          )
          : await savVideo(
            name,
            join(annotations, `${name}_manual.json`),
            dir,
            frameIndices,
            size,
            annEvery,
            problems,
            warnings,
          );
        if (v && problems.length === before) videos.push(v);
      } catch (e) {
        problems.push(problemOf(e, dir));
      } finally {
        opts.onProgress?.(++done, names.length);
      }
    }
  } else {
    let names = (await listDir(frames, (e) => e.isFile && e.name.endsWith(".jpg"))).map((n) =>
      n.slice(0, -4)
    );
    if (opts.videos) names = names.filter((n) => opts.videos!.includes(n));
    if (names.length === 0) throw new DatasetError(frames, "contains no .jpg images");
    let done = 0;
    await pool(names, conc, async (name) => {
      const img = join(frames, `${name}.jpg`);
      try {
        if (!/_\d+$/.test(name)) {
          problems.push({ file: img, message: `SA-1B image names end in _<number> (sa_123)` });
          return;
        }
        const size = await checkImage(img);
        if (!size) return;
        const jsonPath = join(annotations!, `${name}.json`);
        // Polygon annotations are rasterised at the image's size when the json has no `image`.
        const loader = await Sa1bSegmentLoader.open(jsonPath, { imageSize: size });
        const objects: ManifestObject[] = [];
        loader.segments.forEach((rle, i) => {
          const [h, w] = rle.size;
          if (h !== size.height || w !== size.width) {
            throw new DatasetError(
              jsonPath,
              `annotation ${i} is ${w}x${h}, image is ${size.width}x${size.height}`,
            );
          }
          try {
            rleCounts(rle, `annotation ${i}`);
          } catch (e) {
            if (e instanceof RleError) throw new DatasetError(jsonPath, e.message);
            throw e;
          }
          objects.push({ id: i, frames: 1, firstFrame: 0 });
        });
        if (objects.length === 0) warnings.push(`${name}: no annotation with area > 0`);
        videos.push({ name, ...size, frameIndices: [0], annotatedFrames: [0], objects });
      } catch (e) {
        problems.push(problemOf(e, img));
      } finally {
        opts.onProgress?.(++done, names.length);
      }
    });
    videos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  if (problems.length) throw new DatasetValidationError(problems);
  const manifest: DatasetManifest = {
    schema: MANIFEST_SCHEMA,
    format: opts.format,
    frames,
    annotations,
    options: opts.format === "sav"
      ? { annEvery, verify }
      : opts.format === "davis"
      ? { verify, masks: layout.masks ?? "palette" }
      : { verify },
    ...(opts.digests ? { digests: { ...opts.digests } } : {}),
    videos,
    totals: {
      videos: videos.length,
      frames: videos.reduce((s, v) => s + v.frameIndices.length, 0),
      annotatedFrames: videos.reduce((s, v) => s + v.annotatedFrames.length, 0),
      objects: videos.reduce((s, v) => s + v.objects.length, 0),
    },
    warnings,
  };
  let outIsDir = opts.out.endsWith("/");
  try {
    outIsDir ||= (await Deno.stat(opts.out)).isDirectory;
  } catch {
    // absent: the manifest is written at exactly this path
  }
  const outPath = outIsDir ? join(opts.out, "manifest.json") : opts.out;
  const onDisk = manifestForFile(manifest, opts.relativeTo ?? dirname(resolve(outPath)));
  await writeFileAtomic(outPath, JSON.stringify(onDisk, null, 1) + "\n");
  return manifest;
}

/** DAVIS layout with one sub-folder of binary PNGs per object (`<k>/`, object id k + 1). */
async function perObjectVideo(
  name: string,
  maskDir: string,
  objDirs: string[],
  frameIndices: number[],
  size: { width: number; height: number },
  problems: { file: string; message: string }[],
): Promise<ManifestVideo | null> {
  const have = new Set(frameIndices);
  const annotated = new Set<number>();
  const objects: ManifestObject[] = [];
  for (const d of objDirs) {
    if (!/^\d+$/.test(d)) {
      problems.push({ file: join(maskDir, d), message: "object folder is not named by a number" });
      continue;
    }
    const obj = { id: Number(d) + 1, frames: 0, firstFrame: -1 };
    for (const f of await listDir(join(maskDir, d), (e) => e.isFile && e.name.endsWith(".png"))) {
      const file = join(maskDir, d, f);
      const idx = frameIndexOf(f, file);
      if (!have.has(idx)) {
        problems.push({
          file,
          message: `mask has no matching frame ${String(idx).padStart(5, "0")}.jpg`,
        });
        continue;
      }
      const png = decodeIndexedPng(await Deno.readFile(file), { name: file, color: "nonzero" });
      if (png.width !== size.width || png.height !== size.height) {
        problems.push({
          file,
          message: `mask is ${png.width}x${png.height}, frames are ${size.width}x${size.height}`,
        });
        continue;
      }
      annotated.add(idx);
      if (png.data.some((v) => v !== 0)) {
        obj.frames++;
        if (obj.firstFrame < 0 || idx < obj.firstFrame) obj.firstFrame = idx;
      }
    }
    objects.push(obj);
  }
  if (annotated.size === 0) {
    problems.push({ file: maskDir, message: "has no mask PNGs in its object folders" });
    return null;
  }
  objects.sort((a, b) => a.id - b.id);
  return {
    name,
    ...size,
    frameIndices,
    annotatedFrames: [...annotated].sort((a, b) => a - b),
    objects,
  };
}

async function davisVideo(
  name: string,
  maskDir: string,
  frameIndices: number[],
  size: { width: number; height: number },
  problems: { file: string; message: string }[],
  warnings: string[],
  layout: { masks?: "palette" | "per-object" },
): Promise<ManifestVideo | null> {
  const objDirs = await listDir(maskDir, (e) => e.isDirectory);
  const mode = objDirs.length > 0 ? "per-object" : "palette";
  if (layout.masks && layout.masks !== mode) {
    problems.push({
      file: maskDir,
      message:
        `uses ${mode} masks, earlier videos use ${layout.masks} masks (one layout per dataset)`,
    });
    return null;
  }
  layout.masks = mode;
  if (mode === "per-object") {
    return await perObjectVideo(name, maskDir, objDirs, frameIndices, size, problems);
  }
  const loader = await PalettisedPngSegmentLoader.open(maskDir);
  const annotated = [...loader.frameToFile.keys()].sort((a, b) => a - b);
  if (annotated.length === 0) {
    problems.push({ file: maskDir, message: "has no mask PNGs" });
    return null;
  }
  const have = new Set(frameIndices);
  const counts = new Map<number, { frames: number; first: number }>();
  let firstIds: number[] | null = null;
  for (const f of annotated) {
    const file = join(maskDir, loader.frameToFile.get(f)!);
    if (!have.has(f)) {
      problems.push({
        file,
        message: `mask has no matching frame ${String(f).padStart(5, "0")}.jpg`,
      });
      continue;
    }
    const png = await loader.loadIndices(f);
    if (png.width !== size.width || png.height !== size.height) {
      problems.push({
        file,
        message: `mask is ${png.width}x${png.height}, frames are ${size.width}x${size.height}`,
      });
      continue;
    }
    const present = new Uint8Array(256);
    for (let i = 0; i < png.data.length; i++) present[png.data[i]] = 1;
    const ids: number[] = [];
    for (let v = 1; v < 256; v++) if (present[v]) ids.push(v);
    if (firstIds === null) firstIds = ids;
    for (const id of ids) {
      const c = counts.get(id) ?? { frames: 0, first: f };
      c.frames++;
      counts.set(id, c);
    }
  }
  const objects = [...counts].sort((a, b) => a[0] - b[0]).map(([id, c]) => ({
    id,
    frames: c.frames,
    firstFrame: c.first,
  }));
  if (counts.has(255)) {
    warnings.push(
      `${name}: palette index 255 (DAVIS void) is present; like the reference it counts as an object`,
    );
  }
  const late = objects.filter((o) => !(firstIds ?? []).includes(o.id)).map((o) => o.id);
  if (late.length) {
    warnings.push(`${name}: objects ${late.join(", ")} are absent from the first annotated frame`);
  }
  return { name, ...size, frameIndices, annotatedFrames: annotated, objects };
}

async function savVideo(
  name: string,
  jsonPath: string,
  frameDir: string,
  frameIndices: number[],
  size: { width: number; height: number },
  annEvery: number,
  problems: { file: string; message: string }[],
  warnings: string[],
): Promise<ManifestVideo | null> {
  const loader = await JsonSegmentLoader.open(jsonPath, { annEvery });
  const have = new Set(frameIndices);
  const n = loader.numObjects;
  const objects = Array.from({ length: n }, (_, id) => ({ id, frames: 0, firstFrame: -1 }));
  const annotated: number[] = [];
  let missing = 0;
  for (let i = 0; i < loader.frameAnnots.length; i++) {
    const f = i * loader.annEvery;
    const row = loader.frameAnnots[i];
    for (let o = 0; o < n; o++) {
      const rle = row[o];
      if (rle === null) continue;
      if (rle.size[0] !== size.height || rle.size[1] !== size.width) {
        problems.push({
          file: jsonPath,
          message: `masklet[${i}][${o}] is ${rle.size[1]}x${
            rle.size[0]
          } (size is [h, w]), frames are ${size.width}x${size.height}`,
        });
        return null;
      }
      let area: number;
      try {
        area = rleArea(rle, `masklet[${i}][${o}]`);
      } catch (e) {
        problems.push({ file: jsonPath, message: (e as Error).message });
        return null;
      }
      if (area > 0) {
        objects[o].frames++;
        if (objects[o].firstFrame < 0) objects[o].firstFrame = f;
      }
    }
    if (have.has(f)) annotated.push(f);
    else missing++;
  }
  if (annotated.length === 0) {
    problems.push({
      file: jsonPath,
      message:
        `no annotated frame (every ${loader.annEvery}th) has an extracted frame in ${frameDir}`,
    });
    return null;
  }
  if (missing) warnings.push(`${name}: ${missing} annotated frame(s) have no extracted .jpg`);
  return { name, ...size, frameIndices, annotatedFrames: annotated, objects };
}
