/**
 * `tools/vos_inference.py` over a dataset: for each video of `<base_video_dir>`, the first
 * frame's masks from `<input_mask_dir>` are tracked through the video and the predictions are
 * written to `<output_mask_dir>/<video>/<frame>.png` (DAVIS palette PNGs, or one folder per
 * object with `perObjPngFile`), ready for {@link evaluate}.
 *
 * @module
 */
import { type ObjectMasks, readPromptMasks, writePredictionMasks } from "../vos_masks.ts";
import { listVideoFrames } from "./frames.ts";
import { VideoPredictor } from "./video_predictor.ts";

/** Options of {@link predictVideos}. */
export interface PredictVideosOptions {
  /** A loaded predictor; otherwise `checkpoint` and `modelConfig` build one (and free it). */
  predictor?: VideoPredictor;
  /** `--sam2_checkpoint`. */
  checkpoint?: string;
  /** `--sam2_cfg`: model config path or reference config name. */
  modelConfig?: string;
  /** `--base_video_dir`: `<dir>/<video>/<frame>.jpg`. */
  baseVideoDir: string;
  /** `--input_mask_dir`: the first frame's masks of each video. */
  inputMaskDir: string;
  /** `--output_mask_dir`: where predictions go. */
  outputMaskDir: string;
  /** Videos to run (`--video_list_file` lines). @default every sub-folder of baseVideoDir */
  videos?: string[];
  /** `--score_thresh`. @default 0 */
  scoreThresh?: number;
  /** `--per_obj_png_file`: SA-V layout in and out, masks may overlap. @default false */
  perObjPngFile?: boolean;
  /** `--apply_postprocessing`. @default false */
  applyPostprocessing?: boolean;
  /**
   * `--track_object_appearing_later_in_video`: read every frame's masks; each object starts on
   * its first non-empty mask (`vos_separate_inference_per_object`). @default false
   */
  trackObjectAppearingLater?: boolean;
  /**
   * `--use_all_masks`: every mask file of the video is an input (a conditioning frame), not
   * only the first frame's. @default false
   */
  useAllMasks?: boolean;
  /** Extra model config overrides. @default [] */
  overrides?: string[];
  /** Called after each video. */
  onVideo?: (video: PredictedVideo, done: number, total: number) => void;
}

/** One predicted video. */
export interface PredictedVideo {
  name: string;
  frames: number;
  objects: number;
  width: number;
  height: number;
  seconds: number;
}

/** What {@link predictVideos} did. */
export interface PredictVideosResult {
  videos: PredictedVideo[];
  frames: number;
  seconds: number;
  /** Frames per second over all videos (reading and writing included). */
  fps: number;
}

/**
 * Reads `--video_list_file`: one video name a line, blank lines ignored.
 * @throws {Deno.errors.NotFound} naming the file.
 */
