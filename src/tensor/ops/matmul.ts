import { gpu } from "../../gpu/runtime.ts";
import {
  MATMUL_MAX_BATCH_RANK,
  matmulKernel,
  type MatmulSpec,
  matmulUniforms,
  matmulWorkgroups,
} from "../../kernels/matmul.ts";
import { apply } from "../autograd.ts";
import { broadcastStrides, planChunks, runElementwise, windowBudget } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { broadcastShapes, contiguousStrides, fmtShape, numel } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { copyContiguous, reshape, transpose } from "./layout.ts";
import { sum } from "./reduce.ts";

/** Operand layouts a matmul launch can use (see `MatmulSpec`). */
export interface MatmulLayout {
  aLoad: MatmulSpec["aLoad"];
  bLoad: MatmulSpec["bLoad"];
}

/** Tile shape per adapter kind and problem size. */
export interface MatmulTile {
  tm: number;
  tn: number;
  wgx: number;
  wgy: number;
}

/**
 * Register-tile table per adapter kind (measured with `deno task bench kernels`): on lavapipe
 * loads dominate, so large tiles in 8-lane workgroups (one SIMD-8 batch); real GPUs get 8x8
 * workgroups of 4x4 tiles. Small problems get small tiles so that work is not wasted at edges.
 * `setMatmulTiles` overrides the table (the benchmark uses it to compare configurations).
 */
let tileOverride: MatmulTile | null = null;

/** Forces one tile configuration for every matmul (null restores the table). */
export function setMatmulTiles(t: MatmulTile | null): void {
  tileOverride = t;
}

/** The tile for an M x N output on the current adapter. */
export function chooseMatmulTile(m: number, n: number): MatmulTile {
  if (tileOverride) return { ...tileOverride };
  if (gpu().isCpuAdapter) {
    // Named-register kernels (`MatmulSpec.named`). Measured on lavapipe (2 cores, 1024^3, CPU
    // time): 8x16 ~14 GFLOP/s (cold compile ~1.7 s), 16x16 ~12-15 (~4 s), 16x32 ~16 (~14 s),
    // 8x8 ~6; x @ W^T (4096x256x1024, dot form) 8x16 ~20, 8x8 ~15. Compile time grows with
    // tm·tn, so 8x16 is the largest; small problems get smaller tiles (less edge waste).
    return {
      tm: m >= 8 ? 8 : m >= 4 ? 4 : 1,
      tn: n >= 64 ? 16 : n >= 16 ? 8 : 4,
      wgx: 8,
      wgy: 1,
    };
  }
  if (m >= 64 && n >= 64) return { tm: 4, tn: 8, wgx: 16, wgy: 8 };
  return { tm: 4, tn: 4, wgx: 8, wgy: 8 };
}

function aligned4(offset: number, strides: readonly number[]): boolean {
  return offset % 4 === 0 && strides.every((s) => s % 4 === 0);
}

/** Chooses vec4 loads where the layout allows them. */
export function chooseMatmulLayout(a: {
  n: number;
  aOffset: number;
  bOffset: number;
  aStrides: readonly [number, number];
  bStrides: readonly [number, number];
  aBatchStrides: readonly number[];
  bBatchStrides: readonly number[];
}): MatmulLayout {
  const [sAm, sAk] = a.aStrides, [sBk, sBn] = a.bStrides;
  const aLoad = sAk === 1 && aligned4(a.aOffset, [sAm, ...a.aBatchStrides]) ? "k4" : "scalar";
  let bLoad: MatmulLayout["bLoad"] = "scalar";
  if (sBk === 1 && aligned4(a.bOffset, [sBn, ...a.bBatchStrides])) bLoad = "k4";
  else if (sBn === 1 && a.n % 4 === 0 && aligned4(a.bOffset, [sBk, ...a.bBatchStrides])) {
    bLoad = "n4";
  }
  return { aLoad, bLoad };
}

