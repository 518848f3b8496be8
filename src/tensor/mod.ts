/**
 * tensor: the `Tensor` type, autograd tape, memory scopes and the differentiable ops.
 *
 * ```ts
 * import { initGpu } from "../gpu/mod.ts";
 * import { tensor, tidy } from "./mod.ts";
 * await initGpu();
 * const w = tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
 * const loss = tidy(() => w.matmul(w).relu().sum());
 * loss.backward();
 * console.log(await w.grad!.toArray());
 * ```
 *
 * ## How to add an op (follow this literally)
 *
 * 1. **Kernel** (only if no existing kernel fits): `src/kernels/<family>.ts` exports a spec type
 *    and a generator `fooKernel(spec: FooSpec): KernelSource` (from `src/gpu/kernel_source.ts`):
 *    `{ label, code, bindings, workgroupSize }`. The spec is plain data (dtypes, flags, tile
 *    sizes; never a Tensor). Build `label` from every spec field (`foo[f32,tile8,bias]`): it names
 *    the pipeline in errors and profiles, and the cache key is the code itself. Put shapes,
 *    offsets and scalars in one `var<uniform>` struct (a helper `fooUniforms(...)` packs it into
 *    an ArrayBuffer) instead of baking them into the code, so one compiled kernel serves every
 *    shape (lavapipe compiles slowly). Binding order = the `bindings` array: outputs first
 *    (`"write"`), inputs (`"read"`), the uniform block last (`"uniform"`). Write the tiling in a
 *    doc comment above the generator (threads per workgroup, what each thread computes, which
 *    outputs are valid) and export `fooWorkgroups(spec, ...)` that computes the dispatch from the
 *    same constants. Keep loops as loops (no manual unrolling). Wrap the body in
 *    `memoKernel(\`foo:${JSON.stringify(spec)}\`, () => build(spec))` (src/gpu/kernel_source.ts)
 *    so a launch does not regenerate WGSL. Re-export it from `src/kernels/mod.ts`.
 * 2. **Launch**: in the op, allocate the output with `Tensor.empty(shape, dtype)`, make inputs
 *    contiguous if the kernel needs it (`copyContiguous(x)` from `ops/layout.ts`, or read
 *    `x.strides`/`x.offset` through the uniforms), then
 *    `gpu().launch(fooKernel(spec), { buffers: [out, x, ...].map(bindingOf), uniforms,
 *    workgroups })`. Offsets are in elements (`t.offset`). Nothing is submitted or awaited
 *    here: launches are batched. Pure elementwise math needs no kernel file at all:
 *    `mapExpr("{g} * {y} * (1.0 - {y})", { g, y })` (ops/_map.ts) generates, caches and launches
 *    a broadcasting kernel (`{name}` = a tensor or a number; helpers `erf_`, `tanh_`, `sigmoid_`,
 *    `softplus_`, `gelu_`, `pow_` via the `helpers` option).
 * 3. **Op**: `src/tensor/ops/<name>.ts` defines an `OpDef<Attrs>` (see `op.ts`) and exports a
 *    function that calls `apply(op, inputs, attrs)`:
 *    ```ts
 *    const fooOp: OpDef<{ eps: number }> = {
 *      name: "foo",
 *      forward(ctx, [x, w], { eps }) {   // runs with recording off; may call other ops
 *        ctx.save(x, w);                 // what backward needs (ctx.data for non-tensors)
 *        return launchFoo(x, w, eps);
 *      },
 *      backward(ctx, g, { eps }) {        // g has the output's shape; recording is off
 *        const [x, w] = ctx.saved;
 *        return [ctx.needsGrad[0] ? gradX(g, x, w) : null, ctx.needsGrad[1] ? gradW(g, x) : null];
 *      },
 *    };
 *    export function foo(x: Tensor, w: Tensor, opts: FooOptions = {}): Tensor {
 *      return apply(fooOp, [x, w], { eps: opts.eps ?? 1e-6 });
 *    }
 *    ```
 *    One gradient per input, `null` for none. A gradient may keep a broadcast (larger) shape:
 *    the tape sums it down to the input's shape once. Non-differentiable ops omit `backward`
 *    (or do not use `apply` at all). Composite ops (built from other ops) need no OpDef. Export
 *    the function from `src/tensor/mod.ts` (and, if it is common, a method in `methods.ts`).
 * 4. **Tests**: `tests/tensor/<name>_test.ts` (or tests/kernels for kernel-level tests). Call
 *    `await initGpu()` at the top. The usual test is one `checkOp` call per case
 *    (tests/tensor/_util.ts): give input shapes, the op on GPU tensors, and a float64 CPU
 *    reference forward (plain loops over `Float64Array`; helpers `map`, `reduce`, `matmul`,
 *    `permute`, `erf` in `tests/reference/ndarray.ts`, put new reference code for your family
 *    in `tests/reference/<family>.ts`: references serve tests only, so they live with them).
 *    `checkOp` draws seeded inputs, compares the forward with
 *    `assertAllClose(ours, ref, { atol, rtol })`, and checks the backward of sum(y * w)
 *    (random w) against central finite differences of the float64 reference, so no
 *    hand-written reference backward is needed (you may add one). State tolerances per op; use
 *    odd sizes that are not multiples of any tile, size-1 and broadcast dims. Where the
 *    torch-ops fixture covers the op, also compare with PyTorch's `*_f64` outputs and grads
 *    (`readSafetensors`, `fixtureCase` in tests/tensor/_fixtures.ts). Keep shapes tiny and the
 *    number of distinct kernels small: lavapipe compiles slowly.
 *
 * Memory: every tensor created inside `tidy(fn)` is disposed when `fn` returns, except what it
 * returns and tensors marked with `keep(t)`; `using t = ...` and `t.dispose()` work too. What
 * backward needs is held by the tape (via `ctx.save`) until backward ran. In-place updates
 * (optimisers): `updateInPlace(p, "{self} - {lr} * {g}", { g, lr })`, or a kernel that binds the
 * tensor as a `"write"` binding (a written buffer must not also be bound as an input).
 *
 * Batching: launches are encoded into one command buffer and submitted only by a read back
 * (`await t.toArray()`, `t.item()`), `await gpu().sync()`, or every 512 launches. Device errors
 * (validation, out-of-memory, device lost) surface at the next read back or sync as a
 * `GpuError` listing the kernel labels of that submission; `setGpuDebug(true)` submits each
 * launch alone so the error names exactly one kernel.
 *
 * Large tensors: a tensor may be larger than the device's maxStorageBufferBindingSize (up to
 * maxBufferSize). A kernel that can run over blocks of its iteration space launches once per
 * block of `planChunks(op, shape, operands)` (launch.ts: aligned binding windows and per-block
 * offsets; elementwise ops, matmul, layer norm, softmax and sums do); any other launch that binds
 * too much fails naming the kernel, the tensor and the limit. Tests pretend a small limit with
 * `gpu().setMaxBindingOverride(bytes)`.
 *
 * @module
 */
