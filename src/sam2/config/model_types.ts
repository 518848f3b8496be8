/**
 * Typed configuration of the SAM 2 model, one interface per `_target_` class of the
 * reference (`sam2/modeling/**`). Property names are the reference's constructor argument
 * names, so a released YAML config maps onto them key for key; every argument is present
 * after loading (absent keys take the reference's default, noted on each property).
 */

/** `sam2.modeling.position_encoding.PositionEmbeddingSine`. */
export interface PositionEmbeddingSineConfig {
  _target_: "sam2.modeling.position_encoding.PositionEmbeddingSine";
  /** Output channels (split half for x, half for y); must be even. Required. */
  num_pos_feats: number;
  /** @default 10000 */
  temperature: number;
  /** @default true */
  normalize: boolean;
  /** null means 2π. @default null */
  scale: number | null;
  /** CUDA cache warm-up only; no effect on values. @default true */
  warmup_cache: boolean;
  /** Cache warm-up only. @default 1024 */
  image_size: number;
  /** Cache warm-up only. @default [4, 8, 16, 32] */
  strides: number[];
}

/** `sam2.modeling.backbones.hieradet.Hiera` (the image trunk). */
export interface HieraConfig {
  _target_: "sam2.modeling.backbones.hieradet.Hiera";
  /** Channels of stage 1. @default 96 */
  embed_dim: number;
  /** Heads of stage 1. @default 1 */
  num_heads: number;
  /** Stochastic depth, linear from 0 over the blocks. @default 0.0 */
  drop_path_rate: number;
  /** Number of q-pooling stage transitions. @default 3 */
  q_pool: number;
  /** @default [2, 2] */
  q_stride: number[];
  /** Blocks per stage. @default [2, 3, 16, 3] */
  stages: number[];
  /** @default 2.0 */
  dim_mul: number;
  /** @default 2.0 */
  head_mul: number;
  /** @default [14, 14] */
  window_pos_embed_bkg_spatial_size: number[];
  /** Window size per stage. @default [8, 4, 14, 7] */
  window_spec: number[];
  /** Blocks with global attention. @default [12, 16, 20] */
  global_att_blocks: number[];
  /** Optional initial weights. @default null */
  weights_path: string | null;
  /** @default true */
  return_interm_layers: boolean;
}

/** `sam2.modeling.backbones.image_encoder.FpnNeck`. */
export interface FpnNeckConfig {
  _target_: "sam2.modeling.backbones.image_encoder.FpnNeck";
  position_encoding: PositionEmbeddingSineConfig;
  /** Required. */
  d_model: number;
  /** Trunk channels, deepest first. Required. */
  backbone_channel_list: number[];
  /** @default 1 */
  kernel_size: number;
  /** @default 1 */
  stride: number;
  /** @default 0 */
  padding: number;
  /** `F.interpolate` mode of the top-down path. @default "bilinear" */
  fpn_interp_model: "nearest" | "nearest-exact" | "bilinear" | "bicubic" | "area";
  /** @default "sum" */
  fuse_type: "sum" | "avg";
  /** Levels that receive top-down features; null means all. @default null */
  fpn_top_down_levels: number[] | null;
}

/** `sam2.modeling.backbones.image_encoder.ImageEncoder`. */
export interface ImageEncoderConfig {
  _target_: "sam2.modeling.backbones.image_encoder.ImageEncoder";
  trunk: HieraConfig;
  neck: FpnNeckConfig;
  /** How many of the lowest-resolution levels to drop. @default 0 */
  scalp: number;
}

/** `sam2.modeling.sam.transformer.Attention`. */
export interface AttentionConfig {
  _target_: "sam2.modeling.sam.transformer.Attention";
  /** Required. */
  embedding_dim: number;
  /** Required. */
  num_heads: number;
  /** @default 1 */
  downsample_rate: number;
  /** @default 0.0 */
  dropout: number;
  /** Key/value input channels; null means embedding_dim. @default null */
  kv_in_dim: number | null;
}

