/**
 * Writes `torch.save`-compatible `.pt` files: `data.pkl` (pickle protocol 2), `byteorder`,
 * one `data/<n>` record per storage and `version` = 3, all STORED and 64-byte aligned, so
 * `torch.load` and the reference's `build_sam2` read what the trainer saves.
 */
import { atomicWrite, writeAll } from "../util/atomic_write.ts";
import { type ByteSink, collectBytes } from "./byte_sink.ts";
import { CheckpointError } from "./errors.ts";
import { DTYPE_SIZE, numel } from "./host_tensor.ts";
import { pickle } from "./pickler.ts";
import { asSource } from "./tensor_source.ts";
import { ZipWriter } from "./zip_writer.ts";

/** Options for {@link savePt}. */
export interface SavePtOptions {
  /** Replace an existing file at `path`. @default true */
  overwrite?: boolean;
  /** The zip's top folder (torch uses the file's stem or "archive"). @default "archive" */
  archiveName?: string;
  /** Write zip64 records even when not needed (tests). @default false */
  forceZip64?: boolean;
  /** Called after each storage is written, with counts so far. */
  onProgress?: (done: number, total: number, bytes: number) => void;
}

async function writePt(
  sink: ByteSink,
  obj: unknown,
  options: SavePtOptions,
): Promise<number> {
  const name = options.archiveName ?? "archive";
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
    throw new CheckpointError(`Bad archive name "${name}": use letters, digits, _ . -`);
  }
  const { bytes, storages } = pickle(obj);
  const zip = new ZipWriter(sink, { forceZip64: options.forceZip64 });
  await zip.add(`${name}/data.pkl`, bytes);
  await zip.add(`${name}/byteorder`, new TextEncoder().encode("little"));
  let done = 0;
  for (const s of storages) {
    const src = asSource(s.tensor);
    const t = await src.load();
    const want = numel(src.shape) * DTYPE_SIZE[src.dtype];
    if (t.dtype !== src.dtype || t.data.byteLength !== want) {
      throw new CheckpointError(
        `Tensor for storage ${s.key} has ${t.data.byteLength} bytes of ${t.dtype}; its shape ` +
          `[${src.shape}] of ${src.dtype} needs ${want}`,
      );
    }
    await zip.add(`${name}/data/${s.key}`, t.data);
    options.onProgress?.(++done, storages.length, zip.bytesWritten);
  }
  await zip.add(`${name}/version`, new TextEncoder().encode("3\n"));
  await zip.finish();
  return zip.bytesWritten;
}

/**
 * Saves a checkpoint tree (see {@link PyValue}; tensors may also be lazy
 * {@link TensorSource}s, which are loaded one at a time) as a `.pt` file, atomically: the
 * file appears complete under `path` or not at all.
 *
 * @example
 * ```ts
 * await savePt("checkpoint.pt", { model: stateDict, epoch: 3 });
 * ```
 * @throws {CheckpointError} for values a checkpoint cannot hold.
 */
export async function savePt(
  path: string,
  obj: unknown,
  options: SavePtOptions = {},
): Promise<void> {
  await atomicWrite(path, async (file) => {
    await writePt((b) => writeAll(file, b), obj, options);
  }, { overwrite: options.overwrite });
}

/** The bytes `savePt` would write (for tests and small in-memory checkpoints). */
export function savePtBytes(obj: unknown, options: SavePtOptions = {}): Promise<Uint8Array> {
  return collectBytes((sink) => writePt(sink, obj, options));
}
