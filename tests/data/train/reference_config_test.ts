import { assertEquals, assertThrows } from "../../assert.ts";
import { parse } from "yaml";
import { buildTransforms, loaderOptionsFromReferenceConfig } from "../../../src/data/mod.ts";

/** The data parts of facebookresearch/sam2 `sam2.1_hiera_b+_MOSE_finetune.yaml` (Apache-2.0). */
const MOSE_YAML = `
scratch:
  resolution: 1024
  train_batch_size: 1
  num_train_workers: 10
  num_frames: 8
  max_num_objects: 3
  base_lr: 5.0e-6
  vision_lr: 3.0e-06
  phases_per_epoch: 1
  num_epochs: 40

dataset:
  # PATHS to Dataset
  img_folder: null # PATH to MOSE JPEGImages folder
  gt_folder: null  # PATH to MOSE Annotations folder
  file_list_txt: training/assets/MOSE_sample_train_list.txt # Optional PATH to filelist containing a subset of videos to be used for training
  multiplier: 2

# Video transforms
vos:
  train_transforms:
    - _target_: training.dataset.transforms.ComposeAPI
      transforms:
        - _target_: training.dataset.transforms.RandomHorizontalFlip
          consistent_transform: True
        - _target_: training.dataset.transforms.RandomAffine
          degrees: 25
          shear: 20
          image_interpolation: bilinear
          consistent_transform: True
        - _target_: training.dataset.transforms.RandomResizeAPI
          sizes: \${scratch.resolution}
          square: true
          consistent_transform: True
        - _target_: training.dataset.transforms.ColorJitter
          consistent_transform: True
          brightness: 0.1
          contrast: 0.03
          saturation: 0.03
          hue: null
        - _target_: training.dataset.transforms.RandomGrayscale
          p: 0.05
          consistent_transform: True
        - _target_: training.dataset.transforms.ColorJitter
          consistent_transform: False
          brightness: 0.1
          contrast: 0.05
          saturation: 0.05
          hue: null
        - _target_: training.dataset.transforms.ToTensorAPI
        - _target_: training.dataset.transforms.NormalizeAPI
          mean: [0.485, 0.456, 0.406]
          std: [0.229, 0.224, 0.225]

data:
  train:
    _target_: training.dataset.sam2_datasets.TorchTrainMixedDataset
    phases_per_epoch: \${scratch.phases_per_epoch}
    batch_sizes:
      - \${scratch.train_batch_size}

    datasets:
      - _target_: training.dataset.utils.RepeatFactorWrapper
        dataset:
          _target_: training.dataset.utils.ConcatDataset
          datasets:
          - _target_: training.dataset.vos_dataset.VOSDataset
            transforms: \${vos.train_transforms}
            training: true
            video_dataset:
              _target_: training.dataset.vos_raw_dataset.PNGRawDataset
              img_folder: \${dataset.img_folder}
              gt_folder: \${dataset.gt_folder}
              file_list_txt: \${dataset.file_list_txt}
            sampler:
              _target_: training.dataset.vos_sampler.RandomUniformSampler
              num_frames: \${scratch.num_frames}
              max_num_objects: \${scratch.max_num_objects}
            multiplier: \${dataset.multiplier}
    shuffle: True
    num_workers: \${scratch.num_train_workers}
    pin_memory: True
    drop_last: True
    collate_fn:
      _target_: training.utils.data_utils.collate_fn
      _partial_: true
      dict_key: all
`;
const FIX = new URL("../../../../shared/fixtures/", import.meta.url).pathname;

/** Resolves `${a.b}` interpolations (the plain-path kind only) against the root. */
function resolve(node: unknown, root: Record<string, unknown>): unknown {
  if (typeof node === "string") {
    const m = /^\$\{([\w.]+)\}$/.exec(node);
    if (!m) return node;
    let v: unknown = root;
    for (const k of m[1].split(".")) v = (v as Record<string, unknown>)[k];
    return resolve(v, root);
  }
  if (Array.isArray(node)) return node.map((x) => resolve(x, root));
  if (node && typeof node === "object") {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(v, root)]));
  }
  return node;
}

Deno.test("loaderOptionsFromReferenceConfig() reads the MOSE fine-tuning config", () => {
  const cfg = parse(MOSE_YAML) as Record<string, unknown>;
  const ds = cfg.dataset as Record<string, unknown>;
  ds.img_folder = `${FIX}davis2016/JPEGImages`;
  ds.gt_folder = `${FIX}davis2016/Annotations`;
  ds.file_list_txt = null;
  const data = cfg.data as Record<string, unknown>;
  const train = resolve(data.train, cfg) as Record<string, unknown>;
  const o = loaderOptionsFromReferenceConfig(train, { workers: 0, seed: 3 });
  assertEquals(o.batchSizes, [1]);
  assertEquals(o.dictKey, "all");
  assertEquals(o.mixing?.phasesPerEpoch, 1);
  assertEquals(o.mixing?.dropLast, true);
  const concat = o.datasets[0];
  if (!Array.isArray(concat)) throw new Error("expected the ConcatDataset as a list");
  assertEquals(concat.length, 1);
  assertEquals(concat[0].sampler, { numFrames: 8, maxNumObjects: 3, reverseTimeProb: 0 });
  assertEquals(concat[0].multiplier, 2);
  assertEquals(concat[0].raw.kind, "png");
  // the transforms (ComposeAPI of eight) build; ToTensor + Normalize fuse into one
  assertEquals(buildTransforms(concat[0].transforms).length, 7);
  assertThrows(() => loaderOptionsFromReferenceConfig({ _target_: "x.Nope" }), TypeError, "Nope");
});
