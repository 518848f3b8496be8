/**
 * Reads the reference's Hydra `data.train` node (after interpolation: plain objects with
 * `_target_` keys, as in `sam2.1_hiera_b+_MOSE_finetune.yaml`) into {@linkcode
 * ClipLoaderOptions}, so configs written for the PyTorch trainer drive this loader.
 *
 * @module
 */
import type { ClipDatasetSpec, ClipSourceSpec, RawDatasetSpec } from "./clip_dataset_spec.ts";
import type { ClipLoaderOptions } from "./clip_loader.ts";
import type { TransformSpec } from "./transforms/build.ts";

type Node = Record<string, unknown>;

function target(n: unknown, where: string): string {
  const t = (n as Node | null)?._target_;
  if (typeof t !== "string") throw new TypeError(`${where}: expected a node with "_target_"`);
  return t.split(".").pop()!;
}

function rawSpec(n: Node, where: string): RawDatasetSpec {
  const t = target(n, where);
  const g = (k: string) => n[k] as never;
  if (t === "PNGRawDataset") {
    return {
      kind: "png",
      imgFolder: g("img_folder"),
      gtFolder: g("gt_folder"),
      fileListTxt: g("file_list_txt") ?? undefined,
      excludedVideosListTxt: g("excluded_videos_list_txt") ?? undefined,
      sampleRate: g("sample_rate"),
      isPalette: g("is_palette"),
      singleObjectMode: g("single_object_mode"),
      truncateVideo: g("truncate_video"),
      framesSamplingMult: g("frames_sampling_mult"),
    };
  }
  if (t === "JSONRawDataset") {
    return {
      kind: "json",
      imgFolder: g("img_folder"),
      gtFolder: g("gt_folder"),
      fileListTxt: g("file_list_txt") ?? undefined,
      excludedVideosListTxt: g("excluded_videos_list_txt") ?? undefined,
      sampleRate: g("sample_rate"),
      rmUnannotated: g("rm_unannotated"),
      annEvery: g("ann_every"),
      framesFps: g("frames_fps"),
    };
  }
  if (t === "SA1BRawDataset") {
    return {
      kind: "sa1b",
      imgFolder: g("img_folder"),
      gtFolder: g("gt_folder"),
      fileListTxt: g("file_list_txt") ?? undefined,
      excludedVideosListTxt: g("excluded_videos_list_txt") ?? undefined,
      numFrames: g("num_frames"),
      maskAreaFracThresh: g("mask_area_frac_thresh"),
      uncertainIou: g("uncertain_iou"),
    };
  }
  throw new TypeError(`${where}: unsupported raw dataset "${n._target_}"`);
}

function vosSpec(n: Node, where: string): ClipDatasetSpec {
  if (target(n, where) !== "VOSDataset") throw new TypeError(`${where}: expected a VOSDataset`);
  const s = n.sampler as Node;
  if (target(s, `${where}.sampler`) !== "RandomUniformSampler") {
    throw new TypeError(`${where}.sampler: only RandomUniformSampler is supported for training`);
  }
  return {
    raw: rawSpec(n.video_dataset as Node, `${where}.video_dataset`),
    sampler: {
      numFrames: s.num_frames as number,
      maxNumObjects: s.max_num_objects as number,
      reverseTimeProb: (s.reverse_time_prob as number) ?? 0,
    },
    transforms: n.transforms as TransformSpec[],
    multiplier: (n.multiplier as number) ?? 1,
    training: (n.training as boolean) ?? true,
    alwaysTarget: (n.always_target as boolean) ?? true,
  };
}

function sourceSpec(n: Node, where: string): ClipSourceSpec {
  const t = target(n, where);
  if (t === "RepeatFactorWrapper") return sourceSpec(n.dataset as Node, `${where}.dataset`);
  if (t === "ConcatDataset") {
    return (n.datasets as Node[]).map((d, i) => vosSpec(d, `${where}.datasets[${i}]`));
  }
  return vosSpec(n, where);
}

/** Options for {@linkcode loaderOptionsFromReferenceConfig}. */
export interface ReferenceConfigOptions {
  /** Base data seed. @default 0 */
  seed?: number;
  /** Overrides `num_workers`. */
  workers?: number;
  rank?: number;
  worldSize?: number;
}

/**
 * Maps a `TorchTrainMixedDataset` node to loader options (datasets, batch sizes, shuffle,
 * drop_last, phases_per_epoch, dataset_prob, dict_key, num_workers).
 *
 * @throws {TypeError} naming the node path when something is not supported.
 */
export function loaderOptionsFromReferenceConfig(
  train: Record<string, unknown>,
  opts: ReferenceConfigOptions = {},
): ClipLoaderOptions {
  if (target(train, "data.train") !== "TorchTrainMixedDataset") {
    throw new TypeError(`data.train: expected TorchTrainMixedDataset, got "${train._target_}"`);
  }
  const datasets = (train.datasets as Node[]).map((d, i) =>
    sourceSpec(d, `data.train.datasets[${i}]`)
  );
  const collate = train.collate_fn as Node | undefined;
  return {
    datasets,
    batchSizes: train.batch_sizes as number[],
    workers: opts.workers ?? (train.num_workers as number) ?? 2,
    seed: opts.seed ?? 0,
    dictKey: (collate?.dict_key as string) ?? "all",
    mixing: {
      shuffle: (train.shuffle as boolean) ?? true,
      dropLast: (train.drop_last as boolean) ?? true,
      phasesPerEpoch: (train.phases_per_epoch as number) ?? 1,
      datasetProb: (train.dataset_prob as number[]) ?? undefined,
      rank: opts.rank,
      worldSize: opts.worldSize,
    },
  };
}
