/**
 * Converting checkpoints between `.pt` and safetensors (and between float dtypes), streaming:
 * the input is opened lazily and each tensor is read, cast and written one at a time, so a
 * multi-GB checkpoint converts in little more memory than its largest tensor.
 */
import { CheckpointError } from "./errors.ts";
import { DTYPE_SIZE, type HostDType, numel } from "./host_tensor.ts";
import { LazyTensor, openPt } from "./pt_reader.ts";
import { savePt } from "./pt_writer.ts";
import { PyDict, PyTuple } from "./py_value.ts";
import { type CheckpointFormat, detectFormat } from "./read_checkpoint.ts";
import { openSafetensors, saveSafetensors } from "./safetensors.ts";
import { castSource, isTensorSource, type TensorSource } from "./tensor_source.ts";

/** Options for {@link convertCheckpoint}. */
export interface ConvertOptions {
  /**
   * Key path into the input (.pt) to convert, e.g. ["model"]; for a .pt output the result is
   * saved back under the same path (`{"model": state_dict}`, what build_sam2 loads).
   * @default ["model"] when the input has that key and the output is safetensors or the input
   * is safetensors and the output .pt; otherwise the whole file
   */
  key?: string[];
  /** Cast floating tensors to this dtype. @default unchanged */
  dtype?: HostDType;
  /** Replace an existing output. @default false */
  force?: boolean;
  /** Called after each tensor is written. */
  onProgress?: (done: number, total: number, bytes: number) => void;
}

/** What {@link convertCheckpoint} did. */
export interface ConvertSummary {
  inputFormat: CheckpointFormat;
  outputFormat: CheckpointFormat;
  /** Tensors written. */
  tensors: number;
  /** Tensor bytes written. */
  tensorBytes: number;
  /** Output file size. */
  fileBytes: number;
  /** Tensors per output dtype. */
  dtypes: Partial<Record<HostDType, number>>;
  /** The key path that was converted. */
  key: string[];
}

/** The output format for a file name, by extension. */
export function formatForPath(path: string): CheckpointFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith(".safetensors")) return "safetensors";
  if (/\.(pt|pth|ckpt|bin)$/.test(lower)) return "pt";
  throw new CheckpointError(
    `Cannot tell the output format from the name "${path}": use .pt/.pth or .safetensors`,
  );
}

/** The child at one --key segment (a str key, else an int key or a list index). */
function step(node: unknown, seg: string): unknown {
  if (node instanceof Map) {
    if (node.has(seg)) return node.get(seg);
    if (/^-?\d+$/.test(seg) && node.has(Number(seg))) return node.get(Number(seg));
  } else if (Array.isArray(node) && /^\d+$/.test(seg) && Number(seg) < node.length) {
    return node[Number(seg)];
  }
  const keys = node instanceof Map ? [...node.keys()].map((k) => `"${String(k)}"`) : [];
  throw new CheckpointError(
    `No key "${seg}" in the checkpoint` + (keys.length ? ` (keys: ${keys.join(", ")})` : ""),
  );
}

/** Rebuilds a tree with every tensor leaf replaced by `fn(leaf)`. */
function mapTensors(root: unknown, fn: (t: TensorSource) => TensorSource): unknown {
  const seen = new Map<unknown, unknown>();
  const walk = (v: unknown): unknown => {
    if (typeof v !== "object" || v === null || v instanceof Uint8Array) return v;
    if (seen.has(v)) return seen.get(v);
    if (isTensorSource(v)) {
      const out = fn(v);
      seen.set(v, out);
      return out;
    }
    if (Array.isArray(v)) {
      const out = v instanceof PyTuple ? new PyTuple<unknown>() : [] as unknown[];
      seen.set(v, out);
      for (const x of v) out.push(walk(x));
      return out;
    }
    if (v instanceof Map) {
      const out = new PyDict<unknown>();
      out.ordered = v instanceof PyDict && v.ordered;
      seen.set(v, out);
      for (const [k, x] of v) out.set(k, walk(x));
      if (v instanceof PyDict && v.attrs) out.attrs = new Map(v.attrs);
      return out;
    }
    return v;
  };
  return walk(root);
}

