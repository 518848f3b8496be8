/**
 * `sam2 extract`: SA-V style frame extraction from the command line, locally (several videos
 * at once, one shard of the list) or as a SLURM array job (`--slurm`).
 *
 * @example
 * ```sh
 * deno task extract sav_train/ --out frames/ --jobs 4
 * deno task extract sav_train/ --out frames/ --slurm --slurm-tasks 64 --partition cpu --dry-run
 * ```
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import { importLazily } from "../../pipeline/lazy_import.ts";
import { parseShard, type Shard } from "../../data/extract/shard.ts";
import type { ExtractCliOptions } from "./extract_run.ts";

const HELP_AFTER = `
Input: a folder of videos (directly in it or one level down, as SA-V keeps them:
*/*.mp4), one video, or a text file with one video path per line (relative paths are
taken from the list file's folder; '#' starts a comment). Give INPUT or --file-list.

Output: <out>/<video stem>/<index:05d>.jpg for every Nth decoded frame, named by the
original frame index (N = --sample-rate: 00000.jpg, 00004.jpg, 00008.jpg, ...), the same
names and frames as the reference SA-V script (OpenCV, decode every frame, keep every
Nth). Frames are counted by decoded frame number, not timestamps, so variable-frame-rate
videos give the same frames. Each video is written to a hidden staging folder and renamed
into place when complete, with a marker (.extract.json) recording the parameters: a
re-run skips complete videos and redoes partial ones or ones made with another
--sample-rate/--quality.

Quality: --quality is the IJG/libjpeg scale (1-100) that OpenCV's cv2.imwrite uses
(IMWRITE_JPEG_QUALITY, default 95). Frames are encoded with the system's libjpeg-turbo
(libjpeg.so.62, the library OpenCV uses; Debian: libjpeg62-turbo) called directly, or
with libjpeg-turbo inside sharp when it is missing (same bytes, slower): baseline,
standard tables scaled by quality, 4:2:0 chroma, no Huffman optimisation, as
cv2.imwrite does by default, so the files are byte-identical to cv2.imwrite's. This is
not ffmpeg's mjpeg -q:v scale (2-31, lower is better), which is not used.

Cluster: --slurm writes an sbatch array script (one task per shard, each running this
command with --shard $SLURM_ARRAY_TASK_ID/<tasks>) to <slurm-log-dir>/extract.sbatch and
submits it with sbatch; --dry-run prints it instead and writes nothing.

Exit status: 0 when every video was extracted or already complete, 1 when any failed
(each failure is listed with ffmpeg's reason; the other videos still run).`;

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a positive integer.`);
    }
    return n;
  };
}

function qualityArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < 1 || n > 100) {
    throw new InvalidArgumentError("JPEG quality must be an integer from 1 to 100 (IJG scale).");
  }
  return n;
}

function shardArg(v: string): Shard {
  try {
    return parseShard(v);
  } catch (e) {
    throw new InvalidArgumentError(e instanceof Error ? e.message : String(e));
  }
}

/** Registers `extract`. */
export function register(program: Command): void {
  program
    .command("extract")
    .description("Extract every Nth frame of videos as JPEG (SA-V layout and names)")
    .argument("[input]", "folder of videos (or */*.mp4), one video, or a list file")
    .requiredOption("-o, --out <dir>", "output root: <out>/<video stem>/<index:05d>.jpg")
    .option(
      "-r, --sample-rate <n>",
      "keep every Nth decoded frame",
      positiveInt("--sample-rate"),
      4,
    )
    .option("-q, --quality <q>", "JPEG quality, IJG scale 1-100 (see below)", qualityArg, 95)
    .option(
      "-j, --jobs <n>",
      "videos extracted at the same time (default: half the logical cores, at least 1)",
      positiveInt("--jobs"),
    )
    .option("--shard <i/n>", "only shard i of n (0-based, contiguous, deterministic)", shardArg)
    .option("--file-list <file>", "read the videos from this list (one path per line)")
    .option("--no-progress", "no progress bar (also off when not a TTY or CI=true)")
    .option("--slurm", "write and submit an sbatch array job instead of running here")
    .option(
      "--slurm-tasks <n>",
      "SLURM array tasks = shards (the reference's --n-jobs)",
      positiveInt("--slurm-tasks"),
      8,
    )
    .option("--timeout <min>", "SLURM time limit per task, minutes", positiveInt("--timeout"), 60)
    .option("--cpus <n>", "SLURM CPUs per task", positiveInt("--cpus"), 4)
    .option("--mem <size>", "SLURM memory per task (e.g. 16G)")
    .option("--partition <name>", "SLURM partition")
    .option("--account <name>", "SLURM account")
    .option("--qos <name>", "SLURM QoS")
    .option(
      "--array-parallelism <n>",
      "SLURM array tasks running at once (default: all)",
      positiveInt("--array-parallelism"),
    )
    .option("--slurm-log-dir <dir>", "where the script and task logs go (default <out>/.slurm)")
    .addOption(new Option("--dry-run", "with --slurm: print the script, write and submit nothing"))
    .addHelpText("after", HELP_AFTER)
    .action(async (input: string | undefined, o: ExtractCliOptions) => {
      if (o.dryRun && !o.slurm) throw new Error("--dry-run only applies to --slurm");
      if (input === undefined && o.fileList === undefined) {
        throw new Error("Give an INPUT (folder, video or list file) or --file-list FILE");
      }
      if (input !== undefined && o.fileList !== undefined) {
        throw new Error("Give either INPUT or --file-list, not both");
      }
      // The extraction code (sharp, cli-progress) loads only when the command runs.
      const run = await importLazily<typeof import("./extract_run.ts")>(
        "./extract_run.ts",
        import.meta.url,
      );
      if (o.slurm) return await run.submitSlurm(input, o);
      await run.runLocal(input, o);
    });
}
