import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../../assert.ts";
import {
  ConfigError,
  configPosition,
  hieraChannelList,
  loadModelConfig,
  parseModelConfig,
  videoPredictorOverrides,
} from "../../../src/sam2/config/mod.ts";

const configs = new URL("../../../configs/", import.meta.url);
const fixtures = new URL("../../../../shared/fixtures/", import.meta.url);
const path = (rel: string) => new URL(rel, configs).pathname;
const miniText = await Deno.readTextFile(new URL("mini.yaml", configs));

function configError(fn: () => unknown): ConfigError {
  return assertThrows(fn, ConfigError) as ConfigError;
}

Deno.test("loadModelConfig() reads all eight released configs", async () => {
  for (const v of ["sam2", "sam2.1"]) {
    for (const s of ["t", "s", "b+", "l"]) {
      const { model } = await loadModelConfig(path(`${v}/${v}_hiera_${s}.yaml`));
      assertEquals(model._target_, "sam2.modeling.sam2_base.SAM2Base");
      assertEquals(model.num_maskmem, 7);
      assertEquals(model.image_size, 1024);
      assertEquals(model.image_encoder.scalp, 1);
      assertEquals(model.memory_attention.num_layers, 4);
      assertEquals(model.memory_encoder.out_dim, 64);
      assertEquals(model.image_encoder.neck.fpn_top_down_levels, [2, 3]);
      assertEquals(model.add_tpos_enc_to_obj_ptrs, v === "sam2.1");
      assertEquals(model.no_obj_embed_spatial, v === "sam2.1");
      assertEquals(model.proj_tpos_enc_in_obj_ptrs, v === "sam2.1");
    }
  }
});

Deno.test("loadModelConfig() gives the reference's per-size trunk values", async () => {
  const trunk = async (s: string) =>
    (await loadModelConfig(path(`sam2.1/sam2.1_hiera_${s}.yaml`))).model.image_encoder.trunk;
  const t = await trunk("t");
  assertEquals([t.embed_dim, t.num_heads], [96, 1]);
  assertEquals(t.stages, [1, 2, 7, 2]);
  assertEquals(t.global_att_blocks, [5, 7, 9]);
  assertEquals(t.window_pos_embed_bkg_spatial_size, [7, 7]);
  assertEquals(t.window_spec, [8, 4, 14, 7]); // class default
  const s = await trunk("s");
  assertEquals(s.stages, [1, 2, 11, 2]);
  assertEquals(s.global_att_blocks, [7, 10, 13]);
  const b = await trunk("b+");
  assertEquals([b.embed_dim, b.num_heads], [112, 2]);
  assertEquals(b.stages, [2, 3, 16, 3]); // class defaults, not written in the file
  assertEquals(b.window_spec, [8, 4, 14, 7]);
  assertEquals(b.global_att_blocks, [12, 16, 20]);
  assertEquals(b.window_pos_embed_bkg_spatial_size, [14, 14]);
  assertEquals(hieraChannelList(b), [896, 448, 224, 112]);
  const l = await trunk("l");
  assertEquals([l.embed_dim, l.num_heads], [144, 2]);
  assertEquals(l.stages, [2, 6, 36, 4]);
  assertEquals(l.global_att_blocks, [23, 33, 43]);
  assertEquals(l.window_spec, [8, 4, 16, 8]);
  for (const h of [t, s, b, l]) {
    assertEquals([h.q_pool, h.q_stride, h.dim_mul, h.head_mul], [3, [2, 2], 2, 2]);
    assertEquals(h.drop_path_rate, 0);
  }
});

