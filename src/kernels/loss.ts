/**
 * SAM 2 mask-loss kernels (training/loss_fns.py): sigmoid focal loss, dice loss, IoU loss
 * against the hard IoU of (logits > 0) vs (targets > 0), and elementwise BCE-with-logits.
 *
 * Logits and targets are [rows, hw] f32 (rows = N·M masks, hw = H·W). One pass reads both once
 * and accumulates, per mask, the six sums every loss needs (`maskStatsKernel`: focal sum, Σpt,
 * Σp, Σt, |pred ∧ gt|, |pred ∨ gt|): workgroup (chunk, row) of 64 invocations strides through
 * `chunk` pixels and tree-reduces in workgroup memory into partials [rows, chunks, 8], so a
 * 1024² mask is spread over many workgroups. A finishing kernel (one invocation per mask) sums
 * the chunks and writes the per-mask loss (divided by numObjects, as loss_on_multimask=True)
 * plus what the backward needs. Backward kernels are elementwise over the pixels.
 */
import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";

/** Invocations per workgroup of the loss kernels. */
export const LOSS_WG = 64;
/** Pixels each stats workgroup reduces. */
export const LOSS_CHUNK = 4096;

/** Which per-mask loss a finishing or backward kernel computes. */
export type MaskLossKind = "focal" | "dice" | "iou_l1" | "iou_mse";

/** Focal-loss constants, baked into the kernel. */
export interface FocalSpec {
  /** @default 0.25 (negative: no alpha weighting) */
  alpha?: number;
  /** @default 2 */
  gamma?: number;
}

function focalSnippet(s: FocalSpec): string {
  const a = s.alpha ?? 0.25, g = s.gamma ?? 2;
  const pw = (q: string) =>
    g === 0
      ? "1.0"
      : g === 1
      ? q
      : g === 2
      ? `${q} * ${q}`
      : `pow(max(${q}, 1e-30), ${g.toFixed(8)})`;
  const dpw = g === 0
    ? "0.0"
    : g === 1
    ? "1.0"
    : g === 2
    ? "2.0 * q"
    : `${g.toFixed(8)} * pow(max(q, 1e-30), ${(g - 1).toFixed(8)})`;
  return `
fn sigm(x: f32) -> f32 { return select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0); }
// BCE with logits, torch's stable form: max(x, 0) - x·t + log1p(exp(-|x|)).
fn bce(x: f32, t: f32) -> f32 {
  let e = exp(-abs(x));
  // log1p(e) without a log1p builtin: exact enough when e is tiny.
  let l = select(log(1.0 + e), e * (1.0 - 0.5 * e), e < 1e-4);
  return max(x, 0.0) - x * t + l;
}
fn alphaT(t: f32) -> f32 { return ${
    a >= 0 ? `${a.toFixed(8)} * t + ${(1 - a).toFixed(8)} * (1.0 - t)` : "1.0"
  }; }
fn focal(x: f32, t: f32) -> f32 {
  let p = sigm(x);
  let q = 1.0 - (p * t + (1.0 - p) * (1.0 - t));
  return alphaT(t) * bce(x, t) * ${pw("q")};
}
// d focal / dx.
fn focalGrad(x: f32, t: f32) -> f32 {
  let p = sigm(x);
  let q = 1.0 - (p * t + (1.0 - p) * (1.0 - t));
  let dq = -(2.0 * t - 1.0) * p * (1.0 - p);
  return alphaT(t) * ((p - t) * ${pw("q")} + bce(x, t) * ${dpw} * dq);
}
`;
}

/** Uniforms of the stats kernel: hw, chunks (= ceil(hw / LOSS_CHUNK)). */
export function maskStatsUniforms(hw: number): Uint32Array {
  return new Uint32Array([hw, Math.ceil(hw / LOSS_CHUNK), 0, 0]);
}

/** Bindings: logits, targets, partials [rows·chunks·8], uniforms. Dispatch [chunks, rows, 1]. */
export function maskStatsKernel(spec: FocalSpec = {}): KernelSource {
  return memoKernel(`maskStats:${JSON.stringify(spec)}`, () => buildMaskStats(spec));
}

