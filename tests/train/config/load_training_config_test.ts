import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "../../assert.ts";
import { ConfigError } from "../../../src/sam2/config/mod.ts";
import { loadTrainingConfig, parseTrainingConfig } from "../../../src/train/config/mod.ts";

const mosePath = new URL(
  "../../../configs/sam2.1_training/sam2.1_hiera_b+_MOSE_finetune.yaml",
  import.meta.url,
).pathname;
const moseText = await Deno.readTextFile(mosePath);

Deno.test("loadTrainingConfig() reads the MOSE fine-tuning config with its values", async () => {
  const cfg = await loadTrainingConfig(mosePath, { experimentLogDir: "/tmp/logs" });
  const t = cfg.trainer;
  assertEquals(t.max_epochs, 40); // ${times:${scratch.num_epochs},${scratch.phases_per_epoch}}
  assertEquals([t.mode, t.accelerator, t.seed_value, t.val_epoch_freq], [
    "train_only",
    "cuda",
    123,
    1,
  ]);
  assertEquals(t.model.image_size, 1024);
  assertEquals(t.model.image_encoder.trunk.drop_path_rate, 0.1);
  assertEquals(t.model.num_correction_pt_per_frame, 7);
  const optim = t.optim!;
  assertEquals(optim.amp, { enabled: true, amp_dtype: "bfloat16" });
  assertEquals(optim.optimizer?._target_, "torch.optim.AdamW");
  assertEquals(optim.gradient_clip?.max_norm, 0.1);
  const lr = optim.options!.lr;
  assertEquals(lr[0].scheduler, {
    _target_: "fvcore.common.param_scheduler.CosineParamScheduler",
    start_value: 5e-6,
    end_value: 5e-6 / 10, // ${divide:${scratch.base_lr},10}
  });
  assertEquals(lr[1].param_names, ["image_encoder.*"]);
  assertAlmostEquals((lr[1].scheduler as { end_value: number }).end_value, 3e-7, 1e-20);
  const wd = optim.options!.weight_decay;
  assertEquals(wd[1].param_names, ["*bias*"]);
  assertEquals(wd[1].module_cls_names, ["torch.nn.LayerNorm"]);
  const mod = optim.param_group_modifiers![0];
  assertEquals([mod._partial_, mod.layer_decay_value, mod.apply_to], [
    true,
    0.9,
    "image_encoder.trunk",
  ]);
  assertEquals(mod.overrides, [{ pattern: "*pos_embed*", value: 1 }]);
  assertEquals(t.loss!.all.weight_dict.loss_mask, 20);
  const train = t.data.train;
  assertEquals([train.phases_per_epoch, train.batch_sizes, train.num_workers], [1, [1], 10]);
  assertEquals(train.collate_fn, {
    _target_: "training.utils.data_utils.collate_fn",
    _partial_: true,
    dict_key: "all",
  });
  const wrapper = train.datasets[0];
  assert(wrapper._target_ === "training.dataset.utils.RepeatFactorWrapper");
  assert(wrapper.dataset._target_ === "training.dataset.utils.ConcatDataset");
  const vos = wrapper.dataset.datasets[0];
  assert(vos._target_ === "training.dataset.vos_dataset.VOSDataset");
  assertEquals(vos.multiplier, 2);
  assertEquals(vos.video_dataset.img_folder, null);
  assertEquals(vos.video_dataset.file_list_txt, "training/assets/MOSE_sample_train_list.txt");
  assert(vos.sampler._target_ === "training.dataset.vos_sampler.RandomUniformSampler");
  assertEquals([vos.sampler.num_frames, vos.sampler.max_num_objects], [8, 3]);
  const compose = vos.transforms[0];
  assert(compose._target_ === "training.dataset.transforms.ComposeAPI");
  assertEquals(compose.transforms.length, 8);
  const resize = compose.transforms[2];
  assert(resize._target_ === "training.dataset.transforms.RandomResizeAPI");
  assertEquals([resize.sizes, resize.square], [[1024], true]);
  const affine = compose.transforms[1];
  assert(affine._target_ === "training.dataset.transforms.RandomAffine");
  assertEquals([affine.degrees, affine.shear, affine.image_interpolation], [25, 20, "bilinear"]);
  assertEquals(t.logging.log_dir, "/tmp/logs/logs");
  assertEquals(t.logging.tensorboard_writer?.log_dir, "/tmp/logs/tensorboard");
  assertEquals(t.checkpoint.save_dir, "/tmp/logs/checkpoints");
  const init = t.checkpoint.model_weight_initializer!;
  assertEquals(init.state_dict.checkpoint_path, "./checkpoints/sam2.1_hiera_base_plus.pt");
  assertEquals(init.state_dict.ckpt_state_dict_keys, ["model"]);
  assertEquals(t.distributed, {
    backend: "nccl",
    comms_dtype: null,
    find_unused_parameters: true,
    timeout_mins: 30,
  });
  assertEquals(cfg.launcher, { num_nodes: 1, gpus_per_node: 8, experiment_log_dir: "/tmp/logs" });
  assertEquals([cfg.submitit.cpus_per_task, cfg.submitit.port_range], [10, [10000, 65000]]);
  assertEquals((cfg.sections.scratch as Record<string, number>).num_frames, 8);
});

Deno.test("parseTrainingConfig() applies overrides before interpolating", () => {
  const cfg = parseTrainingConfig(moseText, "mose.yaml", {
    overrides: ["scratch.num_epochs=3", "scratch.resolution=512", "dataset.img_folder=/data/x"],
    experimentLogDir: "/l",
  });
  assertEquals(cfg.trainer.max_epochs, 3);
  assertEquals(cfg.trainer.model.image_size, 512);
  const vos = (cfg.trainer.data.train.datasets[0] as { dataset: { datasets: unknown[] } })
    .dataset.datasets[0] as { video_dataset: { img_folder: string } };
  assertEquals(vos.video_dataset.img_folder, "/data/x");
});

Deno.test("parseTrainingConfig() reports unknown keys and targets with position", () => {
  let e = assertThrows(
    () => parseTrainingConfig(moseText.replace("max_norm: 0.1", "max_nrom: 0.1"), "m.yaml"),
    ConfigError,
  ) as ConfigError;
  assertStringIncludes(e.message, 'Unknown key "max_nrom" for GradientClipper');
  assertStringIncludes(e.message, 'Did you mean "max_norm"?');
  assertEquals([e.line, e.column], [
    moseText.split("\n").findIndex((l) => l.includes("max_norm")) + 1,
    7,
  ]);
  e = assertThrows(
    () =>
      parseTrainingConfig(
        moseText.replace(
          "param_scheduler.CosineParamScheduler",
          "param_scheduler.CosinParamScheduler",
        ),
        "m.yaml",
      ),
    ConfigError,
  ) as ConfigError;
  assertStringIncludes(
    e.message,
    'Did you mean "fvcore.common.param_scheduler.CosineParamScheduler"?',
  );
  e = assertThrows(
    () => parseTrainingConfig(moseText.replace("log_freq: 10", "log_freq: often"), "m.yaml"),
    ConfigError,
  ) as ConfigError;
  assertStringIncludes(e.message, '"log_freq" must be an integer, got "often"');
  e = assertThrows(
    () => parseTrainingConfig(moseText.replace("mode: train_only", "mode: train_onyl"), "m.yaml"),
    ConfigError,
  ) as ConfigError;
  assertStringIncludes(e.message, 'Did you mean "train_only"?');
});
