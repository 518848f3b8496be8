/**
 * Encodes raw RGB frames to H.264 mp4 by piping them into ffmpeg's stdin, with bit-exact
 * flags so the same frames give the same file (content-hash caching relies on it).
 *
 * @module
 */

/** Options for {@linkcode writeMp4}. */
export interface WriteMp4Options {
  width: number;
  height: number;
  /** Frame rate. @default 24 */
  fps?: number;
  /** x264 constant rate factor. @default 18 */
  crf?: number;
  /** ffmpeg executable. @default "ffmpeg" */
  ffmpeg?: string;
}

/**
 * Writes `frames` (each `width*height*3` RGB bytes) to `path` as yuv420p H.264.
 *
 * @throws {Error} naming ffmpeg's message when it is missing or fails, or on odd sizes.
 */
export async function writeMp4(
  path: string,
  frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: WriteMp4Options,
): Promise<void> {
  const { width: w, height: h } = opts;
  if (w % 2 || h % 2) {
    throw new RangeError(`yuv420p video needs even width and height, got ${w}x${h}`);
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(opts.ffmpeg ?? "ffmpeg", {
      args: [
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        `${w}x${h}`,
        "-r",
        String(opts.fps ?? 24),
        "-i",
        "-",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        String(opts.crf ?? 18),
        "-pix_fmt",
        "yuv420p",
        "-threads",
        "1",
        "-fflags",
        "+bitexact",
        "-flags:v",
        "+bitexact",
        "-map_metadata",
        "-1",
        "-movflags",
        "+faststart",
        path,
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new Error(
      `Cannot start ffmpeg (${(e as Error).message}): install it (apt-get install ffmpeg)`,
    );
  }
  const stderrP = new Response(child.stderr).text();
  const writer = child.stdin.getWriter();
  let writeErr: unknown = null;
  try {
    for await (const f of frames) {
      if (f.length !== w * h * 3) {
        throw new RangeError(`Frame has ${f.length} bytes, expected ${w}x${h}x3`);
      }
      await writer.write(f);
    }
  } catch (e) {
    writeErr = e;
  }
  await writer.close().catch(() => {});
  const status = await child.status;
  const stderr = await stderrP;
  if (writeErr instanceof RangeError) throw writeErr;
  if (!status.success || writeErr) {
    throw new Error(`ffmpeg failed writing "${path}" (exit ${status.code}): ${stderr.trim()}`);
  }
}
