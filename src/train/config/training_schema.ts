/**
 * Schemas of the training-side `_target_`s and trainer sections (see training_types.ts for
 * what each is). Defaults are the reference's; unknown keys and targets are errors.
 */
import { lossSchema, sam2TrainSchema } from "../../sam2/config/model_schema.ts";
import type { MultiStepMultiMasksAndIousConfig } from "../../sam2/config/model_types.ts";
import {
  type AnyTargetSchema,
  anyValue,
  bool,
  choice,
  defineTarget,
  type FieldSpec,
  float,
  int,
  list,
  nullable,
  obj,
  record,
  section,
  str,
  type TargetSchema,
} from "../../sam2/config/schema.ts";
import type {
  AdamWConfig,
  CheckpointConfig,
  CollateFnConfig,
  ColorJitterConfig,
  ComposeAPIConfig,
  CompositeParamSchedulerConfig,
  ConcatDatasetConfig,
  ConstantParamSchedulerConfig,
  CosineParamSchedulerConfig,
  CudaConfig,
  DistributedConfig,
  EvalSamplerConfig,
  ExponentialParamSchedulerConfig,
  GradientClipperConfig,
  JSONRawDatasetConfig,
  LauncherConfig,
  LayerDecayOverride,
  LayerDecayParamModifierConfig,
  LinearParamSchedulerConfig,
  LoadCheckpointConfig,
  LoadStateDictIntoModelConfig,
  LoggingConfig,
  MultiStepParamSchedulerConfig,
  NormalizeAPIConfig,
  OptimAMPConfig,
  OptimConfig,
  ParamSchedulerConfig,
  PNGRawDatasetConfig,
  PolynomialDecayParamSchedulerConfig,
  RandomAffineConfig,
  RandomGrayscaleConfig,
  RandomHorizontalFlipConfig,
  RandomMosaicVideoAPIConfig,
  RandomResizeAPIConfig,
  RandomUniformSamplerConfig,
  RepeatFactorWrapperConfig,
  SA1BRawDatasetConfig,
  SchedulerOptionConfig,
  StepParamSchedulerConfig,
  StepWithFixedGammaParamSchedulerConfig,
  SubmititConfig,
  TensorboardLoggerConfig,
  TorchTrainMixedDatasetConfig,
  ToTensorAPIConfig,
  TrainerConfig,
  TransformConfig,
  VOSDatasetConfig,
} from "./training_types.ts";

/** A number or a list of numbers (e.g. a jitter factor or a [min, max] range). */
function numOrList(): FieldSpec<number | number[]> {
  const one = float();
  const many = list(float());
  return {
    describe: "a number or a list of numbers",
    parse: (node, ctx, name) =>
      node.kind === "seq" ? many.parse(node, ctx, name) : one.parse(node, ctx, name),
  };
}

const FV = "fvcore.common.param_scheduler.";

/** fvcore ConstantParamScheduler. */
export const constantSchedulerSchema = defineTarget<ConstantParamSchedulerConfig>(
  `${FV}ConstantParamScheduler`,
  { value: float() },
);
/** fvcore CosineParamScheduler. */
export const cosineSchedulerSchema = defineTarget<CosineParamSchedulerConfig>(
  `${FV}CosineParamScheduler`,
  { start_value: float(), end_value: float() },
);
/** fvcore LinearParamScheduler. */
export const linearSchedulerSchema = defineTarget<LinearParamSchedulerConfig>(
  `${FV}LinearParamScheduler`,
  { start_value: float(), end_value: float() },
);
/** fvcore ExponentialParamScheduler. */
export const exponentialSchedulerSchema = defineTarget<ExponentialParamSchedulerConfig>(
  `${FV}ExponentialParamScheduler`,
  { start_value: float(), decay: float() },
);
/** fvcore PolynomialDecayParamScheduler. */
export const polynomialSchedulerSchema = defineTarget<PolynomialDecayParamSchedulerConfig>(
  `${FV}PolynomialDecayParamScheduler`,
  { base_value: float(), power: float() },
);
/** fvcore StepParamScheduler. */
export const stepSchedulerSchema = defineTarget<StepParamSchedulerConfig>(
  `${FV}StepParamScheduler`,
  { num_updates: float(), values: list(float()) },
  (v) =>
    v.num_updates <= 0
      ? { key: "num_updates", message: "Number of updates must be larger than 0" }
      : v.values.length === 0
      ? { key: "values", message: "Step scheduler requires a list of at least one param value" }
      : undefined,
);
/** fvcore MultiStepParamScheduler. */
export const multiStepSchedulerSchema = defineTarget<MultiStepParamSchedulerConfig>(
  `${FV}MultiStepParamScheduler`,
  {
    values: list(float()),
    num_updates: nullable(int(), null),
    milestones: nullable(list(int()), null),
  },
);
/** fvcore StepWithFixedGammaParamScheduler. */
export const stepWithFixedGammaSchedulerSchema = defineTarget<
  StepWithFixedGammaParamSchedulerConfig
