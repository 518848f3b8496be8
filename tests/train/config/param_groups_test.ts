import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../../assert.ts";
import {
  buildParamGroups,
  fnmatchRegExp,
  hieraLayerId,
  loadTrainingConfig,
  paramGroupValues,
  type ParamOwnerInfo,
} from "../../../src/train/config/mod.ts";

const fixtures = new URL("../../../../shared/fixtures/", import.meta.url);
const mose = new URL(
  "../../../configs/sam2.1_training/sam2.1_hiera_b+_MOSE_finetune.yaml",
  import.meta.url,
).pathname;

/**
 * The b+ parameters from the fixture's key list, each with the class of the module owning
 * it, as the model will report them (LayerNorm2d lives in the fuser, the mask downsampler,
 * the decoder's upscaling and the prompt encoder's mask downscaling; other norms are
 * nn.LayerNorm).
 */
async function bplusParams(): Promise<ParamOwnerInfo[]> {
  const keys = JSON.parse(
    await Deno.readTextFile(new URL("sam2-mini/keys/sam2.1_hiera_b+.json", fixtures)),
  );
  const buffers = new Set<string>(
    keys.buffers.map((b: string | [string]) => Array.isArray(b) ? b[0] : b),
  );
  const ln2d =
    /^(memory_encoder\.fuser\.layers\.\d+\.norm|memory_encoder\.mask_downsampler\.encoder\.\d+|sam_mask_decoder\.output_upscaling\.1|sam_prompt_encoder\.mask_downscaling\.[14])\.(weight|bias)$/;
  return (keys.keys as [string][]).map(([name]) => name).filter((n) => !buffers.has(n)).map(
    (name) => ({
      name,
      moduleClass: ln2d.test(name)
        ? "sam2.modeling.sam2_utils.LayerNorm2d"
        : /(^|\.)norm[\w]*\.(weight|bias)$/.test(name)
        ? "torch.nn.LayerNorm"
        : "torch.nn.Linear",
    }),
  );
}

Deno.test("fnmatchRegExp() matches like Python's fnmatch", () => {
  assert(fnmatchRegExp("image_encoder.*").test("image_encoder.trunk.blocks.0.attn.qkv.weight"));
  assert(!fnmatchRegExp("image_encoder.*").test("sam_mask_decoder.x"));
  assert(fnmatchRegExp("*bias*").test("a.b.bias"));
  assert(fnmatchRegExp("blocks.[0-2].x").test("blocks.1.x"));
  assert(!fnmatchRegExp("blocks.[!0-2].x").test("blocks.1.x"));
  assert(fnmatchRegExp("a?c").test("abc") && !fnmatchRegExp("a.c").test("abc"));
});

Deno.test("hieraLayerId() follows Hiera.get_layer_id", () => {
  assertEquals(hieraLayerId("image_encoder.trunk.pos_embed", 24), 0);
  assertEquals(hieraLayerId("image_encoder.trunk.patch_embed.proj.weight", 24), 0);
  assertEquals(hieraLayerId("image_encoder.trunk.blocks.0.norm1.weight", 24), 1);
  assertEquals(hieraLayerId("image_encoder.trunk.blocks.23.mlp.layers.1.bias", 24), 24);
  assertEquals(hieraLayerId("image_encoder.trunk.other", 24), 25);
});

