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
  /**
   * Element offsets of p, g, m and v in what is bound (state living in a flat buffer, or windows
   * of a parameter above the binding limit). @default [0, 0, 0, 0]
   */
  offsets?: readonly [number, number, number, number];
}

/** The per-parameter factors of a step, rounded to f32 like the uniforms that carry them. */
export function adamwFactors(
  u: { lr: number; weightDecay: number; beta1: number; beta2: number; step: number },
): { decay: number; stepSize: number; bc2Sqrt: number } {
  return {
    decay: 1 - u.lr * u.weightDecay,
    stepSize: u.lr / (1 - Math.pow(u.beta1, u.step)),
    bc2Sqrt: Math.sqrt(1 - Math.pow(u.beta2, u.step)),
  };
}

/**
 * Packs one step's uniforms. The bias corrections are formed in float64 on the host as PyTorch
 * does in Python: decay = 1 - lr·wd, stepSize = lr / (1 - β1^t), bc2Sqrt = sqrt(1 - β2^t).
 */
export function adamwUniforms(u: AdamWStepUniforms): ArrayBuffer {
  const b = new ArrayBuffer(64);
  const w = new Uint32Array(b), f = new Float32Array(b);
  const k = adamwFactors(u);
  w[0] = u.n;
  f[1] = k.decay;
  f[2] = u.beta1;
  f[3] = 1 - u.beta1;
  f[4] = u.beta2;
  f[5] = 1 - u.beta2;
  f[6] = k.stepSize;
  f[7] = k.bc2Sqrt;
  f[8] = u.eps;
  w.set(u.offsets ?? [0, 0, 0, 0], 12);
  return b;
}

/**
 * One AdamW step in place, PyTorch's single-tensor order: p *= 1 - lr·wd; m = β1·m + (1-β1)·g;
 * v = β2·v + (1-β2)·g²; p -= stepSize · m / (sqrt(v)/bc2Sqrt + eps). Bindings: p, g, m, v,
 * [scale: g is multiplied by scale[1] first (the clip coefficient)], uniforms; each of p, g, m, v
 * is read from its own element offset (uniform `o`).
 */
export function adamwKernel(spec: { scaled?: boolean } = {}): KernelSource {
  return memoKernel(`adamw:${spec.scaled ?? false}`, () => buildAdamw(spec));
}

function buildAdamw(spec: { scaled?: boolean }): KernelSource {
  const scaled = spec.scaled ?? false;
  const sb = scaled ? 1 : 0;
  const code = `
struct U {
  n: u32, decay: f32, b1: f32, omb1: f32, b2: f32, omb2: f32, stepSize: f32, bc2Sqrt: f32,
  eps: f32, q0: u32, q1: u32, q2: u32, o: vec4<u32>,
}
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
  let gi = g[u.o.y + i]${scaled ? " * scale[1]" : ""};
  let pi = p[u.o.x + i] * u.decay;
  let mi = m[u.o.z + i] * u.b1 + u.omb1 * gi;
  let vi = v[u.o.w + i] * u.b2 + u.omb2 * (gi * gi);
  m[u.o.z + i] = mi;
  v[u.o.w + i] = vi;
  p[u.o.x + i] = pi - u.stepSize * (mi / (sqrt(vi) / u.bc2Sqrt + u.eps));
}
`;
  return {
    label: `adamw(scaled=${scaled})`,
    code,
    bindings: ["write", "read", "write", "write", ...(scaled ? ["read" as const] : []), "uniform"],
    workgroupSize: [OPT_WG, 1, 1],
  };
}

/** Most parameters one multi-tensor AdamW dispatch updates. */
export const ADAMW_MAX_SLOTS = 16;

/** One parameter of a multi-tensor AdamW dispatch (see `adamwMultiUniforms`). */
export interface AdamWSlot {
  /** Elements. */
  n: number;
  /** Element offset of its m and v in the flat state buffers. */
  stateOffset: number;
  /** Its group's lr and weight decay. */
  lr: number;
  weightDecay: number;
  /** Its 1-based step count (parameters that missed steps have their own). */
  step: number;
}

/** Bytes of the uniforms of a multi-tensor dispatch with `slots` parameters. */
function multiUniformBytes(slots: number): number {
  return 48 + 32 * slots;
}

/**
 * Packs a multi-tensor dispatch's uniforms: slot count, shared β1, 1-β1, β2, 1-β2, eps, then per
 * slot its first workgroup, length, state offset and f32 factors (decay, stepSize, bc2Sqrt formed
 * in float64 as in `adamwUniforms`, so each parameter gets bitwise the per-tensor update).
 */
