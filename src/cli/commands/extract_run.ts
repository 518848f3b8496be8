/**
 * What `sam2 extract` does once its options are parsed: local extraction with a progress
 * display, or a SLURM array script. Loaded lazily so other commands start fast.
 */
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
  readVideoListFile,
  sbatchScript,
  videoStem,
} from "../../data/extract/mod.ts";
import type { Shard } from "../../data/extract/shard.ts";

/** Half the logical cores: each job's ffmpeg decodes with cores / jobs threads while it encodes. */
export function defaultJobs(): number {
  return Math.max(1, Math.floor((navigator.hardwareConcurrency ?? 2) / 2));
}

/** Parsed options of `sam2 extract`. */
export interface ExtractCliOptions {
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

/** Extracts the videos locally. */
export async function runLocal(input: string | undefined, o: ExtractCliOptions): Promise<void> {
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

/** Writes (and submits, unless --dry-run) the sbatch array script. */
export async function submitSlurm(input: string | undefined, o: ExtractCliOptions): Promise<void> {
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
