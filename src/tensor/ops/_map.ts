import type { DType } from "../../kernels/dtype.ts";
import { runElementwise } from "../launch.ts";
import type { Tensor } from "../tensor.ts";
import { fillTemplate, promote, type TensorLike } from "./_template.ts";

/**
 * Evaluates an expression template over tensors and numbers without autograd (backward rules
 * use it to fuse a gradient into one kernel): `mapExpr("{g} * {y} * (1.0 - {y})", { g, y })`.
 * Output shape is the broadcast of the tensors; dtype the promoted compute type unless given.
 */
export function mapExpr(
  template: string,
  values: Record<string, TensorLike>,
  opts: {
    name?: string;
    helpers?: readonly string[];
    outDtype?: DType;
    shape?: readonly number[];
    /** Type the expression computes in. @default promoted from the tensors (f32 if any float) */
    computeType?: "f32" | "i32" | "u32";
  } = {},
): Tensor {
  const dts = Object.values(values).filter((v): v is Tensor => typeof v !== "number").map((t) =>
    t.dtype
  );
  const ct = opts.computeType ?? promote(dts);
  const { expr, tensors, scalars } = fillTemplate(template, values, ct);
  return runElementwise(opts.name ?? "map", expr, tensors, {
    scalars,
    helpers: opts.helpers,
    outDtype: opts.outDtype ?? ct,
    shape: opts.shape,
  });
}

/**
 * Updates `target` in place (no autograd): `{self}` is its current value. Optimisers use it:
 * `updateInPlace(p, "{self} - {lr} * {g}", { g: p.grad, lr: 0.1 })`.
 */
export function updateInPlace(
  target: Tensor,
  template: string,
  values: Record<string, TensorLike>,
  opts: { name?: string; helpers?: readonly string[] } = {},
): Tensor {
  const dts = [
    target.dtype,
    ...Object.values(values).filter((v): v is Tensor => typeof v !== "number").map((t) => t.dtype),
  ];
  const ct = promote(dts);
  const { expr, tensors, scalars } = fillTemplate(template.replaceAll("{self}", "(o)"), values, ct);
  return runElementwise(opts.name ?? "update", expr, tensors, {
    scalars,
    helpers: opts.helpers,
    out: target,
    readOut: true,
  });
}