export function adamwMultiUniforms(
  slots: readonly AdamWSlot[],
  hyper: { beta1: number; beta2: number; eps: number },
): ArrayBuffer {
  const b = new ArrayBuffer(multiUniformBytes(slots.length));
  const w = new Uint32Array(b), f = new Float32Array(b);
  w[0] = slots.length;
  f.set([hyper.beta1, 1 - hyper.beta1, hyper.beta2, 1 - hyper.beta2, hyper.eps], 4);
  let wg = 0;
  slots.forEach((s, k) => {
    const o = 12 + 8 * k;
    const c = adamwFactors({ ...s, beta1: hyper.beta1, beta2: hyper.beta2 });
    w.set([wg, s.n, s.stateOffset], o);
    f.set([c.decay, c.stepSize, c.bc2Sqrt], o + 4);
    wg += Math.ceil(s.n / OPT_WG);
  });
  return b;
}

/** Workgroups of a multi-tensor dispatch: each slot gets ceil(n / OPT_WG) in a row. */
export function adamwMultiWorkgroups(slots: readonly { n: number }[]): [number, number, number] {
  const w = slots.reduce((a, s) => a + Math.ceil(s.n / OPT_WG), 0);
  return [Math.min(Math.max(w, 1), 65535), Math.ceil(w / 65535), 1];
}

/**
 * AdamW over up to `slots` parameters in one dispatch (the multi-tensor step). m and v of all of
 * them live in one flat pair of buffers (each parameter at its state offset); parameters and
 * gradients are bound separately, two bindings per slot. A workgroup finds its slot by scanning
 * the slots' first workgroups (uniform), so control flow is uniform per workgroup; each thread
 * updates one element with exactly the per-tensor kernel's arithmetic. Bindings: m, v,
 * [scale], then p0, g0, p1, g1, ..., uniforms (`adamwMultiUniforms`); dispatch
 * `adamwMultiWorkgroups`.
 */
export function adamwMultiKernel(spec: { slots: number; scaled?: boolean }): KernelSource {
  const slots = Math.max(1, Math.min(ADAMW_MAX_SLOTS, Math.floor(spec.slots)));
  const scaled = spec.scaled ?? false;
  return memoKernel(`adamwMulti:${slots}:${scaled}`, () => buildAdamwMulti(slots, scaled));
}

function buildAdamwMulti(slots: number, scaled: boolean): KernelSource {
  const first = scaled ? 3 : 2;
  const decl = Array.from(
    { length: slots },
    (_, k) =>
      `@group(0) @binding(${first + 2 * k}) var<storage, read_write> p${k}: array<f32>;
@group(0) @binding(${first + 2 * k + 1}) var<storage, read> g${k}: array<f32>;`,
  ).join("\n");
  const load = Array.from(
    { length: slots },
    (_, k) => `case ${k}u: { gi = g${k}[i]; pv = p${k}[i]; }`,
  ).join("\n    ");
  const store = Array.from({ length: slots }, (_, k) => `case ${k}u: { p${k}[i] = pn; }`)
    .join("\n    ");
  const code = `
struct Slot { wg0: u32, n: u32, off: u32, q0: u32, decay: f32, stepSize: f32, bc2Sqrt: f32, q1: f32 }
struct U {
  count: u32, q0: u32, q1: u32, q2: u32,
  b1: f32, omb1: f32, b2: f32, omb2: f32,
  eps: f32, q3: f32, q4: f32, q5: f32,
  slot: array<Slot, ${slots}>,
}
@group(0) @binding(0) var<storage, read_write> m: array<f32>;
@group(0) @binding(1) var<storage, read_write> v: array<f32>;
${scaled ? "@group(0) @binding(2) var<storage, read> scale: array<f32>;" : ""}
${decl}
@group(0) @binding(${first + 2 * slots}) var<uniform> u: U;

@compute @workgroup_size(${OPT_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let w = wid.x + wid.y * 65535u;
  var s = 0u;
  for (var k = 1u; k < u.count; k++) {
    if (w >= u.slot[k].wg0) { s = k; }
  }
  let sl = u.slot[s];
  let i = (w - sl.wg0) * ${OPT_WG}u + lid.x;
  if (i >= sl.n) { return; }
  var gi = 0.0;
  var pv = 0.0;
  switch s {
    ${load}
    default: { return; }
  }
  gi = gi${scaled ? " * scale[1]" : ""};
  let j = sl.off + i;
  let pi = pv * sl.decay;
  let mi = m[j] * u.b1 + u.omb1 * gi;
  let vi = v[j] * u.b2 + u.omb2 * (gi * gi);
  m[j] = mi;
  v[j] = vi;
  let pn = pi - sl.stepSize * (mi / (sqrt(vi) / sl.bc2Sqrt + u.eps));
  switch s {
    ${store}
    default: {}
  }
}
`;
  return {
    label: `adamw_multi(slots=${slots},scaled=${scaled})`,
    code,
    bindings: [
      "write",
      "write",
      ...(scaled ? ["read" as const] : []),
      ...Array.from({ length: slots }, () => ["write", "read"] as const).flat(),
      "uniform",
    ],
    workgroupSize: [OPT_WG, 1, 1],
  };
}

/** Most parameters one flat state buffer (and so one gathered dispatch) holds. */
export const ADAMW_FLAT_MAX_SLOTS = 1024;

