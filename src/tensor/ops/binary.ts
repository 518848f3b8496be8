import { apply, registerTapeOps } from "../autograd.ts";
import type { OpDef } from "../op.ts";
import { Tensor } from "../tensor.ts";
import { mapExpr } from "./_map.ts";
import type { TensorLike } from "./_template.ts";

/** A binary elementwise op as a table row: forward template and one gradient per operand. */
interface BinaryRow {
  /** Forward expression over `{a}`, `{b}`. */
  expr: string;
  /** Gradient templates over `{g}`, `{a}`, `{b}`, `{y}` (null: no gradient). */
  grads: [string | null, string | null];
  helpers?: string[];
}

// Backward rules, one line per op (tinygrad style). Ties in minimum/maximum split the gradient
// in half, as PyTorch does.
const ROWS = {
  add: { expr: "{a} + {b}", grads: ["{g}", "{g}"] },
  sub: { expr: "{a} - {b}", grads: ["{g}", "-{g}"] },
  mul: { expr: "{a} * {b}", grads: ["{g} * {b}", "{g} * {a}"] },
  div: { expr: "{a} / {b}", grads: ["{g} / {b}", "-{g} * {a} / ({b} * {b})"] },
  pow: {
    expr: "pow_({a}, {b})",
    grads: ["{g} * {b} * pow_({a}, {b} - 1.0)", "{g} * {y} * log({a})"],
    helpers: ["pow"],
  },
  minimum: {
    expr: "min({a}, {b})",
    grads: [
      "{g} * select(select(0.0, 0.5, {a} == {b}), 1.0, {a} < {b})",
      "{g} * select(select(0.0, 0.5, {a} == {b}), 1.0, {b} < {a})",
    ],
  },
  maximum: {
    expr: "max({a}, {b})",
    grads: [
      "{g} * select(select(0.0, 0.5, {a} == {b}), 1.0, {a} > {b})",
      "{g} * select(select(0.0, 0.5, {a} == {b}), 1.0, {b} > {a})",
    ],
  },
} satisfies Record<string, BinaryRow>;

/** Names of the differentiable binary ops. */
export type BinaryOpName = keyof typeof ROWS;

interface BinaryAttrs {
  row: BinaryRow;
  name: string;
  /** Scalar operands (null where the operand is a tensor input). */
  sa: number | null;
  sb: number | null;
}

const binaryOp: OpDef<BinaryAttrs> = {
  name: "binary",
  forward(ctx, inputs, { row, name, sa, sb }) {
    let k = 0;
    const a = sa ?? inputs[k++];
    const b = sb ?? inputs[k++];
    const y = mapExpr(row.expr, { a, b }, { name, helpers: row.helpers });
    if (ctx.recording) {
      ctx.save(...inputs);
      if (row.grads.some((g) => g?.includes("{y}"))) ctx.save(y);
    }
    return y;
  },
  backward(ctx, g, { row, name, sa, sb }) {
    let k = 0;
    const a = sa ?? ctx.saved[k++];
    const b = sb ?? ctx.saved[k++];
    const y = ctx.saved[k];
    const grads: (Tensor | null)[] = [];
    let i = 0;
    for (const side of [0, 1] as const) {
      if ((side === 0 ? sa : sb) !== null) continue;
      const tpl = row.grads[side];
      grads.push(
        tpl && ctx.needsGrad[i]
          ? mapExpr(tpl, { g, a, b, ...(y ? { y } : {}) }, {
            name: `${name}_grad${side}`,
            helpers: row.helpers,
          })
          : null,
      );
      i++;
    }
    return grads;
  },
};

function binary(name: BinaryOpName, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === "number" && typeof b === "number") {
    throw new TypeError(`${name}() needs at least one tensor operand`);
  }
  const inputs = [a, b].filter((v): v is Tensor => v instanceof Tensor);
  return apply(binaryOp, inputs, {
    row: ROWS[name],
    name,
    sa: typeof a === "number" ? a : null,
    sb: typeof b === "number" ? b : null,
  });
}

/** a + b with broadcasting (either may be a number). */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return binary("add", a, b);
}
/** a - b with broadcasting. */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binary("sub", a, b);
}
/** a * b with broadcasting. */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary("mul", a, b);
}
/** a / b with broadcasting. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary("div", a, b);
}
/** a ** b (negative bases allowed for integer exponents, like PyTorch). */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return binary("pow", a, b);
}
/** Elementwise minimum (ties split the gradient in half). */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binary("minimum", a, b);
}
/** Elementwise maximum (ties split the gradient in half). */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binary("maximum", a, b);
}

registerTapeOps({ add: (a, b) => add(a, b) });