Deno.test("loadModelConfig() fills SAM2Base and module defaults", async () => {
  const { model } = await loadModelConfig(path("sam2.1/sam2.1_hiera_t.yaml"));
  assertEquals(model.backbone_stride, 16);
  assertEquals(model.max_obj_ptrs_in_encoder, 16);
  assertEquals(model.max_cond_frames_in_attn, -1);
  assertEquals(model.memory_temporal_stride_for_eval, 1);
  assertEquals(model.soft_no_obj_ptr, false);
  assertEquals(model.binarize_mask_from_pts_for_mem_enc, false);
  assertEquals(model.sam_mask_decoder_extra_args, null);
  assertEquals([model.multimask_min_pt_num, model.multimask_max_pt_num], [0, 1]);
  assertEquals([model.sigmoid_scale_for_mem_enc, model.sigmoid_bias_for_mem_enc], [20, -10]);
  const neck = model.image_encoder.neck;
  assertEquals([neck.kernel_size, neck.stride, neck.padding, neck.fuse_type], [1, 1, 0, "sum"]);
  assertEquals(neck.fpn_interp_model, "nearest");
  assertEquals(neck.position_encoding.scale, null);
  const layer = model.memory_attention.layer;
  assertEquals(layer.cross_attention._target_, "sam2.modeling.sam.transformer.RoPEAttention");
  if (layer.cross_attention._target_ === "sam2.modeling.sam.transformer.RoPEAttention") {
    assertEquals(layer.cross_attention.rope_k_repeat, true);
    assertEquals(layer.cross_attention.kv_in_dim, 64);
  }
  assertEquals(model.memory_attention.batch_first, true);
  const enc = model.memory_encoder;
  assertEquals(enc.in_dim, 256);
  assertEquals([enc.mask_downsampler.embed_dim, enc.mask_downsampler.total_stride], [256, 16]);
  assertEquals(enc.fuser.layer.layer_scale_init_value, 1e-6);
  assertEquals([enc.fuser.num_layers, enc.fuser.input_projection], [2, false]);
});

Deno.test("loadModelConfig() reads mini.yaml as the fixture README describes it", async () => {
  const cfg = await loadModelConfig(path("mini.yaml"));
  const fixture = await Deno.readTextFile(new URL("sam2-mini/config.yaml", fixtures));
  assertEquals(miniText, fixture, "configs/mini.yaml must stay the fixture's config");
  const m = cfg.model;
  const t = m.image_encoder.trunk;
  assertEquals([t.embed_dim, t.num_heads, t.stages, t.global_att_blocks], [8, 1, [1, 2, 3, 2], [
    4,
  ]]);
  assertEquals(t.window_spec, [8, 4, 6, 3]);
  assertEquals(m.image_size, 128);
  assertEquals(m.image_encoder.neck.d_model, 64);
  assertEquals(m.image_encoder.neck.backbone_channel_list, [64, 32, 16, 8]);
  assertEquals(m.memory_attention.num_layers, 2);
  assertEquals(m.memory_attention.layer.dim_feedforward, 256);
  assertEquals(m.memory_attention.layer.cross_attention.kv_in_dim, 32);
  assertEquals([m.memory_encoder.out_dim, m.memory_encoder.in_dim], [32, 64]);
  assertEquals(m.memory_encoder.mask_downsampler.embed_dim, 64);
  assertEquals(m.memory_encoder.position_encoding.num_pos_feats, 32);
  const x = cfg.trainerModelExtra!;
  assertEquals(x.num_correction_pt_per_frame, 7);
  assertEquals(x.prob_to_sample_from_gt_for_train, 0.1);
  assertEquals(x.num_init_cond_frames_for_train, 2);
  assertEquals(x.pt_sampling_for_eval, "center"); // default
  const loss = cfg.loss!;
  assertEquals(loss.weight_dict, { loss_mask: 20, loss_dice: 1, loss_iou: 1, loss_class: 1 });
  assertEquals([loss.focal_alpha, loss.focal_gamma], [0.25, 2]);
  assertEquals([loss.focal_gamma_obj_score, loss.focal_alpha_obj_score], [0, -1]);
});