/**
 * Longest reduction one matmul dispatch runs on a CPU adapter. llvmpipe silently stops every
 * shader invocation after 65,535 loop iterations in total (all loops together); the register-
 * tiled kernels iterate over their tile rows for every K step, so K = 4096 already came out
 * wrong (relative error ~3 on [64, 4096] @ [4096, 64]). Longer reductions are split along K.
 * The named-register kernels run about K/4 iterations and could take far longer runs, but
 * 512-long chunks measured no slower at 1024^3 (the slices stay in cache), so the cap stays.
 */
const LAVAPIPE_MAX_K = 512;

/**
 * Longest K run whose slices of A and B fit one binding window, for operands above the binding
 * limit (a row of a transposed A spans (K-1)·sAk elements): K is split to it first, then rows.
 */
function bindingMaxK(a: Tensor, b: Tensor, n: number): number {
  const limit = gpu().maxBinding;
  let kMax = Infinity;
  const sAk = a.strides[a.rank - 1], sBk = b.strides[b.rank - 2], sBn = b.strides[b.rank - 1];
  if (a.storage.bytes > limit && sAk > 0) {
    kMax = Math.min(kMax, Math.floor((windowBudget("f32") - 1) / sAk) + 1);
  }
  if (b.storage.bytes > limit && sBk > 0) {
    kMax = Math.min(kMax, Math.floor((windowBudget("f32") - 1 - (n - 1) * sBn) / sBk) + 1);
  }
  return Math.max(1, kMax);
}

/** C = sum over K chunks of A[..., :, k0:k1] @ B[..., k0:k1, :] (+ bias once), no autograd. */
function matmulSplitK(a: Tensor, b: Tensor, bias: Tensor | undefined, chunk: number): Tensor {
  const k = a.shape[a.rank - 1];
  const sAk = a.strides[a.rank - 1], sBk = b.strides[b.rank - 2];
  let acc: Tensor | null = null;
  for (let k0 = 0; k0 < k; k0 += chunk) {
    const kc = Math.min(chunk, k - k0);
    const aShape = [...a.shape.slice(0, -1), kc],
      bShape = [...b.shape.slice(0, -2), kc, b.shape[b.rank - 1]];
    const av = a.view(aShape, a.strides, a.offset + k0 * sAk);
    const bv = b.view(bShape, b.strides, b.offset + k0 * sBk);
    const part = matmulRaw(av, bv, k0 === 0 ? bias : undefined);
    av.dispose();
    bv.dispose();
    if (!acc) acc = part;
    else {
      const next = runElementwise("matmul_acc", "x0 + x1", [acc, part]);
      acc.dispose();
      part.dispose();
      acc = next;
    }
  }
  return acc!;
}

/**
 * C = A @ B (+ bias) without autograd. A [..., M, K], B [..., K, N] with broadcast batch dims,
 * any strides (transposed views need no copy); C is a new contiguous [...batch, M, N].
 */
