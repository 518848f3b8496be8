/**
 * Synthetic datasets with exact ground truth, for demos and tests: the same videos written
 * as mp4, as SA-V json masklets, as DAVIS-style JPEG + palette PNG folders and as SA-1B
 * style image + json pairs.
 *
 * @module
 */
import { join } from "node:path";
import { Rng } from "../rng.ts";
import { encodeRle } from "../rle/rle.ts";
import { type CocoRle, rleArea, rleBbox } from "../rle/rle.ts";
import { encodeRgbJpeg } from "../image/rgb.ts";
import { encodePalettePng } from "../image/png.ts";
import { withStagedDir } from "../fs_atomic.ts";
import { randomScene, renderFrame, type SceneSpec } from "./scene.ts";
import { writeMp4 } from "./mp4_writer.ts";

/** The formats {@linkcode generateSyntheticDataset} can write. */
export type SyntheticFormat = "videos" | "sav" | "davis" | "sa1b";

/** Options for {@linkcode generateSyntheticDataset}. */
export interface SyntheticDatasetOptions {
  /** Output folder (created; must be empty or absent unless `overwrite`). */
  out: string;
  /** Number of videos. @default 2 */
  videos?: number;
  /** Frames per video. @default 24 */
  frames?: number;
  /** Frame width (even). @default 256 */
  width?: number;
  /** Frame height (even). @default 160 */
  height?: number;
  /** Seed of the one generator everything is drawn from. @default 0 */
  seed?: number;
  /** SA-V json holds every `annEvery`-th frame (SA-V itself: 4). @default 4 */
  annEvery?: number;
  /** Shapes per video, [min, max]. @default [2, 4] */
  objects?: [number, number];
  /** Frame rate of the mp4. @default 24 */
  fps?: number;
  /** What to write. @default ["videos", "sav", "davis", "sa1b"] */
  formats?: SyntheticFormat[];
  /** Frames of each video written as SA-1B images. @default [0] */
  sa1bFrames?: number[];
  /** Replace a non-empty `out`. @default false */
  overwrite?: boolean;
  /** JPEG quality of DAVIS frames and SA-1B images. @default 92 */
  jpegQuality?: number;
}

/** What was generated (also written as `out/synthetic.json`). */
export interface SyntheticDatasetInfo {
  out: string;
  seed: number;
  width: number;
  height: number;
  frames: number;
  annEvery: number;
  fps: number;
  formats: SyntheticFormat[];
  videos: { name: string; objects: number; sa1bImages: string[] }[];
}

function sizeBucket(area: number): string {
  return area < 32 * 32 ? "small" : area < 96 * 96 ? "medium" : "large";
}

/**
 * Generates a synthetic dataset under `opts.out` (atomically: a failure leaves no partial
 * folder). Layout: `videos/<name>.mp4`, `sav/<name>_manual.json`,
 * `davis/JPEGImages/<name>/<00000>.jpg`, `davis/Annotations/<name>/<00000>.png`,
 * `sa1b/sa_<id>.jpg` + `sa1b/sa_<id>.json`, and `synthetic.json`.
 *
 * @example
 * ```ts
 * const info = await generateSyntheticDataset({ out: "/tmp/syn", videos: 1, frames: 8 });
 * ```
 */
