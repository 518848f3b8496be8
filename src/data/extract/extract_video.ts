/**
 * One video to one folder of JPEG frames, named like the reference SA-V script
 * (`training/scripts/sav_frame_extraction_submitit.py`): every `sampleRate`-th *decoded*
 * frame, file `{frame_index:05d}.jpg` by its original index (00000, 00004, 00008, ...).
 *
 * ffmpeg decodes and keeps frames by decoded-frame number (`select=not(mod(n,N))` with
 * passthrough timing, so variable-frame-rate videos give the same frames as a
 * decode-every-frame loop), converts only the kept frames to RGB (the same swscale
 * conversion OpenCV's `VideoCapture` makes) and pipes them as PPM through a FIFO
 * (`_fifo_reader.ts`) or its stdout; libjpeg-turbo encodes them at IJG quality, like
 * OpenCV's writer (`jpeg_encode.ts`), a few frames at once off the main thread.
 *
 * Where the CPU time goes beyond decoding (848x480, every 4th frame, 2 cores; measured with
 * `perf` and `deno task bench extract`): libjpeg's encode (as much as `cv2.imencode` takes),
 * copying frames through the pipe, writing the files; ffmpeg's RGB conversion is small.
 * ffmpeg decodes with `cores / jobs` threads so several videos do not thrash the cores.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { FfmpegError, ffmpegPath, ffmpegVersion, lastLines, probeVideo } from "./ffmpeg.ts";
import { checkQuality, encodeJpeg, JPEG_ENCODER, type JpegBackend } from "./jpeg_encode.ts";
import { type ExtractMarker, isComplete, MARKER_FORMAT, writeMarker } from "./marker.ts";
import { PpmReader, type RgbFrame } from "./ppm_stream.ts";
import { FifoPpmReader } from "./_fifo_reader.ts";

/** Options of {@linkcode extractVideo}. */
export interface ExtractVideoOptions {
  /** Keep every `sampleRate`-th decoded frame. @default {4} */
  sampleRate?: number;
  /** JPEG quality on the IJG/libjpeg scale (OpenCV's `IMWRITE_JPEG_QUALITY`). @default {95} */
  quality?: number;
  /** Stops ffmpeg and removes the staging folder; the promise rejects with the reason. */
  signal?: AbortSignal;
  /** Called after each frame is written; `framesTotal` is an estimate from the container. */
  onProgress?: (framesDone: number, framesTotal: number) => void;
  /** Frames encoded at once. @default {max(2, hardware concurrency)} */
  inFlight?: number;
  /**
   * ffmpeg's decoding threads (`-threads`). Several videos at once should split the cores
   * between them (`extractVideos` gives each `cores / jobs`): frame threads beyond a job's
   * share only add switching and memory (ffmpeg's own choice is cores + 1).
   * @default {the number of logical cores}
   */
  ffmpegThreads?: number;
  /** Return at once when `outDir` already holds a complete extraction with these parameters. @default {false} */
  skipComplete?: boolean;
  /** The JPEG library (both write the same bytes). @default {what `jpegBackend()` picks} */
  jpegBackend?: JpegBackend;
  /**
   * How frames travel from ffmpeg: a FIFO read with libc (`"fifo"`, less CPU per frame) or
   * ffmpeg's stdout (`"stdout"`). @default {"fifo" where FFI and FIFOs work, else "stdout"}
   */
  frameTransport?: "fifo" | "stdout";
}

/** What {@linkcode extractVideo} produced. */
export interface ExtractVideoResult {
  /** Number of JPEG files written (= `written.length`). */
  frames: number;
  /** Paths of the JPEG files in `outDir`, in frame order. */
  written: string[];
  /** True when the folder was already complete and nothing was done. */
  skipped?: boolean;
  /** Non-fatal messages ffmpeg printed (e.g. a damaged packet it decoded past). */
  warnings?: string[];
}

/** The file name of original frame `index`: `00004.jpg`. */
export function frameName(index: number): string {
  return `${String(index).padStart(5, "0")}.jpg`;
}

/** Validates a sample rate: a positive integer, else RangeError. */
export function checkSampleRate(sampleRate: number): void {
  if (!Number.isInteger(sampleRate) || sampleRate < 1) {
    throw new RangeError(`Sample rate must be a positive integer: got ${sampleRate}`);
  }
}

/** The staging folder of `outDir`: a hidden sibling, removed when a run starts over. */
export function stagingDir(outDir: string): string {
  return join(dirname(outDir), `.${basename(outDir)}.partial`);
}

let timingFlag: Promise<string[]> | null = null;

