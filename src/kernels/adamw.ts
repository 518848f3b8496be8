/**
 * Optimiser kernels: the fused AdamW step and the pieces of a global gradient-norm clip
 * (sum of squares per tensor into partials, one finishing workgroup, in-place scale). Nothing
 * reads back to the CPU: the clip coefficient stays in a small GPU buffer that the scale kernel
 * (or the AdamW kernel, `scaled`) reads.
 *
 * Elementwise kernels: one element per invocation, 256 per workgroup, workgroup (x, y) covers
 * elements (x + y·65535)·256 .. +256. Sum-of-squares: each workgroup of 256 reduces a chunk of
 * `SUMSQ_CHUNK` elements (threads stride through it, then a tree in workgroup memory) into one
 * partial at `partials[base + workgroup]`.
 */
import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";

/** Invocations per workgroup of the elementwise optimiser kernels. */
export const OPT_WG = 256;
/** Elements each sum-of-squares workgroup reduces. */
export const SUMSQ_CHUNK = 4096;

/** Workgroups for `n` elements, one per invocation. */
export function optWorkgroups(n: number): [number, number, number] {
  const w = Math.max(1, Math.ceil(n / OPT_WG));
  return [Math.min(w, 65535), Math.ceil(w / 65535), 1];
}

/** AdamW hyper-parameters of one step for one parameter group. */
export interface AdamWStepUniforms {
  n: number;
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step count of this parameter. */
  step: number;
}

/**
 * Packs one step's uniforms. The bias corrections are formed in float64 on the host as PyTorch
 * does in Python: decay = 1 - lr·wd, stepSize = lr / (1 - β1^t), bc2Sqrt = sqrt(1 - β2^t).
 */
export function adamwUniforms(u: AdamWStepUniforms): ArrayBuffer {
  const b = new ArrayBuffer(48);
  const w = new Uint32Array(b), f = new Float32Array(b);
  w[0] = u.n;
  f[1] = 1 - u.lr * u.weightDecay;
  f[2] = u.beta1;
  f[3] = 1 - u.beta1;
  f[4] = u.beta2;
  f[5] = 1 - u.beta2;
  f[6] = u.lr / (1 - Math.pow(u.beta1, u.step));
  f[7] = Math.sqrt(1 - Math.pow(u.beta2, u.step));
  f[8] = u.eps;
  return b;
}

/**
 * One AdamW step in place, PyTorch's single-tensor order: p *= 1 - lr·wd; m = β1·m + (1-β1)·g;
 * v = β2·v + (1-β2)·g²; p -= stepSize · m / (sqrt(v)/bc2Sqrt + eps). Bindings: p, g, m, v,
 * [scale: g is multiplied by scale[1] first (the clip coefficient)], uniforms.
 */
export function adamwKernel(spec: { scaled?: boolean } = {}): KernelSource {
  return memoKernel(`adamw:${spec.scaled ?? false}`, () => buildAdamw(spec));
}

function buildAdamw(spec: { scaled?: boolean }): KernelSource {
  const scaled = spec.scaled ?? false;
  const sb = scaled ? 1 : 0;
  const code = `
struct U { n: u32, decay: f32, b1: f32, omb1: f32, b2: f32, omb2: f32, stepSize: f32, bc2Sqrt: f32, eps: f32 }
@group(0) @binding(0) var<storage, read_write> p: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
${scaled ? "@group(0) @binding(4) var<storage, read> scale: array<f32>;" : ""}
@group(0) @binding(${4 + sb}) var<uniform> u: U;

@compute @workgroup_size(${OPT_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * ${65535 * OPT_WG}u;
  if (i >= u.n) { return; }
  let gi = g[i]${scaled ? " * scale[1]" : ""};
  let pi = p[i] * u.decay;
  let mi = m[i] * u.b1 + u.omb1 * gi;
  let vi = v[i] * u.b2 + u.omb2 * (gi * gi);
  m[i] = mi;
  v[i] = vi;
  p[i] = pi - u.stepSize * (mi / (sqrt(vi) / u.bc2Sqrt + u.eps));
}
`;
  return {
    label: `adamw(scaled=${scaled})`,
    code,
    bindings: ["write", "read", "write", "write", ...(scaled ? ["read" as const] : []), "uniform"],
    workgroupSize: [OPT_WG, 1, 1],
  };
}

