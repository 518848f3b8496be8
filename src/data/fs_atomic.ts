/**
 * Writes that never leave a half-written file or folder under the final name: content goes
 * to a temporary sibling first and is renamed into place.
 *
 * @module
 */
import { dirname } from "node:path";
import { atomicWrite } from "../util/atomic_write.ts";

/**
 * Writes `data` to `path` through a temporary sibling file, fsync and a rename
 * ({@linkcode atomicWrite}), creating the parent folder first.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await atomicWrite(path, data);
}

/** Options for {@linkcode withStagedDir}. */
export interface StagedDirOptions {
  /** Replace a non-empty existing folder instead of refusing. @default false */
  overwrite?: boolean;
}

/**
 * Runs `fill` on a fresh temporary sibling folder of `dir`, then moves it to `dir`. An empty
 * existing `dir` is replaced; a non-empty one only with `overwrite`. On failure the
 * temporary folder is removed and `dir` is left as it was.
 */
export async function withStagedDir<T>(
  dir: string,
  fill: (staging: string) => Promise<T>,
  opts: StagedDirOptions = {},
): Promise<T> {
  let existing = false;
  try {
    const st = await Deno.stat(dir);
    if (!st.isDirectory) throw new Error(`Output "${dir}" exists and is not a folder`);
    for await (const _ of Deno.readDir(dir)) {
      existing = true;
      break;
    }
    if (existing && !opts.overwrite) {
      throw new Error(
        `Output folder "${dir}" is not empty: remove it or ask to overwrite it (--force)`,
      );
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(dirname(dir), { recursive: true });
  const staging = `${dir}.staging-${Deno.pid}-${Date.now()}`;
  await Deno.mkdir(staging, { recursive: true });
  let result: T;
  try {
    result = await fill(staging);
  } catch (e) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw e;
  }
  const old = `${dir}.old-${Deno.pid}-${Date.now()}`;
  let moved = false;
  try {
    await Deno.rename(dir, old);
    moved = true;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.rename(staging, dir);
  if (moved) await Deno.remove(old, { recursive: true });
  return result;
}
