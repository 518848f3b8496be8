import { gpu } from "../../gpu/runtime.ts";
import { axialCisTable, ropeKernel, ropeUniforms, ropeWorkgroups } from "../../kernels/rope.ts";
import { apply } from "../autograd.ts";
import { tensor } from "../create.ts";
import { bindingOf } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { keep } from "../scope.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { copyContiguous } from "./layout.ts";

/** Geometry of SAM 2's axial rotary encoding (`RoPEAttention`, `compute_axial_cis`). */
export interface Rope2dOptions {
  /** Feature-map width (t_x = t % endX). */
  endX: number;
  /** Feature-map height (t_y = floor(t / endX)). */
  endY: number;
  /** Frequency base. @default 10000 */
  theta?: number;
  /**
   * Token t uses position t % (endX·endY), tiling the positions over memory frames
   * (`rope_k_repeat`). Without it the rotated tokens must number at most endX·endY.
   * @default false
   */
  repeat?: boolean;
  /** The last n tokens are left unrotated (object-pointer tokens, `num_k_exclude_rope`). @default 0 */
  numExclude?: number;
}

const tables = new Map<string, Tensor>();

/** The (cos, sin) table on the GPU, computed once per geometry in float64 and kept. */
function cisTable(d: number, o: Rope2dOptions): Tensor {
  const key = `${d},${o.endX},${o.endY},${o.theta ?? 10000}`;
  let t = tables.get(key);
  if (!t || t.disposed) {
    const data = axialCisTable(d, o.endX, o.endY, o.theta ?? 10000);
    t = keep(tensor(data, [data.length]));
    tables.set(key, t);
  }
  return t;
}

/**
 * Rotates x [..., L, d] (contiguous copy made if needed) into a new tensor, without autograd.
 * `inverse` rotates by the negative angles (the backward). Used by `rope2d` and inside
 * `scaledDotProductAttention`.
 */
export function rope2dRaw(x: Tensor, o: Rope2dOptions, inverse = false): Tensor {
  const d = x.shape[x.rank - 1], l = x.shape[x.rank - 2];
  if (x.rank < 2 || d % 4 !== 0) {
    throw new RangeError(
      `rope2d(): needs [..., L, d] with d divisible by 4, got ${fmtShape(x.shape)}`,
    );
  }
  const npos = o.endX * o.endY;
  const rot = l - (o.numExclude ?? 0);
  if (rot < 0 || (!o.repeat && rot > npos)) {
    throw new RangeError(
      `rope2d(): ${rot} rotated tokens for ${npos} positions (${o.endX}x${o.endY}); ` +
        `set repeat for memories or check numExclude`,
    );
  }
  const xc = x.isContiguous && x.offset === 0 ? x : copyContiguous(x);
  const out = Tensor.empty(x.shape, "f32");
  const pairs = x.size / 2;
  if (pairs > 0) {
    gpu().launch(ropeKernel(), {
      buffers: [xc, cisTable(d, o), out].map(bindingOf),
      uniforms: ropeUniforms({ pairs, l, half: d / 2, rot, npos, inverse }),
      workgroups: ropeWorkgroups(pairs),
    });
  }
  if (xc !== x) xc.dispose();
  return out;
}

const rope2dOp: OpDef<Rope2dOptions> = {
  name: "rope2d",
  forward(_ctx, [x], o) {
    return rope2dRaw(x, o);
  },
  backward(ctx, g, o) {
    return [ctx.needsGrad[0] ? rope2dRaw(g, o, true) : null];
  },
};

/**
 * SAM 2's axial 2-D rotary position encoding of x [..., L, d] (`apply_rotary_enc` with
 * `compute_axial_cis(d, endX, endY, theta)`): channel pairs (2c, 2c+1) rotate by t_x·f_c for
 * c < d/4 and t_y·f_(c-d/4) after, f_c = 1/theta^(4c/d). Differentiable (the backward rotates
 * back).
 *
 * @example
 * ```ts
 * const qr = rope2d(q, { endX: 64, endY: 64 });                        // queries
 * const kr = rope2d(k, { endX: 64, endY: 64, repeat: true, numExclude: 16 }); // memories
 * ```
 */
export function rope2d(x: Tensor, opts: Rope2dOptions): Tensor {
  return apply(rope2dOp, [x], { ...opts });
}
