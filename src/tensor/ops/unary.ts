import { apply } from "../autograd.ts";
import type { OpDef } from "../op.ts";
import type { Tensor } from "../tensor.ts";
import { mapExpr } from "./_map.ts";

/** A unary elementwise op: forward template over `{a}` and its gradient over `{g}`, `{a}`, `{y}`. */
interface UnaryRow {
  expr: string;
  grad: string | null;
  helpers?: string[];
}

// Backward rules, one line per op.
const ROWS = {
  neg: { expr: "-{a}", grad: "-{g}" },
  abs: { expr: "abs({a})", grad: "{g} * sign({a})" },
  sqrt: { expr: "sqrt({a})", grad: "{g} * 0.5 / {y}" },
  rsqrt: { expr: "inverseSqrt({a})", grad: "-0.5 * {g} * {y} * {y} * {y}" },
  exp: { expr: "exp({a})", grad: "{g} * {y}" },
  log: { expr: "log({a})", grad: "{g} / {a}" },
  square: { expr: "{a} * {a}", grad: "2.0 * {g} * {a}" },
  reciprocal: { expr: "1.0 / {a}", grad: "-{g} * {y} * {y}" },
  sin: { expr: "sin({a})", grad: "{g} * cos({a})" },
  cos: { expr: "cos({a})", grad: "-{g} * sin({a})" },
  relu: { expr: "max({a}, 0.0)", grad: "select(0.0, {g}, {a} > 0.0)" },
  gelu: { expr: "gelu_({a})", grad: "{g} * gelu_grad_({a})", helpers: ["gelu"] },
  geluTanh: {
    expr: "gelu_tanh_({a})",
    grad: "{g} * gelu_tanh_grad_({a})",
    helpers: ["gelu_tanh"],
  },
  sigmoid: { expr: "sigmoid_({a})", grad: "{g} * {y} * (1.0 - {y})", helpers: ["sigmoid"] },
  tanh: { expr: "tanh_({a})", grad: "{g} * (1.0 - {y} * {y})", helpers: ["tanh"] },
  softplus: {
    expr: "softplus_({a})",
    grad: "{g} * sigmoid_({a})",
    helpers: ["softplus", "sigmoid"],
  },
} satisfies Record<string, UnaryRow>;

/** Names of the unary ops. */
export type UnaryOpName = keyof typeof ROWS;

const unaryOp: OpDef<{ name: string; row: UnaryRow }> = {
  name: "unary",
  forward(ctx, [a], { name, row }) {
    const y = mapExpr(row.expr, { a }, { name, helpers: row.helpers });
    if (row.grad?.includes("{a}")) ctx.save(a);
    if (row.grad?.includes("{y}")) ctx.save(y);
    return y;
  },
  backward(ctx, g, { name, row }) {
    if (!row.grad) return [null];
    const vals: Record<string, Tensor> = { g };
    let k = 0;
    if (row.grad.includes("{a}")) vals.a = ctx.saved[k++];
    if (row.grad.includes("{y}")) vals.y = ctx.saved[k++];
    return [mapExpr(row.grad, vals, { name: `${name}_grad`, helpers: row.helpers })];
  },
};

/** Applies a unary op by name (the named exports below are the usual entry points). */
export function unary(name: UnaryOpName, a: Tensor): Tensor {
  return apply(unaryOp, [a], { name, row: ROWS[name] });
}