import "./methods.ts";
export { gcReleasedBytes, Tensor, type TensorData } from "./tensor.ts";
/** Element type of a tensor (`"f32" | "f16" | "i32" | "u32"`; `DType` in src/kernels). */
export type { DType as TensorDType } from "../kernels/dtype.ts";
export * from "./storage.ts";
export * from "./scope.ts";
export { broadcastShapes, contiguousStrides, fmtShape, normAxis, sameShape } from "./shape.ts";
export * from "./op.ts";
export * from "./autograd.ts";
export * from "./launch.ts";
export * from "./create.ts";
export * from "./philox.ts";
export * from "./ops/_map.ts";
export type { TensorLike } from "./ops/_template.ts";
export * from "./ops/binary.ts";
export * from "./ops/compare.ts";
export * from "./ops/unary.ts";
export * from "./ops/reduce.ts";
export * from "./ops/layout.ts";
export * from "./ops/matmul.ts";
export * from "./ops/softmax.ts";
export * from "./ops/layer_norm.ts";
export * from "./ops/index.ts";
export * from "./ops/random.ts";
export * from "./ops/rope.ts";
export * from "./ops/attention.ts";
export * from "./ops/mask_losses.ts";
export * from "./ops/conv2d.ts";
export * from "./ops/conv_transpose2d.ts";
export * from "./ops/max_pool2d.ts";
export * from "./ops/interpolate.ts";
export * from "./ops/layer_norm2d.ts";
