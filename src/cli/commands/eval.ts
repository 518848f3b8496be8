/**
 * `sam2 eval`: J&F of predicted masks against ground truth, with the reference evaluator's
 * rules and flags (sav_dataset/sav_evaluator.py), written as CSV, JSON, Markdown and HTML;
 * optionally predicting the masks first from a checkpoint (tools/vos_inference.py's flags).
 *
 * @example
 * ```sh
 * deno task eval --gt_root data/Annotations --pred_root preds/ --out report/
 * deno task eval --checkpoint model.pt --model-config configs/mini.yaml \
 *   --base_video_dir data/JPEGImages --input_mask_dir data/Annotations \
 *   --output_mask_dir preds/ --gt_root data/Annotations --out report/
 * ```
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { importLazily } from "../../pipeline/lazy_import.ts";

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < 1) {
    throw new InvalidArgumentError("must be a positive integer.");
  }
  return n;
}

function fraction(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n >= 1) {
    throw new InvalidArgumentError("must be a number in (0, 1).");
  }
  return n;
}

const HELP_AFTER = `
Layouts (detected per video): DAVIS (one palette PNG per frame, <root>/<video>/<frame>.png,
palette index = object id) or SA-V (one folder per object, <root>/<video>/<object>/<frame>.png).
Scores follow the reference: J = region IoU, F = boundary F-measure with a tolerance of
--bound_th x image diagonal; objects enter from the first frame they appear in; the first and
last annotated frames are skipped unless --do_not_skip_first_and_last_frame.

Predicting first (tools/vos_inference.py): give --checkpoint (or --sam2_checkpoint),
--model-config (or --sam2_cfg), --base_video_dir (<dir>/<video>/<frame>.jpg), --input_mask_dir
(the first frame's masks, same layout as the output) and --output_mask_dir; each video's first
frame masks are tracked through all its frames and written as <output_mask_dir>/<video>/<frame>.png
(DAVIS palette PNGs, overlaps resolved to the highest score) or, with --per_obj_png_file, one
folder per object. With --gt_root the predictions are then scored.`;

/** Registers `eval`. */
export function register(program: Command): void {
  program
    .command("eval")
    .description(
      "Score predicted masks against ground truth (J&F) and write a report; optionally predict them first",
    )
    .option("--gt_root <dir>", "ground-truth masks (score against these)")
    .option("--pred_root <dir>", "predicted masks, same layout (default: --output_mask_dir)")
    .option("--checkpoint <pt>", "predict first: model checkpoint (.pt or .safetensors)")
    .option("--sam2_checkpoint <pt>", "same as --checkpoint (the reference's name)")
    .option("--model-config <yaml>", "predict first: model config (path or reference name)")
    .option("--sam2_cfg <yaml>", "same as --model-config (the reference's name)")
    .option("--base_video_dir <dir>", "predict: <dir>/<video>/<frame>.jpg")
    .option("--input_mask_dir <dir>", "predict: first-frame masks of each video")
    .option("--output_mask_dir <dir>", "predict: where predicted masks are written")
    .option("--video_list_file <file>", "predict: video names, one a line (default: all)")
    .addOption(
      new Option("--score_thresh <x>", "predict: mask logit threshold").argParser(Number).default(
        0,
      ),
    )
    .option("--per_obj_png_file", "predict: SA-V layout (one folder per object)", false)
    .option("--apply_postprocessing", "predict: the reference's post-processing options", false)
    .option("--use_all_masks", "predict: every input mask file is a prompt, not only frame 0's")
    .option(
      "--track_object_appearing_later_in_video",
      "predict: read all input masks; each object starts on its first mask",
      false,
    )
    .option("--out <dir>", "write results.csv, jf.csv, jf.json, report.md/.html here")
    .option("-n, --num_processes <n>", "videos scored in parallel (Workers)", positiveInt, 1)
    .option("--strict", "require the same videos in both roots", false)
    .option("--do_not_skip_first_and_last_frame", "score the first and last frames too", false)
    .addOption(
      new Option("--bound_th <fraction>", "boundary tolerance / image diagonal")
        .argParser(fraction)
        .default(0.008),
    )
    .option("--quiet", "no per-video progress lines", false)
    .addHelpText("after", HELP_AFTER)
    .action(async (o: {
      gt_root?: string;
      pred_root?: string;
      checkpoint?: string;
      sam2_checkpoint?: string;
      modelConfig?: string;
      sam2_cfg?: string;
      base_video_dir?: string;
      input_mask_dir?: string;
      output_mask_dir?: string;
      video_list_file?: string;
      score_thresh: number;
      per_obj_png_file: boolean;
      apply_postprocessing: boolean;
      track_object_appearing_later_in_video: boolean;
      use_all_masks?: boolean;
      out?: string;
      num_processes: number;
      strict: boolean;
      do_not_skip_first_and_last_frame: boolean;
      bound_th: number;
      quiet: boolean;
    }) => {
      const { evaluate, writeJFReport } = await importLazily<typeof import("../../eval/mod.ts")>(
        "../../eval/mod.ts",
        import.meta.url,
      );
      const checkpoint = o.checkpoint ?? o.sam2_checkpoint;
      const modelConfig = o.modelConfig ?? o.sam2_cfg;
      const predictFlags = [
        ["--checkpoint", checkpoint],
        ["--model-config", modelConfig],
        ["--base_video_dir", o.base_video_dir],
        ["--input_mask_dir", o.input_mask_dir],
        ["--output_mask_dir", o.output_mask_dir],
      ] as const;
      const predict = predictFlags.some(([, v]) => v !== undefined);
      if (predict) {
        const missing = predictFlags.filter(([, v]) => v === undefined).map(([f]) => f);
        if (missing.length) {
          throw new Error(`Predicting masks needs ${missing.join(", ")} as well`);
        }
      } else if (!o.gt_root || !o.pred_root) {
        throw new Error(
          "Give --gt_root and --pred_root to score predictions, or --checkpoint, --model-config, " +
            "--base_video_dir, --input_mask_dir and --output_mask_dir to predict them",
        );
      }
      for (const [flag, dir] of [["--gt_root", o.gt_root], ["--pred_root", o.pred_root]]) {
        if (dir === undefined) continue;
        const st = await Deno.stat(dir).catch(() => null);
        if (!st?.isDirectory) throw new Error(`${flag} "${dir}" is not a folder`);
      }
      if (predict) {
        const { initGpu } = await importLazily<typeof import("../../gpu/mod.ts")>(
          "../../gpu/mod.ts",
          import.meta.url,
        );
        const { predictVideos, readVideoList } = await importLazily<
          typeof import("../../eval/mod.ts")
        >("../../eval/mod.ts", import.meta.url);
        await initGpu();
        const r = await predictVideos({
          checkpoint: checkpoint!,
          modelConfig: modelConfig!,
          baseVideoDir: o.base_video_dir!,
          inputMaskDir: o.input_mask_dir!,
          outputMaskDir: o.output_mask_dir!,
          videos: o.video_list_file ? await readVideoList(o.video_list_file) : undefined,
          scoreThresh: o.score_thresh,
          perObjPngFile: o.per_obj_png_file,
          applyPostprocessing: o.apply_postprocessing,
          trackObjectAppearingLater: o.track_object_appearing_later_in_video,
          useAllMasks: o.use_all_masks ?? false,
          onVideo: o.quiet ? undefined : (v, done, total) =>
            console.error(
              `[${done}/${total}] ${v.name}: ${v.frames} frames, ${v.objects} objects, ${
                (v.frames / v.seconds).toFixed(2)
              } frames/s`,
            ),
        });
        console.log(
          `predicted ${r.frames} frames of ${r.videos.length} videos (${
            r.fps.toFixed(2)
          } frames/s) -> ${o.output_mask_dir}`,
        );
        if (!o.gt_root) return;
      }
      const result = await evaluate({
        gtRoot: o.gt_root!,
        predRoot: o.pred_root ?? o.output_mask_dir!,
        strict: o.strict,
        skipFirstAndLast: !o.do_not_skip_first_and_last_frame,
        boundTh: o.bound_th,
        concurrency: o.num_processes,
        onVideo: o.quiet
          ? undefined
          : (video, done, total) => console.error(`[${done}/${total}] ${video}`),
      });
      console.log(
        `J&F ${result.jf.toFixed(1)}  J ${result.j.toFixed(1)}  F ${
          result.f.toFixed(1)
        }  (${result.videos.length} videos, ${result.objects.length} objects, ${result.layout} layout)`,
      );
      if (o.out) {
        const files = await writeJFReport(result, o.out);
        console.log(`report: ${files.html}`);
      }
    });
}
