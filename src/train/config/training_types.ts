/**
 * Typed training configuration, one interface per `_target_` (or dataclass) that the
 * reference's training configs use (`training/trainer.py`, `training/optimizer.py`,
 * `training/dataset/**`, fvcore's param schedulers, `training/train.py`'s launcher and
 * submitit sections). Names are the reference's argument names; defaults are noted.
 */
import type {
  MultiStepMultiMasksAndIousConfig,
  SAM2TrainConfig,
} from "../../sam2/config/model_types.ts";

// ---- fvcore param schedulers: value as a function of progress `where` in [0, 1) ----

/** `fvcore.common.param_scheduler.ConstantParamScheduler`. */
export interface ConstantParamSchedulerConfig {
  _target_: "fvcore.common.param_scheduler.ConstantParamScheduler";
  value: number;
}
/** `fvcore.common.param_scheduler.CosineParamScheduler`. */
export interface CosineParamSchedulerConfig {
  _target_: "fvcore.common.param_scheduler.CosineParamScheduler";
  start_value: number;
  end_value: number;
}
/** `fvcore.common.param_scheduler.LinearParamScheduler`. */
export interface LinearParamSchedulerConfig {
  _target_: "fvcore.common.param_scheduler.LinearParamScheduler";
  start_value: number;
  end_value: number;
}
/** `fvcore.common.param_scheduler.ExponentialParamScheduler`. */
export interface ExponentialParamSchedulerConfig {
  _target_: "fvcore.common.param_scheduler.ExponentialParamScheduler";
  start_value: number;
  decay: number;
}
/** `fvcore.common.param_scheduler.PolynomialDecayParamScheduler`. */
export interface PolynomialDecayParamSchedulerConfig {
  _target_: "fvcore.common.param_scheduler.PolynomialDecayParamScheduler";
  base_value: number;
  power: number;
}
/** `fvcore.common.param_scheduler.StepParamScheduler`. */
export interface StepParamSchedulerConfig {
  _target_: "fvcore.common.param_scheduler.StepParamScheduler";
  num_updates: number;
  values: number[];
}
/** `fvcore.common.param_scheduler.MultiStepParamScheduler`. */
export interface MultiStepParamSchedulerConfig {
  _target_: "fvcore.common.param_scheduler.MultiStepParamScheduler";
  values: number[];
  /** @default null (then milestones[-1]) */
  num_updates: number | null;
  /** @default null (then evenly spaced) */
  milestones: number[] | null;
}
/** `fvcore.common.param_scheduler.StepWithFixedGammaParamScheduler`. */
export interface StepWithFixedGammaParamSchedulerConfig {
  _target_: "fvcore.common.param_scheduler.StepWithFixedGammaParamScheduler";
  base_value: number;
  num_decays: number;
  gamma: number;
  num_updates: number;
}
/** `fvcore.common.param_scheduler.CompositeParamScheduler`. */
export interface CompositeParamSchedulerConfig {
  _target_: "fvcore.common.param_scheduler.CompositeParamScheduler";
  schedulers: ParamSchedulerConfig[];
  /** Fractions of training, summing to 1 (within 1e-3). */
  lengths: number[];
  interval_scaling: ("rescaled" | "fixed")[];
}
/** Any fvcore scheduler config. */
export type ParamSchedulerConfig =
  | ConstantParamSchedulerConfig
  | CosineParamSchedulerConfig
  | LinearParamSchedulerConfig
  | ExponentialParamSchedulerConfig
  | PolynomialDecayParamSchedulerConfig
  | StepParamSchedulerConfig
  | MultiStepParamSchedulerConfig
  | StepWithFixedGammaParamSchedulerConfig
  | CompositeParamSchedulerConfig;

// ---- optimizer (training/optimizer.py, trainer.OptimConf) ----

/** One entry of `optim.options.<option>`: a scheduler and which parameters it applies to. */
export interface SchedulerOptionConfig {
  scheduler: ParamSchedulerConfig;
  /** fnmatch globs on full parameter names. @default null */
  param_names: string[] | null;
  /** Classes owning parameters directly (e.g. `torch.nn.LayerNorm`). @default null */
  module_cls_names: string[] | null;
}

