import { assert, assertEquals, assertThrows } from "../../assert.ts";
import { initGpu } from "../../../src/gpu/mod.ts";
import { Module } from "../../../src/nn/mod.ts";
import { loadModelConfig, SAM2Base } from "../../../src/sam2/mod.ts";
import { ones } from "../../../src/tensor/mod.ts";
import {
  buildParamGroups,
  loadTrainingConfig,
  paramGroupValues,
  paramOwners,
} from "../../../src/train/mod.ts";

await initGpu();

const configs = new URL("../../../configs/", import.meta.url);
const cfg = await loadModelConfig(new URL("mini.yaml", configs));
const model = new SAM2Base(cfg.model);
const owners = paramOwners(model);
const classOf = new Map(owners.map((o) => [o.name, o.moduleClass]));

Deno.test("paramOwners() gives every SAM2Base (mini) parameter its PyTorch owner class", () => {
  const names = model.namedParameters().map(([n]) => n);
  assertEquals(owners.map((o) => o.name), names);
  for (const o of owners) assert(o.moduleClass.length > 0, o.name);
  const expect: Record<string, string> = {
    "maskmem_tpos_enc": "sam2.modeling.sam2_base.SAM2Base",
    "image_encoder.trunk.pos_embed": "sam2.modeling.backbones.hieradet.Hiera",
    "image_encoder.trunk.patch_embed.proj.weight": "torch.nn.Conv2d",
    "image_encoder.trunk.blocks.0.norm1.weight": "torch.nn.LayerNorm",
    "image_encoder.trunk.blocks.0.attn.qkv.weight": "torch.nn.Linear",
    "memory_attention.layers.0.norm1.bias": "torch.nn.LayerNorm",
    "memory_encoder.fuser.layers.0.gamma": "sam2.modeling.memory_encoder.CXBlock",
    "memory_encoder.fuser.layers.0.norm.weight": "sam2.modeling.sam2_utils.LayerNorm2d",
    "memory_encoder.mask_downsampler.encoder.1.weight": "sam2.modeling.sam2_utils.LayerNorm2d",
    "sam_prompt_encoder.point_embeddings.0.weight": "torch.nn.Embedding",
    "sam_mask_decoder.output_upscaling.0.weight": "torch.nn.ConvTranspose2d",
    "sam_mask_decoder.output_upscaling.1.weight": "sam2.modeling.sam2_utils.LayerNorm2d",
    "sam_mask_decoder.transformer.norm_final_attn.weight": "torch.nn.LayerNorm",
  };
  for (const [k, v] of Object.entries(expect)) assertEquals(classOf.get(k), v, k);
  // nn.LayerNorm owns exactly the norms the reference builds with nn.LayerNorm.
  const ln = owners.filter((o) => o.moduleClass === "torch.nn.LayerNorm").map((o) => o.name);
  assert(
    ln.every((n) => /\.norm(\d|_final_attn)?\.(weight|bias)$|norm\d\.(weight|bias)$/.test(n)),
    ln.join(),
  );
});

Deno.test("MOSE optim groups on SAM2Base (mini): wd 0 for biases and nn.LayerNorm only", async () => {
  const train = await loadTrainingConfig(
    new URL("sam2.1_training/sam2.1_hiera_b+_MOSE_finetune.yaml", configs),
    { experimentLogDir: "/tmp/unused" },
  );
  const groups = buildParamGroups(owners, train.trainer.optim!);
  const values = paramGroupValues(groups, 0);
  const wdOf = new Map<string, number>();
  groups.forEach((g, i) => g.params.forEach((p) => wdOf.set(p, values[i].weight_decay)));
  assertEquals(wdOf.size, owners.length);
  for (const o of owners) {
    const zero = o.name.includes("bias") || o.moduleClass === "torch.nn.LayerNorm";
    assertEquals(wdOf.get(o.name), zero ? 0 : 0.1, o.name);
  }
  // The reference's gotcha: LayerNorm2d weights and embeddings keep wd 0.1.
  assertEquals(wdOf.get("sam_mask_decoder.output_upscaling.1.weight"), 0.1);
  assertEquals(wdOf.get("sam_prompt_encoder.point_embeddings.0.weight"), 0.1);
});

Deno.test("paramOwners() names a parameter whose class has no PyTorch path", () => {
  class Odd extends Module {
    readonly w = this.param("w", ones([2]));
  }
  class Holder extends Module {
    readonly odd = this.module("odd", new Odd());
  }
  assertThrows(() => paramOwners(new Holder()), Error, 'Parameter "odd.w" is owned by a Odd');
  assertEquals(paramOwners(new Holder(), { classes: { Odd: "x.Odd" } })[0].moduleClass, "x.Odd");
});
