/**
 * J&F over a dataset of videos, with the semantics of the reference's
 * `sav_dataset/sav_evaluator.py` (+ `utils/sav_benchmark.py`):
 *
 * ```
 * <gtRoot>/<video>/<frame>.png            DAVIS layout: one palette PNG of object ids a frame
 * <gtRoot>/<video>/<obj>/<frame>.png      SA-V layout: one binary PNG per object (values > 0)
 * ```
 * `predRoot` has the same layout. Frames are the GT's PNG files, sorted by name; by default
 * the first and last are skipped (standard semi-supervised VOS). A prediction must exist for
 * each evaluated GT frame; extra predicted frames are ignored. Global J and F are means over
 * all objects of all videos (not over videos); J&F is their mean.
 */
import { JFAccumulator, type ObjectMeans } from "./accumulator.ts";
import { DEFAULT_BOUND_TH } from "./metrics.ts";
import { type MaskImage, readMaskPng } from "./png_mask.ts";

/** Options for {@link evaluate}. */
export interface EvaluateOptions {
  /** Folder of ground-truth masks (DAVIS or SA-V layout). */
  gtRoot: string;
  /** Folder of predicted masks, same layout as gtRoot. */
  predRoot: string;
  /**
   * Skip the first and last GT frame of each video/object (the reference's default; its
   * `--do_not_skip_first_and_last_frame` turns it off).
   * @default true
   */
  skipFirstAndLast?: boolean;
  /**
   * Require the same videos in both roots (the reference's `--strict`); otherwise the
   * videos present in both are evaluated.
   * @default false
   */
  strict?: boolean;
  /** Only these videos (after the strict/intersection rule). @default all */
  videos?: string[];
  /** Boundary tolerance as a fraction of the image diagonal. @default 0.008 */
  boundTh?: number;
  /** Called after each video, for progress display. */
  onVideo?: (video: string, index: number, total: number) => void;
}

/** One object's scores (percent). */
export interface ObjectScore {
  video: string;
  /** The object id (DAVIS: the palette index; SA-V: the object folder name). */
  object: string;
  j: number;
  f: number;
  jf: number;
  /** Frames that contributed. */
  frames: number;
}

/** One video's scores: means over its objects (percent). */
export interface VideoScore {
  video: string;
  j: number;
  f: number;
  jf: number;
  objects: number;
}

/** The result of {@link evaluate}: global, per-video and per-object J, F and J&F (percent). */
export interface JFResult {
  /** Mean J over all objects of all videos. */
  j: number;
  /** Mean F over all objects of all videos. */
  f: number;
  /** (j + f) / 2. */
  jf: number;
  videos: VideoScore[];
  objects: ObjectScore[];
  /** The layout found ("davis" or "sav"); "mixed" when videos differ. */
  layout: "davis" | "sav" | "mixed" | "none";
  gtRoot: string;
  predRoot: string;
  skipFirstAndLast: boolean;
  boundTh: number;
}