export function matmulRaw(a: Tensor, b: Tensor, bias?: Tensor): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new RangeError("matmulRaw needs rank >= 2 operands");
  for (const t of bias ? [a, b, bias] : [a, b]) {
    if (t.dtype !== "f32") {
      throw new TypeError(`matmul(): f32 operands only, got ${t.dtype} (cast first)`);
    }
  }
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) {
    throw new RangeError(
      `matmul(): inner dims differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${k} vs ${k2})`,
    );
  }
  const kMax = Math.min(bindingMaxK(a, b, n), gpu().isCpuAdapter ? LAVAPIPE_MAX_K : Infinity);
  if (k > kMax) return matmulSplitK(a, b, bias, kMax);
  let batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  let aB = broadcastStrides(a.view(a.shape.slice(0, -2), a.strides.slice(0, -2), 0), batch);
  let bB = broadcastStrides(b.view(b.shape.slice(0, -2), b.strides.slice(0, -2), 0), batch);
  // Merge adjacent batch dims with compatible strides; drop size-1 dims.
  const dims: [number, number, number][] = [];
  batch.forEach((d, i) => {
    if (d === 1) return;
    const last = dims[dims.length - 1];
    if (last && last[1] === aB[i] * d && last[2] === bB[i] * d) {
      last[0] *= d;
      last[1] = aB[i];
      last[2] = bB[i];
    } else dims.push([d, aB[i], bB[i]]);
  });
  if (dims.length > MATMUL_MAX_BATCH_RANK) {
    throw new RangeError(`matmul(): more than ${MATMUL_MAX_BATCH_RANK} batch dims after merging`);
  }
  const outShape = [...batch, m, n];
  batch = dims.map((d) => d[0]);
  aB = dims.map((d) => d[1]);
  bB = dims.map((d) => d[2]);
  const c = Tensor.empty(outShape, "f32");
  if (c.size === 0) return c;
  if (k === 0) {
    c.dispose();
    throw new RangeError("matmul(): K = 0 is not supported");
  }
  const sAm = a.strides[a.rank - 2], sAk = a.strides[a.rank - 1];
  const sBk = b.strides[b.rank - 2], sBn = b.strides[b.rank - 1];
  const layout = chooseMatmulLayout({
    n,
    aOffset: a.offset,
    bOffset: b.offset,
    aStrides: [sAm, sAk],
    bStrides: [sBk, sBn],
    aBatchStrides: aB,
    bBatchStrides: bB,
  });
  // Large problems on a CPU adapter: operands with no vec4 path are copied to row-major first
  // (an O(MK) or O(KN) copy against O(MNK) work): scalar loads cost 4x the load count.
  if (m >= 64 && n >= 64 && k >= 16 && gpu().isCpuAdapter) {
    const aBad = layout.aLoad === "scalar" && k % 4 === 0;
    const bBad = layout.bLoad === "scalar" && n % 4 === 0;
    if (aBad || bBad) {
      c.dispose();
      const a2 = aBad ? copyContiguous(a) : a;
      const b2 = bBad ? copyContiguous(b) : b;
      const c2 = matmulRaw(a2, b2, bias);
      if (a2 !== a) a2.dispose();
      if (b2 !== b) b2.dispose();
      return c2;
    }
  }
  const tile = chooseMatmulTile(m, n);
  const spec: MatmulSpec = { ...tile, ...layout, bias: !!bias, named: gpu().isCpuAdapter };
  const biasT = bias ? (bias.isContiguous ? bias : copyContiguous(bias)) : undefined;
  // Operands above the binding limit are bound as windows over blocks of batch items or of rows
  // of A and C (B, when it fits, is bound whole).
  const chunks = planChunks("matmul", [...batch, m], [
    { tensor: c, offset: 0, strides: contiguousStrides([...batch, m, n]).slice(0, -1), inner: n },
    { tensor: a, offset: a.offset, strides: [...aB, sAm], inner: (k - 1) * sAk + 1 },
    { tensor: b, offset: b.offset, strides: [...bB, 0], inner: (k - 1) * sBk + (n - 1) * sBn + 1 },
    ...(biasT
      ? [{ tensor: biasT, offset: biasT.offset, strides: [...aB.map(() => 0), 0], inner: n }]
      : []),
  ]);
  const kernel = matmulKernel(spec);
  const cBatchStride = m * n * numel(batch.slice(1));
  for (const whole of chunks) {
    // The batch is the dispatch's z: blocks of at most maxComputeWorkgroupsPerDimension items
    // (outer batch dim), each a launch with its operands' offsets moved along that dim.
    for (const ch of batchBlocks(whole, cBatchStride, aB[0] ?? 0, bB[0] ?? 0)) {
      const cm = ch.shape[ch.shape.length - 1];
      const cb = ch.shape.slice(0, -1);
      gpu().launch(kernel, {
        buffers: ch.bindings,
        uniforms: matmulUniforms({
          m: cm,
          n,
          k,
          aOffset: ch.offsets[1],
          bOffset: ch.offsets[2],
          cOffset: ch.offsets[0],
          biasOffset: ch.offsets[3] ?? 0,
          aStrides: [sAm, sAk],
          bStrides: [sBk, sBn],
          batchShape: cb,
          aBatchStrides: aB,
          bBatchStrides: bB,
        }),
        workgroups: matmulWorkgroups(spec, cm, n, numel(cb)),
      });
    }
  }
  if (biasT && biasT !== bias) biasT.dispose();
  return c;
}

