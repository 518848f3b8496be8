/**
 * safetensors read and write: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}` padded with
 * spaces to a multiple of 8, then raw little-endian data. Reading takes the header first and
 * each tensor on demand by offset; writing streams one tensor at a time.
 */
import { atomicWrite, writeAll } from "../util/atomic_write.ts";
import { type ByteSource, FileSource, MemorySource } from "./byte_source.ts";
import { type ByteSink, collectBytes } from "./byte_sink.ts";
import { CheckpointError } from "./errors.ts";
import {
  DTYPE_SIZE,
  type HostDType,
  type HostTensor,
  numel,
  type StateDict,
} from "./host_tensor.ts";
import { asSource, type TensorSource } from "./tensor_source.ts";

/** safetensors dtype names and ours. */
export const SAFETENSORS_DTYPES: Readonly<Record<string, HostDType>> = {
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  F64: "float64",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};
const NAME_OF: Record<HostDType, string> = Object.fromEntries(
  Object.entries(SAFETENSORS_DTYPES).map(([k, v]) => [v, k]),
) as Record<HostDType, string>;

/** The safetensors reference refuses headers above 100 MB; so do we. */
const MAX_HEADER = 100_000_000;

/** One tensor's place in a safetensors file. */
export interface SafetensorsEntry {
  name: string;
  dtype: HostDType;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  /** Bytes of data. */
  length: number;
}

/** An open safetensors file: header parsed, tensors read on demand. */
export interface SafetensorsFile {
  readonly file: string;
  /** The `__metadata__` strings (empty when absent). */
  readonly metadata: Record<string, string>;
  /** Entries in data-offset order. */
  readonly entries: Map<string, SafetensorsEntry>;
  /** The same entries as lazy tensors (for streaming conversion). */
  readonly tensors: Map<string, TensorSource>;
  /** Reads one tensor by name. */
  read(name: string): Promise<HostTensor>;
  close(): void;
}

/**
 * Opens a safetensors file and checks its header: dtypes, shapes, offsets that match the
 * shapes, lie inside the file and do not overlap.
 *
 * @throws {CheckpointError} for a truncated or malformed file.
 */
export async function openSafetensors(pathOrSource: string | ByteSource): Promise<SafetensorsFile> {
  const src = typeof pathOrSource === "string" ? await FileSource.open(pathOrSource) : pathOrSource;
  try {
    return await openSource(src);
  } catch (e) {
    src.close();
    throw e;
  }
}

async function openSource(src: ByteSource): Promise<SafetensorsFile> {
  const fail = (msg: string, offset?: number): never => {
    throw new CheckpointError(msg, { file: src.name, offset, part: "safetensors header" });
  };
  if (src.size < 8) fail(`File is ${src.size} bytes: too small for a safetensors header`);
  const lenBytes = await src.read(0, 8, "safetensors header length");
  const len64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (len64 > BigInt(MAX_HEADER)) fail(`Header length ${len64} is larger than 100 MB`, 0);
  const headerLen = Number(len64);
  if (8 + headerLen > src.size) {
    fail(`Header of ${headerLen} bytes runs past the end of the ${src.size}-byte file`, 0);
  }
  const raw = await src.read(8, headerLen, "safetensors header");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch (e) {
    fail(`Header is not valid JSON: ${(e as Error).message}`, 8);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("Header is not a JSON object", 8);
  }
  const dataStart = 8 + headerLen;
  const dataSize = src.size - dataStart;
  const metadata: Record<string, string> = {};
  const list: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof info !== "object" || info === null) fail("__metadata__ is not an object", 8);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__["${k}"] is not a string`, 8);
        metadata[k] = v as string;
      }
      continue;
    }
    const bad = (what: string): never => fail(`Tensor "${name}": ${what}`, 8);
    if (typeof info !== "object" || info === null) bad("entry is not an object");
    const { dtype, shape, data_offsets } = info as Record<string, unknown>;
    const dt = typeof dtype === "string" ? SAFETENSORS_DTYPES[dtype] : undefined;
    if (!dt) bad(`unsupported dtype ${JSON.stringify(dtype)}`);
    if (
      !Array.isArray(shape) || shape.length > 64 ||
      !shape.every((s) => Number.isSafeInteger(s) && s >= 0)
    ) bad(`bad shape ${JSON.stringify(shape)}`);
    if (
      !Array.isArray(data_offsets) || data_offsets.length !== 2 ||
      !data_offsets.every((s) => Number.isSafeInteger(s) && s >= 0)
    ) bad(`bad data_offsets ${JSON.stringify(data_offsets)}`);
    const [begin, end] = data_offsets as number[];
    const count = numel(shape as number[]);
    const want = count * DTYPE_SIZE[dt!];
    if (!Number.isSafeInteger(want) || end - begin !== want) {
      bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes, shape needs ${want}`);
    }
    if (end > dataSize) {
      fail(
        `Tensor "${name}" ends at data byte ${end} but the file has ${dataSize} data bytes: ` +
          `the file is truncated`,
        dataStart + Math.min(begin, dataSize),
      );
    }
    list.push({
      name,
      dtype: dt!,
      shape: shape as number[],
      offset: dataStart + begin,
      length: want,
    });
  }
  list.sort((a, b) => a.offset - b.offset || a.length - b.length);
  for (let i = 1; i < list.length; i++) {
    const prev = list[i - 1];
    if (list[i].offset < prev.offset + prev.length) {
      fail(`Tensors "${prev.name}" and "${list[i].name}" overlap`, list[i].offset);
    }
  }
  const entries = new Map(list.map((e) => [e.name, e]));
  const read = async (name: string): Promise<HostTensor> => {
    const e = entries.get(name);
    if (!e) throw new CheckpointError(`No tensor "${name}"`, { file: src.name });
    const data = await src.read(e.offset, e.length, `tensor "${name}"`);
    return {
      dtype: e.dtype,
      shape: [...e.shape],
      data: src instanceof MemorySource ? data.slice() : data,
    };
  };
  const tensors = new Map<string, TensorSource>(
    list.map((e) => [e.name, { dtype: e.dtype, shape: e.shape, load: () => read(e.name) }]),
  );
  return { file: src.name, metadata, entries, tensors, read, close: () => src.close() };
}