Deno.test("loadModelConfig() takes the model of the MOSE training config", async () => {
  const cfg = await loadModelConfig(path("sam2.1_training/sam2.1_hiera_b+_MOSE_finetune.yaml"));
  assertEquals(cfg.model._target_, "sam2.modeling.sam2_base.SAM2Base");
  assertEquals(cfg.model.image_size, 1024); // ${scratch.resolution}
  assertEquals(cfg.model.image_encoder.trunk.drop_path_rate, 0.1);
  assertEquals(cfg.model.compile_image_encoder, false);
  assertEquals(cfg.trainerModelExtra?.prob_to_use_box_input_for_train, 0.5);
  assertEquals(cfg.trainerModelExtra?.forward_backbone_per_frame_for_eval, true);
  assertEquals(cfg.loss?.supervise_all_iou, true);
  assert(!("prob_to_use_pt_input_for_train" in cfg.model));
});

Deno.test("parseModelConfig() reports an unknown key with line, column and a suggestion", () => {
  const text = miniText.replace("      embed_dim: 8\n", "      embed_dimm: 8\n");
  const e = configError(() => parseModelConfig(text, "mini-bad.yaml"));
  assertEquals([e.file, e.line, e.column], ["mini-bad.yaml", 12, 7]);
  assertStringIncludes(e.message, 'mini-bad.yaml:12:7: Unknown key "embed_dimm" for Hiera');
  assertStringIncludes(e.message, 'Did you mean "embed_dim"?');
  assertStringIncludes(e.snippet, "      ^");
});

Deno.test("parseModelConfig() reports an unknown _target_ with its position", () => {
  const text = miniText.replace(
    "sam2.modeling.memory_encoder.Fuser",
    "sam2.modeling.memory_encoder.Fusr",
  );
  const e = configError(() => parseModelConfig(text, "m.yaml"));
  assertEquals([e.line, e.column], [80, 17]);
  assertStringIncludes(e.message, 'Unknown _target_ "sam2.modeling.memory_encoder.Fusr"');
  assertStringIncludes(e.message, 'Did you mean "sam2.modeling.memory_encoder.Fuser"?');
});

Deno.test("parseModelConfig() rejects a known _target_ in the wrong place", () => {
  const text = miniText.replace(
    "_target_: sam2.modeling.memory_encoder.CXBlock",
    "_target_: sam2.modeling.memory_encoder.Fuser",
  );
  const e = configError(() => parseModelConfig(text, "m.yaml"));
  assertStringIncludes(e.message, 'is not allowed for "layer"');
});

Deno.test("parseModelConfig() reports wrong types", () => {
  let e = configError(() =>
    parseModelConfig(miniText.replace("num_maskmem: 7", "num_maskmem: seven"), "m.yaml")
  );
  assertStringIncludes(e.message, '"num_maskmem" must be an integer, got "seven"');
  e = configError(() =>
    parseModelConfig(miniText.replace("num_maskmem: 7", "num_maskmem: 7.5"), "m.yaml")
  );
  assertStringIncludes(e.message, "must be an integer, got 7.5");
  e = configError(() =>
    parseModelConfig(miniText.replace("stages: [1, 2, 3, 2]", "stages: 4"), "m.yaml")
  );
  assertStringIncludes(e.message, '"stages" must be a list');
  e = configError(() =>
    parseModelConfig(miniText.replace("fpn_interp_model: nearest", "fpn_interp_model: neares"), "m")
  );
  assertStringIncludes(e.message, 'Did you mean "nearest"?');
  e = configError(() =>
    parseModelConfig(miniText.replace("pred_obj_scores: true", "pred_obj_scores: 1"), "m.yaml")
  );
  assertStringIncludes(e.message, "must be true or false");
});