/** -x */
export const neg = (x: Tensor): Tensor => unary("neg", x);
/** |x| (gradient sign(x), 0 at 0) */
export const abs = (x: Tensor): Tensor => unary("abs", x);
/** sqrt(x) */
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x);
/** 1/sqrt(x) */
export const rsqrt = (x: Tensor): Tensor => unary("rsqrt", x);
/** e^x */
export const exp = (x: Tensor): Tensor => unary("exp", x);
/** Natural log. */
export const log = (x: Tensor): Tensor => unary("log", x);
/** x^2 */
export const square = (x: Tensor): Tensor => unary("square", x);
/** 1/x */
export const reciprocal = (x: Tensor): Tensor => unary("reciprocal", x);
/** sin(x) */
export const sin = (x: Tensor): Tensor => unary("sin", x);
/** cos(x) */
export const cos = (x: Tensor): Tensor => unary("cos", x);
/** max(x, 0); gradient 0 at 0 like PyTorch. */
export const relu = (x: Tensor): Tensor => unary("relu", x);
/** Exact GELU x/2 (1 + erf(x/sqrt 2)) (`nn.GELU()`). */
export const gelu = (x: Tensor): Tensor => unary("gelu", x);
/** tanh-approximated GELU (`nn.GELU(approximate="tanh")`). */
export const geluTanh = (x: Tensor): Tensor => unary("geluTanh", x);
/** 1/(1+e^-x), saturating to exactly 0/1 without NaN. */
export const sigmoid = (x: Tensor): Tensor => unary("sigmoid", x);
/** tanh(x), overflow-safe. */
export const tanh = (x: Tensor): Tensor => unary("tanh", x);
/** log(1+e^x), linear where x > 20 (PyTorch's beta=1, threshold=20). */
export const softplus = (x: Tensor): Tensor => unary("softplus", x);

const clampOp: OpDef<{ lo: number; hi: number }> = {
  name: "clamp",
  forward(ctx, [a], { lo, hi }) {
    ctx.save(a);
    return mapExpr("clamp({a}, {lo}, {hi})", { a, lo, hi }, { name: "clamp" });
  },
  backward(ctx, g, { lo, hi }) {
    const a = ctx.saved[0];
    return [
      mapExpr("select(0.0, {g}, {a} >= {lo} && {a} <= {hi})", { g, a, lo, hi }, {
        name: "clamp_grad",
      }),
    ];
  },
};

/** Options of `clamp` (either bound may be absent). */
export interface ClampOptions {
  /** Lower bound. @default -Infinity */
  min?: number;
  /** Upper bound. @default Infinity */
  max?: number;
}

/** Clamps to [min, max]; gradient passes where min <= x <= max (PyTorch's rule). */
export function clamp(x: Tensor, opts: ClampOptions): Tensor {
  const big = 3.4028234663852886e38;
  return apply(clampOp, [x], {
    lo: Math.max(opts.min ?? -Infinity, -big),
    hi: Math.min(opts.max ?? Infinity, big),
  });
}

const whereOp: OpDef<{ sa: number | null; sb: number | null }> = {
  name: "where",
  forward(ctx, inputs, { sa, sb }) {
    const [c, ...rest] = inputs;
    let k = 0;
    const a = sa ?? rest[k++];
    const b = sb ?? rest[k++];
    ctx.save(c);
    // Computes in the values' type (f32 when both are numbers); the mask may be f32 or u32.
    const vt = [a, b].find((v): v is Tensor => typeof v !== "number");
    const ct = vt ? (vt.dtype === "i32" || vt.dtype === "u32" ? vt.dtype : "f32") : "f32";
    return mapExpr("select({b}, {a}, {c} != 0)", { c, a, b }, {
      name: "where",
      computeType: ct,
      outDtype: ct,
    });
  },
  backward(ctx, g, { sa, sb }) {
    const c = ctx.saved[0];
    const out: (Tensor | null)[] = [null];
    if (sa === null) {
      out.push(
        ctx.needsGrad[out.length]
          ? mapExpr("select(0.0, {g}, {c} != 0)", { g, c }, { name: "where_grad0" })
          : null,
      );
    }
    if (sb === null) {
      out.push(
        ctx.needsGrad[out.length]
          ? mapExpr("select({g}, 0.0, {c} != 0)", { g, c }, { name: "where_grad1" })
          : null,
      );
    }
    return out;
  },
};

/** cond ? a : b elementwise with broadcasting; cond is a mask (non-zero = true). */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  const inputs = [cond, ...[a, b].filter((v): v is Tensor => typeof v !== "number")];
  return apply(whereOp, inputs, {
    sa: typeof a === "number" ? a : null,
    sb: typeof b === "number" ? b : null,
  });
}

/** x with `value` where mask is non-zero (`masked_fill`). */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}
