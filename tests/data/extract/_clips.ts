/**
 * Tiny test videos made with ffmpeg: each frame a solid colour derived from its frame number,
 * so a JPEG can be matched back to the decoded frame it came from.
 */
import sharp from "sharp";

export const W = 64, H = 48;

/** Runs ffmpeg with `args`, throwing its stderr on failure. */
export async function ffmpeg(args: string[]): Promise<void> {
  const out = await new Deno.Command("ffmpeg", {
    args: ["-nostdin", "-hide_banner", "-loglevel", "error", "-y", ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`ffmpeg failed: ${new TextDecoder().decode(out.stderr)}`);
}

/**
 * Writes a `frames`-frame 64x48 H.264 mp4 whose frame n is a solid colour. With `vfr`, the
 * frame durations vary (1, 3, 1, 3, ... ticks of 1/30 s), so selecting by time would pick
 * other frames than selecting by decoded frame number.
 */
export async function makeColourClip(
  path: string,
  opts: { frames?: number; vfr?: boolean } = {},
): Promise<void> {
  const frames = opts.frames ?? 20;
  const colour = "geq=r='mod(N*53,256)':g='mod(N*101+80,256)':b='mod(N*29+160,256)'";
  const pts = opts.vfr ? ",setpts='(2*N-mod(N,2))/(30*TB)'" : "";
  await ffmpeg([
    "-f",
    "lavfi",
    "-i",
    `color=c=black:s=${W}x${H}:r=30:d=${frames / 30 + 1},format=rgb24,${colour}${pts}`,
    "-frames:v",
    String(frames),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-qp",
    "0",
    "-pix_fmt",
    "yuv420p",
    ...(opts.vfr ? ["-fps_mode", "passthrough", "-video_track_timescale", "30"] : []),
    path,
  ]);
}

/** Decodes every frame of `video` to RGB (passthrough timing: one output per decoded frame). */
export async function fullDecode(video: string): Promise<Uint8Array[]> {
  const out = await new Deno.Command("ffmpeg", {
    args: [
      "-nostdin",
      "-loglevel",
      "error",
      "-i",
      video,
      "-fps_mode",
      "passthrough",
      "-pix_fmt",
      "rgb24",
      "-f",
      "rawvideo",
      "pipe:1",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const size = W * H * 3;
  const frames: Uint8Array[] = [];
  for (let o = 0; o + size <= out.stdout.length; o += size) {
    frames.push(out.stdout.subarray(o, o + size));
  }
  return frames;
}

/** The presentation timestamps (seconds) of every video packet, in decode order. */
export async function packetTimes(video: string): Promise<number[]> {
  const out = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      "-select_streams",
      "v:0",
      "-show_entries",
      "frame=pts_time",
      "-of",
      "csv=p=0",
      video,
    ],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.replace(/,/g, "").trim())
    .filter((l) => l !== "").map(Number).filter((t) => Number.isFinite(t));
}

/** Decodes a JPEG file to RGB bytes. */
export async function decodeJpeg(path: string): Promise<Uint8Array> {
  const { data } = await sharp(await Deno.readFile(path)).raw().toBuffer({
    resolveWithObject: true,
  });
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Mean squared difference of two equal-length byte arrays. */
export function mse(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s / a.length;
}

/** Index of the frame of `frames` closest to `img`, and the distance to it and to the runner-up. */
export function nearestFrame(
  img: Uint8Array,
  frames: Uint8Array[],
): { index: number; d: number; next: number } {
  const ds = frames.map((f) => mse(img, f));
  const order = ds.map((d, i) => [d, i]).sort((x, y) => x[0] - y[0]);
  return { index: order[0][1], d: order[0][0], next: order[1]?.[0] ?? Infinity };
}

/** A fresh temporary folder. */
export function tempDir(): Promise<string> {
  return Deno.makeTempDir({ prefix: "sam2-extract-test-" });
}

/** Sorted names in `dir`. */
export async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}