/** `-fps_mode passthrough` on ffmpeg >= 5.1, `-vsync passthrough` before (same meaning). */
function passthroughArgs(): Promise<string[]> {
  timingFlag ??= ffmpegVersion().then((v) => {
    const m = /version n?(\d+)\.(\d+)/.exec(v);
    const old = m !== null && (Number(m[1]) < 5 || (Number(m[1]) === 5 && Number(m[2]) < 1));
    return old ? ["-vsync", "passthrough"] : ["-fps_mode", "passthrough"];
  }).catch((e) => {
    timingFlag = null;
    throw e;
  });
  return timingFlag;
}

/** Options of {@linkcode ffmpegArgs}. */
export interface FfmpegArgsOptions {
  /** Where the PPM stream goes: `pipe:1` or a FIFO's path (then overwritten, `-y`). @default {"pipe:1"} */
  output?: string;
  /** Decoding threads (`-threads`). @default {ffmpeg's choice} */
  threads?: number;
}

/**
 * The ffmpeg arguments that decode `video` and pipe every `sampleRate`-th frame as PPM.
 *
 * @example
 * ```ts
 * const args = await ffmpegArgs("a.mp4", 4, { threads: 1 });
 * ```
 */
export async function ffmpegArgs(
  video: string,
  sampleRate: number,
  opts: FfmpegArgsOptions = {},
): Promise<string[]> {
  const { output = "pipe:1", threads } = opts;
  const select = sampleRate === 1 ? [] : ["-vf", `select='not(mod(n\\,${sampleRate}))'`];
  return [
    "-nostdin",
    "-hide_banner",
    "-loglevel",
    "error",
    ...(threads === undefined ? [] : ["-threads", String(threads)]),
    "-i",
    video,
    "-map",
    "0:v:0",
    "-an",
    "-sn",
    "-dn",
    ...select,
    ...(await passthroughArgs()),
    "-pix_fmt",
    "rgb24",
    "-c:v",
    "ppm",
    "-f",
    "image2pipe",
    // One write(2) per frame instead of one per 32 KiB: fewer wake-ups on both sides.
    "-avioflags",
    "direct",
    ...(output === "pipe:1" ? [] : ["-y"]),
    output,
  ];
}

/**
 * Extracts every `sampleRate`-th decoded frame of `video` into `outDir` as
 * `<outDir>/<index:05d>.jpg`. Frames are written to a staging folder next to `outDir`
 * (`.<name>.partial`) and renamed into place only when all are written, with a marker
 * (`.extract.json`) recording the parameters, so a killed run or a full disk never leaves a
 * folder that looks complete. An existing `outDir` is replaced.
 *
 * @example
 * ```ts
 * const { frames } = await extractVideo("sav_000001.mp4", "frames/sav_000001");
 * ```
 * @throws {FfmpegError} with ffmpeg's reason when the video cannot be decoded.
 * @throws {RangeError} on a bad sample rate or quality.
 */
