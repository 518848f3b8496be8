import { gpu } from "../../gpu/runtime.ts";
import {
  clipFinishKernel,
  optWorkgroups,
  scaleByKernel,
  sumSquaresKernel,
  sumSquaresPartials,
} from "../../kernels/adamw.ts";
import { bindingOf } from "../../tensor/launch.ts";
import { Tensor } from "../../tensor/tensor.ts";

/** The global gradient norm and clip coefficient, left on the GPU (no read back). */
export interface GradNorm {
  /** [2]: total L2 norm of all gradients (before clipping), then min(1, maxNorm/(norm+1e-6)). */
  normAndCoef: Tensor;
  /** 0-dim view of the total norm (what `torch.nn.utils.clip_grad_norm_` returns). */
  totalNorm: Tensor;
}

function denseGrad(p: Tensor): Tensor | null {
  const g = p.grad;
  if (!g) return null;
  if (!g.isContiguous || g.offset !== 0) {
    throw new RangeError(
      `Gradient of ${p.name ?? "a parameter"} is a strided view: gradients must be dense`,
    );
  }
  return g;
}

/**
 * Computes the total L2 norm over every parameter's `.grad` (parameters without one are
 * skipped) and the clip coefficient, on the GPU: one sum-of-squares dispatch per gradient into
 * a partials buffer, then one finishing workgroup. Nothing is read back.
 */
export function gradNorm(params: readonly Tensor[], maxNorm: number): GradNorm {
  const grads = params.map(denseGrad).filter((g): g is Tensor => g !== null && g.size > 0);
  const count = grads.reduce((s, g) => s + sumSquaresPartials(g.size), 0);
  const partials = Tensor.empty([Math.max(1, count)], "f32");
  const rt = gpu();
  let base = 0;
  for (const g of grads) {
    rt.launch(sumSquaresKernel(), {
      buffers: [g, partials].map(bindingOf),
      uniforms: new Uint32Array([g.size, base, 0, 0]),
      workgroups: [sumSquaresPartials(g.size), 1, 1],
    });
    base += sumSquaresPartials(g.size);
  }
  const normAndCoef = Tensor.empty([2], "f32");
  const u = new ArrayBuffer(16);
  new Uint32Array(u)[0] = count;
  new Float32Array(u)[1] = maxNorm;
  rt.launch(clipFinishKernel(), {
    buffers: [partials, normAndCoef].map(bindingOf),
    uniforms: u,
    workgroups: [1, 1, 1],
  });
  partials.dispose();
  return { normAndCoef, totalNorm: normAndCoef.view([], [], 0) };
}

/**
 * `torch.nn.utils.clip_grad_norm_(params, maxNorm)` (norm_type 2) on the GPU: every `.grad` is
 * multiplied in place by min(1, maxNorm/(total + 1e-6)), always (also when that is 1). Returns
 * the norm before clipping, still on the GPU (read it with `await .item()` when logging).
 *
 * @example
 * ```ts
 * loss.backward();
 * const norm = clipGradNorm(model.parameters(), 0.1);
 * opt.step();
 * ```
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): Tensor {
  const n = gradNorm(params, maxNorm);
  for (const p of params) {
    const g = denseGrad(p);
    if (!g || g.size === 0) continue;
    gpu().launch(scaleByKernel(), {
      buffers: [g, n.normAndCoef].map(bindingOf),
      uniforms: new Uint32Array([g.size, 0, 0, 0]),
      workgroups: optWorkgroups(g.size),
    });
  }
  n.normAndCoef.dispose();
  return n.totalNorm;
}
