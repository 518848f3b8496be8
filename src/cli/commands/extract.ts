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
import cliProgress from "cli-progress";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import {
  type ExtractEvent,
  type ExtractSummary,
  extractVideos,
  ffmpegVersion,
  listVideos,
  parseShard,
  readVideoListFile,
  sbatchScript,
  type Shard,
  videoStem,
} from "../../data/extract/mod.ts";

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
(IMWRITE_JPEG_QUALITY, default 95). Frames are encoded with libjpeg-turbo through sharp,
baseline, standard tables scaled by quality, 4:2:0 chroma, no Huffman optimisation,
as cv2.imwrite does by default. This is not ffmpeg's mjpeg -q:v scale (2-31, lower is
better), which is not used.

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

/** Half the logical cores: each ffmpeg decodes with several threads and sharp encodes in parallel. */
function defaultJobs(): number {
  return Math.max(1, Math.floor((navigator.hardwareConcurrency ?? 2) / 2));
}

/** Parsed options of `sam2 extract`. */
interface ExtractCliOptions {
  out: string;
  sampleRate: number;
  quality: number;
  jobs?: number;
  shard?: Shard;
  fileList?: string;
  progress: boolean;
  slurm?: boolean;
  slurmTasks: number;
  timeout: number;
  cpus: number;
  mem?: string;
  partition?: string;
  account?: string;
  qos?: string;
  arrayParallelism?: number;
  slurmLogDir?: string;
  dryRun?: boolean;
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
      if (o.slurm) return await submitSlurm(input, o);
      await runLocal(input, o);
    });
}

