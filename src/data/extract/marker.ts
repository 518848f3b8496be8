/**
 * The completion marker: a small JSON file written into a video's frame folder just before
 * the folder is renamed into place. A folder counts as complete only when the marker exists,
 * matches the requested parameters and names as many JPEGs as the folder holds, so a changed
 * `--sample-rate` or `--quality` re-extracts and a folder emptied by hand is redone.
 *
 * @module
 */
import { join } from "node:path";

/** File name of the marker inside each frame folder (hidden so frame listings skip it). */
export const MARKER_NAME = ".extract.json";

/** Version tag of the marker format and of the frame selection rule. */
export const MARKER_FORMAT = "sam2-extract-frames/1";

/** What the marker records; deterministic (no times), so content hashes of outputs are stable. */
export interface ExtractMarker {
  format: string;
  /** Every `sampleRate`-th decoded frame was kept. */
  sampleRate: number;
  /** IJG JPEG quality. */
  quality: number;
  /** Encoder description ({@linkcode JPEG_ENCODER}). */
  encoder: string;
  /** Number of JPEG files written. */
  frames: number;
  /** File name and byte size of the source video, to notice a replaced video. */
  source: { name: string; bytes: number };
}

/** Reads the marker of `dir`, or null when it is missing or unreadable. */
export async function readMarker(dir: string): Promise<ExtractMarker | null> {
  try {
    const m = JSON.parse(await Deno.readTextFile(join(dir, MARKER_NAME)));
    return m && m.format === MARKER_FORMAT ? m as ExtractMarker : null;
  } catch {
    return null;
  }
}

/** Writes `m` as the marker of `dir`. */
export async function writeMarker(dir: string, m: ExtractMarker): Promise<void> {
  await Deno.writeTextFile(join(dir, MARKER_NAME), JSON.stringify(m, null, 1) + "\n");
}

/**
 * True when `dir` holds a finished extraction made with these parameters from a video of
 * this size: the marker matches and the folder has exactly `marker.frames` JPEG files.
 */
export async function isComplete(
  dir: string,
  want: Omit<ExtractMarker, "format" | "frames">,
): Promise<boolean> {
  const m = await readMarker(dir);
  if (
    !m || m.sampleRate !== want.sampleRate || m.quality !== want.quality ||
    m.encoder !== want.encoder || m.source?.name !== want.source.name ||
    m.source?.bytes !== want.source.bytes
  ) return false;
  let jpegs = 0;
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && /^\d+\.jpg$/.test(e.name)) jpegs++;
  }
  return jpegs === m.frames && m.frames > 0;
}
