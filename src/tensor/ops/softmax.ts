import { gpu } from "../../gpu/runtime.ts";
import { LANE_MAX_LOOP, laneWorkgroups, reduceFormFor } from "../../kernels/reduce_form.ts";
import { rowWorkgroups, softmaxKernel, softmaxUniforms } from "../../kernels/softmax.ts";
import { apply } from "../autograd.ts";
import { planChunks } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { normAxis } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { contiguous, copyContiguous, transpose } from "./layout.ts";

type Kind = "softmax" | "logSoftmax";

/**
 * Rows one lane-form invocation owns (independent work per loop iteration). lavapipe same-run
 * ratios to an add: [32768, 512] forward 1 -> 2 -> 4 rows ~1.1x -> ~1.33x -> ~1.29x, [131072, 64]
 * ~1.07x -> ~1.13x -> ~1.18x, forward + backward ~0.72x -> ~0.76x -> ~0.75x.
 */
const SM_ROWS = 2;

function rows(x: Tensor): [number, number] {
  const cols = x.shape[x.rank - 1] ?? 1;
  return [cols === 0 ? 0 : x.size / cols, cols];
}

function launchRows(kind: Kind, pass: "forward" | "backward", ins: Tensor[]): Tensor {
  if (ins.some((t) => t.dtype !== "f32")) {
    throw new TypeError(`${kind}(): f32 input only (cast first)`);
  }
  const src = ins.map((t) => t.isContiguous ? t : copyContiguous(t));
  const out = Tensor.empty(ins[0].shape, "f32");
  const [r, c] = rows(ins[0]);
  // Blocks of rows; arrays above the binding limit are bound as windows.
  const chunks = planChunks(
    kind,
    [r],
    [out, ...src].map((t) => ({ tensor: t, offset: t.offset, strides: [c], inner: c })),
  );
  // CPU adapters: one row per invocation (vec4 when the block's offsets allow).
  const lane = reduceFormFor(gpu().isCpuAdapter) === "lane" && c <= LANE_MAX_LOOP;
  for (const ch of chunks) {
    const vec4 = lane && c % 4 === 0 && ch.offsets.every((o) => o % 4 === 0);
    const spec = lane ? { kind, pass, form: "lane" as const, vec4, rowsPerLane: SM_ROWS } : {
      kind,
      pass,
    };
    gpu().launch(softmaxKernel(spec), {
      buffers: ch.bindings,
      uniforms: softmaxUniforms(ch.shape[0], c, ch.offsets),
      workgroups: lane
        ? laneWorkgroups(Math.ceil(ch.shape[0] / SM_ROWS))
        : rowWorkgroups(ch.shape[0]),
    });
  }
  src.forEach((t, i) => t !== ins[i] && t.dispose());
  return out;
}

const softmaxOp: OpDef<Kind> = {
  name: "softmax",
  forward(ctx, [x], kind) {
    const y = launchRows(kind, "forward", [x]);
    ctx.save(y);
    return y;
  },
  backward(ctx, g, kind) {
    return [launchRows(kind, "backward", [g, ctx.saved[0]])];
  },
};

function lastDim(x: Tensor, axis: number, kind: Kind): Tensor {
  const a = normAxis(axis, x.rank);
  if (a === x.rank - 1) return apply(softmaxOp, [x], kind);
  const moved = contiguous(transpose(x, a, -1));
  return transpose(apply(softmaxOp, [moved], kind), a, -1);
}

/** Softmax along `axis` (default last), stable for large logits (max subtracted). */
export function softmax(x: Tensor, axis = -1): Tensor {
  return lastDim(x, axis, "softmax");
}

/** log(softmax(x)) along `axis`, computed as x - max - log(sum(exp(x - max))). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return lastDim(x, axis, "logSoftmax");
}