Deno.test("parseModelConfig() checks what the reference asserts", () => {
  let e = configError(() =>
    parseModelConfig(miniText.replace("[64, 32, 16, 8]", "[64, 32, 16, 9]"), "m.yaml")
  );
  assertStringIncludes(e.message, "Channel dims of trunk and neck do not match");
  e = configError(() =>
    parseModelConfig(miniText.replace("window_spec: [8, 4, 6, 3]", "window_spec: [8, 4, 6]"), "m")
  );
  assertStringIncludes(e.message, "window_spec has 3 entries but stages has 4");
  e = configError(() =>
    parseModelConfig(miniText.replace("global_att_blocks: [4]", "global_att_blocks: [8]"), "m")
  );
  assertStringIncludes(e.message, "outside the 8 blocks");
});

/** The mini model section nested under `trainer:`, after a `scratch:` section. */
function trainingStyle(scratch: string, edit: (model: string) => string): string {
  const model = miniText.slice(miniText.indexOf("model:"), miniText.indexOf("# SAM2Train"));
  const indented = edit(model).trimEnd().split("\n").map((l) => "  " + l).join("\n");
  return `scratch:\n${scratch}\ntrainer:\n${indented}\n`;
}

Deno.test("parseModelConfig() resolves interpolations, resolvers and overrides", () => {
  const text = trainingStyle(
    "  res: 64\n  lr: 5.0e-6\n  name: run",
    (m) =>
      m.replace("image_size: 128", "image_size: ${times:${scratch.res},2}")
        .replace(
          "sigmoid_scale_for_mem_enc: 20.0",
          "sigmoid_scale_for_mem_enc: ${divide:${scratch.lr},10}",
        )
        .replace("num_maskmem: 7", "num_maskmem: ${int:${.sigmoid_bias_for_mem_enc}}")
        .replace("sigmoid_bias_for_mem_enc: -10.0", "sigmoid_bias_for_mem_enc: 3.7")
        .replace(
          "  compile_image_encoder: false",
          "  sam_mask_decoder_extra_args:\n    tag: ${scratch.name}-${scratch.res}",
        ),
  );
  const cfg = parseModelConfig(text, "i.yaml");
  assertEquals(cfg.model.image_size, 128);
  assertAlmostEquals(cfg.model.sigmoid_scale_for_mem_enc, 5e-7, 1e-20);
  assertEquals(cfg.model.num_maskmem, 3);
  assertEquals(cfg.model.sam_mask_decoder_extra_args, { tag: "run-64" });
  const over = parseModelConfig(text, "i.yaml", {
    overrides: ["scratch.res=32", "++trainer.model.backbone_stride=8"],
  });
  assertEquals([over.model.image_size, over.model.backbone_stride], [64, 8]);
  // `scratch` is a training-file section: a model file may not carry it.
  const e = configError(() => parseModelConfig("scratch: {}\n" + miniText, "m.yaml"));
  assertStringIncludes(e.message, 'Unknown top-level key "scratch"');
});

Deno.test("parseModelConfig() reports a bad interpolation where it is written", () => {
  let e = configError(() =>
    parseModelConfig(miniText.replace("image_size: 128", "image_size: ${scratch.res}"), "m.yaml")
  );
  assertStringIncludes(e.message, 'no key "scratch"');
  assertEquals(e.line, 90);
  e = configError(() =>
    parseModelConfig(miniText.replace("image_size: 128", "image_size: ${tims:2,3}"), "m.yaml")
  );
  assertStringIncludes(e.message, 'Unknown resolver "tims"');
  assertStringIncludes(e.message, 'Did you mean "times"?');
  e = configError(() =>
    parseModelConfig(
      miniText.replace("image_size: 128", "image_size: ${model.num_maskmem}").replace(
        "num_maskmem: 7",
        "num_maskmem: ${model.image_size}",
      ),
      "m.yaml",
    )
  );
  assertStringIncludes(e.message, "Interpolation cycle");
});

Deno.test("parseModelConfig() says which mandatory ??? value is missing", () => {
  const e = configError(() =>
    parseModelConfig(miniText.replace("image_size: 128", "image_size: ???"), "m.yaml")
  );
  assertStringIncludes(e.message, 'Missing mandatory value (???) for "image_size"');
  assertEquals(e.line, 90);
});

