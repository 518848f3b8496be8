/**
 * Finds the videos to extract: a folder (videos in it and, like SA-V's layout, one level
 * down: `*\/*.mp4`), a text file list, or one video file.
 *
 * @module
 */
import { dirname, extname, isAbsolute, join } from "node:path";

/** File extensions taken as videos when listing a folder (case-insensitive). */
export const VIDEO_EXTENSIONS: readonly string[] = [
  ".mp4",
  ".mov",
  ".m4v",
  ".mkv",
  ".webm",
  ".avi",
];

function isVideoName(name: string): boolean {
  return VIDEO_EXTENSIONS.includes(extname(name).toLowerCase());
}

/**
 * The sorted list of videos named by `input`:
 * - a folder: its video files and those one folder down (SA-V keeps `sav_000/sav_000001.mp4`);
 * - a video file: that file;
 * - any other file: a list, one path per line; blank lines and lines starting with `#` are
 *   skipped, relative paths are taken from the list file's folder.
 *
 * Sorting is by path (code point order, like the reference's `sorted(glob(...))`), so shards
 * are the same on every machine.
 *
 * @throws {Deno.errors.NotFound} when `input` does not exist.
 */
export async function listVideos(input: string): Promise<string[]> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(input);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(
        `Input "${input}" does not exist: give a folder of videos, a video or a file list`,
      );
    }
    throw e;
  }
  if (stat.isFile) {
    if (isVideoName(input)) return [input];
    return await readVideoListFile(input);
  }
  const found: string[] = [];
  for await (const e of Deno.readDir(input)) {
    const p = join(input, e.name);
    if (e.isFile || e.isSymlink) {
      if (isVideoName(e.name)) found.push(p);
    } else if (e.isDirectory) {
      for await (const f of Deno.readDir(p)) {
        if ((f.isFile || f.isSymlink) && isVideoName(f.name)) found.push(join(p, f.name));
      }
    }
  }
  return sortPaths(found);
}

/** Reads a video list file (see {@linkcode listVideos}); duplicates are kept once. */
export async function readVideoListFile(listFile: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(listFile);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Video list "${listFile}" does not exist`);
    }
    throw e;
  }
  const base = dirname(listFile);
  const out = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    out.add(isAbsolute(line) ? line : join(base, line));
  }
  return sortPaths([...out]);
}

function sortPaths(paths: string[]): string[] {
  return paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
