import { gpu } from "../../gpu/runtime.ts";
import {
  layerNormKernel,
  type LayerNormSpec,
  layerNormUniforms,
} from "../../kernels/layer_norm.ts";
import {
  layerNormParamGradKernel,
  layerNormParamGradUniforms,
} from "../../kernels/layer_norm_params.ts";
import { LANE_MAX_LOOP, laneWorkgroups, reduceFormFor } from "../../kernels/reduce_form.ts";
import { rowWorkgroups } from "../../kernels/softmax.ts";
import { apply } from "../autograd.ts";
import { bindingOf, planChunks } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { mapExpr } from "./_map.ts";
import { copyContiguous } from "./layout.ts";
import { reduceRaw } from "./reduce.ts";

function dense(t: Tensor): Tensor {
  return t.isContiguous && t.offset === 0 ? t : copyContiguous(t);
}

/** How a layer-norm binding is laid out: [rows, cols], [rows] statistics, or [cols] weights. */
type Part = "row" | "stat" | "col";

/**
 * Launches a layer-norm kernel over blocks of rows; arrays above the binding limit are bound as
 * windows (each binding's offset goes through the uniforms). The form follows the adapter
 * (`reduceFormFor`): on CPU adapters one row per invocation, read as vec4 when cols and every
 * row/weight offset of the block are multiples of 4 (rows longer than the loop cap take the
 * workgroup form).
 */
function launchRows(
  op: string,
  spec: LayerNormSpec,
  [rows, cols, eps]: [number, number, number],
  parts: readonly [Tensor, Part][],
): void {
  const chunks = planChunks(
    op,
    [rows],
    parts.map(([t, p]) => ({
      tensor: t,
      offset: t.offset,
      strides: [p === "row" ? cols : p === "stat" ? 1 : 0],
      inner: p === "stat" ? 1 : cols,
    })),
  );
  const lane = laneForm(cols);
  for (const c of chunks) {
    const vec4 = lane && cols % 4 === 0 &&
      c.offsets.every((o, k) => parts[k][1] === "stat" || o % 4 === 0);
    const rowsPerLane = spec.affine ? LN_ROWS : 1;
    const kernel = layerNormKernel(lane ? { ...spec, form: "lane", vec4, rowsPerLane } : spec);
    gpu().launch(kernel, {
      buffers: c.bindings,
      uniforms: layerNormUniforms(c.shape[0], cols, eps, c.offsets),
      workgroups: lane
        ? laneWorkgroups(Math.ceil(c.shape[0] / rowsPerLane))
        : rowWorkgroups(c.shape[0]),
    });
  }
}

/**
 * Rows one lane-form invocation owns when there is a weight (each weight / bias load serves them
 * all). lavapipe [32768, 256], same-run ratios to an add: forward 1 -> 2 -> 4 rows 1.3x -> 1.8x
 * -> 2.0x, forward + dx 0.55x -> 0.63x -> 0.69x (8 rows: noisy, not clearly better, longer
 * kernels).
 */
const LN_ROWS = 4;
/** Whether the layer-norm kernels take the lane form (CPU adapters; rows under the loop cap). */
function laneForm(cols: number): boolean {
  return reduceFormFor(gpu().isCpuAdapter) === "lane" && cols <= LANE_MAX_LOOP;
}

/**
 * Weight and bias gradients in one pass over g and x (lane form): per block of rows (windows
 * above the binding limit), runs of rows write partial sums [runs, cols] (enough runs for about
 * 512 invocations, each run at least 64 rows and under the loop cap), then one column sum over
 * all the runs. Each invocation owns up to 8 vec4s of columns (lavapipe fwd+bwd [32768, 256]:
 * 4 -> 8 vec4s ~0.55x -> ~0.61x an add's GB/s).
 */
function paramGradsLane(
  g: Tensor,
  x: Tensor,
  mean: Tensor,
  rstd: Tensor,
  rows: number,
  cols: number,
): [Tensor, Tensor] {
  const chunks = planChunks("layer_norm_param_grad", [rows], [
    { tensor: g, offset: g.offset, strides: [cols], inner: cols },
    { tensor: x, offset: x.offset, strides: [cols], inner: cols },
    { tensor: mean, offset: mean.offset, strides: [1], inner: 1 },
    { tensor: rstd, offset: rstd.offset, strides: [1], inner: 1 },
  ]);
  const plans = chunks.map((c) => {
    const n = c.shape[0];
    const vec4 = cols % 4 === 0 && c.offsets[0] % 4 === 0 && c.offsets[1] % 4 === 0;
    const nv = vec4 ? cols / 4 : cols;
    const group = [8, 4, 2, 1].find((k) => nv % k === 0)!;
    const items = nv / group;
    // At least 64 rows a run (the partial sums stay 1/64 of g), at most the loop cap.
    const runs = Math.max(
      Math.ceil(n / LANE_MAX_LOOP),
      Math.min(Math.ceil(512 / items), Math.ceil(n / 64)),
    );
    return { c, n, vec4, group, items, runs };
  });
  const total = plans.reduce((a, p) => a + p.runs, 0);
  const pw = Tensor.empty([total, cols], "f32"), pb = Tensor.empty([total, cols], "f32");
  let first = 0;
  for (const { c, n, vec4, group, items, runs } of plans) {
    gpu().launch(layerNormParamGradKernel(vec4, group), {
      buffers: [bindingOf(pw), bindingOf(pb), ...c.bindings],
      uniforms: layerNormParamGradUniforms(n, cols, runs, [
        first * cols,
        first * cols,
        ...c.offsets,
      ]),
      workgroups: laneWorkgroups(runs * items),
    });
    first += runs;
  }
  const dw = reduceRaw(pw, [0], "sum").view([cols], [1], 0);
  const db = reduceRaw(pb, [0], "sum").view([cols], [1], 0);
  pw.dispose();
  pb.dispose();
  return [dw, db];
}