/** A launch block of {@linkcode planChunks}: output block shape, bindings, element offsets. */
type LaunchBlock = ReturnType<typeof planChunks>[number];

/**
 * Splits a block whose batch (all dims before the last, which is M) exceeds the device's
 * workgroups per dimension along its outer batch dim. Offsets move by `start * stride` per
 * operand (C, A, B; a bias is broadcast over the batch); bindings stay the same windows.
 */
function batchBlocks(
  ch: LaunchBlock,
  cStride: number,
  aStride: number,
  bStride: number,
): LaunchBlock[] {
  const maxZ = gpu().device.limits.maxComputeWorkgroupsPerDimension;
  const cb = ch.shape.slice(0, -1);
  if (numel(cb) <= maxZ) return [ch];
  const inner = numel(cb.slice(1));
  if (inner > maxZ) {
    throw new RangeError(
      `matmul(): batch ${fmtShape(cb)} has ${inner} items inside its outer dim, above the ` +
        `device's ${maxZ} workgroups per dimension`,
    );
  }
  const per = Math.floor(maxZ / inner);
  const out: LaunchBlock[] = [];
  for (let start = 0; start < cb[0]; start += per) {
    const len = Math.min(per, cb[0] - start);
    const offsets = [...ch.offsets];
    offsets[0] += start * cStride;
    offsets[1] += start * aStride;
    offsets[2] += start * bStride;
    out.push({ ...ch, shape: [len, ...ch.shape.slice(1)], offsets });
  }
  return out;
}

const matmulOp: OpDef = {
  name: "matmul",
  forward(ctx, [a, b]) {
    ctx.save(a, b);
    return matmulRaw(a, b);
  },
  backward(ctx, g, _attrs) {
    const [a, b] = ctx.saved;
    return [
      ctx.needsGrad[0] ? matmulRaw(g, transpose(b)) : null,
      ctx.needsGrad[1] ? matmulRaw(transpose(a), g) : null,
    ];
  },
};

/**
 * Matrix product with PyTorch's `matmul` semantics: 1-D operands are promoted (and the added dim
 * removed), batch dims broadcast. Transposed views (`transpose(w)`) are read in place.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  let y = apply(matmulOp, [a2, b2], undefined);
  if (a.rank === 1) y = reshape(y, [...y.shape.slice(0, -2), y.shape[y.rank - 1]]);
  if (b.rank === 1) y = reshape(y, y.shape.slice(0, -1));
  return y;
}

const linearOp: OpDef = {
  name: "linear",
  forward(ctx, [x, w, bias]) {
    ctx.save(x, w);
    return matmulRaw(x, transpose(w), bias);
  },
  backward(ctx, g) {
    const [x, w] = ctx.saved;
    const gx = ctx.needsGrad[0] ? matmulRaw(g, w) : null;
    let gw: Tensor | null = null;
    if (ctx.needsGrad[1]) {
      const g2 = reshape(g, [-1, g.shape[g.rank - 1]]);
      const x2 = reshape(x, [-1, x.shape[x.rank - 1]]);
      gw = matmulRaw(transpose(g2), x2);
    }
    if (ctx.needsGrad.length === 2) return [gx, gw];
    const gb = ctx.needsGrad[2] ? sum(g, g.shape.slice(0, -1).map((_, i) => i)) : null;
    return [gx, gw, gb];
  },
};

/** x @ w^T + bias (`nn.functional.linear`): x [..., in], w [out, in], bias [out]; fused bias. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor | null): Tensor {
  if (w.rank !== 2 || x.shape[x.rank - 1] !== w.shape[1]) {
    throw new RangeError(
      `linear(): input ${fmtShape(x.shape)} does not match weight ${fmtShape(w.shape)}`,
    );
  }
  if (x.rank === 1) return reshape(linear(reshape(x, [1, x.shape[0]]), w, bias), [w.shape[0]]);
  return apply(linearOp, bias ? [x, w, bias] : [x, w], undefined);
}
