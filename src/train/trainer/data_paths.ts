/**
 * The folders and files a training config's datasets read, resolved against the folder the user
 * started from and checked before any training starts, so a typo fails in a second and names
 * the config key instead of failing in a loader Worker.
 */
import { existsSync } from "node:fs";
import type { ClipDatasetSpec, ClipLoaderOptions, RawDatasetSpec } from "../../data/mod.ts";
import { resolvePath } from "./paths.ts";

/** Loader options with every dataset path absolute, and the problems found. */
export interface CheckedDataPaths {
  options: ClipLoaderOptions;
  /** One sentence per missing or unset path (empty when all exist). */
  problems: string[];
}

/** Our spec key, the reference's config key, required. */
const RAW_PATHS: [string, string, boolean][] = [
  ["imgFolder", "img_folder", true],
  ["gtFolder", "gt_folder", true],
  ["fileListTxt", "file_list_txt", false],
  ["excludedVideosListTxt", "excluded_videos_list_txt", false],
];
const MANIFEST_PATHS: [string, string, boolean][] = [["path", "path", true]];

/**
 * Resolves and checks the paths of every dataset in `options` (`img_folder`, `gt_folder`,
 * `file_list_txt`, `excluded_videos_list_txt`, manifest `path`).
 */
export function checkDataPaths(options: ClipLoaderOptions, cwd?: string): CheckedDataPaths {
  const problems: string[] = [];
  const fix = (spec: ClipDatasetSpec, where: string): ClipDatasetSpec => {
    const raw = { ...spec.raw } as Record<string, unknown>;
    for (const [key, refKey, required] of raw.kind === "manifest" ? MANIFEST_PATHS : RAW_PATHS) {
      const v = raw[key];
      if (v === null || v === undefined || v === "") {
        if (required) {
          problems.push(
            `${where}.video_dataset.${refKey} is not set: give it in the config or with ` +
              `--override (e.g. dataset.${refKey}=/data/MOSE/${
                refKey === "img_folder" ? "JPEGImages" : "Annotations"
              })`,
          );
        }
        continue;
      }
      const abs = resolvePath(String(v), cwd);
      raw[key] = abs;
      if (!existsSync(abs)) {
        problems.push(`${where}.video_dataset.${refKey}: "${abs}" does not exist`);
      }
    }
    return { ...spec, raw: raw as unknown as RawDatasetSpec };
  };
  const datasets = options.datasets.map((d, i) => {
    const where = `data.train.datasets[${i}]`;
    return Array.isArray(d) ? d.map((x, j) => fix(x, `${where}.datasets[${j}]`)) : fix(d, where);
  });
  return { options: { ...options, datasets }, problems };
}