/** Number of partials `sumSquaresKernel` writes for a tensor of n elements. */
export function sumSquaresPartials(n: number): number {
  return Math.max(1, Math.ceil(n / SUMSQ_CHUNK));
}

/** Bindings: x, partials, uniforms {n, base}. Dispatch [sumSquaresPartials(n), 1, 1]. */
export function sumSquaresKernel(): KernelSource {
  return memoKernel("sumSquaresKernel", buildSumSquaresKernel);
}

function buildSumSquaresKernel(): KernelSource {
  const code = `
struct U { n: u32, base: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
var<workgroup> acc: array<f32, ${OPT_WG}>;

@compute @workgroup_size(${OPT_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let start = wid.x * ${SUMSQ_CHUNK}u;
  let end = min(start + ${SUMSQ_CHUNK}u, u.n);
  var s = 0.0;
  for (var i = start + lid.x; i < end; i += ${OPT_WG}u) { let a = x[i]; s += a * a; }
  acc[lid.x] = s;
  workgroupBarrier();
  for (var w = ${OPT_WG / 2}u; w > 0u; w >>= 1u) {
    if (lid.x < w) { acc[lid.x] += acc[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { partials[u.base + wid.x] = acc[0]; }
}
`;
  return {
    label: "sum_squares",
    code,
    bindings: ["read", "write", "uniform"],
    workgroupSize: [OPT_WG, 1, 1],
  };
}

/**
 * One workgroup: total = sqrt(Σ partials), writes out[0] = total and
 * out[1] = min(1, maxNorm / (total + 1e-6)) (torch.nn.utils.clip_grad_norm_). Bindings:
 * partials, out, uniforms {count, maxNorm}. Dispatch [1, 1, 1].
 */
export function clipFinishKernel(): KernelSource {
  return memoKernel("clipFinishKernel", buildClipFinishKernel);
}

function buildClipFinishKernel(): KernelSource {
  const code = `
struct U { count: u32, maxNorm: f32, p0: u32, p1: u32 }
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
var<workgroup> acc: array<f32, ${OPT_WG}>;

@compute @workgroup_size(${OPT_WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < u.count; i += ${OPT_WG}u) { s += partials[i]; }
  acc[lid.x] = s;
  workgroupBarrier();
  for (var w = ${OPT_WG / 2}u; w > 0u; w >>= 1u) {
    if (lid.x < w) { acc[lid.x] += acc[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let total = sqrt(acc[0]);
    out[0] = total;
    out[1] = min(1.0, u.maxNorm / (total + 1e-6));
  }
}
`;
  return {
    label: "clip_finish",
    code,
    bindings: ["read", "write", "uniform"],
    workgroupSize: [OPT_WG, 1, 1],
  };
}

/** x *= scale[1] in place. Bindings: x, scale, uniforms {n}. */
export function scaleByKernel(): KernelSource {
  return memoKernel("scaleByKernel", buildScaleByKernel);
}

function buildScaleByKernel(): KernelSource {
  const code = `
struct U { n: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read> scale: array<f32>;
@group(0) @binding(2) var<uniform> u: U;

@compute @workgroup_size(${OPT_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * ${65535 * OPT_WG}u;
  if (i >= u.n) { return; }
  x[i] = x[i] * scale[1];
}
`;
  return {
    label: "scale_by",
    code,
    bindings: ["write", "read", "uniform"],
    workgroupSize: [OPT_WG, 1, 1],
  };
}