export async function extractVideo(
  video: string,
  outDir: string,
  opts: ExtractVideoOptions = {},
): Promise<ExtractVideoResult> {
  const sampleRate = opts.sampleRate ?? 4;
  const quality = opts.quality ?? 95;
  checkSampleRate(sampleRate);
  checkQuality(quality);
  if (
    opts.ffmpegThreads !== undefined &&
    !(Number.isInteger(opts.ffmpegThreads) && opts.ffmpegThreads >= 1)
  ) {
    throw new RangeError(`ffmpeg threads must be a positive integer: got ${opts.ffmpegThreads}`);
  }
  opts.signal?.throwIfAborted();

  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(video);
  } catch (e) {
    throw new FfmpegError(video, e instanceof Deno.errors.NotFound ? "no such file" : String(e));
  }
  if (!stat.isFile) throw new FfmpegError(video, "not a file");
  const want = {
    sampleRate,
    quality,
    encoder: JPEG_ENCODER,
    source: { name: basename(video), bytes: stat.size },
  };
  if (opts.skipComplete && await isComplete(outDir, want)) {
    const names: string[] = [];
    for await (const e of Deno.readDir(outDir)) {
      if (e.isFile && /^\d+\.jpg$/.test(e.name)) names.push(e.name);
    }
    names.sort();
    return { frames: names.length, written: names.map((n) => join(outDir, n)), skipped: true };
  }

  // The container's frame count only feeds progress: probe alongside the decode, not before.
  let expected = 0;
  const probe = opts.onProgress
    ? probeVideo(video).then((info) => {
      if (info.frames !== null) expected = Math.ceil(info.frames / sampleRate);
    }).catch(() => {/* ffmpeg itself reports unreadable videos */})
    : Promise.resolve();

  const staging = stagingDir(outDir);
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  await Deno.mkdir(staging, { recursive: true });

  const inFlight = Math.max(1, opts.inFlight ?? Math.max(2, navigator.hardwareConcurrency ?? 2));
  // Frame buffers go back to a small pool once encoded (the encoder is done with them then).
  const pool: ArrayBuffer[] = [];
  const allocate = (n: number) => {
    const i = pool.findIndex((b) => b.byteLength === n);
    return i >= 0 ? pool.splice(i, 1)[0] : new ArrayBuffer(n);
  };
  // Frames come through a FIFO read with libc when FFI allows (cheaper per frame), else
  // through ffmpeg's stdout.
  const fifo = opts.frameTransport === "stdout" ? null : FifoPpmReader.create(staging, allocate);
  if (fifo === null && opts.frameTransport === "fifo") {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw new Error(
      `Frame transport "fifo" is not available here (it needs Linux, FFI permission and ` +
        `FIFOs in "${dirname(staging)}"): use "stdout"`,
    );
  }
  const threads = opts.ffmpegThreads ?? Math.max(1, navigator.hardwareConcurrency ?? 2);
  const args = await ffmpegArgs(video, sampleRate, { output: fifo?.path, threads });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(ffmpegPath(), {
      args,
      stdin: "null",
      stdout: fifo ? "null" : "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    await fifo?.cancel();
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw new FfmpegError(video, `cannot run "${ffmpegPath()}": ${String(e)}`);
  }
  child.status.then(() => fifo?.writerExited(), () => fifo?.writerExited());
  const stderrText = new Response(child.stderr).text();
  const onAbort = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  const pending = new Set<Promise<void>>();
  const names: string[] = [];
  let failure: unknown = null;
  let done = 0;

  const writeFrame = async (frame: RgbFrame, name: string) => {
    const bytes = await encodeJpeg(frame, quality, { backend: opts.jpegBackend });
    if (pool.length <= inFlight) pool.push(frame.data.buffer as ArrayBuffer);
    // Synchronous: one write costs less CPU than the three thread hand-offs of the async
    // open/write/close (~0.4 ms a frame here), and the reads and encodes in flight go on in
    // their own threads meanwhile.
    Deno.writeFileSync(join(staging, name), bytes);
    done++;
    opts.onProgress?.(done, Math.max(expected, done));
  };

  const reader = fifo ?? new PpmReader(child.stdout, allocate);
  /** A broken frame stream is reported with ffmpeg's reason when it gave one. */
  const nextFrame = async () => {
    try {
      return await reader.next();
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      onAbort();
      const status = await child.status;
      const err = await stderrText;
      throw new FfmpegError(
        video,
        (!status.success && lastLines(err)) || `ffmpeg's frame stream is broken: ${e.message}`,
      );
    }
  };

  try {
    let index = 0;
    for (let frame = await nextFrame(); frame !== null; frame = await nextFrame()) {
      const name = frameName(index * sampleRate);
      index++;
      names.push(name);
      const p = writeFrame(frame, name).catch((e) => {
        failure ??= e;
      }).finally(() => pending.delete(p));
      pending.add(p);
      while (pending.size >= inFlight) await Promise.race(pending);
      if (failure !== null) throw failure;
    }
    await Promise.all(pending);
    if (failure !== null) throw failure;
    const status = await child.status;
    const err = await stderrText;
    await fifo?.cancel();
    opts.signal?.throwIfAborted();
    if (!status.success) {
      throw new FfmpegError(video, lastLines(err) || `ffmpeg exited with code ${status.code}`);
    }
    if (names.length === 0) {
      throw new FfmpegError(video, lastLines(err) || "no video frames could be decoded");
    }
    const marker: ExtractMarker = { format: MARKER_FORMAT, frames: names.length, ...want };
    await writeMarker(staging, marker);
    await moveIntoPlace(staging, outDir);
    const warnings = err.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
    return {
      frames: names.length,
      written: names.map((n) => join(outDir, n)),
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  } catch (e) {
    onAbort();
    await reader.cancel();
    await Promise.allSettled(pending);
    await child.status.catch(() => {});
    await stderrText.catch(() => "");
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw e;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await probe;
  }
}

/**
 * Renames the finished `staging` folder to `outDir`. An existing `outDir` is first moved
 * aside and deleted after, so at every instant `outDir` is either the old complete folder,
 * absent, or the new complete folder.
 */
async function moveIntoPlace(staging: string, outDir: string): Promise<void> {
  const old = join(dirname(outDir), `.${basename(outDir)}.old`);
  // A stale one is what a run killed between the two renames below left behind.
  await Deno.remove(old, { recursive: true }).catch(() => {});
  let hadOld = false;
  try {
    await Deno.rename(outDir, old);
    hadOld = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      // e.g. rename over an existing .old: clear it and retry once.
      await Deno.remove(old, { recursive: true }).catch(() => {});
      await Deno.rename(outDir, old);
      hadOld = true;
    }
  }
  await Deno.rename(staging, outDir);
  if (hadOld) await Deno.remove(old, { recursive: true });
}
