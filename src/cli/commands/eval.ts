/**
 * `sam2 eval`: J&F of predicted masks against ground truth, with the reference evaluator's
 * rules and flags (sav_dataset/sav_evaluator.py), written as CSV, JSON, Markdown and HTML.
 *
 * @example
 * ```sh
 * deno task eval --gt_root data/Annotations --pred_root preds/ --out report/
 * ```
 */
import { type Command, InvalidArgumentError, Option } from "commander";

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

Predicting masks from a checkpoint (vos_inference) is not available yet: give --pred_root.`;

/** Registers `eval`. */
export function register(program: Command): void {
  program
    .command("eval")
    .description("Score predicted masks against ground truth (J&F) and write a report")
    .requiredOption("--gt_root <dir>", "ground-truth masks")
    .requiredOption("--pred_root <dir>", "predicted masks, same layout")
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
      gt_root: string;
      pred_root: string;
      out?: string;
      num_processes: number;
      strict: boolean;
      do_not_skip_first_and_last_frame: boolean;
      bound_th: number;
      quiet: boolean;
    }) => {
      const { evaluate, writeJFReport } = await import("../../eval/mod.ts");
      for (const [flag, dir] of [["--gt_root", o.gt_root], ["--pred_root", o.pred_root]]) {
        const st = await Deno.stat(dir).catch(() => null);
        if (!st?.isDirectory) throw new Error(`${flag} "${dir}" is not a folder`);
      }
      const result = await evaluate({
        gtRoot: o.gt_root,
        predRoot: o.pred_root,
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
