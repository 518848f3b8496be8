/**
 * Thin wrappers over the `ffmpeg` and `ffprobe` executables (run with `Deno.Command`), so the
 * rest of the extractor never builds a command line by hand in two places.
 *
 * @module
 */

/** Raised when `ffmpeg`/`ffprobe` is missing or cannot read a video; `reason` is ffmpeg's own. */
export class FfmpegError extends Error {
  /** The video (or executable) the error is about. */
  readonly path: string;
  /** ffmpeg's last error lines (its own words), or why it could not start. */
  readonly reason: string;
  constructor(path: string, reason: string, message?: string) {
    super(message ?? `Cannot read video "${path}": ${reason}`);
    this.name = "FfmpegError";
    this.path = path;
    this.reason = reason;
  }
}

/** Executable names; tests and users may point these elsewhere with FFMPEG / FFPROBE. */
export function ffmpegPath(): string {
  return Deno.env.get("FFMPEG") ?? "ffmpeg";
}

/** See {@linkcode ffmpegPath}. */
export function ffprobePath(): string {
  return Deno.env.get("FFPROBE") ?? "ffprobe";
}

/**
 * Runs `program` to completion with its output captured. A program that cannot start (not
 * installed, not executable) is a setup problem, not a bad video: the error says how to fix it.
 */
async function runTool(
  program: string,
  envVar: string,
  args: string[],
): Promise<Deno.CommandOutput> {
  try {
    return await new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
      .output();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new FfmpegError(
      program,
      why,
      `Cannot run "${program}": ${why}. Install ffmpeg (Debian: apt-get install ffmpeg) or set ` +
        `${envVar} to its path`,
    );
  }
}

/**
 * The first line of `ffmpeg -version` (e.g. `ffmpeg version 5.1.9-0+deb12u1 ...`), so logs and
 * cache keys can name the decoder that produced the frames.
 *
 * @throws {FfmpegError} when ffmpeg is not installed or does not run.
 */
export async function ffmpegVersion(): Promise<string> {
  const out = await runTool(ffmpegPath(), "FFMPEG", ["-hide_banner", "-version"]);
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new FfmpegError(ffmpegPath(), lastLines(new TextDecoder().decode(out.stderr)));
  }
  return text.split("\n")[0].trim();
}

/** What {@linkcode probeVideo} learns about a video's first video stream. */
export interface VideoInfo {
  /** Display width and height (after the rotation ffmpeg applies by default). */
  width: number;
  height: number;
  /** Frame count from the container, or an estimate from duration x rate; null when unknown. */
  frames: number | null;
  /** Codec name as ffprobe says it (`h264`, ...). */
  codec: string;
}

/**
 * Reads the first video stream's size and frame count with ffprobe, without decoding.
 * The frame count only feeds progress bars: extraction counts decoded frames itself.
 *
 * @throws {FfmpegError} with ffprobe's reason when the file is not a readable video.
 */
export async function probeVideo(path: string): Promise<VideoInfo> {
  const out = await runTool(ffprobePath(), "FFPROBE", [
    "-v",
    "error",
    "-select_streams",
    "v:0",
    "-show_entries",
    "stream=width,height,nb_frames,avg_frame_rate,duration,codec_name:" +
    "stream_side_data=rotation:format=duration",
    "-of",
    "json",
    path,
  ]);
  const err = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new FfmpegError(path, lastLines(err) || `ffprobe exit ${out.code}`);
  // deno-lint-ignore no-explicit-any
  let j: any;
  try {
    j = JSON.parse(new TextDecoder().decode(out.stdout));
  } catch {
    throw new FfmpegError(path, "ffprobe printed no readable description");
  }
  const s = j?.streams?.[0];
  if (!s || !(s.width > 0) || !(s.height > 0)) {
    throw new FfmpegError(path, lastLines(err) || "no video stream");
  }
  let width = Number(s.width), height = Number(s.height);
  const rotation = Number(
    (s.side_data_list ?? []).find((d: { rotation?: number }) => d.rotation !== undefined)
      ?.rotation ?? 0,
  );
  if (Math.abs(rotation) % 180 === 90) [width, height] = [height, width];
  let frames: number | null = Number(s.nb_frames);
  if (!(frames > 0)) {
    const [num, den] = String(s.avg_frame_rate ?? "0/1").split("/").map(Number);
    const duration = Number(s.duration ?? j?.format?.duration);
    frames = num > 0 && den > 0 && duration > 0 ? Math.round((duration * num) / den) : null;
  }
  return { width, height, frames, codec: String(s.codec_name ?? "") };
}

/** The last few non-empty lines of ffmpeg's stderr: its reason, in its words. */
export function lastLines(text: string, n = 3): string {
  return text.split("\n")
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/g, "]").trim())
    .filter((l) => l.length > 0)
    .slice(-n)
    .join("; ");
}
