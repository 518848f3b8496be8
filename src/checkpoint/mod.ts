/**
 * PyTorch `.pt` (zip + pickle; the legacy non-zip format is read too) and safetensors
 * checkpoints, read and written on the host.
 *
 * Tensors are {@link HostTensor}s (dtype, shape, raw little-endian bytes); the nn layer turns
 * them into GPU tensors. Reading never runs code: the pickle reader only knows the tensor and
 * container types a checkpoint needs ({@link ALLOWED_GLOBALS}). Every problem ends in a
 * {@link CheckpointError} that names the file and the byte offset.
 *
 * - read: `loadPt` / `openPt` (lazy), `loadSafetensors` / `openSafetensors` (lazy),
 *   `readCheckpoint` (either, by content)
 * - write (atomic, streaming): `savePt`, `saveSafetensors`
 * - pick and check weights: `selectStateDict`, `applyCheckpointKernels`,
 *   `validateStateDict`, or all three from a file with `loadModelWeights`
 * - convert: `convertCheckpoint` (behind `deno task convert`)
 *
 * @example
 * ```ts
 * import { loadPt, selectStateDict, validateStateDict } from "./mod.ts";
 * const ckpt = await loadPt("sam2.1_hiera_tiny.pt", { path: ["model"] });
 * const sd = selectStateDict(ckpt);
 * validateStateDict(sd, modelShapes); // throws, listing missing/unexpected/mis-shaped keys
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export {
  bfloat16ToFloat,
  castTensor,
  DTYPE_SIZE,
  float32Tensor,
  FLOAT_DTYPES,
  floatToBfloat16,
  floatToHalf,
  halfToFloat,
  type HostDType,
  type HostTensor,
  hostTensor,
  isHostTensor,
  type StateDict,
  tensorsEqual,
  toFloat32,
  typedView,
} from "./host_tensor.ts";
export * from "./py_value.ts";
export * from "./byte_source.ts";
export * from "./tensor_source.ts";
export { LazyTensor, loadPt, loadPtBytes, openPt } from "./pt_reader.ts";
export type { LoadPtOptions, PtArchive } from "./pt_reader.ts";
export { savePt, savePtBytes } from "./pt_writer.ts";
export type { SavePtOptions } from "./pt_writer.ts";
export { ALLOWED_GLOBALS } from "./unpickler.ts";
export * from "./safetensors.ts";
export * from "./fnmatch.ts";
export * from "./state_dict.ts";
export * from "./read_checkpoint.ts";
export * from "./convert.ts";