/** `torch.optim.AdamW` (lr and weight_decay are overwritten by the schedulers). */
export interface AdamWConfig {
  _target_: "torch.optim.AdamW";
  /** @default 0.001 */
  lr: number;
  /** @default [0.9, 0.999] */
  betas: number[];
  /** @default 1e-8 */
  eps: number;
  /** @default 0.01 */
  weight_decay: number;
  /** @default false */
  amsgrad: boolean;
  /** @default false */
  maximize: boolean;
}

/** `training.optimizer.GradientClipper`. */
export interface GradientClipperConfig {
  _target_: "training.optimizer.GradientClipper";
  /** null disables clipping. @default 1.0 */
  max_norm: number | null;
  /** @default 2 */
  norm_type: number;
}

/** One `overrides` entry of the layer-decay modifier. */
export interface LayerDecayOverride {
  pattern: string;
  value: number;
}

/** `training.optimizer.layer_decay_param_modifier` (a partial). */
export interface LayerDecayParamModifierConfig {
  _target_: "training.optimizer.layer_decay_param_modifier";
  /** @default false */
  _partial_: boolean;
  layer_decay_value: number;
  /** @default null */
  layer_decay_min: number | null;
  /** Dotted path of the sub-module with get_layer_id (e.g. `image_encoder.trunk`). @default null */
  apply_to: string | null;
  /** @default [] */
  overrides: LayerDecayOverride[];
}

/** `trainer.OptimAMPConf`. */
export interface OptimAMPConfig {
  /** @default false */
  enabled: boolean;
  /** @default "float16" */
  amp_dtype: "float16" | "bfloat16";
}

/** `trainer.OptimConf` (the `optim:` section). */
export interface OptimConfig {
  /** @default null */
  optimizer: AdamWConfig | null;
  /** Per option (`lr`, `weight_decay`, ...): its schedulers. @default null */
  options: Record<string, SchedulerOptionConfig[]> | null;
  /** @default null */
  param_group_modifiers: LayerDecayParamModifierConfig[] | null;
  /** @default {enabled: false, amp_dtype: "float16"} */
  amp: OptimAMPConfig;
  /** @default null */
  gradient_clip: GradientClipperConfig | null;
  /** @default null */
  gradient_logger: unknown;
}

// ---- data (training/dataset/**) ----

