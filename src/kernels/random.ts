import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";

/** Spec of the Philox random kernels (f32). */
export interface RandomSpec {
  /**
   * "uniform": out = a + (b - a) * U[0,1); "normal": out = a + b * N(0,1) (Box-Muller);
   * "dropout": out = x * (U >= a ? b : 0) with b = 1/(1-a): the mask is recomputed from the
   * same key in backward, so nothing is stored.
   */
  mode: "uniform" | "normal" | "dropout";
}

/** Uniforms: n, group (elements sharing one draw: 1, or the per-sample size for drop-path), key. */
export function randomUniforms(a: {
  n: number;
  group: number;
  seed: number;
  offset: number;
  a: number;
  b: number;
}): ArrayBuffer {
  const buf = new ArrayBuffer(32);
  const u = new Uint32Array(buf);
  u.set([
    a.n,
    a.group,
    a.seed >>> 0,
    Math.floor(a.seed / 2 ** 32) >>> 0,
    a.offset >>> 0,
    Math.floor(a.offset / 2 ** 32) >>> 0,
  ]);
  const f = new Float32Array(buf);
  f[6] = a.a;
  f[7] = a.b;
  return buf;
}

/** WGSL Philox4x32-10, the same function as `philox4x32` in src/tensor/philox.ts. */
export const PHILOX_WGSL = `
fn mulhi_(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let lo = a0 * b0;
  let mid1 = a1 * b0 + (lo >> 16u);
  let mid2 = a0 * b1 + (mid1 & 0xffffu);
  return a1 * b1 + (mid1 >> 16u) + (mid2 >> 16u);
}
fn philox_(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let hi0 = mulhi_(0xd2511f53u, c.x); let lo0 = 0xd2511f53u * c.x;
    let hi1 = mulhi_(0xcd9e8d57u, c.z); let lo1 = 0xcd9e8d57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
  }
  return c;
}
fn philox_block_(seed: vec2<u32>, off: vec2<u32>, blk: u32) -> vec4<u32> {
  let lo = off.x + blk;
  let hi = off.y + select(0u, 1u, lo < off.x);
  return philox_(vec4<u32>(lo, hi, 0u, 0u), seed);
}
`;

/**
 * Philox random numbers. One thread per output element (64-thread workgroups, grid-stride
 * loop); element i uses draw r = i / group: uniform draws take word r % 4 of block offset + r / 4,
 * normal draws words 2(r % 2), 2(r % 2) + 1 of block offset + r / 2 (Box-Muller cosine branch).
 * Bindings: out, [x for dropout], uniforms.
 */
export function randomKernel(spec: RandomSpec): KernelSource {
  return memoKernel(`randomKernel:${JSON.stringify(spec)}`, () => buildRandomKernel(spec));
}

function buildRandomKernel(spec: RandomSpec): KernelSource {
  const drop = spec.mode === "dropout";
  const draw = spec.mode === "normal"
    ? `let w = philox_block_(seed, off, r / 2u);
    let pair = select(w.xy, w.zw, (r & 1u) == 1u);
    let u1 = f32((pair.x >> 8u) + 1u) * 5.9604645e-8;
    let u2 = f32(pair.y >> 8u) * 5.9604645e-8;
    let v = u.a + u.b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);`
    : `let w = philox_block_(seed, off, r / 4u);
    let word = w[r & 3u];
    let un = f32(word >> 8u) * 5.9604645e-8;
    ${drop ? "let v = select(0.0, x[i] * u.b, un >= u.a);" : "let v = u.a + (u.b - u.a) * un;"}`;
  const code = `
struct U { n: u32, group: u32, s0: u32, s1: u32, o0: u32, o1: u32, a: f32, b: f32 };
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
${drop ? "@group(0) @binding(1) var<storage, read> x: array<f32>;" : ""}
@group(0) @binding(${drop ? 2 : 1}) var<uniform> u: U;
${PHILOX_WGSL}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let seed = vec2<u32>(u.s0, u.s1);
  let off = vec2<u32>(u.o0, u.o1);
  for (var i = gid.x; i < u.n; i += nwg.x * 64u) {
    let r = i / u.group;
    ${draw}
    out[i] = v;
  }
}
`;
  return {
    label: `random[${spec.mode}]`,
    code,
    bindings: drop ? ["write", "read", "uniform"] : ["write", "uniform"],
    workgroupSize: [64, 1, 1],
  };
}
