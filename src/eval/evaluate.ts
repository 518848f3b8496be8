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
import { evaluateVideo, isDir, listDir, type VideoEvaluation } from "./_evaluate_video.ts";
import { DEFAULT_BOUND_TH } from "./metrics.ts";

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
  /** Called after each video, for progress display (`done` videos finished so far). */
  onVideo?: (video: string, done: number, total: number) => void;
  /**
   * Videos scored in parallel by Worker threads (the reference's `-n`); 1 scores inline.
   * Results do not depend on it.
   * @default 1
   */
  concurrency?: number;
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
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 1, videos.length));
  let done = 0;
  const onDone = (video: string) => options.onVideo?.(video, ++done, videos.length);
  const results = concurrency > 1
    ? await evaluateInWorkers(
      found.gtRoot,
      options.predRoot,
      videos,
      skip,
      boundTh,
      concurrency,
      onDone,
    )
    : [];
  for (const [i, video] of videos.entries()) {
    let r = results[i];
    if (!r) {
      r = await evaluateVideo(found.gtRoot, options.predRoot, video, skip, boundTh);
      onDone(video);
    }
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

/** Scores videos on a pool of Workers; results in the order of `videos`. */
async function evaluateInWorkers(
  gtRoot: string,
  predRoot: string,
  videos: string[],
  skip: boolean,
  boundTh: number,
  concurrency: number,
  onDone: (video: string) => void,
): Promise<VideoEvaluation[]> {
  const results: VideoEvaluation[] = new Array(videos.length);
  const workers = Array.from(
    { length: concurrency },
    () => new Worker(new URL("./_video_worker.ts", import.meta.url), { type: "module" }),
  );
  let next = 0;
  try {
    await Promise.all(workers.map((w) =>
      new Promise<void>((resolve, reject) => {
        const send = () => {
          if (next >= videos.length) return resolve();
          const index = next++;
          w.postMessage({ index, gtRoot, predRoot, video: videos[index], skip, boundTh });
        };
        w.onmessage = (e: MessageEvent) => {
          const m = e.data as { index: number; result?: VideoEvaluation; error?: [string, string] };
          if (m.error) {
            const [name, message] = m.error;
            return reject(
              name === "NotFound" ? new Deno.errors.NotFound(message) : new Error(message),
            );
          }
          results[m.index] = m.result!;
          onDone(videos[m.index]);
          send();
        };
        w.onerror = (e) => {
          e.preventDefault();
          reject(new Error(`J&F worker failed: ${e.message}`));
        };
        send();
      })
    ));
  } finally {
    workers.forEach((w) => w.terminate());
  }
  return results;
}