Deno.test("buildParamGroups() reproduces the MOSE config's groups for base_plus", async () => {
  const params = await bplusParams();
  const cfg = await loadTrainingConfig(mose, { experimentLogDir: "/tmp/x" });
  const groups = buildParamGroups(params, cfg.trainer.optim!);
  // lr: 1 default group + vision groups (neck, *pos_embed*, patch_embed, 24 blocks) = 28;
  // weight decay 0.1 / 0.0 splits every lr group except *pos_embed* (no bias, no LayerNorm).
  assertEquals(groups.length, 55);
  assertEquals(groups.reduce((n, g) => n + g.params.length, 0), params.length);
  const groupOf = (name: string) => groups.findIndex((g) => g.params.includes(name));
  const values = paramGroupValues(groups, 0);
  const at = (name: string) => values[groupOf(name)];
  assertAlmostEquals(at("sam_mask_decoder.iou_token.weight").lr, 5e-6, 1e-18);
  assertEquals(at("sam_mask_decoder.iou_token.weight").weight_decay, 0.1);
  assertEquals(at("sam_mask_decoder.transformer.layers.0.norm1.weight").weight_decay, 0);
  // LayerNorm2d is not torch.nn.LayerNorm: it keeps weight decay 0.1 (bias still 0).
  assertEquals(at("memory_encoder.fuser.layers.0.norm.weight").weight_decay, 0.1);
  assertEquals(at("memory_encoder.fuser.layers.0.norm.bias").weight_decay, 0);
  assertEquals(at("no_mem_embed").weight_decay, 0.1);
  const t = "image_encoder.trunk.";
  assertAlmostEquals(at(`${t}blocks.0.attn.qkv.weight`).lr, 3e-6 * 0.9 ** 24, 1e-20);
  assertAlmostEquals(at(`${t}blocks.23.attn.qkv.weight`).lr, 3e-6 * 0.9, 1e-20);
  assertAlmostEquals(at(`${t}patch_embed.proj.weight`).lr, 3e-6 * 0.9 ** 25, 1e-20);
  assertAlmostEquals(at(`${t}pos_embed`).lr, 3e-6, 1e-20);
  assertEquals(groupOf(`${t}pos_embed`), groupOf(`${t}pos_embed_window`));
  assertAlmostEquals(at("image_encoder.neck.convs.0.conv.weight").lr, 3e-6, 1e-20);
  assertEquals(at(`${t}blocks.5.norm1.weight`).weight_decay, 0);
  assertEquals(at(`${t}blocks.5.attn.qkv.bias`).weight_decay, 0);
  assertEquals(at(`${t}blocks.5.attn.qkv.weight`).weight_decay, 0.1);
  // Halfway: cosine at 0.5 is the mean of start and end.
  const half = paramGroupValues(groups, 0.5)[groupOf(`${t}blocks.23.attn.qkv.weight`)];
  assertAlmostEquals(half.lr, 0.9 * (3e-6 + 3e-7) / 2, 1e-20);
});

Deno.test("buildParamGroups() enforces the reference's selector rules", () => {
  const params: ParamOwnerInfo[] = [
    { name: "a.weight", moduleClass: "torch.nn.Linear" },
    { name: "a.bias", moduleClass: "torch.nn.Linear" },
    { name: "n.weight", moduleClass: "torch.nn.modules.normalization.LayerNorm" },
  ];
  const c = (value: number) => ({
    _target_: "fvcore.common.param_scheduler.ConstantParamScheduler" as const,
    value,
  });
  const groups = buildParamGroups(params, {
    options: {
      weight_decay: [
        { scheduler: c(0.1), param_names: null, module_cls_names: null },
        { scheduler: c(0), param_names: ["*bias"], module_cls_names: ["torch.nn.LayerNorm"] },
      ],
    },
    param_group_modifiers: null,
  });
  assertEquals(groups.map((g) => g.params), [["a.weight"], ["a.bias", "n.weight"]]);
  assertThrows(
    () =>
      buildParamGroups(params, {
        options: { lr: [{ scheduler: c(1), param_names: ["zzz*"], module_cls_names: null }] },
        param_group_modifiers: null,
      }),
    Error,
    'param_name "zzz*" does not match',
  );
  assertThrows(
    () =>
      buildParamGroups(params, {
        options: {
          lr: [
            { scheduler: c(1), param_names: null, module_cls_names: null },
            { scheduler: c(2), param_names: null, module_cls_names: null },
          ],
        },
        param_group_modifiers: null,
      }),
    Error,
    "Only one scheduler per option can be default",
  );
  // No default entry: the rest forms a group without a schedule for that option.
  const partial = buildParamGroups(params, {
    options: { lr: [{ scheduler: c(1), param_names: ["a.*"], module_cls_names: null }] },
    param_group_modifiers: null,
  });
  assertEquals(partial.map((g) => [g.params, Object.keys(g.schedules)]), [
    [["a.weight", "a.bias"], ["lr"]],
    [["n.weight"], []],
  ]);
});