/**
 * Converts `input` to `output` (format by the output's extension), optionally picking a
 * sub-tree and casting float tensors. Writes atomically; refuses to overwrite unless `force`.
 *
 * @example
 * ```ts
 * await convertCheckpoint("checkpoint.pt", "model.safetensors", { key: ["model"] });
 * ```
 * @throws {CheckpointError} for unreadable input, a bad key, or an existing output.
 */
export async function convertCheckpoint(
  input: string,
  output: string,
  options: ConvertOptions = {},
): Promise<ConvertSummary> {
  const outputFormat = formatForPath(output);
  const inputFormat = await detectFormat(input);
  const same = await Promise.all([Deno.realPath(input), Deno.realPath(output).catch(() => "")]);
  if (same[0] === same[1]) {
    throw new CheckpointError(`Input and output are the same file: write to a new name`, {
      file: output,
    });
  }
  if (!options.force) {
    const exists = await Deno.lstat(output).then(() => true, () => false);
    if (exists) {
      throw new CheckpointError(`Output exists; pass --force to replace it`, { file: output });
    }
  }
  const dtypes: Partial<Record<HostDType, number>> = {};
  let tensors = 0;
  let tensorBytes = 0;
  const cast = (t: TensorSource): TensorSource => {
    const out = options.dtype ? castSource(t, options.dtype) : t;
    dtypes[out.dtype] = (dtypes[out.dtype] ?? 0) + 1;
    tensors++;
    tensorBytes += numel(out.shape) * DTYPE_SIZE[out.dtype];
    return out;
  };
  const write = { overwrite: options.force === true, onProgress: options.onProgress };

  let key: string[];
  if (inputFormat === "pt") {
    const archive = await openPt(input);
    try {
      let node: unknown = archive.root;
      key = options.key ??
        (outputFormat === "safetensors" && node instanceof Map && node.has("model") &&
            !isTensorSource(node.get("model"))
          ? ["model"]
          : []);
      for (const seg of key) node = step(node, seg);
      if (outputFormat === "safetensors") {
        if (!(node instanceof Map)) {
          throw new CheckpointError(
            `The checkpoint${key.length ? `["${key.join('"]["')}"]` : ""} is not a dict of ` +
              `tensors; pick one with --key`,
            { file: input },
          );
        }
        const flat: [string, TensorSource][] = [];
        for (const [k, v] of node) {
          if (!(v instanceof LazyTensor) || typeof k !== "string") {
            throw new CheckpointError(
              `"${String(k)}" is not a tensor, so this is not a state dict: pick one with ` +
                `--key (top-level keys: ${
                  archive.root instanceof Map
                    ? [...archive.root.keys()].map((x) => `"${String(x)}"`).join(", ")
                    : "none"
                })`,
              { file: input },
            );
          }
          flat.push([k, cast(v)]);
        }
        await saveSafetensors(output, flat, { ...write, metadata: { format: "pt" } });
      } else {
        let tree = mapTensors(node, cast);
        for (let i = key.length - 1; i >= 0; i--) tree = new Map([[key[i], tree]]);
        await savePt(output, tree, write);
      }
    } finally {
      archive.close();
    }
  } else {
    const st = await openSafetensors(input);
    try {
      key = options.key ?? (outputFormat === "pt" ? ["model"] : []);
      if (outputFormat === "safetensors" && key.length) {
        throw new CheckpointError(`--key applies to .pt files only`, { file: output });
      }
      const sd = new PyDict<unknown>();
      sd.ordered = true;
      for (const [k, v] of st.tensors) sd.set(k, cast(v));
      if (outputFormat === "safetensors") {
        await saveSafetensors(output, sd as Map<string, TensorSource>, {
          ...write,
          metadata: st.metadata,
        });
      } else {
        let tree: unknown = sd;
        for (let i = key.length - 1; i >= 0; i--) tree = new Map([[key[i], tree]]);
        await savePt(output, tree, write);
      }
    } finally {
      st.close();
    }
  }
  const fileBytes = (await Deno.stat(output)).size;
  return { inputFormat, outputFormat, tensors, tensorBytes, fileBytes, dtypes, key };
}
