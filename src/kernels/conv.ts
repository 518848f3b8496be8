/**
 * Convolution kernels (NCHW, f32). Every kernel is described in terms of ONE forward convolution
 * y = conv2d(x, w): x [N, C, H, W], w [O, CG, KH, KW] with CG = C / G, y [N, O, OH, OW],
 * OG = O / G. The same kernels serve conv2d and conv_transpose2d (whose weight
 * [Cin, Cout/G, KH, KW] is exactly w's layout when its output plays x and its input plays y):
 *
 * - y from x and w (conv2d forward; conv_transpose2d input gradient): `conv2dForwardRowKernel`
 *   (stride 1 along W: contiguous row reads as shifted vec4s), `depthwiseConv2dKernel` (direct,
 *   one input window per kernel row reused by every tap), `conv2dForwardStridedKernel` (CPU
 *   adapters, stride > 1 along W: one input window per channel and kernel row, the taps pick
 *   their strided values from registers), `conv2dForwardKernel` (general implicit GEMM with 4
 *   gathers per tap);
 * - the x-shaped gather from y-shaped data and w (conv2d input gradient; conv_transpose2d
 *   forward): stride-1 convs run as a forward conv with `convWeightFlipKernel`'s flipped weight,
 *   strided ones through `conv2dInputGradRowKernel` (one W-phase per workgroup: only the taps
 *   that reach a pixel run), `conv2dInputGradKernel` beyond its grid limits;
 * - w-shaped partial sums from y- and x-shaped data (both ops' weight gradient):
 *   `conv2dWeightGradKernel` (`conv2dWeightGradWideKernel` on CPU adapters: 2 vec4 columns per
 *   lane), `depthwiseWeightGradRowsKernel` (CPU adapters: a lane per channel
 *   owns every tap, each input row window loaded once for all kernel rows) /
 *   `depthwiseWeightGradKernel`, summed over splits by `splitSumKernel`; bias gradients by
 *   `channelSumKernel`.
 *
 * (Convs whose kernel equals the stride with no padding, 1x1 included, never reach these
 * kernels: src/tensor/ops/_conv_launch.ts runs them as matmuls.)
 *
 * Shapes travel in the uniforms (`convUniforms`), so one compiled pipeline serves every shape;
 * only tile sizes and tap counts (depthwise, strided) are compile-time. Workgroups are 8 x 1 invocations
 * (one lavapipe SIMD row) and use no workgroup memory: on lavapipe loads, not FMAs, are the
 * limit. Channel tiles come from the workgroup id, so weight loads are uniform across the lanes
 * (a single scalar load on lavapipe) and only the activation reads diverge. With `named` (CPU
 * adapters) the tile loops are unrolled when the WGSL is generated and each accumulator is its
 * own register: llvmpipe keeps arrays indexed by loop variables in memory (see `MatmulSpec.named`).
 *
 * One module per job, re-exported here: `conv_shape.ts` (geometry, uniforms, grid),
 * `conv_forward.ts`, `conv_forward_strided.ts`, `conv_input_grad.ts`, `conv_weight_grad.ts`,
 * `conv_depthwise.ts`, `conv_depthwise_weight_grad.ts`, `conv_reduce.ts` (split and channel
 * sums); `conv_wgsl.ts` holds the WGSL snippets they share (binding preamble, register tiles,
 * shifted row loads).
 *
 * @module
 */
export * from "./conv_shape.ts";
export * from "./conv_forward.ts";
export * from "./conv_forward_strided.ts";
export * from "./conv_input_grad.ts";
export * from "./conv_weight_grad.ts";
export * from "./conv_reduce.ts";
export * from "./conv_depthwise.ts";
export * from "./conv_depthwise_weight_grad.ts";
