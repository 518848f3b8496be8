import { Module } from "../../nn/module.ts";
import { ModuleList } from "../../nn/containers.ts";
import { checkpoint } from "../../tensor/autograd.ts";
import { zeros } from "../../tensor/create.ts";
import { interpolate } from "../../tensor/ops/interpolate.ts";
import type { Tensor } from "../../tensor/mod.ts";
import type { HieraConfig } from "../config/mod.ts";
import { MultiScaleBlock } from "./multiscale_block.ts";
import { PatchEmbed } from "./patch_embed.ts";

/** Layout of the blocks a Hiera config describes (pure; also used for key lists). */
export interface HieraPlan {
  /** Per block: input/output width, heads, window (0 = global), q-pool stride or null. */
  blocks: {
    dim: number;
    dimOut: number;
    numHeads: number;
    windowSize: number;
    qStride: [number, number] | null;
    dropPath: number;
  }[];
  /** Index of the last block of each stage. */
  stageEnds: number[];
  /** Output widths, deepest first (`channel_list`). */
  channelList: number[];
}

/** Derives the block layout exactly as the reference constructor does. */
export function planHiera(cfg: HieraConfig): HieraPlan {
  const depth = cfg.stages.reduce((a, b) => a + b, 0);
  const stageEnds = cfg.stages.map((_, i) =>
    cfg.stages.slice(0, i + 1).reduce((a, b) => a + b) - 1
  );
  if (cfg.q_pool < 0 || cfg.q_pool > stageEnds.length - 1) {
    throw new RangeError(`Hiera: q_pool ${cfg.q_pool} must be in [0, ${stageEnds.length - 1}]`);
  }
  const qPoolBlocks = stageEnds.slice(0, -1).map((e) => e + 1).slice(0, cfg.q_pool);
  const qStride = [cfg.q_stride[0], cfg.q_stride[1]] as [number, number];
  let embedDim = cfg.embed_dim, numHeads = cfg.num_heads, curStage = 1;
  const blocks: HieraPlan["blocks"] = [];
  for (let i = 0; i < depth; i++) {
    let dimOut = embedDim;
    let windowSize = cfg.window_spec[curStage - 1];
    if (cfg.global_att_blocks?.includes(i)) windowSize = 0;
    if (stageEnds.includes(i - 1)) {
      dimOut = Math.trunc(embedDim * cfg.dim_mul);
      numHeads = Math.trunc(numHeads * cfg.head_mul);
      curStage += 1;
    }
    // torch.linspace(0, rate, depth)[i]
    const dropPath = depth > 1 ? (cfg.drop_path_rate * i) / (depth - 1) : 0;
    blocks.push({
      dim: embedDim,
      dimOut,
      numHeads,
      windowSize,
      qStride: qPoolBlocks.includes(i) ? qStride : null,
      dropPath,
    });
    embedDim = dimOut;
  }
  const channelList = cfg.return_interm_layers
    ? [...stageEnds].reverse().map((e) => blocks[e].dimOut)
    : [blocks[blocks.length - 1].dimOut];
  return { blocks, stageEnds, channelList };
}

/** Observes intermediate trunk tensors (parity tests, debugging). */
export interface HieraTap {
  patchEmbed?(x: Tensor): void;
  posEmbed?(x: Tensor): void;
  block?(index: number, x: Tensor): void;
}

/**
 * The Hiera trunk (sam2/modeling/backbones/hieradet.py): patch embedding, a background
 * position embedding resized bicubically to the token grid plus a tiled window embedding, then
 * the blocks; returns the stage outputs NCHW, highest resolution first.
 */
export class Hiera extends Module {
  readonly patch_embed: PatchEmbed;
  readonly pos_embed: Tensor;
  readonly pos_embed_window: Tensor;
  readonly blocks: ModuleList<MultiScaleBlock>;
  readonly plan: HieraPlan;
  /**
   * Activation checkpointing of the trunk blocks: in training mode, with gradients recorded,
   * each block keeps only its input and is recomputed in backward, trading one extra block
   * forward for the memory of its intermediates (attention, MLP hidden). Gradients are the same.
   */
  actCheckpoint = false;
  constructor(readonly config: HieraConfig) {
    super();
    if (config.stages.length !== config.window_spec.length) {
      throw new RangeError("Hiera: stages and window_spec must have the same length");
    }
    this.plan = planHiera(config);
    const c = config.embed_dim, [bh, bw] = config.window_pos_embed_bkg_spatial_size;
    const ws = config.window_spec[0];
    this.patch_embed = this.module("patch_embed", new PatchEmbed(c));
    this.pos_embed = this.param("pos_embed", zeros([1, c, bh, bw]));
    this.pos_embed_window = this.param("pos_embed_window", zeros([1, c, ws, ws]));
    this.blocks = this.module(
      "blocks",
      new ModuleList(this.plan.blocks.map((b) => new MultiScaleBlock(b))),
    );
  }

  /** Output widths, deepest first (the reference's `channel_list`). */
  get channelList(): number[] {
    return this.plan.channelList;
  }

  /** Position embedding for an (h, w) token grid, channels-last [1, h, w, C]. */
  posEmbed(h: number, w: number): Tensor {
    const bg = interpolate(this.pos_embed, { size: [h, w], mode: "bicubic", alignCorners: false });
    const [, c, wh, ww] = this.pos_embed_window.shape;
    if (h % wh !== 0 || w % ww !== 0) {
      throw new RangeError(
        `Hiera: token grid ${h}x${w} is not a multiple of the window ${wh}x${ww}`,
      );
    }
    const tiled = this.pos_embed_window
      .reshape([1, c, 1, wh, 1, ww])
      .expand([1, c, h / wh, wh, w / ww, ww])
      .reshape([1, c, h, w]);
    return bg.add(tiled).permute([0, 2, 3, 1]);
  }

  forward(x: Tensor, tap: HieraTap = {}): Tensor[] {
    x = this.patch_embed.forward(x);
    tap.patchEmbed?.(x);
    const pos = this.posEmbed(x.shape[1], x.shape[2]);
    tap.posEmbed?.(pos);
    x = x.add(pos);
    const outputs: Tensor[] = [];
    const { stageEnds } = this.plan, last = stageEnds[stageEnds.length - 1];
    let i = 0;
    for (const blk of this.blocks) {
      x = this.#block(blk, x);
      tap.block?.(i, x);
      if (i === last || (stageEnds.includes(i) && this.config.return_interm_layers)) {
        outputs.push(x.permute([0, 3, 1, 2]));
      }
      i++;
    }
    return outputs;
  }

  #block(blk: MultiScaleBlock, x: Tensor): Tensor {
    // Without a gradient path through x the checkpoint op would not record, and the block's
    // own parameters would get no gradient: run it plainly then.
    if (!this.actCheckpoint || !this.training || !x.requiresGrad) return blk.forward(x);
    const keys = blk.dropPathKeys(x.shape[0]);
    return checkpoint((y) => blk.forward(y, keys), [x]);
  }
}