/** `training.dataset.transforms.RandomHorizontalFlip`. */
export interface RandomHorizontalFlipConfig {
  _target_: "training.dataset.transforms.RandomHorizontalFlip";
  consistent_transform: boolean;
  /** @default 0.5 */
  p: number;
}
/** `training.dataset.transforms.RandomAffine`. */
export interface RandomAffineConfig {
  _target_: "training.dataset.transforms.RandomAffine";
  degrees: number | number[];
  consistent_transform: boolean;
  /** @default null */
  scale: number[] | null;
  /** @default null */
  translate: number[] | null;
  /** @default null */
  shear: number | number[] | null;
  /** @default [123, 116, 103] */
  image_mean: number[];
  /** @default true */
  log_warning: boolean;
  /** @default 1 */
  num_tentatives: number;
  /** @default "bicubic" */
  image_interpolation: "bicubic" | "bilinear";
}
/** `training.dataset.transforms.RandomResizeAPI`. */
export interface RandomResizeAPIConfig {
  _target_: "training.dataset.transforms.RandomResizeAPI";
  /** One size or several to pick from (an int in YAML becomes a one-element list). */
  sizes: number[];
  consistent_transform: boolean;
  /** @default null */
  max_size: number | null;
  /** @default false */
  square: boolean;
  /** @default false */
  v2: boolean;
}
/** `training.dataset.transforms.ColorJitter` (each factor a number, [min, max] or null). */
export interface ColorJitterConfig {
  _target_: "training.dataset.transforms.ColorJitter";
  consistent_transform: boolean;
  brightness: number | number[] | null;
  contrast: number | number[] | null;
  saturation: number | number[] | null;
  hue: number | number[] | null;
}
/** `training.dataset.transforms.RandomGrayscale`. */
export interface RandomGrayscaleConfig {
  _target_: "training.dataset.transforms.RandomGrayscale";
  consistent_transform: boolean;
  /** @default 0.5 */
  p: number;
}
/** `training.dataset.transforms.ToTensorAPI`. */
export interface ToTensorAPIConfig {
  _target_: "training.dataset.transforms.ToTensorAPI";
  /** @default false */
  v2: boolean;
}
/** `training.dataset.transforms.NormalizeAPI`. */
export interface NormalizeAPIConfig {
  _target_: "training.dataset.transforms.NormalizeAPI";
  mean: number[];
  std: number[];
  /** @default false */
  v2: boolean;
}
/** `training.dataset.transforms.RandomMosaicVideoAPI`. */
export interface RandomMosaicVideoAPIConfig {
  _target_: "training.dataset.transforms.RandomMosaicVideoAPI";
  /** @default 0.15 */
  prob: number;
  /** @default 2 */
  grid_h: number;
  /** @default 2 */
  grid_w: number;
  /** @default false */
  use_random_hflip: boolean;
}
/** `training.dataset.transforms.ComposeAPI`. */
export interface ComposeAPIConfig {
  _target_: "training.dataset.transforms.ComposeAPI";
  transforms: TransformConfig[];
}
/** Any video transform config. */
export type TransformConfig =
  | ComposeAPIConfig
  | RandomHorizontalFlipConfig
  | RandomAffineConfig
  | RandomResizeAPIConfig
  | ColorJitterConfig
  | RandomGrayscaleConfig
  | ToTensorAPIConfig
  | NormalizeAPIConfig
  | RandomMosaicVideoAPIConfig;

/** `training.dataset.vos_raw_dataset.PNGRawDataset` (DAVIS/MOSE-style folders). */
export interface PNGRawDatasetConfig {
  _target_: "training.dataset.vos_raw_dataset.PNGRawDataset";
  /** null until the user sets it (the MOSE config ships null). */
  img_folder: string | null;
  gt_folder: string | null;
  /** @default null */
  file_list_txt: string | null;
  /** @default null */
  excluded_videos_list_txt: string | null;
  /** @default 1 */
  sample_rate: number;
  /** @default true */
  is_palette: boolean;
  /** @default false */
  single_object_mode: boolean;
  /** @default -1 */
  truncate_video: number;
  /** @default false */
  frames_sampling_mult: boolean;
}
/** `training.dataset.vos_raw_dataset.JSONRawDataset` (SA-V). */
export interface JSONRawDatasetConfig {
  _target_: "training.dataset.vos_raw_dataset.JSONRawDataset";
  img_folder: string | null;
  gt_folder: string | null;
  /** @default null */
  file_list_txt: string | null;
  /** @default null */
  excluded_videos_list_txt: string | null;
  /** @default 1 */
  sample_rate: number;
  /** @default true */
  rm_unannotated: boolean;
  /** @default 1 */
  ann_every: number;
  /** @default 24 */
  frames_fps: number;
}
/** `training.dataset.vos_raw_dataset.SA1BRawDataset`. */
export interface SA1BRawDatasetConfig {
  _target_: "training.dataset.vos_raw_dataset.SA1BRawDataset";
  img_folder: string | null;
  gt_folder: string | null;
  /** @default null */
  file_list_txt: string | null;
  /** @default null */
  excluded_videos_list_txt: string | null;
  /** @default 1 */
  num_frames: number;
  /** @default 1.1 */
  mask_area_frac_thresh: number;
  /** @default -1 */
  uncertain_iou: number;
}
/** A raw video dataset config. */
export type RawDatasetConfig = PNGRawDatasetConfig | JSONRawDatasetConfig | SA1BRawDatasetConfig;

