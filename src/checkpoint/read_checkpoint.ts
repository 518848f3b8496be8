/**
 * One entry point for any checkpoint file: the format is told by its first bytes (zip, legacy
 * torch pickle or safetensors header), not trusted from the extension.
 */
import { FileSource } from "./byte_source.ts";
import { CheckpointError } from "./errors.ts";
import type { StateDict } from "./host_tensor.ts";
import { loadPt, type LoadPtOptions } from "./pt_reader.ts";
import { PyDict, type PyKey, type PyValue } from "./py_value.ts";
import { loadSafetensors, openSafetensors } from "./safetensors.ts";
import {
  applyCheckpointKernels,
  type CheckpointKernel,
  selectStateDict,
  type StateDictReport,
  validateStateDict,
  type ValidateStateDictOptions,
} from "./state_dict.ts";

/** Checkpoint file formats. */
export type CheckpointFormat = "pt" | "safetensors";

/** A decoded checkpoint. */
export interface Checkpoint {
  format: CheckpointFormat;
  /** The object tree; for safetensors a flat PyDict of tensors. */
  root: PyValue;
  /** safetensors `__metadata__` (empty for .pt). */
  metadata: Record<string, string>;
}

/**
 * The format of a file from its first bytes ("PK\3\4" zip or torch's legacy pickle magic:
 * "pt"; an 8-byte length then "{": "safetensors").
 *
 * @throws {CheckpointError} when it is neither.
 */
export async function detectFormat(path: string): Promise<CheckpointFormat> {
  const src = await FileSource.open(path);
  try {
    const head = await src.read(0, Math.min(src.size, 9), "file header");
    if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b) return "pt";
    if (head.length >= 2 && head[0] === 0x80 && head[1] === 0x02) return "pt"; // legacy torch
    if (head.length === 9 && head[8] === 0x7b) {
      const len = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
      if (len + 8n <= BigInt(src.size)) return "safetensors";
    }
    throw new CheckpointError(
      "Not a checkpoint: expected a torch.save zip (.pt/.pth) or a safetensors file",
      { file: path, offset: 0 },
    );
  } finally {
    src.close();
  }
}

/** Options for {@link readCheckpoint}. */
export interface ReadCheckpointOptions extends LoadPtOptions {
  /** For .pt: only load the subtree at this key path (e.g. ["model"]). */
  path?: PyKey[];
}

/**
 * Reads a .pt or safetensors file, whichever it is.
 *
 * @throws {CheckpointError} for a missing, corrupt, unsafe or unknown file.
 */
export async function readCheckpoint(
  path: string,
  options: ReadCheckpointOptions = {},
): Promise<Checkpoint> {
  const format = await detectFormat(path);
  if (format === "pt") return { format, root: await loadPt(path, options), metadata: {} };
  const f = await openSafetensors(path);
  try {
    const root = new PyDict();
    for (const name of f.entries.keys()) root.set(name, await f.read(name));
    return { format, root, metadata: f.metadata };
  } finally {
    f.close();
  }
}

/** Options for {@link loadModelWeights}. */
export interface LoadModelWeightsOptions extends ValidateStateDictOptions, LoadPtOptions {
  /**
   * Keys from the file's root to the state dict (`ckpt_state_dict_keys`). @default ["model"]
   * for .pt files, [] for safetensors
   */
  keys?: PyKey[];
  /** Include/exclude glob steps applied in order before validation. @default [] */
  kernels?: CheckpointKernel[];
}

/**
 * Reads a checkpoint and returns the weights for a model whose parameters are `target`
 * (name -> shape): the reference's `load_checkpoint_and_apply_kernels` followed by the
 * checks of `load_state_dict_into_model`. Only the tensors under `keys` are read, so a trainer
 * checkpoint's optimizer state costs nothing.
 *
 * @example
 * ```ts
 * const { stateDict } = await loadModelWeights("sam2.1_hiera_tiny.pt", model.shapes(), {
 *   kernels: [{ exclude: ["sam_mask_decoder.*"] }],
 *   strict: false,
 * });
 * ```
 * @throws {CheckpointError} naming every missing / unexpected / mis-shaped key.
 */
export async function loadModelWeights(
  path: string,
  target: Map<string, readonly number[]>,
  options: LoadModelWeightsOptions = {},
): Promise<StateDictReport> {
  const format = await detectFormat(path);
  let sd: StateDict;
  if (format === "pt") {
    const keys = options.keys ?? ["model"];
    const root = await loadPt(path, { ...options, path: keys });
    sd = selectStateDict(root, { file: path });
  } else {
    if (options.keys && options.keys.length) {
      throw new CheckpointError(`A safetensors file has no nested keys; drop "keys"`, {
        file: path,
      });
    }
    sd = await loadSafetensors(path);
  }
  sd = applyCheckpointKernels(sd, options.kernels ?? []);
  return validateStateDict(sd, target, { ...options, file: options.file ?? path });
}