Deno.test("parseModelConfig() reports invalid YAML with its position", () => {
  const e = configError(() => parseModelConfig("model:\n  a: [1, 2\n", "y.yaml"));
  assertStringIncludes(e.message, "y.yaml:");
  assertStringIncludes(e.message, "Invalid YAML");
  const d = configError(() => parseModelConfig("model: 1\nmodel: 2\n", "d.yaml"));
  assertEquals(d.line, 2);
});

Deno.test("configPosition() points at where a typed value was written", async () => {
  const { model } = await loadModelConfig(path("sam2.1/sam2.1_hiera_t.yaml"));
  const p = configPosition(model.image_encoder.trunk, "stages")!;
  assertEquals([p.line, p.col], [14, 7]);
  assert(p.file.endsWith("sam2.1_hiera_t.yaml"));
  await assertRejects(() => loadModelConfig(path("nope.yaml")), Deno.errors.NotFound, "nope.yaml");
});

Deno.test("parseModelConfig() places content under a non-global @package", () => {
  // `# @package model` means the file's keys live under `model:`.
  const body = miniText.slice(
    miniText.indexOf("model:\n") + "model:\n".length,
    miniText.indexOf("# SAM2Train"),
  )
    .split("\n").map((l) => l.slice(2)).join("\n");
  const cfg = parseModelConfig(`# @package model\n${body}`, "pkg.yaml");
  assertEquals(cfg.model.image_size, 128);
  assertEquals(cfg.model.image_encoder.trunk.embed_dim, 8);
});

Deno.test("loadModelConfig() finds configs by the reference's config names", async () => {
  for (
    const name of [
      "configs/sam2.1/sam2.1_hiera_t.yaml",
      "sam2.1/sam2.1_hiera_t",
      "sam2/sam2_hiera_s",
    ]
  ) {
    const { model, file } = await loadModelConfig(name);
    assert(file.endsWith(".yaml"), file);
    assertEquals(model.image_size, 1024);
  }
  await assertRejects(
    () => loadModelConfig("sam2.1/sam2.1_hiera_xl"),
    Deno.errors.NotFound,
    "tried",
  );
});

Deno.test("loadModelConfig() with videoPredictorOverrides() gives the inference predictor", async () => {
  const cfg = await loadModelConfig("sam2.1/sam2.1_hiera_b+.yaml", {
    overrides: videoPredictorOverrides(),
  });
  assertEquals(cfg.videoPredictor, {
    _target_: "sam2.sam2_video_predictor.SAM2VideoPredictor",
    fill_hole_area: 8,
    non_overlap_masks: false,
    clear_non_cond_mem_around_input: false,
    add_all_frames_to_correct_as_cond: false,
  });
  assertEquals(cfg.model._target_, "sam2.modeling.sam2_base.SAM2Base");
  assertEquals(cfg.model.binarize_mask_from_pts_for_mem_enc, true);
  assertEquals(cfg.model.sam_mask_decoder_extra_args, {
    dynamic_multimask_via_stability: true,
    dynamic_multimask_stability_delta: 0.05,
    dynamic_multimask_stability_thresh: 0.98,
  });
  const vos = await loadModelConfig("sam2.1/sam2.1_hiera_t.yaml", {
    overrides: [
      ...videoPredictorOverrides({ vosOptimized: true, applyPostprocessing: false }),
      "++model.non_overlap_masks=true",
    ],
  });
  assertEquals(vos.videoPredictor?._target_, "sam2.sam2_video_predictor.SAM2VideoPredictorVOS");
  assertEquals(vos.videoPredictor?.non_overlap_masks, true);
  assertEquals(vos.model.compile_image_encoder, true);
  assertEquals(vos.model.sam_mask_decoder_extra_args, null);
});
