import { gpu } from "../../gpu/runtime.ts";
import { elementwiseWorkgroups } from "../../kernels/elementwise.ts";
import { indexKernel, indexUniforms } from "../../kernels/index.ts";
import { apply } from "../autograd.ts";
import { bindingOf, broadcastStrides, runElementwise } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { fmtShape, normAxis, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { copyContiguous } from "./layout.ts";

function checkIndex(name: string, index: Tensor): void {
  if (index.dtype !== "i32") {
    throw new TypeError(`${name}(): index must be i32, got ${index.dtype} (cast it)`);
  }
}

/** out[it] = x[it with coord[axis] = index(it)] (no autograd). */
function readRaw(x: Tensor, axis: number, index: Tensor, mode: "gather" | "select"): Tensor {
  const shape = mode === "gather"
    ? [...index.shape]
    : x.shape.map((d, i) => i === axis ? index.size : d);
  const out = Tensor.empty(shape, "f32");
  const n = numel(shape);
  if (n === 0) return out;
  if (x.dtype !== "f32") throw new TypeError(`gather/indexSelect: x must be f32, got ${x.dtype}`);
  const xs = x;
  const istr = mode === "gather" ? broadcastStrides(index, shape) : [index.strides[0] ?? 1];
  gpu().launch(indexKernel({ mode, op: "read" }), {
    buffers: [out, xs, index].map(bindingOf),
    uniforms: indexUniforms({
      n,
      axis,
      axisSize: x.shape[axis],
      shape,
      xStrides: xs.strides,
      xOffset: xs.offset,
      idxStrides: istr,
      idxOffset: index.offset,
      srcStrides: shape.map(() => 0),
      srcOffset: 0,
    }),
    workgroups: elementwiseWorkgroups(n),
  });
  return out;
}

/** target (a fresh contiguous copy of `base`) with src added at the indexed places. */
function scatterRaw(
  base: Tensor,
  axis: number,
  index: Tensor,
  src: Tensor,
  mode: "gather" | "select",
): Tensor {
  const out = copyContiguous(base);
  const shape = [...src.shape];
  const n = numel(shape);
  if (n === 0) return out;
  const istr = mode === "gather" ? broadcastStrides(index, shape) : [index.strides[0] ?? 1];
  gpu().launch(indexKernel({ mode, op: "scatterAdd" }), {
    buffers: [out, src, index].map(bindingOf),
    uniforms: indexUniforms({
      n,
      axis,
      axisSize: base.shape[axis],
      shape,
      xStrides: out.strides,
      xOffset: 0,
      idxStrides: istr,
      idxOffset: index.offset,
      srcStrides: src.strides,
      srcOffset: src.offset,
    }),
    workgroups: elementwiseWorkgroups(n),
  });
  return out;
}

const gatherOp: OpDef<{ axis: number; mode: "gather" | "select" }> = {
  name: "gather",
  forward(ctx, [x, index], { axis, mode }) {
    ctx.save(index);
    ctx.data.shape = [...x.shape];
    return readRaw(x, axis, index, mode);
  },
  backward(ctx, g, { axis, mode }) {
    const z = runElementwise("fill", "s0", [], { shape: ctx.data.shape, scalars: [0] });
    const gx = scatterRaw(z, axis, ctx.saved[0], g, mode);
    z.dispose();
    return [gx, null];
  },
};

/** `torch.gather(x, axis, index)`: index (i32) has the output's shape. */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  checkIndex("gather", index);
  const a = normAxis(axis, x.rank);
  if (index.rank !== x.rank) {
    throw new RangeError(`gather(): index ${fmtShape(index.shape)} must have x's rank ${x.rank}`);
  }
  return apply(gatherOp, [x, index], { axis: a, mode: "gather" });
}

/** `torch.index_select(x, axis, index)` with a 1-D i32 index. */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  checkIndex("indexSelect", index);
  if (index.rank !== 1) throw new RangeError(`indexSelect(): index must be 1-D`);
  return apply(gatherOp, [x, index], { axis: normAxis(axis, x.rank), mode: "select" });
}

const scatterOp: OpDef<{ axis: number; mode: "gather" | "select" }> = {
  name: "scatter_add",
  forward(ctx, [x, index, src], { axis, mode }) {
    ctx.save(index);
    return scatterRaw(x, axis, index, src, mode);
  },
  backward(ctx, g, { axis, mode }) {
    const index = ctx.saved[0];
    return [
      ctx.needsGrad[0] ? g : null,
      null,
      ctx.needsGrad[2] ? readRaw(g, axis, index, mode) : null,
    ];
  },
};

/** `x.scatter_add(axis, index, src)` (out of place): index (i32) has src's shape. */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  checkIndex("scatterAdd", index);
  return apply(scatterOp, [x, index, src], { axis: normAxis(axis, x.rank), mode: "gather" });
}

/** `x.index_add(axis, index, src)` (out of place) with a 1-D i32 index. */
export function indexAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  checkIndex("indexAdd", index);
  return apply(scatterOp, [x, index, src], { axis: normAxis(axis, x.rank), mode: "select" });
}