function buildMaskStats(spec: FocalSpec): KernelSource {
  const code = `
struct U { hw: u32, chunks: u32, p0: u32, p1: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<uniform> u: U;
var<workgroup> acc: array<f32, ${LOSS_WG * 6}>;
${focalSnippet(spec)}
@compute @workgroup_size(${LOSS_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y;
  let start = wid.x * ${LOSS_CHUNK}u;
  let end = min(start + ${LOSS_CHUNK}u, u.hw);
  var s: array<f32, 6>;
  for (var i = start + lid.x; i < end; i += ${LOSS_WG}u) {
    let xi = x[row * u.hw + i];
    let ti = t[row * u.hw + i];
    let p = sigm(xi);
    let a = xi > 0.0;
    let b = ti > 0.0;
    s[0] += focal(xi, ti);
    s[1] += p * ti;
    s[2] += p;
    s[3] += ti;
    s[4] += select(0.0, 1.0, a && b);
    s[5] += select(0.0, 1.0, a || b);
  }
  for (var k = 0u; k < 6u; k++) { acc[k * ${LOSS_WG}u + lid.x] = s[k]; }
  workgroupBarrier();
  for (var w = ${LOSS_WG / 2}u; w > 0u; w >>= 1u) {
    if (lid.x < w) {
      for (var k = 0u; k < 6u; k++) { acc[k * ${LOSS_WG}u + lid.x] += acc[k * ${LOSS_WG}u + lid.x + w]; }
    }
    workgroupBarrier();
  }
  if (lid.x < 6u) { partials[(row * u.chunks + wid.x) * 8u + lid.x] = acc[lid.x * ${LOSS_WG}u]; }
}
`;
  return {
    label: `mask_stats(alpha=${spec.alpha ?? 0.25},gamma=${spec.gamma ?? 2})`,
    code,
    bindings: ["read", "read", "write", "uniform"],
    workgroupSize: [LOSS_WG, 1, 1],
  };
}

/** Uniforms of the finishing and backward kernels. */
export function maskLossUniforms(
  u: { rows: number; hw: number; numObjects: number },
): ArrayBuffer {
  const b = new ArrayBuffer(16);
  const w = new Uint32Array(b), f = new Float32Array(b);
  w[0] = u.rows;
  w[1] = u.hw;
  w[2] = Math.ceil(u.hw / LOSS_CHUNK);
  f[3] = u.numObjects;
  return b;
}

/**
 * Sums the chunk partials per mask and writes loss[row] for `kind`, plus stats[row·4..] =
 * (Σp, Σt, Σpt, hard IoU) for the backward. Bindings: partials, [pred for iou], loss, stats,
 * uniforms. Dispatch [ceil(rows / 64), 1, 1].
 */
export function maskLossFinishKernel(kind: MaskLossKind): KernelSource {
  return memoKernel(`maskLossFinish:${kind}`, () => buildMaskLossFinish(kind));
}

function buildMaskLossFinish(kind: MaskLossKind): KernelSource {
  const iou = kind === "iou_l1" || kind === "iou_mse";
  const pb = iou ? 1 : 0;
  const value = kind === "focal"
    ? "s0 / (f32(u.hw) * u.numObjects)"
    : kind === "dice"
    ? "(1.0 - (2.0 * s1 + 1.0) / (s2 + s3 + 1.0)) / u.numObjects"
    : kind === "iou_l1"
    ? "abs(pred[row] - actual) / u.numObjects"
    : "(pred[row] - actual) * (pred[row] - actual) / u.numObjects";
  const code = `
struct U { rows: u32, hw: u32, chunks: u32, numObjects: f32 }
@group(0) @binding(0) var<storage, read> partials: array<f32>;
${iou ? "@group(0) @binding(1) var<storage, read> pred: array<f32>;" : ""}
@group(0) @binding(${1 + pb}) var<storage, read_write> loss: array<f32>;
@group(0) @binding(${2 + pb}) var<storage, read_write> stats: array<f32>;
@group(0) @binding(${3 + pb}) var<uniform> u: U;

@compute @workgroup_size(${LOSS_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= u.rows) { return; }
  var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0; var s4 = 0.0; var s5 = 0.0;
  for (var c = 0u; c < u.chunks; c++) {
    let b = (row * u.chunks + c) * 8u;
    s0 += partials[b]; s1 += partials[b + 1u]; s2 += partials[b + 2u];
    s3 += partials[b + 3u]; s4 += partials[b + 4u]; s5 += partials[b + 5u];
  }
  let actual = s4 / max(s5, 1.0);
  loss[row] = ${value};
  stats[row * 4u] = s2;
  stats[row * 4u + 1u] = s3;
  stats[row * 4u + 2u] = s1;
  stats[row * 4u + 3u] = actual;
}
`;
  return {
    label: `mask_loss_finish(${kind})`,
    code,
    bindings: ["read", ...(iou ? ["read" as const] : []), "write", "write", "uniform"],
    workgroupSize: [LOSS_WG, 1, 1],
  };
}

/**
 * Logits gradient of the focal or dice loss: dx = g[row] · dloss/dx. Bindings: logits, targets,
 * g [rows], stats (dice only), dx, uniforms. One invocation per pixel, dispatch
 * lossWorkgroups(rows·hw).
 */