async function runLocal(input: string | undefined, o: ExtractCliOptions): Promise<void> {
  const version = await ffmpegVersion();
  const videos = o.fileList !== undefined
    ? await readVideoListFile(o.fileList)
    : await listVideos(input!);
  if (videos.length === 0) {
    throw new Error(
      `No videos found in "${
        input ?? o.fileList
      }" (looked for *.mp4 etc. in it and one level down)`,
    );
  }
  const shard = o.shard ?? { index: 0, count: 1 };
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("Interrupted: partial videos were removed"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const display = makeDisplay(o.progress, version);
  let summary: ExtractSummary;
  try {
    summary = await extractVideos(videos, o.out, {
      sampleRate: o.sampleRate,
      quality: o.quality,
      jobs: o.jobs ?? defaultJobs(),
      shard,
      signal: controller.signal,
      onEvent: display.event,
      onStart: display.start,
    });
  } finally {
    display.stop();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  printSummary(summary, o);
  if (summary.failed.length > 0) {
    throw new Error(
      `${summary.failed.length} of ${summary.total} video(s) failed (listed above); ` +
        "fix or remove them and run the same command again (complete videos are skipped)",
    );
  }
}

function printSummary(s: ExtractSummary, o: ExtractCliOptions): void {
  for (const f of s.failed) console.error(`FAILED ${f.video}: ${f.reason}`);
  const shard = s.shard.count > 1 ? ` (shard ${s.shard.index}/${s.shard.count})` : "";
  const fps = s.seconds > 0 ? (s.frames / s.seconds).toFixed(1) : "0";
  console.log(
    `Extracted ${s.extracted}, skipped ${s.skipped} (already complete), failed ${s.failed.length}` +
      ` of ${s.total} video(s)${shard}; ${s.frames} frames written to ${o.out} in ` +
      `${
        s.seconds.toFixed(1)
      } s (${fps} frames/s), every ${o.sampleRate}th frame, quality ${o.quality}`,
  );
}

/** Progress: a cli-progress bar on a TTY, otherwise (or with CI=true) one line per video. */
function makeDisplay(wanted: boolean, version: string) {
  const tty = wanted && Deno.stderr.isTerminal() && !/^(1|true)$/i.test(Deno.env.get("CI") ?? "");
  let total = 0, finished = 0, frames = 0;
  const t0 = performance.now();
  const running = new Map<string, number>(); // video -> fraction done
  const fps = () => (frames / Math.max((performance.now() - t0) / 1000, 1e-3)).toFixed(1);
  const bar = tty
    ? new cliProgress.SingleBar({
      format: "{bar} {percentage}% | {videos} videos | {frames} frames | {fps} frames/s | " +
        "ETA {eta_formatted}",
      stream: process.stderr,
      etaBuffer: 50,
      hideCursor: true,
    }, cliProgress.Presets.shades_classic)
    : null;
  const units = () => {
    let u = finished;
    for (const f of running.values()) u += f;
    return Math.round(u * 1000);
  };
  const payload = () => ({ videos: `${finished}/${total}`, frames, fps: fps() });
  const log = (line: string) => {
    if (bar) bar.updateETA();
    if (!tty) console.error(line);
  };
  return {
    start(n: number) {
      total = n;
      if (!tty) console.error(`${version}\nExtracting ${n} video(s)`);
      bar?.start(Math.max(n, 1) * 1000, 0, payload());
    },
    event(e: ExtractEvent) {
      const name = videoStem(e.video);
      switch (e.kind) {
        case "start":
          running.set(e.video, 0);
          break;
        case "frame":
          frames++;
          running.set(
            e.video,
            e.framesTotal > 0 ? Math.min(e.framesDone / e.framesTotal, 0.99) : 0,
          );
          break;
        case "done":
          running.delete(e.video);
          finished++;
          log(`[${finished}/${total}] ${name}: ${e.frames} frames (${fps()} frames/s overall)`);
          for (const w of e.warnings) log(`  warning (${name}): ${w}`);
          break;
        case "skipped":
          running.delete(e.video);
          finished++;
          log(`[${finished}/${total}] ${name}: already complete (${e.frames} frames), skipped`);
          break;
        case "failed":
          running.delete(e.video);
          finished++;
          log(`[${finished}/${total}] FAILED ${e.video}: ${e.reason}`);
          break;
      }
      bar?.update(units(), payload());
    },
    stop() {
      bar?.stop();
    },
  };
}

async function submitSlurm(input: string | undefined, o: ExtractCliOptions): Promise<void> {
  if (o.shard) throw new Error("--shard is set per array task by --slurm: leave it out");
  const out = resolve(o.out);
  const logDir = resolve(o.slurmLogDir ?? `${out}/.slurm`);
  const main = fileURLToPath(new URL("../main.ts", import.meta.url));
  const command = [Deno.execPath(), "run", "-A", main, "extract"];
  if (o.fileList !== undefined) command.push("--file-list", resolve(o.fileList));
  else command.push(resolve(input!));
  command.push(
    "--out",
    out,
    "--sample-rate",
    String(o.sampleRate),
    "--quality",
    String(o.quality),
    "--jobs",
    String(o.jobs ?? Math.max(1, Math.floor(o.cpus / 2))),
    "--no-progress",
  );
  const script = sbatchScript({
    tasks: o.slurmTasks,
    command,
    timeoutMin: o.timeout,
    cpusPerTask: o.cpus,
    mem: o.mem,
    partition: o.partition,
    account: o.account,
    qos: o.qos,
    arrayParallelism: o.arrayParallelism,
    logDir,
    workDir: dirname(dirname(dirname(main))),
  });
  if (o.dryRun) {
    console.log(script);
    return;
  }
  await Deno.mkdir(logDir, { recursive: true });
  const path = `${logDir}/extract.sbatch`;
  await Deno.writeTextFile(`${path}.tmp`, script, { mode: 0o755 });
  await Deno.rename(`${path}.tmp`, path);
  let res: Deno.CommandOutput;
  try {
    res = await new Deno.Command("sbatch", { args: [path], stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`Wrote ${path} but sbatch is not on PATH: submit it with "sbatch ${path}"`);
    }
    throw e;
  }
  const text = new TextDecoder().decode(res.stdout).trim();
  if (!res.success) {
    throw new Error(`sbatch ${path} failed: ${new TextDecoder().decode(res.stderr).trim()}`);
  }
  console.log(`${text}\nScript: ${path}\nLogs: ${logDir}/<job>_<task>.out`);
}
