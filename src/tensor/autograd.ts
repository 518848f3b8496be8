import { dtypeBytes } from "../kernels/dtype.ts";
import type { Node } from "./autograd_node.ts";
import { OpContext, type OpDef } from "./op.ts";
import { adopt, keep, tidy } from "./scope.ts";
import { fmtShape, sameShape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

let gradEnabled = true;

/** Whether ops currently record the tape. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording the tape (like `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const was = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = was;
  }
}

/** Runs `fn` with recording on (inside a `noGrad` region, e.g. checkpoint recomputation). */
export function enableGrad<T>(fn: () => T): T {
  const was = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = was;
  }
}

// Set by ops/reduce.ts (sum to a shape) and ops/binary.ts (add): the tape needs them but must not
// import the op files (they import this one).
let sumToShapeFn: ((g: Tensor, shape: readonly number[]) => Tensor) | null = null;
let addFn: ((a: Tensor, b: Tensor) => Tensor) | null = null;

/** Wires the two ops the tape itself uses (called once by the op modules). */
export function registerTapeOps(ops: {
  sumToShape?: (g: Tensor, shape: readonly number[]) => Tensor;
  add?: (a: Tensor, b: Tensor) => Tensor;
}): void {
  if (ops.sumToShape) sumToShapeFn = ops.sumToShape;
  if (ops.add) addFn = ops.add;
}

/**
 * Runs a differentiable op: forward with recording off, then a tape node on the output when
 * recording is on and any input requires a gradient.
 */
export function apply<A>(op: OpDef<A>, inputs: readonly Tensor[], attrs: A): Tensor {
  for (const t of inputs) t.assertAlive(op.name);
  const needsGrad = inputs.map((t) => t.requiresGrad);
  const recording = gradEnabled && op.backward !== undefined && needsGrad.some((x) => x);
  const ctx = new OpContext(needsGrad, recording);
  let out = noGrad(() => op.forward(ctx, inputs, attrs));
  // An op that returns an input unchanged must not overwrite that input's tape node.
  if (recording && inputs.includes(out)) out = out.alias();
  if (recording) {
    out.requiresGrad = true;
    out.node = { op, inputs: [...inputs], ctx, attrs };
  }
  return out;
}

/** Options of `backward`. */
export interface BackwardOptions {
  /** Gradient of the root (required when the root is not a one-element tensor). @default ones */
  grad?: Tensor;
  /** Keep the tape (and saved tensors) for another backward. @default false */
  retainGraph?: boolean;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS (graphs of thousands of ops would overflow recursion).
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c.requiresGrad && !seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/**
 * Back-propagates from `root`: every leaf with `requiresGrad` that `root` depends on gets its
 * gradient added to `.grad` (created on first use), like PyTorch. Gradients that ops return in
 * a broadcast shape are summed down to the input's shape here, once. Intermediate gradients are
 * freed as soon as they were propagated; the tape is freed unless `retainGraph`.
 *
 * @throws {RangeError} when root is not a scalar and no `grad` is given.
 */
export function backward(root: Tensor, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new Error(`backward(): ${root} does not require grad (no input requires it)`);
  }
  if (!opts.grad && root.size !== 1) {
    throw new RangeError(
      `backward() needs a one-element tensor or an explicit grad, got ${fmtShape(root.shape)}`,
    );
  }
  if (!sumToShapeFn || !addFn) throw new Error("backward(): tensor ops are not loaded");
  const sumTo = sumToShapeFn, add = addFn;
  const order = topoOrder(root);
  tidy(() =>
    noGrad(() => {
      const grads = new Map<Tensor, Tensor>();
      // deno-lint-ignore no-explicit-any
      const ones = (root as any).onesLike?.() as Tensor;
      grads.set(root, opts.grad ?? ones);
      for (const t of order) {
        const g = grads.get(t);
        if (!g) continue;
        grads.delete(t);
        const node: Node | null = t.node;
        if (!node) {
          if (!sameShape(g.shape, t.shape)) {
            throw new Error(`backward(): gradient ${fmtShape(g.shape)} for leaf ${t}`);
          }
          if (t.grad) {
            const sum = keep(add(t.grad, g));
            t.grad.dispose();
            t.grad = sum;
          } else if (g !== opts.grad && ownsWholeStorage(g)) {
            // Nothing else holds this gradient's buffer: adopt it rather than copy (as PyTorch
            // steals a fresh gradient), which saves a copy per parameter per step.
            t.grad = keep(g);
            continue;
          } else {
            // A view of a buffer others hold, or the caller's tensor: copy to own it.
            // deno-lint-ignore no-explicit-any
            t.grad = keep((g as any).clone() as Tensor);
          }
          if (g !== opts.grad) g.dispose();
          continue;
        }
        const gin = node.op.backward!(node.ctx, g, node.attrs);
        if (gin.length !== node.inputs.length) {
          throw new Error(
            `backward of ${node.op.name} returned ${gin.length} gradients for ${node.inputs.length} inputs`,
          );
        }
        // Every stored gradient is a distinct Tensor object (aliases share storage), so each
        // can be disposed as soon as it was consumed: intermediate gradients do not pile up.
        const owned = gin.map((gi, i) => gi && (gi === g || gin.indexOf(gi) < i) ? gi.alias() : gi);
        node.inputs.forEach((inp, i) => {
          let gi = owned[i];
          if (!gi) return;
          if (!inp.requiresGrad) {
            gi.dispose();
            return;
          }
          if (!sameShape(gi.shape, inp.shape)) {
            const down = sumTo(gi, inp.shape);
            gi.dispose();
            gi = down;
          }
          const prev = grads.get(inp);
          if (prev) {
            const total = add(prev, gi);
            prev.dispose();
            gi.dispose();
            grads.set(inp, total);
          } else {
            grads.set(inp, gi);
          }
        });
        if (g !== opts.grad) g.dispose();
        if (!opts.retainGraph) {
          node.ctx.release();
          t.node = null;
        }
      }
    })
  );
}

/** Whether `t` is the only holder of its storage and covers all of it in the standard layout. */
function ownsWholeStorage(t: Tensor): boolean {
  return t.storage.refs === 1 && t.offset === 0 && t.isContiguous &&
    t.storage.bytes === t.size * dtypeBytes(t.dtype);
}

/**
 * Activation checkpointing: runs `fn(...inputs)` without keeping its intermediates and, in
 * backward, runs it again with recording on and back-propagates through the recomputation.
 * `fn` must be deterministic (random ops keyed by an explicit seed/offset are).
 */
export function checkpoint(fn: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[]): Tensor {
  return apply(checkpointOp, inputs, fn);
}

const checkpointOp: OpDef<(...xs: Tensor[]) => Tensor> = {
  name: "checkpoint",
  forward(ctx, inputs, fn) {
    ctx.save(...inputs);
    return fn(...inputs);
  },
  backward(ctx, grad, fn) {
    return enableGrad(() => {
      const xs = ctx.saved.map((s, i) => {
        // deno-lint-ignore no-explicit-any
        const d = (s as any).detach() as Tensor;
        d.requiresGrad = ctx.needsGrad[i];
        return d;
      });
      const y = fn(...xs);
      if (!y.requiresGrad) return xs.map(() => null);
      backward(y, { grad });
      return xs.map((x) => {
        const g = x.grad;
        x.grad = null;
        return g ? adopt(g) : null;
      });
    });
  },
};
