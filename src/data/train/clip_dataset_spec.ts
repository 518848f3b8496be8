/**
 * A serialisable description of a training dataset (raw source, sampler, transforms) so the
 * main thread and loader Workers build identical {@linkcode VosDataset}s.
 *
 * @module
 */
import { JsonRawDataset, PngRawDataset, Sa1bRawDataset } from "../raw/raw_datasets.ts";
import type {
  JsonRawDatasetOptions,
  PngRawDatasetOptions,
  Sa1bRawDatasetOptions,
} from "../raw/raw_datasets.ts";
import { readManifest } from "../manifest/manifest.ts";
import { openManifestDataset, type OpenManifestDatasetOptions } from "../manifest/open_dataset.ts";
import type { VosRawDataset } from "../raw/types.ts";
import { RandomUniformSampler, type RandomUniformSamplerOptions } from "./sampler.ts";
import { buildTransforms, type TransformSpec } from "./transforms/build.ts";
import { VosDataset } from "./vos_dataset.ts";
import { type ClipSource, ConcatDataset } from "./concat_dataset.ts";

/** Where the videos come from. */
export type RawDatasetSpec =
  | ({ kind: "png" } & PngRawDatasetOptions)
  | ({ kind: "json" } & JsonRawDatasetOptions)
  | ({ kind: "sa1b" } & Sa1bRawDatasetOptions)
  | ({ kind: "manifest"; path: string } & OpenManifestDatasetOptions);

/** One training dataset: raw source, `RandomUniformSampler` options, transforms, multiplier. */
export interface ClipDatasetSpec {
  raw: RawDatasetSpec;
  sampler: RandomUniformSamplerOptions;
  transforms: TransformSpec[];
  /** @default 1 */
  multiplier?: number;
  /** @default true */
  training?: boolean;
  /** @default true */
  alwaysTarget?: boolean;
}

/** Opens the raw dataset of a spec. */
export async function openRawDataset(spec: RawDatasetSpec): Promise<VosRawDataset> {
  switch (spec.kind) {
    case "png":
      return await PngRawDataset.open(spec);
    case "json":
      return await JsonRawDataset.open(spec);
    case "sa1b":
      return await Sa1bRawDataset.open(spec);
    case "manifest":
      return await openManifestDataset(await readManifest(spec.path), spec);
  }
}

/** Builds the {@linkcode VosDataset} a spec describes. */
export async function openClipDataset(spec: ClipDatasetSpec): Promise<VosDataset> {
  return new VosDataset({
    videoDataset: await openRawDataset(spec.raw),
    sampler: new RandomUniformSampler(spec.sampler),
    transforms: buildTransforms(spec.transforms),
    multiplier: spec.multiplier,
    training: spec.training,
    alwaysTarget: spec.alwaysTarget,
  });
}

/** One loader entry: a dataset, or several concatenated (`ConcatDataset`). */
export type ClipSourceSpec = ClipDatasetSpec | ClipDatasetSpec[];

/** Builds a loader entry: a {@linkcode VosDataset} or a {@linkcode ConcatDataset} of them. */
export async function openClipSource(spec: ClipSourceSpec): Promise<ClipSource> {
  if (!Array.isArray(spec)) return await openClipDataset(spec);
  return new ConcatDataset(await Promise.all(spec.map(openClipDataset)));
}