>(
  `${FV}StepWithFixedGammaParamScheduler`,
  { base_value: float(), num_decays: int(), gamma: float(), num_updates: int() },
);
/** fvcore CompositeParamScheduler. */
export const compositeSchedulerSchema: TargetSchema<CompositeParamSchedulerConfig> = defineTarget<
  CompositeParamSchedulerConfig
>(
  `${FV}CompositeParamScheduler`,
  {
    schedulers: list(obj<ParamSchedulerConfig>(() => schedulerSchemas)),
    lengths: list(float()),
    interval_scaling: list(choice(["rescaled", "fixed"] as const)),
  },
  (v) => {
    if (v.schedulers.length !== v.lengths.length) {
      return { key: "lengths", message: "Schedulers and lengths must be same length" };
    }
    if (v.schedulers.length === 0) {
      return { key: "schedulers", message: "There must be at least one scheduler" };
    }
    if (Math.abs(v.lengths.reduce((a, b) => a + b, 0) - 1) >= 1e-3) {
      return { key: "lengths", message: "The sum of all values in lengths must be 1" };
    }
    if (v.interval_scaling.length !== v.schedulers.length) {
      return { key: "interval_scaling", message: "Need one interval_scaling per scheduler" };
    }
  },
);

/** Every scheduler target. */
export const schedulerSchemas: AnyTargetSchema[] = [
  constantSchedulerSchema,
  cosineSchedulerSchema,
  linearSchedulerSchema,
  exponentialSchedulerSchema,
  polynomialSchedulerSchema,
  stepSchedulerSchema,
  multiStepSchedulerSchema,
  stepWithFixedGammaSchedulerSchema,
  compositeSchedulerSchema,
];

/** torch.optim.AdamW. */
export const adamWSchema = defineTarget<AdamWConfig>("torch.optim.AdamW", {
  lr: float(1e-3),
  betas: list(float(), [0.9, 0.999], { length: 2 }),
  eps: float(1e-8),
  weight_decay: float(1e-2),
  amsgrad: bool(false),
  maximize: bool(false),
});

/** GradientClipper. */
export const gradientClipperSchema = defineTarget<GradientClipperConfig>(
  "training.optimizer.GradientClipper",
  { max_norm: nullable(float(), 1.0), norm_type: float(2) },
);

/** layer_decay_param_modifier. */
export const layerDecaySchema = defineTarget<LayerDecayParamModifierConfig>(
  "training.optimizer.layer_decay_param_modifier",
  {
    _partial_: bool(false),
    layer_decay_value: float(),
    layer_decay_min: nullable(float(), null),
    apply_to: nullable(str(), null),
    overrides: list(
      section<LayerDecayOverride>("layer decay override", { pattern: str(), value: float() }),
      [],
    ),
  },
);

const schedulerOption = section<SchedulerOptionConfig>("optim.options entry", {
  scheduler: obj(() => schedulerSchemas),
  param_names: nullable(list(str()), null),
  module_cls_names: nullable(list(str()), null),
});

const optimFields = {
  optimizer: nullable(obj<AdamWConfig>(() => adamWSchema), null),
  options: nullable(record(list(schedulerOption)), null),
  param_group_modifiers: nullable(
    list(obj<LayerDecayParamModifierConfig>(() => layerDecaySchema)),
    null,
  ),
  amp: section<OptimAMPConfig>("optim.amp", {
    enabled: bool(false),
    amp_dtype: choice(["float16", "bfloat16"] as const, "float16"),
  }, { enabled: false, amp_dtype: "float16" }),
  gradient_clip: nullable(obj<GradientClipperConfig>(() => gradientClipperSchema), null),
  gradient_logger: anyValue(null),
};