export function maskLossBackwardKernel(kind: "focal" | "dice", spec: FocalSpec = {}): KernelSource {
  return memoKernel(
    `maskLossBackward:${kind}:${JSON.stringify(spec)}`,
    () => buildMaskLossBackward(kind, spec),
  );
}

function buildMaskLossBackward(kind: "focal" | "dice", spec: FocalSpec): KernelSource {
  const dice = kind === "dice";
  const sb = dice ? 1 : 0;
  const grad = dice
    ? `let den = stats[row * 4u] + stats[row * 4u + 1u] + 1.0;
  let num = 2.0 * stats[row * 4u + 2u] + 1.0;
  let p = sigm(xi);
  let d = -(2.0 * ti * den - num) / (den * den) * p * (1.0 - p) / u.numObjects;`
    : "let d = focalGrad(xi, ti) / (f32(u.hw) * u.numObjects);";
  const code = `
struct U { rows: u32, hw: u32, chunks: u32, numObjects: f32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
${dice ? "@group(0) @binding(3) var<storage, read> stats: array<f32>;" : ""}
@group(0) @binding(${3 + sb}) var<storage, read_write> dx: array<f32>;
@group(0) @binding(${4 + sb}) var<uniform> u: U;
${focalSnippet(spec)}
@compute @workgroup_size(${LOSS_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * ${65535 * LOSS_WG}u;
  if (i >= u.rows * u.hw) { return; }
  let row = i / u.hw;
  let xi = x[i];
  let ti = t[i];
  ${grad}
  dx[i] = g[row] * d;
}
`;
  return {
    label: `mask_loss_bwd(${kind},alpha=${spec.alpha ?? 0.25},gamma=${spec.gamma ?? 2})`,
    code,
    bindings: ["read", "read", "read", ...(dice ? ["read" as const] : []), "write", "uniform"],
    workgroupSize: [LOSS_WG, 1, 1],
  };
}

/**
 * Gradient of the IoU loss wrt the predicted IoUs: L1 g·sign(e)/numObjects (0 at e = 0, as
 * torch), MSE 2·g·e/numObjects, e = pred - actual. Bindings: pred, stats, g, dpred, uniforms.
 */
export function iouLossBackwardKernel(kind: "iou_l1" | "iou_mse"): KernelSource {
  return memoKernel(`iouLossBackward:${kind}`, () => buildIouLossBackward(kind));
}

function buildIouLossBackward(kind: "iou_l1" | "iou_mse"): KernelSource {
  const code = `
struct U { rows: u32, hw: u32, chunks: u32, numObjects: f32 }
@group(0) @binding(0) var<storage, read> pred: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> dpred: array<f32>;
@group(0) @binding(4) var<uniform> u: U;

@compute @workgroup_size(${LOSS_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= u.rows) { return; }
  let e = pred[row] - stats[row * 4u + 3u];
  dpred[row] = g[row] * ${kind === "iou_l1" ? "sign(e)" : "2.0 * e"} / u.numObjects;
}
`;
  return {
    label: `iou_loss_bwd(${kind})`,
    code,
    bindings: ["read", "read", "read", "write", "uniform"],
    workgroupSize: [LOSS_WG, 1, 1],
  };
}

/** Workgroups for n elements, one per invocation. */
export function lossWorkgroups(n: number): [number, number, number] {
  const w = Math.max(1, Math.ceil(n / LOSS_WG));
  return [Math.min(w, 65535), Math.ceil(w / 65535), 1];
}

/**
 * Elementwise BCE-with-logits forward (out = bce(x, t)) or backward (out = g·(σ(x) - t)).
 * Bindings: x, t, [g for backward], out, uniforms {n}.
 */
export function bceWithLogitsKernel(backward: boolean): KernelSource {
  return memoKernel(`bce:${backward}`, () => buildBce(backward));
}

function buildBce(backward: boolean): KernelSource {
  const code = `
struct U { n: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> t: array<f32>;
${backward ? "@group(0) @binding(2) var<storage, read> g: array<f32>;" : ""}
@group(0) @binding(${backward ? 3 : 2}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${backward ? 4 : 3}) var<uniform> u: U;
${focalSnippet({})}
@compute @workgroup_size(${LOSS_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * ${65535 * LOSS_WG}u;
  if (i >= u.n) { return; }
  out[i] = ${backward ? "g[i] * (sigm(x[i]) - t[i])" : "bce(x[i], t[i])"};
}
`;
  return {
    label: `bce_with_logits(${backward ? "bwd" : "fwd"})`,
    code,
    bindings: ["read", "read", ...(backward ? ["read" as const] : []), "write", "uniform"],
    workgroupSize: [LOSS_WG, 1, 1],
  };
}