/** Slot capacity of the flat kernel for `n` slots (powers of two from 16: few variants). */
export function adamwFlatCapacity(n: number): number {
  return Math.max(16, 2 ** Math.ceil(Math.log2(Math.max(1, n))));
}

/**
 * Packs a flat dispatch's uniforms: member count, workgroups of the `flatLength` elements, shared
 * β1, 1-β1, β2, 1-β2, eps, then per member of the flat
 * buffer (null: no gradient this step, skipped) its first workgroup (its offset / OPT_WG), length,
 * offset and f32 factors as in `adamwUniforms`, padded to the kernel's slot capacity.
 */
export function adamwFlatUniforms(
  members: readonly (AdamWSlot | null)[],
  hyper: { beta1: number; beta2: number; eps: number },
  flatLength: number,
): ArrayBuffer {
  const b = new ArrayBuffer(multiUniformBytes(adamwFlatCapacity(members.length)));
  const w = new Uint32Array(b), f = new Float32Array(b);
  w[0] = members.length;
  w[1] = Math.ceil(flatLength / OPT_WG);
  f.set([hyper.beta1, 1 - hyper.beta1, hyper.beta2, 1 - hyper.beta2, hyper.eps], 4);
  members.forEach((s, k) => {
    if (!s) return;
    const o = 12 + 8 * k;
    const c = adamwFactors({ ...s, beta1: hyper.beta1, beta2: hyper.beta2 });
    w.set([s.stateOffset / OPT_WG, s.n, s.stateOffset], o);
    f.set([c.decay, c.stepSize, c.bc2Sqrt], o + 4);
  });
  return b;
}

/**
 * AdamW over a flat buffer of parameters: P, G, m and v hold every member at its offset (a
 * multiple of OPT_WG; the caller copies parameters and gradients into P and G with buffer
 * copies, and P back after). One dispatch over the whole flat buffer, OPT_WG / 4 threads per
 * workgroup, four elements (one vec4) per thread: members start on OPT_WG boundaries, so every
 * vec4 belongs to one member, and loads on lavapipe cost per load, not per byte;
 * workgroup w reads its member from `wgSlot[w]` (a static table), so no thread loops or picks a
 * buffer (on lavapipe a per-lane loop or a branch per member costs every lane). Members without
 * a gradient have length 0 and return at once. Arithmetic is exactly the per-tensor kernel's,
 * per component.
 * Bindings: P, G, m, v, wgSlot (u32 per OPT_WG elements), [scale], uniforms
 * (`adamwFlatUniforms`); dispatch `optWorkgroups(flat length)`.
 */
export function adamwFlatKernel(spec: { capacity: number; scaled?: boolean }): KernelSource {
  const cap = adamwFlatCapacity(spec.capacity);
  const scaled = spec.scaled ?? false;
  return memoKernel(`adamwFlat:${cap}:${scaled}`, () => buildAdamwFlat(cap, scaled));
}

function buildAdamwFlat(cap: number, scaled: boolean): KernelSource {
  const code = `
struct Slot { wg0: u32, n: u32, off: u32, q0: u32, decay: f32, stepSize: f32, bc2Sqrt: f32, q1: f32 }
struct U {
  count: u32, nwg: u32, q1: u32, q2: u32,
  b1: f32, omb1: f32, b2: f32, omb2: f32,
  eps: f32, q3: f32, q4: f32, q5: f32,
  slot: array<Slot, ${cap}>,
}
@group(0) @binding(0) var<storage, read_write> p: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> g: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> wgSlot: array<u32>;
${scaled ? "@group(0) @binding(5) var<storage, read> scale: array<f32>;" : ""}
@group(0) @binding(${scaled ? 6 : 5}) var<uniform> u: U;

@compute @workgroup_size(${OPT_WG / 4})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let w = wid.x + wid.y * 65535u;
  if (w >= u.nwg) { return; }
  let sl = u.slot[min(wgSlot[w], ${cap - 1}u)];
  let i = (w - sl.wg0) * ${OPT_WG}u + 4u * lid.x;
  if (i >= sl.n) { return; }
  // Four elements per thread; those past n (up to the member's OPT_WG padding) are computed on
  // scratch and never copied back or exposed.
  let j = (sl.off + i) >> 2u;
  let gi = g[j]${scaled ? " * scale[1]" : ""};
  let pi = p[j] * sl.decay;
  let mi = m[j] * u.b1 + u.omb1 * gi;
  let vi = v[j] * u.b2 + u.omb2 * (gi * gi);
  m[j] = mi;
  v[j] = vi;
  p[j] = pi - sl.stepSize * (mi / (sqrt(vi) / sl.bc2Sqrt + u.eps));
}
`;
  return {
    label: `adamw_flat(slots<=${cap},scaled=${scaled})`,
    code,
    bindings: [
      "write",
      "read",
      "write",
      "write",
      "read",
      ...(scaled ? ["read" as const] : []),
      "uniform",
    ],
    workgroupSize: [OPT_WG / 4, 1, 1],
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