/**
 * Reads every tensor of a safetensors file, in data order.
 *
 * @example
 * ```ts
 * const sd = await loadSafetensors("image_encoder.safetensors");
 * sd.get("input.image")!.shape; // [2, 3, 128, 128]
 * ```
 * @throws {CheckpointError} for a missing, truncated or malformed file.
 */
export async function loadSafetensors(pathOrSource: string | ByteSource): Promise<StateDict> {
  const f = await openSafetensors(pathOrSource);
  try {
    const out: StateDict = new Map();
    for (const name of f.entries.keys()) out.set(name, await f.read(name));
    return out;
  } finally {
    f.close();
  }
}

/** Options for {@link saveSafetensors}. */
export interface SaveSafetensorsOptions {
  /** `__metadata__` strings (e.g. {format: "pt"}). @default none */
  metadata?: Record<string, string>;
  /** Replace an existing file. @default true */
  overwrite?: boolean;
  /** Called after each tensor is written. */
  onProgress?: (done: number, total: number, bytes: number) => void;
}

type TensorMap =
  | Map<string, HostTensor | TensorSource>
  | Iterable<[string, HostTensor | TensorSource]>
  | Record<string, HostTensor | TensorSource>;

function entriesOf(tensors: TensorMap): [string, TensorSource][] {
  const it = tensors instanceof Map || Symbol.iterator in Object(tensors)
    ? [...(tensors as Iterable<[string, HostTensor | TensorSource]>)]
    : Object.entries(tensors as Record<string, HostTensor | TensorSource>);
  return it.map(([k, v]) => [k, asSource(v)]);
}

async function writeSafetensors(
  sink: ByteSink,
  tensors: TensorMap,
  options: SaveSafetensorsOptions,
): Promise<number> {
  const list = entriesOf(tensors);
  const header: Record<string, unknown> = {};
  if (options.metadata && Object.keys(options.metadata).length) {
    header.__metadata__ = options.metadata;
  }
  let offset = 0;
  for (const [name, t] of list) {
    if (name === "__metadata__") throw new CheckpointError(`"__metadata__" is not a tensor name`);
    if (name in header) throw new CheckpointError(`Tensor "${name}" appears twice`);
    const bytes = numel(t.shape) * DTYPE_SIZE[t.dtype];
    header[name] = {
      dtype: NAME_OF[t.dtype],
      shape: [...t.shape],
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  await sink(head);
  await sink(json);
  let written = 8 + json.length;
  let done = 0;
  for (const [name, src] of list) {
    const t = await src.load();
    const want = numel(src.shape) * DTYPE_SIZE[src.dtype];
    if (t.dtype !== src.dtype || t.data.byteLength !== want) {
      throw new CheckpointError(
        `Tensor "${name}" has ${t.data.byteLength} bytes of ${t.dtype}; shape [${src.shape}] ` +
          `of ${src.dtype} needs ${want}`,
      );
    }
    await sink(t.data);
    written += want;
    options.onProgress?.(++done, list.length, written);
  }
  return written;
}

/**
 * Writes tensors (HostTensors or lazy TensorSources, loaded one at a time) as a safetensors
 * file, atomically.
 *
 * @throws {CheckpointError} when a tensor's bytes do not match its shape.
 */
export async function saveSafetensors(
  path: string,
  tensors: TensorMap,
  options: SaveSafetensorsOptions = {},
): Promise<void> {
  await atomicWrite(path, async (file) => {
    await writeSafetensors((b) => writeAll(file, b), tensors, options);
  }, { overwrite: options.overwrite });
}

/** The bytes {@link saveSafetensors} would write. */
export function saveSafetensorsBytes(
  tensors: TensorMap,
  options: SaveSafetensorsOptions = {},
): Promise<Uint8Array> {
  return collectBytes((sink) => writeSafetensors(sink, tensors, options));
}
