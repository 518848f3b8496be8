import { type KernelSource, memoKernel } from "../gpu/kernel_source.ts";

/** Spec of the indexing kernels (f32 data, i32 indices). */
export interface IndexSpec {
  /**
   * "gather": the index tensor has the iteration shape (torch.gather / scatter_add);
   * "select": a 1-D index picks along `axis` (index_select / index_add).
   */
  mode: "gather" | "select";
  /** "read": out[it] = x[it with axis coord = index]; "scatterAdd": x[...] += src[it] (atomic). */
  op: "read" | "scatterAdd";
}

/** Uniforms of an indexing launch (iteration shape, strides of x, index and src). */
export function indexUniforms(a: {
  n: number;
  axis: number;
  axisSize: number;
  shape: readonly number[];
  xStrides: readonly number[];
  xOffset: number;
  idxStrides: readonly number[];
  idxOffset: number;
  srcStrides: readonly number[];
  srcOffset: number;
}): ArrayBuffer {
  const u = new Uint32Array(8 + 32);
  u.set([a.n, a.shape.length, a.axis, a.axisSize, a.xOffset, a.idxOffset, a.srcOffset, 0]);
  a.shape.forEach((v, i) => u[8 + i] = v);
  a.xStrides.forEach((v, i) => u[16 + i] = v);
  a.idxStrides.forEach((v, i) => u[24 + i] = v);
  a.srcStrides.forEach((v, i) => u[32 + i] = v);
  return u.buffer;
}

/**
 * Gather/scatter along one axis. One thread per element of the iteration shape (64-thread
 * workgroups, 1-D grid with a grid-stride loop). Indices are i32; negative ones count from the
 * end; out-of-range indices are skipped on scatter and read as 0 on gather (PyTorch raises; the
 * op wrapper checks ranges on the CPU only when asked). scatterAdd adds f32 atomically with a
 * compare-exchange loop on the bit pattern (WGSL has no float atomics), so the order of
 * additions, and the last bits of a sum with repeated indices, may vary between runs.
 * Bindings: read: out (contiguous, iteration shape), x, index. scatterAdd: x (read_write,
 * contiguous target), src, index.
 */
export function indexKernel(spec: IndexSpec): KernelSource {
  return memoKernel(`indexKernel:${JSON.stringify(spec)}`, () => buildIndexKernel(spec));
}

function buildIndexKernel(spec: IndexSpec): KernelSource {
  const scatter = spec.op === "scatterAdd";
  const idxExpr = spec.mode === "gather" ? "io" : "u.idxOff + coordAxis * u.istr[0][0]";
  const code = `
struct U {
  n: u32, rank: u32, axis: u32, axisSize: u32, xOff: u32, idxOff: u32, srcOff: u32, p0: u32,
  shape: array<vec4<u32>, 2>, xstr: array<vec4<u32>, 2>, istr: array<vec4<u32>, 2>,
  sstr: array<vec4<u32>, 2>,
};
${
    scatter
      ? `@group(0) @binding(0) var<storage, read_write> x: array<atomic<u32>>;
@group(0) @binding(1) var<storage, read> src: array<f32>;`
      : `@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;`
  }
@group(0) @binding(2) var<storage, read> index: array<i32>;
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = gid.x; i < u.n; i += nwg.x * 64u) {
    var rem = i;
    var xo = u.xOff;
    var io = u.idxOff;
    var so = u.srcOff;
    var coordAxis = 0u;
    for (var d = u.rank; d > 0u; ) {
      d -= 1u;
      let c = rem % u.shape[d >> 2u][d & 3u];
      rem = rem / u.shape[d >> 2u][d & 3u];
      if (d == u.axis) { coordAxis = c; } else { xo += c * u.xstr[d >> 2u][d & 3u]; }
      io += c * u.istr[d >> 2u][d & 3u];
      so += c * u.sstr[d >> 2u][d & 3u];
    }
    var j = index[${idxExpr}];
    if (j < 0) { j += i32(u.axisSize); }
    let ok = j >= 0 && u32(j) < u.axisSize;
    let t = xo + select(0u, u32(j), ok) * u.xstr[u.axis >> 2u][u.axis & 3u];
    ${
    scatter
      ? `if (ok) {
      let v = src[so];
      var old = atomicLoad(&x[t]);
      loop {
        let r = atomicCompareExchangeWeak(&x[t], old, bitcast<u32>(bitcast<f32>(old) + v));
        if (r.exchanged) { break; }
        old = r.old_value;
      }
    }`
      : "out[i] = select(0.0, x[t], ok);"
  }
  }
}
`;
  return {
    label: `index[${spec.mode},${spec.op}]`,
    code,
    bindings: ["write", "read", "read", "uniform"],
    workgroupSize: [64, 1, 1],
  };
}