/** `sam2.modeling.sam.transformer.RoPEAttention`: Attention plus axial rotary encoding. */
export interface RoPEAttentionConfig extends Omit<AttentionConfig, "_target_"> {
  _target_: "sam2.modeling.sam.transformer.RoPEAttention";
  /** @default 10000.0 */
  rope_theta: number;
  /** Repeat the query frequencies along keys (cross-attention to several memories). @default false */
  rope_k_repeat: boolean;
  /** [w, h] of the feature grid. @default [64, 64] */
  feat_sizes: number[];
}

/** `sam2.modeling.memory_attention.MemoryAttentionLayer` (all arguments required). */
export interface MemoryAttentionLayerConfig {
  _target_: "sam2.modeling.memory_attention.MemoryAttentionLayer";
  activation: "relu" | "gelu" | "glu";
  cross_attention: RoPEAttentionConfig | AttentionConfig;
  d_model: number;
  dim_feedforward: number;
  dropout: number;
  pos_enc_at_attn: boolean;
  pos_enc_at_cross_attn_keys: boolean;
  pos_enc_at_cross_attn_queries: boolean;
  self_attention: RoPEAttentionConfig | AttentionConfig;
}

/** `sam2.modeling.memory_attention.MemoryAttention`. */
export interface MemoryAttentionConfig {
  _target_: "sam2.modeling.memory_attention.MemoryAttention";
  d_model: number;
  pos_enc_at_input: boolean;
  layer: MemoryAttentionLayerConfig;
  num_layers: number;
  /** @default true */
  batch_first: boolean;
}

/** `sam2.modeling.memory_encoder.MaskDownSampler`. */
export interface MaskDownSamplerConfig {
  _target_: "sam2.modeling.memory_encoder.MaskDownSampler";
  /** @default 256 */
  embed_dim: number;
  /** @default 4 */
  kernel_size: number;
  /** @default 4 */
  stride: number;
  /** @default 0 */
  padding: number;
  /** Must be a power of `stride`. @default 16 */
  total_stride: number;
  /** Activation class path (the reference passes the class). @default "torch.nn.GELU" */
  activation: string;
}

/** `sam2.modeling.memory_encoder.CXBlock` (ConvNeXt block). */
export interface CXBlockConfig {
  _target_: "sam2.modeling.memory_encoder.CXBlock";
  /** Required. */
  dim: number;
  /** @default 7 */
  kernel_size: number;
  /** @default 3 */
  padding: number;
  /** @default 0.0 */
  drop_path: number;
  /** @default 1e-6 */
  layer_scale_init_value: number;
  /** @default true */
  use_dwconv: boolean;
}

/** `sam2.modeling.memory_encoder.Fuser`. */
export interface FuserConfig {
  _target_: "sam2.modeling.memory_encoder.Fuser";
  layer: CXBlockConfig;
  /** Required. */
  num_layers: number;
  /** Needed when input_projection is true. @default null */
  dim: number | null;
  /** @default false */
  input_projection: boolean;
}

/** `sam2.modeling.memory_encoder.MemoryEncoder`. */
export interface MemoryEncoderConfig {
  _target_: "sam2.modeling.memory_encoder.MemoryEncoder";
  /** Memory channels (mem_dim). Required. */
  out_dim: number;
  mask_downsampler: MaskDownSamplerConfig;
  fuser: FuserConfig;
  position_encoding: PositionEmbeddingSineConfig;
  /** Channels of the pixel features. @default 256 */
  in_dim: number;
}