export async function readVideoList(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Video list file "${path}" does not exist`);
    }
    throw e;
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

/** Every annotated frame's masks of a video (frames without a mask file are skipped). */
async function readAllPrompts(root: string, video: string, names: string[], perObj: boolean) {
  const byFrame = new Map<number, ObjectMasks>();
  let width = 0, height = 0;
  let palette: [number, number, number][] | undefined;
  for (let t = 0; t < names.length; t++) {
    const p = await readPromptMasks(root, video, names[t], {
      perObjectFiles: perObj,
      allowMissing: true,
    });
    if (p.masks.size === 0) continue;
    if (byFrame.size === 0) [width, height, palette] = [p.width, p.height, p.palette];
    else if (p.width !== width || p.height !== height) {
      throw new Error(
        `Masks of "${root}/${video}" frame ${
          names[t]
        } are ${p.width}x${p.height}, earlier ones ${width}x${height}`,
      );
    }
    byFrame.set(t, p.masks);
  }
  return { byFrame, width, height, palette };
}

async function folderOrThrow(dir: string, what: string): Promise<void> {
  const st = await Deno.stat(dir).catch(() => null);
  if (!st?.isDirectory) throw new Deno.errors.NotFound(`${what} "${dir}" is not a folder`);
}

/**
 * Predicts masks for every video (see the module doc). Each video is written to a temporary
 * folder and renamed into place when complete, so an interrupted run leaves no half video.
 * @throws {Deno.errors.NotFound} naming a missing folder, video, frame mask or checkpoint.
 */
export async function predictVideos(opts: PredictVideosOptions): Promise<PredictVideosResult> {
  const t0 = performance.now();
  await folderOrThrow(opts.baseVideoDir, "base_video_dir");
  await folderOrThrow(opts.inputMaskDir, "input_mask_dir");
  let videos = opts.videos;
  if (!videos) {
    videos = [];
    for await (const e of Deno.readDir(opts.baseVideoDir)) if (e.isDirectory) videos.push(e.name);
    videos.sort();
  }
  const perObj = opts.perObjPngFile ?? false;
  let predictor = opts.predictor;
  const own = !predictor;
  if (!predictor) {
    if (!opts.checkpoint || !opts.modelConfig) {
      throw new Error("predictVideos: give a predictor, or checkpoint and modelConfig");
    }
    predictor = await VideoPredictor.load({
      checkpoint: opts.checkpoint,
      modelConfig: opts.modelConfig,
      applyPostprocessing: opts.applyPostprocessing,
      nonOverlapMasks: !perObj,
      scoreThresh: opts.scoreThresh,
      overrides: opts.overrides,
    });
  }
  const done: PredictedVideo[] = [];
  try {
    await Deno.mkdir(opts.outputMaskDir, { recursive: true });
    for (const name of videos) {
      const frames = await listVideoFrames(`${opts.baseVideoDir}/${name}`);
      const allFrames = opts.trackObjectAppearingLater || opts.useAllMasks;
      const prompt = allFrames
        ? await readAllPrompts(opts.inputMaskDir, name, frames.map((f) => f.name), perObj)
        : await readPromptMasks(opts.inputMaskDir, name, frames[0].name, {
          perObjectFiles: perObj,
        }).then((p) => ({ ...p, byFrame: new Map([[0, p.masks]]) }));
      if (![...prompt.byFrame.values()].some((m) => m.size > 0)) {
        throw new Error(
          `Video "${name}": no object ids in the input masks under "${opts.inputMaskDir}/${name}"`,
        );
      }
      const tmp = `${opts.outputMaskDir}/.${name}.partial-${Deno.pid}`;
      await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
      try {
        const r = await predictor.predictVideo({
          frames,
          promptsByFrame: allFrames ? prompt.byFrame : undefined,
          prompts: allFrames ? undefined : prompt.byFrame.get(0),
          allObjectsFromFirstFrame: !opts.trackObjectAppearingLater,
          useAllMasks: opts.useAllMasks,
          // vos_inference: non_overlap_masks = not per_obj_png_file
          nonOverlapMasks: !perObj,
          maskWidth: prompt.width,
          maskHeight: prompt.height,
          onFrame: (f) =>
            writePredictionMasks(
              opts.outputMaskDir,
              `.${name}.partial-${Deno.pid}`,
              f.name,
              f.masks,
              {
                width: f.width,
                height: f.height,
              },
              { perObjectFiles: perObj, palette: prompt.palette },
            ),
        });
        const dest = `${opts.outputMaskDir}/${name}`;
        await Deno.remove(dest, { recursive: true }).catch(() => undefined);
        await Deno.rename(tmp, dest);
        done.push({ name, ...r });
        opts.onVideo?.(done[done.length - 1], done.length, videos.length);
      } catch (e) {
        await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
        throw e;
      }
    }
  } finally {
    if (own) predictor.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  const frames = done.reduce((a, v) => a + v.frames, 0);
  const predictSeconds = done.reduce((a, v) => a + v.seconds, 0);
  return { videos: done, frames, seconds, fps: predictSeconds > 0 ? frames / predictSeconds : 0 };
}
