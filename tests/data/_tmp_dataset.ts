/**
 * Test helpers: a fresh temporary folder, removed afterwards, optionally holding a small
 * synthetic dataset at `<dir>/syn`.
 */
import { generateSyntheticDataset, type SyntheticDatasetOptions } from "../../src/data/mod.ts";

/** Runs `fn` with a new temporary folder and removes the folder however `fn` ends. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Like {@linkcode withTempDir}, with a synthetic dataset generated into `<dir>/syn` first
 * (1 video of 2 frames at 64x48, seed 1, unless `opts` says otherwise).
 */
export function withSyntheticDataset(
  opts: Omit<SyntheticDatasetOptions, "out">,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  return withTempDir(async (dir) => {
    await generateSyntheticDataset({
      videos: 1,
      frames: 2,
      width: 64,
      height: 48,
      seed: 1,
      ...opts,
      out: `${dir}/syn`,
    });
    await fn(dir);
  });
}