/** `training.dataset.vos_sampler.RandomUniformSampler`. */
export interface RandomUniformSamplerConfig {
  _target_: "training.dataset.vos_sampler.RandomUniformSampler";
  num_frames: number;
  max_num_objects: number;
  /** @default 0.0 */
  reverse_time_prob: number;
}
/** `training.dataset.vos_sampler.EvalSampler`. */
export interface EvalSamplerConfig {
  _target_: "training.dataset.vos_sampler.EvalSampler";
}

/** `training.dataset.vos_dataset.VOSDataset`. */
export interface VOSDatasetConfig {
  _target_: "training.dataset.vos_dataset.VOSDataset";
  transforms: TransformConfig[];
  training: boolean;
  video_dataset: RawDatasetConfig;
  sampler: RandomUniformSamplerConfig | EvalSamplerConfig;
  multiplier: number;
  /** @default true */
  always_target: boolean;
  /** @default true */
  target_segments_available: boolean;
}
/** `training.dataset.utils.ConcatDataset`. */
export interface ConcatDatasetConfig {
  _target_: "training.dataset.utils.ConcatDataset";
  datasets: DatasetConfig[];
}
/** `training.dataset.utils.RepeatFactorWrapper`. */
export interface RepeatFactorWrapperConfig {
  _target_: "training.dataset.utils.RepeatFactorWrapper";
  dataset: DatasetConfig;
  /** @default 0 */
  seed: number;
}
/** A dataset config. */
export type DatasetConfig = VOSDatasetConfig | ConcatDatasetConfig | RepeatFactorWrapperConfig;

/** `training.utils.data_utils.collate_fn` (a partial). */
export interface CollateFnConfig {
  _target_: "training.utils.data_utils.collate_fn";
  /** @default false */
  _partial_: boolean;
  dict_key: string;
}

/** `training.dataset.sam2_datasets.TorchTrainMixedDataset`. */
export interface TorchTrainMixedDatasetConfig {
  _target_: "training.dataset.sam2_datasets.TorchTrainMixedDataset";
  datasets: DatasetConfig[];
  batch_sizes: number[];
  num_workers: number;
  shuffle: boolean;
  pin_memory: boolean;
  drop_last: boolean;
  /** @default null */
  collate_fn: CollateFnConfig | null;
  /** @default null */
  worker_init_fn: unknown;
  /** @default 1 */
  phases_per_epoch: number;
  /** @default null */
  dataset_prob: number[] | null;
}

// ---- trainer sections ----

/** `training.utils.logger.make_tensorboard_logger`. */
export interface TensorboardLoggerConfig {
  _target_: "training.utils.logger.make_tensorboard_logger";
  log_dir: string;
  /** @default 120 */
  flush_secs: number;
  /** Popped by the trainer: false turns tensorboard off. @default true */
  should_log: boolean;
  /** @default null */
  filename_suffix: string | null;
}

/** `trainer.LoggingConf` (the `logging:` section). */
export interface LoggingConfig {
  log_dir: string;
  log_freq: number;
  tensorboard_writer: TensorboardLoggerConfig | null;
  /** @default "INFO" */
  log_level_primary: string;
  /** @default "ERROR" */
  log_level_secondary: string;
  /** @default 100 */
  log_scalar_frequency: number;
  /** @default 100 */
  log_visual_frequency: number;
  /** @default null */
  scalar_keys_to_log: unknown;
  /** @default false */
  log_batch_stats: boolean;
}

/** `training.utils.checkpoint_utils.load_checkpoint_and_apply_kernels`. */
export interface LoadCheckpointConfig {
  _target_: "training.utils.checkpoint_utils.load_checkpoint_and_apply_kernels";
  checkpoint_path: string;
  /** @default null */
  checkpoint_kernels: unknown;
  /** @default ["state_dict"] */
  ckpt_state_dict_keys: string[];
  /** @default "cpu" */
  map_location: string;
}

/** `training.utils.checkpoint_utils.load_state_dict_into_model` (a partial). */
export interface LoadStateDictIntoModelConfig {
  _target_: "training.utils.checkpoint_utils.load_state_dict_into_model";
  /** @default false */
  _partial_: boolean;
  state_dict: LoadCheckpointConfig;
  /** @default true */
  strict: boolean;
  /** @default null */
  ignore_missing_keys: string[] | null;
  /** @default null */
  ignore_unexpected_keys: string[] | null;
  /** @default null */
  checkpoint_kernels: unknown;
}

