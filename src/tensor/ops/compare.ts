import type { DType } from "../../kernels/dtype.ts";
import { Tensor } from "../tensor.ts";
import { mapExpr } from "./_map.ts";
import type { TensorLike } from "./_template.ts";

const OPS = { eq: "==", ne: "!=", lt: "<", le: "<=", gt: ">", ge: ">=" } as const;

/** Comparison operators. */
export type CompareOp = keyof typeof OPS;

/** Options of the comparisons. */
export interface CompareOptions {
  /** Mask dtype: 1/0 as f32 (multiplies directly) or u32. @default "f32" */
  dtype?: "f32" | "u32";
}

/**
 * Elementwise comparison to a 1/0 mask (no gradient, like PyTorch's bool results).
 */
export function compare(
  op: CompareOp,
  a: TensorLike,
  b: TensorLike,
  opts: CompareOptions = {},
): Tensor {
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    throw new TypeError(`${op}() needs at least one tensor operand`);
  }
  const dtype: DType = opts.dtype ?? "f32";
  return mapExpr(`${dtype}({a} ${OPS[op]} {b})`, { a, b }, { name: op, outDtype: dtype });
}

/** a == b mask. */
export function eq(a: TensorLike, b: TensorLike, opts?: CompareOptions): Tensor {
  return compare("eq", a, b, opts);
}
/** a != b mask. */
export function ne(a: TensorLike, b: TensorLike, opts?: CompareOptions): Tensor {
  return compare("ne", a, b, opts);
}
/** a < b mask. */
export function lt(a: TensorLike, b: TensorLike, opts?: CompareOptions): Tensor {
  return compare("lt", a, b, opts);
}
/** a <= b mask. */
export function le(a: TensorLike, b: TensorLike, opts?: CompareOptions): Tensor {
  return compare("le", a, b, opts);
}
/** a > b mask. */
export function gt(a: TensorLike, b: TensorLike, opts?: CompareOptions): Tensor {
  return compare("gt", a, b, opts);
}
/** a >= b mask. */
export function ge(a: TensorLike, b: TensorLike, opts?: CompareOptions): Tensor {
  return compare("ge", a, b, opts);
}