export async function generateSyntheticDataset(
  opts: SyntheticDatasetOptions,
): Promise<SyntheticDatasetInfo> {
  const nVideos = opts.videos ?? 2, nFrames = opts.frames ?? 24;
  const w = opts.width ?? 256, h = opts.height ?? 160;
  const seed = opts.seed ?? 0, annEvery = opts.annEvery ?? 4, fps = opts.fps ?? 24;
  const formats = opts.formats ?? ["videos", "sav", "davis", "sa1b"];
  const quality = opts.jpegQuality ?? 92;
  for (const [k, v] of Object.entries({ videos: nVideos, frames: nFrames, annEvery, fps })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`"${k}" must be a positive integer, got ${v}`);
    }
  }
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 16 || h < 16 || w % 2 || h % 2) {
    throw new RangeError(`Frame size must be even integers of at least 16, got ${w}x${h}`);
  }
  if (nVideos > 10000) throw new RangeError(`At most 10000 videos, got ${nVideos}`);
  for (const f of formats) {
    if (!["videos", "sav", "davis", "sa1b"].includes(f)) {
      throw new RangeError(`Unknown format "${f}"`);
    }
  }
  const sa1bFrames = (opts.sa1bFrames ?? [0]).filter((t) => t >= 0 && t < nFrames);

  const rng = new Rng(seed);
  const scenes: SceneSpec[] = [];
  for (let v = 0; v < nVideos; v++) {
    scenes.push(randomScene(rng.fork(), { width: w, height: h, objects: opts.objects }));
  }
  const info: SyntheticDatasetInfo = {
    out: opts.out,
    seed,
    width: w,
    height: h,
    frames: nFrames,
    annEvery,
    fps,
    formats,
    videos: [],
  };

  await withStagedDir(opts.out, async (dir) => {
    for (const f of formats) await Deno.mkdir(join(dir, f), { recursive: true });
    for (let v = 0; v < nVideos; v++) {
      const name = `syn_${String(v).padStart(4, "0")}`;
      const scene = scenes[v];
      const nObj = scene.shapes.length;
      const rendered = Array.from({ length: nFrames }, (_, t) => renderFrame(scene, t));
      const sa1bImages: string[] = [];
      if (formats.includes("videos")) {
        await writeMp4(join(dir, "videos", `${name}.mp4`), rendered.map((r) => r.rgb), {
          width: w,
          height: h,
          fps,
        });
      }
      if (formats.includes("davis")) {
        const jd = join(dir, "davis", "JPEGImages", name),
          ad = join(dir, "davis", "Annotations", name);
        await Deno.mkdir(jd, { recursive: true });
        await Deno.mkdir(ad, { recursive: true });
        for (let t = 0; t < nFrames; t++) {
          const stem = String(t).padStart(5, "0");
          await Deno.writeFile(
            join(jd, `${stem}.jpg`),
            await encodeRgbJpeg({ width: w, height: h, data: rendered[t].rgb }, { quality }),
          );
          await Deno.writeFile(
            join(ad, `${stem}.png`),
            encodePalettePng({ width: w, height: h, data: rendered[t].labels }),
          );
        }
      }
      if (formats.includes("sav")) {
        await Deno.writeTextFile(
          join(dir, "sav", `${name}_manual.json`),
          JSON.stringify(savJson(name, rendered, nObj, w, h, annEvery, fps)),
        );
      }
      if (formats.includes("sa1b")) {
        for (const t of sa1bFrames) {
          const id = v * 1000 + t + 1;
          const stem = `sa_${id}`;
          sa1bImages.push(stem);
          await Deno.writeFile(
            join(dir, "sa1b", `${stem}.jpg`),
            await encodeRgbJpeg({ width: w, height: h, data: rendered[t].rgb }, { quality }),
          );
          await Deno.writeTextFile(
            join(dir, "sa1b", `${stem}.json`),
            JSON.stringify(sa1bJson(id, stem, rendered[t].labels, nObj, w, h)),
          );
        }
      }
      info.videos.push({ name, objects: nObj, sa1bImages });
    }
    await Deno.writeTextFile(
      join(dir, "synthetic.json"),
      JSON.stringify({ ...info, out: undefined }, null, 2) + "\n",
    );
  }, { overwrite: opts.overwrite });
  return info;
}

function objectMask(labels: Uint8Array, id: number, w: number, h: number) {
  const data = new Uint8Array(w * h);
  for (let i = 0; i < data.length; i++) data[i] = labels[i] === id ? 1 : 0;
  return { height: h, width: w, data };
}

function savJson(
  name: string,
  rendered: { labels: Uint8Array }[],
  nObj: number,
  w: number,
  h: number,
  annEvery: number,
  fps: number,
) {
  const masklet: CocoRle[][] = [];
  for (let t = 0; t < rendered.length; t += annEvery) {
    const row: CocoRle[] = [];
    for (let o = 1; o <= nObj; o++) row.push(encodeRle(objectMask(rendered[t].labels, o, w, h)));
    masklet.push(row);
  }
  const areas = Array.from({ length: nObj }, (_, o) => masklet.map((row) => rleArea(row[o])));
  const stats = areas.map((a) => {
    const vis = a.map((x) => x > 0);
    const visibleAreas = a.filter((x) => x > 0);
    const mean = visibleAreas.length
      ? visibleAreas.reduce((s, x) => s + x, 0) / visibleAreas.length
      : 0;
    let changes = 0;
    for (let i = 1; i < vis.length; i++) if (vis[i] !== vis[i - 1]) changes++;
    return { mean, changes, first: Math.max(0, vis.indexOf(true)) };
  });
  return {
    video_id: name,
    video_duration: rendered.length / fps,
    video_frame_count: rendered.length,
    video_height: h,
    video_width: w,
    video_resolution: w * h,
    video_environment: "Synthetic",
    video_split: "train",
    masklet,
    masklet_id: Array.from({ length: nObj }, (_, i) => i),
    masklet_size_rel: stats.map((s) => s.mean / (w * h)),
    masklet_size_abs: stats.map((s) => s.mean),
    masklet_size_bucket: stats.map((s) => sizeBucket(s.mean)),
    masklet_visibility_changes: stats.map((s) => s.changes),
    masklet_first_appeared_frame: stats.map((s) => s.first),
    masklet_frame_count: Array.from({ length: nObj }, () => masklet.length),
    masklet_edited_frame_count: Array.from({ length: nObj }, () => 0),
    masklet_type: Array.from({ length: nObj }, () => "manual"),
    masklet_stability_score: Array.from({ length: nObj }, () => null),
    masklet_num: nObj,
  };
}

function sa1bJson(
  id: number,
  stem: string,
  labels: Uint8Array,
  nObj: number,
  w: number,
  h: number,
) {
  const annotations = [];
  for (let o = 1; o <= nObj; o++) {
    const seg = encodeRle(objectMask(labels, o, w, h));
    const area = rleArea(seg);
    if (area === 0) continue;
    const bbox = rleBbox(seg);
    annotations.push({
      id: id * 100 + o,
      segmentation: seg,
      area,
      bbox,
      predicted_iou: 1.0,
      stability_score: 1.0,
      point_coords: [[bbox[0] + bbox[2] / 2, bbox[1] + bbox[3] / 2]],
      crop_box: [0, 0, w, h],
    });
  }
  return { image: { image_id: id, width: w, height: h, file_name: `${stem}.jpg` }, annotations };
}