async function listDir(path: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(path)) out.push(e);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Folder not found: ${path}`);
    }
    throw e;
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** The videos to evaluate, following the reference's benchmark() rules. */
async function findVideos(
  gtRootIn: string,
  predRoot: string,
  strict: boolean,
): Promise<{ gtRoot: string; videos: string[] }> {
  let gtRoot = gtRootIn;
  let gtNames = (await listDir(gtRoot)).map((e) => e.name);
  const predNames = (await listDir(predRoot)).map((e) => e.name);
  // The reference accepts the dataset root in place of its Annotations folder.
  if (gtNames.length !== predNames.length && gtNames.includes("Annotations")) {
    const inner = await listDir(`${gtRoot}/Annotations`);
    if (inner.length > 0 && !inner[0].name.includes(".png")) {
      gtRoot = `${gtRoot}/Annotations`;
      gtNames = inner.map((e) => e.name);
    }
  }
  const gtVideos: string[] = [];
  for (const n of gtNames) if (await isDir(`${gtRoot}/${n}`)) gtVideos.push(n);
  const predVideos = new Set<string>();
  for (const n of predNames) if (await isDir(`${predRoot}/${n}`)) predVideos.add(n);
  if (!strict) return { gtRoot, videos: gtVideos.filter((v) => predVideos.has(v)) };
  const gtSet = new Set(gtVideos);
  const missing = gtVideos.filter((v) => !predVideos.has(v));
  const extra = [...predVideos].filter((v) => !gtSet.has(v)).sort();
  if (missing.length || extra.length) {
    throw new Error(
      `Strict evaluation: the video folders differ` +
        (missing.length ? `; in ${gtRoot} but not in ${predRoot}: ${missing.join(", ")}` : "") +
        (extra.length ? `; in ${predRoot} but not in ${gtRoot}: ${extra.join(", ")}` : ""),
    );
  }
  return { gtRoot, videos: gtVideos };
}

function distinctValues(m: MaskImage): number {
  const seen = new Set<number>();
  for (let i = 0; i < m.data.length && seen.size < 3; i++) seen.add(m.data[i]);
  return seen.size;
}

function binarize(m: MaskImage): Uint8Array {
  const out = new Uint8Array(m.data.length);
  for (let i = 0; i < out.length; i++) out[i] = m.data[i] > 0 ? 1 : 0;
  return out;
}

async function evalFolder(
  gtDir: string,
  predDir: string,
  frames: string[],
  perObjectFile: boolean,
  acc: JFAccumulator,
): Promise<void> {
  for (const frame of frames) {
    const gtPath = `${gtDir}/${frame}`;
    const predPath = `${predDir}/${frame}`;
    let pred: MaskImage;
    try {
      pred = await readMaskPng(predPath);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Deno.errors.NotFound(`Prediction ${predPath} not found (the GT has ${gtPath})`);
      }
      throw e;
    }
    const gt = await readMaskPng(gtPath);
    if (gt.width !== pred.width || gt.height !== pred.height) {
      throw new Error(
        `Shape mismatch: ${gtPath} is ${gt.width}x${gt.height}, ${predPath} is ` +
          `${pred.width}x${pred.height}`,
      );
    }
    if (perObjectFile) {
      for (const [m, p] of [[gt, gtPath], [pred, predPath]] as const) {
        if (distinctValues(m) > 2) {
          throw new Error(
            `Found more than 1 object in ${p}: the SA-V layout has one object mask per PNG file`,
          );
        }
      }
      acc.feedFrame(binarize(pred), binarize(gt), gt.width, gt.height);
    } else {
      acc.feedFrame(pred.data, gt.data, gt.width, gt.height);
    }
  }
}

/** Evaluates one video; returns its layout and per-object means keyed by object id. */
async function evaluateVideo(
  gtRoot: string,
  predRoot: string,
  video: string,
  skip: boolean,
  boundTh: number,
): Promise<{ layout: "davis" | "sav"; objects: [string, ObjectMeans][] }> {
  const gtVideo = `${gtRoot}/${video}`;
  const predVideo = `${predRoot}/${video}`;
  const entries = (await listDir(gtVideo)).map((e) => e.name);
  const cut = (xs: string[]) => (skip ? xs.slice(1, -1) : xs);
  if (entries.every((n) => n.endsWith(".png"))) {
    const acc = new JFAccumulator(boundTh);
    await evalFolder(gtVideo, predVideo, cut(entries), false, acc);
    const objects = [...acc.conclude()].map(([id, m]) => [String(id), m] as [string, ObjectMeans]);
    return { layout: "davis", objects };
  }
  const objects: [string, ObjectMeans][] = [];
  for (const obj of entries) {
    const frames = (await listDir(`${gtVideo}/${obj}`)).map((e) => e.name);
    const acc = new JFAccumulator(boundTh);
    await evalFolder(`${gtVideo}/${obj}`, `${predVideo}/${obj}`, cut(frames), true, acc);
    const means = acc.conclude();
    if (means.size !== 1) {
      throw new Error(
        `Object ${obj} of video ${video} has no foreground in its evaluated GT frames ` +
          `(${cut(frames).length} after skipping first and last): the reference cannot score it`,
      );
    }
    objects.push([obj, [...means.values()][0]]);
  }
  return { layout: "sav", objects };
}

/**
 * Computes J, F and J&F of predicted masks against ground truth (see the module comment
 * for the layouts and averaging).
 * @throws {Error} naming the path for missing predictions, size mismatches, unreadable PNGs,
 *   or (strict) differing video folders.
 */
export async function evaluate(options: EvaluateOptions): Promise<JFResult> {
  const skip = options.skipFirstAndLast ?? true;
  const boundTh = options.boundTh ?? DEFAULT_BOUND_TH;
  const found = await findVideos(options.gtRoot, options.predRoot, options.strict ?? false);
  let videos = found.videos;
  if (options.videos) {
    const want = new Set(options.videos);
    const unknown = options.videos.filter((v) => !videos.includes(v));
    if (unknown.length) throw new Error(`Videos not found in both roots: ${unknown.join(", ")}`);
    videos = videos.filter((v) => want.has(v));
  }
  const objects: ObjectScore[] = [];
  const videoScores: VideoScore[] = [];
  const layouts = new Set<string>();
  for (const [i, video] of videos.entries()) {
    const r = await evaluateVideo(found.gtRoot, options.predRoot, video, skip, boundTh);
    layouts.add(r.layout);
    const mine = r.objects.map(([object, m]) => ({
      video,
      object,
      j: m.j,
      f: m.f,
      jf: (m.j + m.f) / 2,
      frames: m.frames,
    }));
    objects.push(...mine);
    if (mine.length > 0) {
      const j = mine.reduce((a, o) => a + o.j, 0) / mine.length;
      const f = mine.reduce((a, o) => a + o.f, 0) / mine.length;
      videoScores.push({ video, j, f, jf: (j + f) / 2, objects: mine.length });
    }
    options.onVideo?.(video, i, videos.length);
  }
  const j = objects.length ? objects.reduce((a, o) => a + o.j, 0) / objects.length : NaN;
  const f = objects.length ? objects.reduce((a, o) => a + o.f, 0) / objects.length : NaN;
  return {
    j,
    f,
    jf: (j + f) / 2,
    videos: videoScores,
    objects,
    layout: layouts.size === 0 ? "none" : layouts.size > 1 ? "mixed" : [...layouts][0] as "davis",
    gtRoot: found.gtRoot,
    predRoot: options.predRoot,
    skipFirstAndLast: skip,
    boundTh,
  };
}