/** `trainer.CheckpointConf` (the `checkpoint:` section). */
export interface CheckpointConfig {
  save_dir: string;
  save_freq: number;
  /** @default [] */
  save_list: number[];
  /** @default null */
  model_weight_initializer: LoadStateDictIntoModelConfig | null;
  /** @default null */
  save_best_meters: string[] | null;
  /** @default [] */
  skip_saving_parameters: string[];
  /** null: true iff skip_saving_parameters is non-empty (`infer_missing`). @default null */
  initialize_after_preemption: boolean | null;
  /** @default null */
  resume_from: string | null;
}

/** `trainer.DistributedConf`. */
export interface DistributedConfig {
  /** @default null */
  backend: string | null;
  /** @default null */
  comms_dtype: string | null;
  /** @default false */
  find_unused_parameters: boolean;
  /** @default 30 */
  timeout_mins: number;
}

/** `trainer.CudaConf`. */
export interface CudaConfig {
  /** @default false */
  cudnn_deterministic: boolean;
  /** @default true */
  cudnn_benchmark: boolean;
  /** @default false */
  allow_tf32: boolean;
  /** @default null */
  matmul_allow_tf32: boolean | null;
  /** @default null */
  cudnn_allow_tf32: boolean | null;
}

/** `training.trainer.Trainer`. */
export interface TrainerConfig {
  _target_: "training.trainer.Trainer";
  /** Per phase (`train`, `val`): its dataset. */
  data: Record<string, TorchTrainMixedDatasetConfig>;
  model: SAM2TrainConfig;
  logging: LoggingConfig;
  checkpoint: CheckpointConfig;
  max_epochs: number;
  /** @default "train" */
  mode: "train" | "train_only" | "val";
  /** @default "cuda" */
  accelerator: string;
  /** @default 123 */
  seed_value: number;
  /** @default 1 */
  val_epoch_freq: number;
  /** @default null */
  distributed: DistributedConfig | null;
  /** @default null */
  cuda: CudaConfig | null;
  /** @default null */
  env_variables: Record<string, unknown> | null;
  /** @default null */
  optim: OptimConfig | null;
  /** @default null */
  optim_overrides: unknown;
  /** @default null */
  meters: unknown;
  /** Per loss key (the MOSE config uses `all`). @default null */
  loss: Record<string, MultiStepMultiMasksAndIousConfig> | null;
}

/** The `launcher:` section read by `training/train.py`. */
export interface LauncherConfig {
  /** @default 1 */
  num_nodes: number;
  /** @default 1 */
  gpus_per_node: number;
  /** null becomes `sam2_logs/<config path>` (as train.py does). @default null */
  experiment_log_dir: string | null;
}

/** The `submitit:` section read by `training/train.py` (SLURM). */
export interface SubmititConfig {
  /** @default false */
  use_cluster: boolean;
  /** @default null */
  partition: string | null;
  /** @default null */
  account: string | null;
  /** @default null */
  qos: string | null;
  /** @default 10 */
  cpus_per_task: number;
  /** @default 24 */
  timeout_hour: number;
  /** @default null */
  name: string | null;
  /** @default [10000, 65000] */
  port_range: number[];
  /** @default null */
  mem_gb: number | null;
  /** @default null */
  mem: string | null;
  /** @default null */
  constraints: string | null;
  /** @default null */
  comment: string | null;
  /** @default [] */
  exclude_nodes: string[];
  /** @default [] */
  include_nodes: string[];
  /** @default null */
  srun_args: Record<string, unknown> | null;
}

/** A whole training config file, typed. */
export interface TrainingConfig {
  file: string;
  trainer: TrainerConfig;
  launcher: LauncherConfig;
  submitit: SubmititConfig;
  /** The other top-level sections (`scratch`, `dataset`, `vos`, ...) as plain data. */
  sections: Record<string, unknown>;
}
