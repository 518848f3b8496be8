import { type BufferArg, gpu } from "../../gpu/runtime.ts";
import {
  attentionBackwardKernel,
  attentionBackwardKVKernel,
  attentionBackwardQKernel,
  attentionChunks,
  attentionForwardKernel,
  type AttentionKernel,
  type AttentionSpec,
  attentionUniforms,
  attentionWorkgroups,
  LAVAPIPE_LOOP_BUDGET,
} from "../../kernels/attention.ts";
import { apply } from "../autograd.ts";
import { bindingOf, planChunks, runElementwise, type SplitOperand } from "../launch.ts";
import type { OpDef } from "../op.ts";
import { nextRandomKey } from "../philox.ts";
import { fmtShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { copyContiguous } from "./layout.ts";
import { type Rope2dOptions, rope2dRaw } from "./rope.ts";

/** Options of `scaledDotProductAttention`. */
export interface SdpaOptions {
  /** Additive float mask [Lq, Lk] (shared by every head) or [..., Lq, Lk]; gets no gradient. */
  mask?: Tensor;
  /** Multiplies q·k. @default 1/sqrt(d) */
  scale?: number;
  /** Dropout probability on the attention weights (training). @default 0 */
  dropoutP?: number;
  /** Dropout stream seed. @default drawn from the default random stream (`manualSeed`) */
  seed?: number;
  /**
   * SAM 2 rotary encoding applied to q and k before the scores (RoPEAttention): q uses
   * `{endX, endY, theta}`; k also `repeat` (rope_k_repeat) and `numExclude`
   * (num_k_exclude_rope). The gradient flows back through the rotation.
   */
  rope?: Omit<Rope2dOptions, "repeat" | "numExclude"> & { kRepeat?: boolean; numKExclude?: number };
  /**
   * Kernel tiling overrides (tests, benchmarks); `onePass` forces (true) or rules out (false)
   * the one-pass backward kernel. @default chosen for the adapter and shape
   */
  tiling?: Pick<AttentionSpec, "rows" | "wg" | "block"> & { onePass?: boolean };
}

interface Attrs {
  scale: number | undefined;
  dropoutP: number;
  seed: number;
  rope: SdpaOptions["rope"];
  tiling: SdpaOptions["tiling"];
  hasMask: boolean;
}

function dense(t: Tensor): Tensor {
  return t.isContiguous && t.offset === 0 ? t : copyContiguous(t);
}

/**
 * Kernel configuration per adapter kind. Lavapipe: 8 invocations (one SIMD-8 batch) owning 8
 * rows each, streaming blocks of 8 (16 once the stream is 1024 rows or more: ~1.5x faster
 * backward at L 4096, but a longer compile that only long streams repay; also 16 for many
 * short heads, Hiera's windows: 64 heads or more with streams of 64 to 1023, where the output's
 * read-modify-write per block is most of the forward's cost), 4 when a side is short (less
 * waste at the edges, faster compiles). Real GPUs: 32 invocations of 2-row tiles (registers
 * are cheap there, parallelism matters; not measured on a real GPU yet).
 */
function specOf(
  d: number,
  dv: number,
  a: Attrs,
  owned: number,
  streamed: number,
  heads: number,
  windowed = false,
): AttentionSpec {
  const cpu = gpu().isCpuAdapter;
  const t = a.tiling;
  const long = streamed >= 1024 || (heads >= 64 && streamed >= 64);
  return {
    d,
    dv,
    mask: a.hasMask,
    dropout: a.dropoutP > 0,
    wg: t?.wg ?? (cpu ? 8 : 32),
    rows: t?.rows ?? (cpu ? (owned >= 64 ? 8 : 4) : 2),
    block: t?.block ?? (long && cpu ? 16 : streamed >= 64 ? 8 : 4),
    windowed,
  };
}

/**
 * Tiling of the one-pass backward (one invocation per head, `attentionBackwardKernel`):
 * lavapipe 8 heads per workgroup (one SIMD-8 batch), tiles of 16 keys x 8 queries once there are
 * 64 keys (Hiera's windows: ~1.15x faster than 8 x 8, and 8 x 16, at ~1.7x the compile), else
 * 8 x 8.
 */
function onePassSpec(
  d: number,
  dv: number,
  a: Attrs,
  lk: number,
  windowed: boolean,
): AttentionSpec {
  const t = a.tiling;
  return {
    d,
    dv,
    mask: a.hasMask,
    dropout: a.dropoutP > 0,
    wg: t?.wg ?? 8,
    rows: t?.rows ?? (lk >= 64 ? 16 : 8),
    block: t?.block ?? 8,
    windowed,
  };
}

/**
 * Whether the backward runs as one pass per head (`attentionBackwardKernel`) instead of the dQ
 * and dK/dV kernels: on a CPU adapter, for many short heads (Hiera's windows: every lane and
 * core busy with whole heads, and each tile formed once instead of twice), when one block of
 * keys sweeping all queries fits lavapipe's loop budget. `tiling.onePass` overrides.
 */
function onePass(a: Attrs, bh: number, lq: number, lk: number, d: number, dv: number): boolean {
  if (a.tiling?.onePass !== undefined) return a.tiling.onePass;
  if (!gpu().isCpuAdapter) return false;
  const kernel = attentionBackwardKernel(onePassSpec(d, dv, a, lk, false));
  const sweep = Math.ceil(lq / kernel.block) * kernel.loopsPerBlock + lq * kernel.loopsFixed;
  return bh >= 64 && lq <= 256 && lk <= 256 && 2 * sweep <= budget();
}

function geometry(q: Tensor, k: Tensor, v: Tensor) {
  const lq = q.shape[q.rank - 2], d = q.shape[q.rank - 1];
  const lk = k.shape[k.rank - 2], dv = v.shape[v.rank - 1];
  const bh = q.size / Math.max(1, lq * d);
  return { lq, lk, d, dv, bh };
}

/** Loop-iteration budget per dispatch: lavapipe stops loops after 65535 iterations. */
function budget(): number {
  return gpu().isCpuAdapter ? LAVAPIPE_LOOP_BUDGET : Infinity;
}

/** Whether any of `ts` has a storage above the device's binding limit (the launch must split). */
function overLimit(ts: readonly Tensor[]): boolean {
  const max = gpu().maxBinding;
  return ts.some((t) => t.storage.bytes > max);
}

/**
 * Launches an attention kernel (`make(windowed)` builds the plain or the windowed variant)
 * once per chunk of its streamed dimension (keys, or queries for dK/dV), carrying the state
 * through its outputs between chunks. When a buffer's storage is above the binding limit, the
 * launch is also split over heads (the flattened leading dims): each block of heads binds
 * windows of every per-head buffer (q, k, v, a [..., Lq, Lk] mask, outputs, ml, gradients) and
 * the windowed kernel reads its offsets and first head from the uniforms, so every head
 * computes exactly what the unsplit launch does. A head that does not fit one binding is a
 * RangeError naming the op, the tensor and the limit (from `planChunks`).
 */
function launchChunked(
  make: (windowed: boolean) => AttentionKernel,
  buffers: Tensor[],
  scalars: ReadonlySet<Tensor>,
  sizes: { n: number; rows: number; other?: number },
  qkv: [Tensor, Tensor, Tensor],
  a: Attrs,
  mask?: Tensor,
): void {
  if (overLimit(buffers)) {
    launchSplit(make(true), buffers, scalars, sizes, qkv, a, mask);
    return;
  }
  const bh = geometry(...qkv).bh;
  launchOverChunks(make(false), buffers.map(bindingOf), sizes, qkv, a, mask, { bh });
}

/**
 * Launches `kernel` over `heads.bh` heads bound by `bindings`, once per chunk of the streamed
 * rows (llvmpipe's loop cap); `bh0` and `offsets` place a block of heads in split launches.
 */
function launchOverChunks(
  kernel: AttentionKernel,
  bindings: BufferArg[],
  sizes: { n: number; rows: number; other?: number },
  qkv: [Tensor, Tensor, Tensor],
  a: Attrs,
  mask: Tensor | undefined,
  heads: { bh: number; bh0?: number; offsets?: readonly number[] },
): void {
  const chunks = attentionChunks(kernel, sizes.n, budget(), sizes.other);
  chunks.forEach(([start, end], c) => {
    gpu().launch(kernel, {
      buffers: bindings,
      uniforms: uniforms(kernel, qkv, a, mask, {
        start,
        end,
        first: c === 0,
        last: c === chunks.length - 1,
        ...heads,
      }),
      workgroups: attentionWorkgroups(kernel, sizes.rows, heads.bh),
    });
  });
}

/**
 * `launchChunked` over blocks of heads, each binding windows of the buffers. `scalars` are the
 * buffers the kernel reads as f32 (mask, ml, delta); the others as vectors of the kernel's width.
 */
function launchSplit(
  kernel: AttentionKernel,
  buffers: Tensor[],
  scalars: ReadonlySet<Tensor>,
  sizes: { n: number; rows: number; other?: number },
  qkv: [Tensor, Tensor, Tensor],
  a: Attrs,
  mask?: Tensor,
): void {
  const [q, k, v] = qkv;
  const { bh, d } = geometry(q, k, v);
  const vw = d / kernel.vq;
  const operands: SplitOperand[] = buffers.map((t) => {
    // A [Lq, Lk] mask is shared by every head: bound whole (or a window of all of it).
    if (t === mask && t.rank === 2) {
      return { tensor: t, offset: t.offset, strides: [0], inner: t.size };
    }
    const per = t.size / bh;
    return { tensor: t, offset: t.offset, strides: [per], inner: per };
  });
  const heads = planChunks("scaled_dot_product_attention", [bh], operands);
  for (const h of heads) {
    // Window offsets are multiples of the vector width: per-head sizes are multiples of d or
    // dv, and windows start at 256-byte boundaries.
    const offsets = h.offsets.map((o, i) => scalars.has(buffers[i]) ? o : o / vw);
    launchOverChunks(kernel, h.bindings, sizes, qkv, a, mask, {
      bh: h.shape[0],
      bh0: h.start[0],
      offsets,
    });
  }
}

function uniforms(
  kernel: AttentionKernel,
  [q, k, v]: [Tensor, Tensor, Tensor],
  a: Attrs,
  mask: Tensor | undefined,
  chunk: {
    start: number;
    end: number;
    first: boolean;
    last: boolean;
    bh?: number;
    bh0?: number;
    offsets?: readonly number[];
  },
) {
  const { lq, lk, d, bh } = geometry(q, k, v);
  const p = a.dropoutP;
  return attentionUniforms(kernel, {
    lq,
    lk,
    bh,
    maskStride: mask && mask.rank > 2 ? lq * lk : 0,
    scale: a.scale ?? 1 / Math.sqrt(d),
    keepScale: p > 0 ? 1 / (1 - p) : 1,
    seed: a.seed,
    threshold: Math.min(0xffffffff, Math.floor(p * 2 ** 32)),
    ...chunk,
  });
}

/**
 * `rope2dRaw` of a dense x [..., L, d], in blocks of the leading (head) dims when x is above the
 * binding limit: each block is rotated into a small tensor and copied into its place (the
 * rotation of a token depends only on its position in L, so the result is the same).
 */
function ropeRaw(x: Tensor, o: Rope2dOptions, inverse = false): Tensor {
  if (!overLimit([x])) return rope2dRaw(x, o, inverse);
  const l = x.shape[x.rank - 2], d = x.shape[x.rank - 1];
  const per = l * d, bh = x.size / Math.max(1, per);
  const out = Tensor.empty(x.shape, "f32");
  const blocks = planChunks("rope2d", [bh], [
    { tensor: x, offset: x.offset, strides: [per], inner: per },
    { tensor: out, offset: 0, strides: [per], inner: per },
  ]);
  for (const b of blocks) {
    const nb = b.shape[0], h0 = b.start[0];
    const xs = x.view([nb, l, d], [per, d, 1], x.offset + h0 * per);
    const r = rope2dRaw(xs, o, inverse);
    const os = out.view([nb, l, d], [per, d, 1], h0 * per);
    runElementwise("rope2d_block_copy", "x0", [r], { out: os });
    [xs, r, os].forEach((t) => t.dispose());
  }
  return out;
}

function ropeQ(a: Attrs): Rope2dOptions | null {
  return a.rope ? { endX: a.rope.endX, endY: a.rope.endY, theta: a.rope.theta } : null;
}

function ropeK(a: Attrs): Rope2dOptions | null {
  return a.rope
    ? {
      endX: a.rope.endX,
      endY: a.rope.endY,
      theta: a.rope.theta,
      repeat: a.rope.kRepeat,
      numExclude: a.rope.numKExclude,
    }
    : null;
}

const sdpaOp: OpDef<Attrs> = {
  name: "scaled_dot_product_attention",
  forward(ctx, inputs, a) {
    const [q0, k0, v] = inputs.slice(0, 3).map(dense);
    const mask = a.hasMask ? dense(inputs[3]) : undefined;
    const rq = ropeQ(a), rk = ropeK(a);
    const q = rq ? ropeRaw(q0, rq) : q0;
    const k = rk ? ropeRaw(k0, rk) : k0;
    const { lq, lk, d, dv, bh } = geometry(q, k, v);
    const out = Tensor.empty([...q.shape.slice(0, -1), dv], "f32");
    // Row max and sum pairs [BH·Lq, 2] (logsumexp = m + log l), kept for the backward.
    const lse = Tensor.empty([bh * lq * 2], "f32");
    if (out.size > 0) {
      const make = (w: boolean) => attentionForwardKernel(specOf(d, dv, a, lq, lk, bh, w));
      const bufs = [q, k, v, ...(mask ? [mask] : []), out, lse];
      const scalars = new Set([lse, ...(mask ? [mask] : [])]);
      launchChunked(make, bufs, scalars, { n: lk, rows: lq }, [q, k, v], a, mask);
    }
    ctx.save(q, k, v, out, lse, ...(mask ? [mask] : []));
    lse.dispose();
    // Temporaries (contiguous copies, rotated q/k) are held by the saved aliases only.
    for (const t of new Set([q0, k0, v, q, k, mask])) if (t && !inputs.includes(t)) t.dispose();
    return out;
  },
  backward(ctx, g0, a) {
    const [q, k, v, out, lse, mask] = ctx.saved;
    const g = dense(g0);
    const { lq, lk, d, dv, bh } = geometry(q, k, v);
    const dq = Tensor.empty(q.shape, "f32");
    const dk = Tensor.empty(k.shape, "f32");
    const dvv = Tensor.empty(v.shape, "f32");
    const delta = Tensor.empty([bh * lq], "f32");
    const m = mask ? [mask] : [];
    if (lq > 0 && lk > 0 && onePass(a, bh, lq, lk, d, dv)) {
      const kb = (w: boolean) => attentionBackwardKernel(onePassSpec(d, dv, a, lk, w));
      const bufs = [q, k, v, ...m, out, g, lse, delta, dq, dk, dvv];
      const scalars = new Set([lse, delta, ...m]);
      launchChunked(kb, bufs, scalars, { n: lk, rows: lk, other: lq }, [q, k, v], a, mask);
    } else if (lq > 0 && lk > 0) {
      const scalars = new Set([lse, delta, ...m]);
      const kq = (w: boolean) => attentionBackwardQKernel(specOf(d, dv, a, lq, lk, bh, w));
      const bq = [q, k, v, ...m, out, g, lse, dq, delta];
      launchChunked(kq, bq, scalars, { n: lk, rows: lq }, [q, k, v], a, mask);
      const kk = (w: boolean) => attentionBackwardKVKernel(specOf(d, dv, a, lk, lq, bh, w));
      const bk = [q, k, v, ...m, g, lse, delta, dk, dvv];
      launchChunked(kk, bk, scalars, { n: lq, rows: lk }, [q, k, v], a, mask);
    }
    delta.dispose();
    if (g !== g0) g.dispose();
    const rq = ropeQ(a), rk = ropeK(a);
    let gq: Tensor | null = dq, gk: Tensor | null = dk;
    if (rq) {
      gq = ropeRaw(dq, rq, true);
      dq.dispose();
    }
    if (rk) {
      gk = ropeRaw(dk, rk, true);
      dk.dispose();
    }
    return [
      ctx.needsGrad[0] ? gq : (gq.dispose(), null),
      ctx.needsGrad[1] ? gk : (gk.dispose(), null),
      ctx.needsGrad[2] ? dvv : (dvv.dispose(), null),
      ...(mask ? [null] : []),
    ];
  },
};

/**
 * Fused scaled-dot-product attention, softmax(q kᵀ·scale + mask) v, like
 * `F.scaled_dot_product_attention` (with SAM 2's RoPE and attention dropout optionally inside).
 * q [..., Lq, d], k [..., Lk, d], v [..., Lk, dv] with equal leading dims (batch, heads). Flash-
 * style kernels: the Lq×Lk score matrix is never stored; the forward keeps the row logsumexp
 * and the backward recomputes the scores from it. Dropout draws a counter-based hash of
 * (seed, head, i, j), so backward re-derives the same mask. Operands above the device's
 * maxStorageBufferBindingSize (up to maxBufferSize) are handled per block of heads, each bound
 * as a window (bitwise the same result); one head above the limit, or a shared [Lq, Lk] mask
 * above it, is a RangeError naming the op, the tensor and the limit.
 *
 * @example
 * ```ts
 * const o = scaledDotProductAttention(q, k, v);                   // [B, heads, L, d]
 * const m = scaledDotProductAttention(q, mem, memV, {             // SAM 2 memory attention
 *   rope: { endX: 64, endY: 64, kRepeat: true, numKExclude: 64 }, dropoutP: 0.1 });
 * ```
 * @throws {RangeError} on mismatched shapes.
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: SdpaOptions = {},
): Tensor {
  const lead = (t: Tensor) => t.shape.slice(0, -2).join(",");
  if (
    q.rank < 2 || k.rank !== q.rank || v.rank !== q.rank || lead(q) !== lead(k) ||
    lead(q) !== lead(v) || q.shape[q.rank - 1] !== k.shape[k.rank - 1] ||
    k.shape[k.rank - 2] !== v.shape[v.rank - 2]
  ) {
    throw new RangeError(
      `scaledDotProductAttention(): q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, ` +
        `v ${fmtShape(v.shape)} do not fit [..., Lq, d], [..., Lk, d], [..., Lk, dv]`,
    );
  }
  const lq = q.shape[q.rank - 2], lk = k.shape[k.rank - 2];
  if (opts.mask) {
    const ms = opts.mask.shape;
    const ok = (ms.length === 2 && ms[0] === lq && ms[1] === lk) ||
      (ms.join() === [...q.shape.slice(0, -2), lq, lk].join());
    if (!ok) {
      throw new RangeError(
        `scaledDotProductAttention(): mask ${fmtShape(ms)} must be [${lq}, ${lk}] or ` +
          `${fmtShape([...q.shape.slice(0, -2), lq, lk])}`,
      );
    }
  }
  const p = opts.dropoutP ?? 0;
  if (!(p >= 0 && p < 1)) {
    throw new RangeError(`scaledDotProductAttention(): dropoutP ${p} not in [0, 1)`);
  }
  let seed = opts.seed ?? 0;
  if (p > 0 && opts.seed === undefined) {
    const key = nextRandomKey(1);
    seed = (Math.imul(key.seed ^ 0x5bd1e995, 0x27d4eb2d) ^ key.offset) >>> 0;
  }
  const attrs: Attrs = {
    scale: opts.scale,
    dropoutP: p,
    seed,
    rope: opts.rope,
    tiling: opts.tiling,
    hasMask: opts.mask !== undefined,
  };
  return apply(sdpaOp, opts.mask ? [q, k, v, opts.mask] : [q, k, v], attrs);
}