// ---- transforms ----
const T = "training.dataset.transforms.";
/** RandomHorizontalFlip. */
export const hflipSchema = defineTarget<RandomHorizontalFlipConfig>(
  `${T}RandomHorizontalFlip`,
  { consistent_transform: bool(), p: float(0.5) },
);
/** RandomAffine. */
export const affineSchema = defineTarget<RandomAffineConfig>(`${T}RandomAffine`, {
  degrees: numOrList(),
  consistent_transform: bool(),
  scale: nullable(list(float()), null),
  translate: nullable(list(float()), null),
  shear: nullable(numOrList(), null),
  image_mean: list(float(), [123, 116, 103]),
  log_warning: bool(true),
  num_tentatives: int(1),
  image_interpolation: choice(["bicubic", "bilinear"] as const, "bicubic"),
});
/** RandomResizeAPI. */
export const resizeSchema = defineTarget<RandomResizeAPIConfig>(`${T}RandomResizeAPI`, {
  sizes: list(int(), undefined, { acceptScalar: true }),
  consistent_transform: bool(),
  max_size: nullable(int(), null),
  square: bool(false),
  v2: bool(false),
});
/** ColorJitter. */
export const colorJitterSchema = defineTarget<ColorJitterConfig>(`${T}ColorJitter`, {
  consistent_transform: bool(),
  brightness: nullable(numOrList()),
  contrast: nullable(numOrList()),
  saturation: nullable(numOrList()),
  hue: nullable(numOrList()),
});
/** RandomGrayscale. */
export const grayscaleSchema = defineTarget<RandomGrayscaleConfig>(`${T}RandomGrayscale`, {
  consistent_transform: bool(),
  p: float(0.5),
});
/** ToTensorAPI. */
export const toTensorSchema = defineTarget<ToTensorAPIConfig>(`${T}ToTensorAPI`, {
  v2: bool(false),
});
/** NormalizeAPI. */
export const normalizeSchema = defineTarget<NormalizeAPIConfig>(`${T}NormalizeAPI`, {
  mean: list(float()),
  std: list(float()),
  v2: bool(false),
});
/** RandomMosaicVideoAPI. */
export const mosaicSchema = defineTarget<RandomMosaicVideoAPIConfig>(`${T}RandomMosaicVideoAPI`, {
  prob: float(0.15),
  grid_h: int(2),
  grid_w: int(2),
  use_random_hflip: bool(false),
});
/** ComposeAPI. */
export const composeSchema: TargetSchema<ComposeAPIConfig> = defineTarget<ComposeAPIConfig>(
  `${T}ComposeAPI`,
  {
    transforms: list(obj<TransformConfig>(() => transformSchemas)),
  },
);
/** Every transform target. */
export const transformSchemas: AnyTargetSchema[] = [
  composeSchema,
  hflipSchema,
  affineSchema,
  resizeSchema,
  colorJitterSchema,
  grayscaleSchema,
  toTensorSchema,
  normalizeSchema,
  mosaicSchema,
];

