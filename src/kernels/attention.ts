/**
 * Flash-style scaled-dot-product attention kernels (forward, dQ backward, dK/dV backward, and a
 * one-pass backward for many short heads).
 *
 * Layout: q [BH, Lq, d], k [BH, Lk, d], v [BH, Lk, dv], out [BH, Lq, dv], all row-major f32;
 * ml [BH, Lq, 2] = (row max m, row sum l) of the softmax, saved by the forward; the backward
 * uses logsumexp = m + log l and delta_i = dO_i·O_i (written by the dQ kernel, read by the
 * dK/dV kernel). Optional additive mask [Lq, Lk] (broadcast over BH, `maskStride` 0) or
 * [BH, Lq, Lk] (`maskStride` Lq·Lk). Optional dropout on the probabilities: keep (i, j) of head
 * bh when `dropoutKeep(seed, bh, i, j) >= threshold` (a counter-based PCG hash), kept values
 * scaled by 1/(1-p); the backward recomputes the same decision, so no mask is stored.
 *
 * Tiling (all three kernels): each invocation owns `rows` consecutive rows (queries for the
 * forward and dQ, keys for dK/dV) and streams the other side in blocks of `block`. Per block it
 * forms a rows x block tile of scores (and of dO·v for the backward) in registers: a loop over
 * the head dim loads one vector of each of its rows and of each streamed row and does
 * rows·block dot products, so every buffer load feeds `rows` or `block` of them. The tile is
 * then folded into the owned rows' output (out, dq, or dk and dv) by a second loop over the head
 * dim that reads, updates and writes those rows in place (the online-softmax rescale rides on
 * that read), so nothing of head-dim size stays in registers and the generated code is one
 * tile's worth of straight-line statements inside short loops. The score matrix never exists.
 *
 * Why this shape: on lavapipe (llvmpipe) every buffer load is a per-lane scalar loop, so loads,
 * not FMAs, bound the rate; and an array indexed by a loop variable is memory, not registers
 * (the earlier kernels kept their tiles in such arrays, workgroup or private, indexed by loops
 * with uniform bounds). Here every register is a named scalar or vector (indices are fixed when the WGSL is
 * generated), and loops run over the head dim or the stream only. Measured on lavapipe with
 * 8 x 8 (8 x 16) tiles: forward 3-4.6x, backward 2.4-3.7x the rate of our matmul (was 0.3-0.6x;
 * bench/results/attention-lavapipe.txt); compile time grows with rows·block.
 * Real GPUs get the same kernels with smaller tiles in wider workgroups (set by the op).
 *
 * Workgroup (x, y, z) covers rows [x·wg·rows, (x+1)·wg·rows) of head y + 65535·z; rows past the
 * end are clamped to the last row (which the same invocation owns) and stored before it, so its
 * own store lands last (no branch per store); streamed rows past the chunk end get score -inf.
 * Vectors are vec4 when d and dv are multiples of 4, scalars otherwise.
 *
 * The one-pass backward (`attentionBackwardKernel`) instead gives each invocation a whole head
 * and forms each score tile once for dQ, dK and dV (5 passes over the head dim per tile instead
 * of the split kernels' 7); Hiera's windows (many 64-token heads) use it on CPU adapters.
 *
 * Chunks: the streamed range is [start, end) from the uniforms; with `first` false a kernel
 * resumes from the state the previous chunk left in its outputs (unnormalised out and ml; dq;
 * dk and dv), and only the `last` forward chunk normalises. The host splits the stream
 * (`attentionChunks`) so each invocation stays under lavapipe's 65535 loop iterations.
 *
 * Modules: `attention_spec.ts` (spec, descriptor, uniforms, dispatch and chunk arithmetic),
 * `attention_wgsl.ts` (the WGSL pieces the kernels share and the descriptor builder),
 * `attention_forward.ts` and `attention_backward.ts` (the kernels). This file is their public
 * face.
 *
 * @module
 */
export * from "./attention_spec.ts";
export { dropoutKeep } from "./attention_wgsl.ts";
export { attentionForwardKernel } from "./attention_forward.ts";
export {
  attentionBackwardKernel,
  attentionBackwardKVKernel,
  attentionBackwardQKernel,
} from "./attention_backward.ts";