/** The SAM2Base arguments other than the three sub-modules (flags and sizes). */
export interface SAM2BaseOptions {
  /** @default 7 */
  num_maskmem: number;
  /** @default 512 */
  image_size: number;
  /** @default 16 */
  backbone_stride: number;
  /** @default 1.0 */
  sigmoid_scale_for_mem_enc: number;
  /** @default 0.0 */
  sigmoid_bias_for_mem_enc: number;
  /** @default false */
  binarize_mask_from_pts_for_mem_enc: boolean;
  /** @default false */
  use_mask_input_as_output_without_sam: boolean;
  /** @default -1 */
  max_cond_frames_in_attn: number;
  /** @default false */
  directly_add_no_mem_embed: boolean;
  /** @default false */
  use_high_res_features_in_sam: boolean;
  /** @default false */
  multimask_output_in_sam: boolean;
  /** @default 1 */
  multimask_min_pt_num: number;
  /** @default 1 */
  multimask_max_pt_num: number;
  /** @default false */
  multimask_output_for_tracking: boolean;
  /** @default false */
  use_multimask_token_for_obj_ptr: boolean;
  /** @default false */
  iou_prediction_use_sigmoid: boolean;
  /** @default 1 */
  memory_temporal_stride_for_eval: number;
  /** @default false */
  non_overlap_masks_for_mem_enc: boolean;
  /** @default false */
  use_obj_ptrs_in_encoder: boolean;
  /** @default 16 */
  max_obj_ptrs_in_encoder: number;
  /** @default true */
  add_tpos_enc_to_obj_ptrs: boolean;
  /** @default false */
  proj_tpos_enc_in_obj_ptrs: boolean;
  /** @default false */
  use_signed_tpos_enc_to_obj_ptrs: boolean;
  /** @default false */
  only_obj_ptrs_in_the_past_for_eval: boolean;
  /** @default false */
  pred_obj_scores: boolean;
  /** @default false */
  pred_obj_scores_mlp: boolean;
  /** @default false */
  fixed_no_obj_ptr: boolean;
  /** @default false */
  soft_no_obj_ptr: boolean;
  /** @default false */
  use_mlp_for_obj_ptr_proj: boolean;
  /** @default false */
  no_obj_embed_spatial: boolean;
  /** Extra keyword arguments of MaskDecoder. @default null */
  sam_mask_decoder_extra_args: Record<string, unknown> | null;
  /** torch.compile flag; has no effect here. @default false */
  compile_image_encoder: boolean;
}

/** `sam2.modeling.sam2_base.SAM2Base`: the whole model. */
export interface SAM2BaseConfig extends SAM2BaseOptions {
  _target_: "sam2.modeling.sam2_base.SAM2Base";
  image_encoder: ImageEncoderConfig;
  memory_attention: MemoryAttentionConfig;
  memory_encoder: MemoryEncoderConfig;
}

/** The fully-resolved model tree the model builder consumes. */
export type Sam2ModelConfig = SAM2BaseConfig;

/** The SAM2Train-only arguments (`training/model/sam2.py`): prompt simulation in training. */
export interface SAM2TrainOptions {
  /** @default 0.0 */
  prob_to_use_pt_input_for_train: number;
  /** @default 0.0 */
  prob_to_use_pt_input_for_eval: number;
  /** @default 0.0 */
  prob_to_use_box_input_for_train: number;
  /** @default 0.0 */
  prob_to_use_box_input_for_eval: number;
  /** @default 1 */
  num_frames_to_correct_for_train: number;
  /** @default 1 */
  num_frames_to_correct_for_eval: number;
  /** @default false */
  rand_frames_to_correct_for_train: boolean;
  /** @default false */
  rand_frames_to_correct_for_eval: boolean;
  /** @default 1 */
  num_init_cond_frames_for_train: number;
  /** @default 1 */
  num_init_cond_frames_for_eval: number;
  /** @default true */
  rand_init_cond_frames_for_train: boolean;
  /** @default false */
  rand_init_cond_frames_for_eval: boolean;
  /** @default false */
  add_all_frames_to_correct_as_cond: boolean;
  /** @default 7 */
  num_correction_pt_per_frame: number;
  /** @default "center" */
  pt_sampling_for_eval: "uniform" | "center";
  /** @default 0.0 */
  prob_to_sample_from_gt_for_train: number;
  /** @default false */
  use_act_ckpt_iterative_pt_sampling: boolean;
  /** @default false */
  forward_backbone_per_frame_for_eval: boolean;
  /** @default false */
  freeze_image_encoder: boolean;
}