// ---- datasets ----
const D = "training.dataset.";
const rawCommon = {
  img_folder: nullable(str()),
  gt_folder: nullable(str()),
  file_list_txt: nullable(str(), null),
  excluded_videos_list_txt: nullable(str(), null),
};
/** PNGRawDataset. */
export const pngRawSchema = defineTarget<PNGRawDatasetConfig>(
  `${D}vos_raw_dataset.PNGRawDataset`,
  {
    ...rawCommon,
    sample_rate: int(1),
    is_palette: bool(true),
    single_object_mode: bool(false),
    truncate_video: int(-1),
    frames_sampling_mult: bool(false),
  },
);
/** JSONRawDataset. */
export const jsonRawSchema = defineTarget<JSONRawDatasetConfig>(
  `${D}vos_raw_dataset.JSONRawDataset`,
  {
    ...rawCommon,
    sample_rate: int(1),
    rm_unannotated: bool(true),
    ann_every: int(1),
    frames_fps: float(24),
  },
);
/** SA1BRawDataset. */
export const sa1bRawSchema = defineTarget<SA1BRawDatasetConfig>(
  `${D}vos_raw_dataset.SA1BRawDataset`,
  {
    ...rawCommon,
    num_frames: int(1),
    mask_area_frac_thresh: float(1.1),
    uncertain_iou: float(-1),
  },
);
/** RandomUniformSampler. */
export const uniformSamplerSchema = defineTarget<RandomUniformSamplerConfig>(
  `${D}vos_sampler.RandomUniformSampler`,
  { num_frames: int(), max_num_objects: int(), reverse_time_prob: float(0.0) },
);
/** EvalSampler. */
export const evalSamplerSchema = defineTarget<EvalSamplerConfig>(`${D}vos_sampler.EvalSampler`, {});
/** VOSDataset. */
export const vosDatasetSchema: TargetSchema<VOSDatasetConfig> = defineTarget<VOSDatasetConfig>(
  `${D}vos_dataset.VOSDataset`,
  {
    transforms: list(obj<TransformConfig>(() => transformSchemas)),
    training: bool(),
    video_dataset: obj(() => [pngRawSchema, jsonRawSchema, sa1bRawSchema]),
    sampler: obj(() => [uniformSamplerSchema, evalSamplerSchema]),
    multiplier: int(),
    always_target: bool(true),
    target_segments_available: bool(true),
  },
);
/** ConcatDataset. */
export const concatDatasetSchema: TargetSchema<ConcatDatasetConfig> = defineTarget<
  ConcatDatasetConfig
>(
  `${D}utils.ConcatDataset`,
  { datasets: list(obj(() => datasetSchemas)) },
);
/** RepeatFactorWrapper. */
export const repeatFactorSchema: TargetSchema<RepeatFactorWrapperConfig> = defineTarget<
  RepeatFactorWrapperConfig
>(
  `${D}utils.RepeatFactorWrapper`,
  { dataset: obj(() => datasetSchemas), seed: int(0) },
);
/** Every dataset target. */
export const datasetSchemas: AnyTargetSchema[] = [
  vosDatasetSchema,
  concatDatasetSchema,
  repeatFactorSchema,
];

/** collate_fn. */
export const collateFnSchema = defineTarget<CollateFnConfig>(
  "training.utils.data_utils.collate_fn",
  { _partial_: bool(false), dict_key: str() },
);
/** TorchTrainMixedDataset. */
export const mixedDatasetSchema: TargetSchema<TorchTrainMixedDatasetConfig> = defineTarget<
  TorchTrainMixedDatasetConfig
>(
  `${D}sam2_datasets.TorchTrainMixedDataset`,
  {
    datasets: list(obj(() => datasetSchemas)),
    batch_sizes: list(int()),
    num_workers: int(),
    shuffle: bool(),
    pin_memory: bool(),
    drop_last: bool(),
    collate_fn: nullable(obj<CollateFnConfig>(() => collateFnSchema), null),
    worker_init_fn: anyValue(null),
    phases_per_epoch: int(1),
    dataset_prob: nullable(list(float()), null),
  },
  (v) =>
    v.batch_sizes.length !== v.datasets.length
      ? { key: "batch_sizes", message: "batch_sizes needs one entry per dataset" }
      : undefined,
);

// ---- trainer ----
/** make_tensorboard_logger. */
export const tensorboardSchema = defineTarget<TensorboardLoggerConfig>(
  "training.utils.logger.make_tensorboard_logger",
  {
    log_dir: str(),
    flush_secs: int(120),
    should_log: bool(true),
    filename_suffix: nullable(str(), null),
  },
);
/** load_checkpoint_and_apply_kernels. */
export const loadCheckpointSchema = defineTarget<LoadCheckpointConfig>(
  "training.utils.checkpoint_utils.load_checkpoint_and_apply_kernels",
  {
    checkpoint_path: str(),
    checkpoint_kernels: anyValue(null),
    ckpt_state_dict_keys: list(str(), ["state_dict"]),
    map_location: str("cpu"),
  },
);
/** load_state_dict_into_model. */
export const loadStateDictSchema = defineTarget<LoadStateDictIntoModelConfig>(
  "training.utils.checkpoint_utils.load_state_dict_into_model",
  {
    _partial_: bool(false),
    state_dict: obj(() => loadCheckpointSchema),
    strict: bool(true),
    ignore_missing_keys: nullable(list(str()), null),
    ignore_unexpected_keys: nullable(list(str()), null),
    checkpoint_kernels: anyValue(null),
  },
);