const layerNormOp: OpDef<{ eps: number }> = {
  name: "layer_norm",
  forward(ctx, inputs, { eps }) {
    const [x, w, b] = inputs.map(dense);
    const cols = x.shape[x.rank - 1];
    const rows = x.size / cols;
    const y = Tensor.empty(x.shape, "f32");
    const mean = Tensor.empty([rows], "f32");
    const rstd = Tensor.empty([rows], "f32");
    const affine = w !== undefined;
    launchRows("layer_norm", { pass: "forward", affine }, [rows, cols, eps], [
      [y, "row"],
      [mean, "stat"],
      [rstd, "stat"],
      [x, "row"],
      ...(affine ? [[w, "col"], [b, "col"]] as [Tensor, Part][] : []),
    ]);
    ctx.save(x, mean, rstd, ...(affine ? [w] : []));
    mean.dispose();
    rstd.dispose();
    [x, w, b].forEach((t, i) => t && t !== inputs[i] && t.dispose());
    return y;
  },
  backward(ctx, g0, { eps }) {
    const [x, mean, rstd, w] = ctx.saved;
    const g = dense(g0);
    const cols = x.shape[x.rank - 1];
    const rows = x.size / cols;
    const affine = w !== undefined;
    let dx: Tensor | null = null;
    if (ctx.needsGrad[0]) {
      dx = Tensor.empty(x.shape, "f32");
      launchRows(
        "layer_norm_backward",
        { pass: "backward", affine },
        [rows, cols, eps],
        [
          [dx, "row"],
          [g, "row"],
          [x, "row"],
          [mean, "stat"],
          [rstd, "stat"],
          ...(affine ? [[w, "col"]] as [Tensor, Part][] : []),
        ],
      );
    }
    if (!affine) return [dx];
    let dw: Tensor | null = null, db: Tensor | null = null;
    if ((ctx.needsGrad[1] || ctx.needsGrad[2]) && laneForm(cols)) {
      [dw, db] = paramGradsLane(g, x, mean, rstd, rows, cols);
      if (!ctx.needsGrad[1]) dw = (dw.dispose(), null);
      if (!ctx.needsGrad[2]) db = (db.dispose(), null);
      return [dx, dw, db];
    }
    if (ctx.needsGrad[1]) {
      const g2 = g.view([rows, cols], [cols, 1], 0);
      const x2 = x.view([rows, cols], [cols, 1], 0);
      const m2 = mean.view([rows, 1], [1, 1], 0);
      const r2 = rstd.view([rows, 1], [1, 1], 0);
      const gx = mapExpr("{g} * ({x} - {m}) * {r}", { g: g2, x: x2, m: m2, r: r2 }, {
        name: "layer_norm_wgrad",
      });
      dw = reduceRaw(gx, [0], "sum").view([cols], [1], 0);
    }
    if (ctx.needsGrad[2]) {
      db = reduceRaw(g.view([rows, cols], [cols, 1], 0), [0], "sum").view([cols], [1], 0);
    }
    return [dx, dw, db];
  },
};

/** Options of `layerNorm`. */
export interface LayerNormOptions {
  /** Added to the variance. @default 1e-5 */
  eps?: number;
}

/**
 * `F.layer_norm` over the last dim (biased variance, eps inside the sqrt), fused forward and
 * backward kernels; `weight`/`bias` [cols] or both absent.
 */
export function layerNorm(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  opts: LayerNormOptions = {},
): Tensor {
  if ([x, weight, bias].some((t) => t && t.dtype !== "f32")) {
    throw new TypeError("layerNorm(): f32 tensors only (cast first)");
  }
  const cols = x.shape[x.rank - 1];
  if ((weight && weight.size !== cols) || (bias && bias.size !== cols) || (!weight !== !bias)) {
    throw new RangeError(
      `layerNorm(): weight/bias must both be [${cols}] for input ${fmtShape(x.shape)}`,
    );
  }
  return apply(layerNormOp, weight && bias ? [x, weight, bias] : [x], { eps: opts.eps ?? 1e-5 });
}