/** The `trainer_model_extra` section of a model file: SAM2Train options only. */
export interface TrainerModelExtra extends SAM2TrainOptions {
  _target_: "training.model.sam2.SAM2Train";
}

/** `training.model.sam2.SAM2Train` as written in a training config: SAM2Base args + options. */
export interface SAM2TrainConfig extends SAM2BaseOptions, SAM2TrainOptions {
  _target_: "training.model.sam2.SAM2Train";
  image_encoder: ImageEncoderConfig;
  memory_attention: MemoryAttentionConfig;
  memory_encoder: MemoryEncoderConfig;
}

/** The loss weights; `loss_class` defaults to 0 as in the reference. */
export interface LossWeights {
  loss_mask: number;
  loss_dice: number;
  loss_iou: number;
  /** @default 0.0 */
  loss_class: number;
}

/** `training.loss_fns.MultiStepMultiMasksAndIous`. */
export interface MultiStepMultiMasksAndIousConfig {
  _target_: "training.loss_fns.MultiStepMultiMasksAndIous";
  weight_dict: LossWeights;
  /** @default 0.25 */
  focal_alpha: number;
  /** @default 2 */
  focal_gamma: number;
  /** @default false */
  supervise_all_iou: boolean;
  /** @default false */
  iou_use_l1_loss: boolean;
  /** @default false */
  pred_obj_scores: boolean;
  /** @default 0.0 */
  focal_gamma_obj_score: number;
  /** @default -1 */
  focal_alpha_obj_score: number;
}

/** The SAM2VideoPredictor-only arguments (`sam2/sam2_video_predictor.py`). */
export interface SAM2VideoPredictorOptions {
  /** Fill holes up to this area in low-res masks before upsampling. @default 0 */
  fill_hole_area: number;
  /** Apply non-overlapping constraints on the output masks. @default false */
  non_overlap_masks: boolean;
  /** @default false */
  clear_non_cond_mem_around_input: boolean;
  /** @default false */
  add_all_frames_to_correct_as_cond: boolean;
}

/** The two video predictor class paths (the VOS one only adds torch.compile). */
export type VideoPredictorTarget =
  | "sam2.sam2_video_predictor.SAM2VideoPredictor"
  | "sam2.sam2_video_predictor.SAM2VideoPredictorVOS";

/** `sam2.sam2_video_predictor.SAM2VideoPredictor(VOS)`: SAM2Base args + predictor options. */
export interface SAM2VideoPredictorConfig extends SAM2BaseOptions, SAM2VideoPredictorOptions {
  _target_: VideoPredictorTarget;
  image_encoder: ImageEncoderConfig;
  memory_attention: MemoryAttentionConfig;
  memory_encoder: MemoryEncoderConfig;
}

/** The predictor part of a model whose `_target_` is a video predictor. */
export interface VideoPredictorExtra extends SAM2VideoPredictorOptions {
  _target_: VideoPredictorTarget;
}

/** What {@link loadModelConfig} returns. */
export interface ModelConfigFile {
  /** The file read. */
  file: string;
  /** The model (SAM2Base arguments; from `model:` or a training file's `trainer.model:`). */
  model: Sam2ModelConfig;
  /** SAM2Train options (`trainer_model_extra:` or the training-only keys of `trainer.model`). */
  trainerModelExtra?: TrainerModelExtra;
  /** The loss (`loss:` or a training file's `trainer.loss.all`). */
  loss?: MultiStepMultiMasksAndIousConfig;
  /** Video predictor options, when `model._target_` is a SAM2VideoPredictor(VOS). */
  videoPredictor?: VideoPredictorExtra;
}
