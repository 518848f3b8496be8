/**
 * Position encodings of SAM 2 that hold no parameters (sam2/modeling/position_encoding.py).
 * Tables are computed on the host in float32 steps, as the reference computes them, and
 * uploaded once per shape.
 */
import { tensor } from "../tensor/create.ts";
import { keep } from "../tensor/scope.ts";
import type { Tensor } from "../tensor/mod.ts";
import { Module } from "../nn/module.ts";
import type { PositionEmbeddingSineConfig } from "./config/mod.ts";

const f32 = Math.fround;

/**
 * The 2-D sine table [C, H, W] (C = numPosFeats) of `PositionEmbeddingSine._pe` for one image:
 * channels are `cat(pos_y, pos_x)`, each interleaved `[sin(p/d0), cos(p/d0), sin(p/d2), ...]`
 * with `p = i / (N + 1e-6) * scale` for i = 1..N when normalised.
 */
export function sinePositionTable(
  cfg: Pick<PositionEmbeddingSineConfig, "num_pos_feats" | "temperature" | "normalize" | "scale">,
  h: number,
  w: number,
): Float32Array {
  const half = cfg.num_pos_feats / 2;
  const scale = cfg.scale ?? 2 * Math.PI;
  const dimT = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    dimT[i] = f32(Math.pow(cfg.temperature, f32(f32(2 * Math.floor(i / 2)) / half)));
  }
  const embed = (i: number, n: number) =>
    cfg.normalize ? f32(f32(f32(i) / f32(n + 1e-6)) * f32(scale)) : i;
  const out = new Float32Array(cfg.num_pos_feats * h * w);
  const put = (c: number, y: number, x: number, v: number) => out[(c * h + y) * w + x] = v;
  for (let y = 0; y < h; y++) {
    const ey = embed(y + 1, h);
    for (let x = 0; x < w; x++) {
      const ex = embed(x + 1, w);
      for (let j = 0; j < half; j++) {
        const py = f32(ey / dimT[j]), px = f32(ex / dimT[j]);
        put(j, y, x, j % 2 === 0 ? Math.sin(py) : Math.cos(py));
        put(half + j, y, x, j % 2 === 0 ? Math.sin(px) : Math.cos(px));
      }
    }
  }
  return out;
}

/**
 * `PositionEmbeddingSine`: a fixed [B, C, H, W] table for a feature map; no gradient. The table
 * of each (H, W) is built once and kept.
 */
export class PositionEmbeddingSine extends Module {
  readonly #cache = new Map<string, Tensor>();
  constructor(readonly config: PositionEmbeddingSineConfig) {
    super();
    if (config.num_pos_feats % 2 !== 0) {
      throw new RangeError(
        `PositionEmbeddingSine: num_pos_feats must be even, got ${config.num_pos_feats}`,
      );
    }
    if (config.scale !== null && !config.normalize) {
      throw new RangeError("PositionEmbeddingSine: normalize must be true if scale is passed");
    }
  }

  /** The table for `x` [B, C, H, W], expanded over the batch. */
  forward(x: Tensor): Tensor {
    const [b, , h, w] = x.shape;
    const key = `${h}x${w}`;
    let t = this.#cache.get(key);
    if (!t) {
      t = keep(
        tensor(sinePositionTable(this.config, h, w), [1, this.config.num_pos_feats, h, w]),
      );
      this.#cache.set(key, t);
    }
    return t.expand([b, this.config.num_pos_feats, h, w]);
  }

  override dispose(): void {
    for (const t of this.#cache.values()) t.dispose();
    this.#cache.clear();
    super.dispose();
  }
}

/**
 * `get_1d_sine_pe(pos_inds, dim)`: [N, dim] table `cat(sin(p / t), cos(p / t))` with
 * `t = temperature^(2*(i//2)/(dim/2))` — note: NOT interleaved, unlike the 2-D sine table.
 */
export function sine1dTable(positions: ArrayLike<number>, dim: number, temperature = 10000) {
  const half = dim / 2;
  const out = new Float32Array(positions.length * dim);
  for (let n = 0; n < positions.length; n++) {
    const p = f32(positions[n]);
    for (let i = 0; i < half; i++) {
      const t = f32(Math.pow(temperature, f32(f32(2 * Math.floor(i / 2)) / half)));
      const v = f32(p / t);
      out[n * dim + i] = Math.sin(v);
      out[n * dim + half + i] = Math.cos(v);
    }
  }
  return out;
}