/** Trainer. */
export const trainerSchema = defineTarget<TrainerConfig>("training.trainer.Trainer", {
  data: record(obj<TorchTrainMixedDatasetConfig>(() => mixedDatasetSchema)),
  model: obj(() => sam2TrainSchema),
  logging: section<LoggingConfig>("logging", {
    log_dir: str(),
    log_freq: int(),
    tensorboard_writer: nullable(obj<TensorboardLoggerConfig>(() => tensorboardSchema)),
    log_level_primary: str("INFO"),
    log_level_secondary: str("ERROR"),
    log_scalar_frequency: int(100),
    log_visual_frequency: int(100),
    scalar_keys_to_log: anyValue(null),
    log_batch_stats: bool(false),
  }),
  checkpoint: section<CheckpointConfig>("checkpoint", {
    save_dir: str(),
    save_freq: int(),
    save_list: list(int(), []),
    model_weight_initializer: nullable(
      obj<LoadStateDictIntoModelConfig>(() => loadStateDictSchema),
      null,
    ),
    save_best_meters: nullable(list(str()), null),
    skip_saving_parameters: list(str(), []),
    initialize_after_preemption: nullable(bool(), null),
    resume_from: nullable(str(), null),
  }),
  max_epochs: int(),
  mode: choice(["train", "train_only", "val"] as const, "train"),
  accelerator: str("cuda"),
  seed_value: int(123),
  val_epoch_freq: int(1),
  distributed: nullable(
    section<DistributedConfig>("distributed", {
      backend: nullable(str(), null),
      comms_dtype: nullable(str(), null),
      find_unused_parameters: bool(false),
      timeout_mins: int(30),
    }),
    null,
  ),
  cuda: nullable(
    section<CudaConfig>("cuda", {
      cudnn_deterministic: bool(false),
      cudnn_benchmark: bool(true),
      allow_tf32: bool(false),
      matmul_allow_tf32: nullable(bool(), null),
      cudnn_allow_tf32: nullable(bool(), null),
    }),
    null,
  ),
  env_variables: nullable(record(anyValue()), null),
  optim: nullable(section<OptimConfig>("optim", optimFields), null),
  optim_overrides: anyValue(null),
  meters: anyValue(null),
  loss: nullable(record(obj<MultiStepMultiMasksAndIousConfig>(() => lossSchema)), null),
});

/** The `launcher:` section. */
export const launcherSpec = section<LauncherConfig>("launcher", {
  num_nodes: int(1),
  gpus_per_node: int(1),
  experiment_log_dir: nullable(str(), null),
}, { num_nodes: 1, gpus_per_node: 1, experiment_log_dir: null });

const submititDefaults: SubmititConfig = {
  use_cluster: false,
  partition: null,
  account: null,
  qos: null,
  cpus_per_task: 10,
  timeout_hour: 24,
  name: null,
  port_range: [10000, 65000],
  mem_gb: null,
  mem: null,
  constraints: null,
  comment: null,
  exclude_nodes: [],
  include_nodes: [],
  srun_args: null,
};

/** The `submitit:` section. */
export const submititSpec = section<SubmititConfig>("submitit", {
  use_cluster: bool(false),
  partition: nullable(str(), null),
  account: nullable(str(), null),
  qos: nullable(str(), null),
  cpus_per_task: int(10),
  timeout_hour: float(24),
  name: nullable(str(), null),
  port_range: list(int(), [10000, 65000], { length: 2 }),
  mem_gb: nullable(float(), null),
  mem: nullable(str(), null),
  constraints: nullable(str(), null),
  comment: nullable(str(), null),
  exclude_nodes: list(str(), []),
  include_nodes: list(str(), []),
  srun_args: nullable(record(anyValue()), null),
}, submititDefaults);
