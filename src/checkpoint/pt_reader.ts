/**
 * Reads `torch.save` files (the zip format of torch >= 1.6): the directory and `data.pkl` are
 * decoded when the file is opened, tensor storages are read one record at a time when asked.
 */
import { type ByteSource, FileSource, MemorySource } from "./byte_source.ts";
import { CheckpointError, UnsafePickleError } from "./errors.ts";
import { DTYPE_SIZE, type HostDType, type HostTensor, numel } from "./host_tensor.ts";
import { PyDict, type PyKey, type PyTree, PyTuple, type PyValue } from "./py_value.ts";
import { type StorageRef, TensorRef, unpickle, unpickleAt } from "./unpickler.ts";
import { readZipDirectory, readZipEntry } from "./zip_reader.ts";

/** Options for {@link openPt} and {@link loadPt}. */
export interface LoadPtOptions {
  /** Check every record's CRC-32 (catches flipped bytes in tensor data). @default true */
  verifyCrc?: boolean;
}

/** Largest tensor a view with overlapping strides may expand to (a guard against bombs). */
const MAX_EXPANDED_BYTES = 256 * 2 ** 20;
const MAX_DEPTH = 500;

/**
 * A tensor of an open `.pt` file whose bytes have not been read yet. `dtype` and `shape` are
 * known (and checked against the storage) when the file is opened.
 */
export class LazyTensor {
  /** @internal */
  constructor(
    /** Element type. */
    readonly dtype: HostDType,
    /** Sizes, outermost first. */
    readonly shape: number[],
    /** Saved as a Parameter with requires_grad. */
    readonly requiresGrad: boolean,
    /** @internal */
    readonly ref: TensorRef,
    private readonly archive: PtArchive,
  ) {}

  /** Reads the storage and returns the tensor as contiguous host bytes. */
  load(): Promise<HostTensor> {
    return this.archive.loadTensor(this);
  }
}

/** An open `.pt` file: its decoded tree (tensors lazy) and the means to read tensors. */
export interface PtArchive {
  /** File name (for messages). */
  readonly file: string;
  /** The top-level folder of the zip, e.g. "model" or "archive" ("" for a legacy file). */
  readonly archiveName: string;
  /** The `version` record (3 for torch >= 1.6 files; 0 for the legacy format). */
  readonly version: number;
  /** The unpickled object, with {@link LazyTensor} leaves. */
  readonly root: PyTree<LazyTensor>;
  /** Reads one tensor. */
  loadTensor(t: LazyTensor): Promise<HostTensor>;
  /**
   * Loads the subtree at `path` (keys into dicts / indices into lists), reading only its
   * tensors; `[]` loads everything.
   */
  load(path?: PyKey[]): Promise<PyValue>;
  /** Closes the file. */
  close(): void;
}

const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8];

/** Says what a file that is not a zip archive probably is, as an error. */
async function notZipError(src: ByteSource): Promise<CheckpointError> {
  const head = await src.read(0, Math.min(src.size, 512), "file header");
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === "ustar") {
    return new CheckpointError(
      "This is a tar-format torch checkpoint (torch < 0.4), which is not supported: re-save " +
        "it with a newer torch",
      { file: src.name, offset: 0 },
    );
  }
  return new CheckpointError(
    "Not a torch.save zip archive (no 'PK' signature at the start)",
    { file: src.name, offset: 0 },
  );
}

/**
 * Opens a `.pt` file: reads its zip directory and its pickle, and checks that every tensor
 * fits its storage, without reading tensor data.
 *
 * @throws {CheckpointError} for a truncated, corrupt, unsafe or unsupported file.
 */
export async function openPt(
  pathOrSource: string | ByteSource,
  options: LoadPtOptions = {},
): Promise<PtArchive> {
  const src = typeof pathOrSource === "string" ? await FileSource.open(pathOrSource) : pathOrSource;
  try {
    return await openSource(src, options);
  } catch (e) {
    src.close();
    throw e;
  }
}

async function openSource(src: ByteSource, options: LoadPtOptions): Promise<PtArchive> {
  if (src.size < 4) throw await notZipError(src);
  if (src.size >= LEGACY_MAGIC.length) {
    const head = await src.read(0, LEGACY_MAGIC.length, "file signature");
    if (LEGACY_MAGIC.every((b, i) => head[i] === b)) return await openLegacy(src);
  }
  const sig = await src.read(0, 4, "file signature");
  if (!(sig[0] === 0x50 && sig[1] === 0x4b && sig[2] === 0x03 && sig[3] === 0x04)) {
    throw await notZipError(src);
  }
  const dir = await readZipDirectory(src);
  if (dir.names.length === 0) {
    throw new CheckpointError("The zip archive is empty", { file: src.name });
  }
  const archiveName = dir.names[0].split("/")[0];
  const record = (name: string) => dir.entries.get(`${archiveName}/${name}`);
  const pklEntry = record("data.pkl");
  if (!pklEntry) {
    throw new CheckpointError(
      `No "${archiveName}/data.pkl" record: this zip archive was not written by torch.save`,
      { file: src.name, part: "zip directory" },
    );
  }
  const verifyCrc = options.verifyCrc !== false;
  const textRecord = async (name: string) => {
    const e = record(name);
    if (!e) return undefined;
    if (e.size > 64) {
      throw new CheckpointError(`Record is ${e.size} bytes; expected a short text`, {
        file: src.name,
        part: `record "${e.name}"`,
      });
    }
    return new TextDecoder().decode(await readZipEntry(src, dir, e, { verifyCrc })).trim();
  };
  const versionText = await textRecord("version");
  const version = versionText === undefined ? 1 : Number(versionText);
  if (!Number.isInteger(version) || version < 1) {
    throw new CheckpointError(`Bad version record "${versionText}"`, {
      file: src.name,
      part: `record "${archiveName}/version"`,
    });
  }
  const byteorder = (await textRecord("byteorder")) ?? "little";
  if (byteorder !== "little" && byteorder !== "big") {
    throw new CheckpointError(`Bad byteorder record "${byteorder}"`, {
      file: src.name,
      part: `record "${archiveName}/byteorder"`,
    });
  }
  const pkl = await readZipEntry(src, dir, pklEntry, { verifyCrc });

  const persistentLoad = storageResolver(src.name, pklEntry.name, (ref, fail) => {
    const entry = record(`data/${ref.key}`);
    if (!entry) fail(`Storage record "${archiveName}/data/${ref.key}" is missing`);
    const bytes = ref.numel * DTYPE_SIZE[ref.dtype];
    if (entry!.size < bytes) {
      fail(
        `Storage "${ref.key}" needs ${bytes} bytes (${ref.numel} x ${ref.dtype}) but its ` +
          `record has ${entry!.size}`,
      );
    }
  });
  const decoded = unpickle(pkl, { file: src.name, part: pklEntry.name, persistentLoad });

  const fetch = (s: StorageRef): Promise<Uint8Array> =>
    readZipEntry(src, dir, dir.entries.get(`${archiveName}/data/${s.key}`)!, {
      verifyCrc,
    }).then((b) => {
      const size = DTYPE_SIZE[s.dtype];
      const used = b.subarray(0, s.numel * size);
      return byteorder === "big" && size > 1 ? swapBytes(used, size) : used;
    });
  return buildArchive(src, decoded, pklEntry.name, archiveName, version, fetch);
}

/** Turns StorageRefs and a decoded tree into a PtArchive whose tensors read through `fetch`. */
function buildArchive(
  src: ByteSource,
  decoded: unknown,
  part: string,
  archiveName: string,
  version: number,
  fetch: (s: StorageRef) => Promise<Uint8Array>,
): PtArchive {
  const cache = new Map<string, Promise<Uint8Array>>();
  const readStorage = (s: StorageRef): Promise<Uint8Array> => {
    const k = `${s.key}:${s.dtype}`;
    let p = cache.get(k);
    if (!p) {
      p = fetch(s);
      cache.set(k, p);
    }
    return p;
  };

  let closed = false;
  const archive: PtArchive = {
    file: src.name,
    archiveName,
    version,
    root: null,
    async loadTensor(t: LazyTensor): Promise<HostTensor> {
      if (closed) throw new CheckpointError("The archive is closed", { file: src.name });
      const bytes = await readStorage(t.ref.storage);
      const out: HostTensor = {
        dtype: t.dtype,
        shape: [...t.shape],
        data: gatherView(bytes, DTYPE_SIZE[t.dtype], t.ref),
      };
      if (t.requiresGrad) out.requiresGrad = true;
      return out;
    },
    async load(path: PyKey[] = []): Promise<PyValue> {
      let node: unknown = archive.root;
      const walked: string[] = [];
      for (const key of path) {
        node = childAt(node, key, walked, src.name);
        walked.push(String(key));
      }
      try {
        return await materialize(node, (t) => archive.loadTensor(t), src.name);
      } finally {
        cache.clear();
      }
    },
    close() {
      closed = true;
      cache.clear();
      src.close();
    },
  };
  (archive as { root: PyTree<LazyTensor> }).root = toLazy(decoded, archive, src.name, part);
  return archive;
}

/**
 * A persistentLoad for torch's storage ids: ('storage', torch.XStorage, key, location, numel)
 * in zip files, with a sixth view_metadata item (None) in legacy files. `check` adds the
 * format's own checks (the record exists and is large enough).
 */
function storageResolver(
  file: string,
  part: string,
  check: (ref: StorageRef, fail: (msg: string) => never) => void,
  legacy = false,
): (pid: PyValue, offset: number) => StorageRef {
  const storages = new Map<string, StorageRef>();
  return (pid, offset) => {
    const fail = (msg: string): never => {
      throw new CheckpointError(msg, { file, part, offset });
    };
    if (!Array.isArray(pid) || pid.length !== (legacy ? 6 : 5) || pid[0] !== "storage") {
      fail(
        `Persistent id is not a ('storage', type, key, location, numel${
          legacy ? ", view" : ""
        }) tuple`,
      );
    }
    const [, type, key, location, count, view] = pid as unknown[];
    if (legacy && view !== null) fail("Storage views of legacy files are not supported");
    const dtype = typeof type === "object" && type !== null
      ? (type as { dtype?: HostDType }).dtype
      : undefined;
    if (typeof dtype !== "string") fail("Persistent id does not name a storage type");
    if (typeof key !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(key)) {
      fail("Persistent id has a bad storage key");
    }
    if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
      fail("Persistent id has a bad element count");
    }
    const k = `${key}:${dtype}`;
    const known = storages.get(k);
    if (known) {
      if (known.numel !== count) fail(`Storage "${key}" is declared with two sizes`);
      return known;
    }
    const ref: StorageRef = {
      kind: "storage",
      dtype: dtype as HostDType,
      key: key as string,
      numel: count as number,
      location: typeof location === "string" ? location : "cpu",
    };
    check(ref, fail);
    storages.set(k, ref);
    return ref;
  };
}

/**
 * Opens a legacy (torch < 1.6, `_use_new_zipfile_serialization=False`) file: pickles for the
 * magic number, the protocol version and sys_info, the object pickle, the list of storage keys,
 * then each storage as an int64 element count followed by its bytes.
 */
async function openLegacy(src: ByteSource): Promise<PtArchive> {
  // The pickles come first and are small; read a growing head until they all decode.
  let headLen = Math.min(src.size, 1 << 20);
  while (true) {
    const head = await src.read(0, headLen, "legacy pickles");
    try {
      return await decodeLegacy(src, head);
    } catch (e) {
      if (e instanceof UnsafePickleError || !(e instanceof CheckpointError)) throw e;
      if (headLen >= src.size) throw e;
      headLen = Math.min(src.size, headLen * 8);
    }
  }
}

async function decodeLegacy(src: ByteSource, head: Uint8Array): Promise<PtArchive> {
  const part = "legacy pickle";
  const fail = (msg: string, offset?: number): never => {
    throw new CheckpointError(msg, { file: src.name, part, offset });
  };
  const noStorage = {
    file: src.name,
    part,
    persistentLoad: (_: PyValue, offset: number): StorageRef =>
      fail("Unexpected storage in a header pickle", offset),
  };
  let r = unpickleAt(head, noStorage, 0);
  if (r.value !== 0x1950a86a20f9469cfc6cn) fail("Bad legacy magic number", 0);
  r = unpickleAt(head, noStorage, r.end);
  if (r.value !== 1001) fail(`Unsupported legacy protocol version ${String(r.value)}`, 0);
  r = unpickleAt(head, noStorage, r.end);
  const sysInfo = r.value;
  const little = !(sysInfo instanceof PyDict) || sysInfo.get("little_endian") !== false;
  const refs = new Map<string, StorageRef>();
  const persistentLoad = storageResolver(src.name, part, (ref) => {
    if (!refs.has(ref.key)) refs.set(ref.key, ref);
  }, true);
  r = unpickleAt(head, { file: src.name, part, persistentLoad }, r.end);
  const decoded = r.value;
  r = unpickleAt(head, noStorage, r.end);
  const keys = r.value;
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) {
    fail("The storage key list is not a list of strings", r.end);
  }
  const offsets = new Map<string, number>();
  let p = r.end;
  for (const key of keys as string[]) {
    const ref = refs.get(key) ?? fail(`Storage "${key}" is listed but never used`, p);
    const countBytes = await src.read(p, 8, `size of legacy storage "${key}"`);
    const count = new DataView(countBytes.buffer, countBytes.byteOffset, 8).getBigInt64(0, true);
    if (count !== BigInt(ref.numel)) {
      fail(`Storage "${key}" has ${count} elements; the pickle says ${ref.numel}`, p);
    }
    offsets.set(key, p + 8);
    p += 8 + ref.numel * DTYPE_SIZE[ref.dtype];
    if (p > src.size) fail(`Storage "${key}" runs past the end of the file: it is truncated`, p);
  }
  for (const key of refs.keys()) {
    if (!offsets.has(key)) fail(`Storage "${key}" is used but its data is missing`);
  }
  const fetch = async (s: StorageRef): Promise<Uint8Array> => {
    const size = DTYPE_SIZE[s.dtype];
    const b = await src.read(offsets.get(s.key)!, s.numel * size, `legacy storage "${s.key}"`);
    return !little && size > 1 ? swapBytes(b, size) : b;
  };
  return buildArchive(src, decoded, part, "", 0, fetch);
}

/** The child of a dict or list, or a CheckpointError naming the path and the keys there. */
export function childAt(node: unknown, key: PyKey, walked: string[], file: string): unknown {
  const at = walked.length ? `checkpoint["${walked.join('"]["')}"]` : "checkpoint";
  if (node instanceof Map) {
    if (!node.has(key)) {
      const keys = [...node.keys()].slice(0, 20).map((k) => JSON.stringify(String(k)));
      throw new CheckpointError(
        `Key "${String(key)}" not found in ${at}, which has keys: ${keys.join(", ")}` +
          (node.size > 20 ? ", ..." : ""),
        { file },
      );
    }
    return node.get(key);
  }
  if (Array.isArray(node) && typeof key === "number") {
    if (key < 0 || key >= node.length) {
      throw new CheckpointError(`Index ${key} out of range in ${at} (length ${node.length})`, {
        file,
      });
    }
    return node[key];
  }
  throw new CheckpointError(`Cannot take "${String(key)}" of ${at}: it is not a dict or list`, {
    file,
  });
}

function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

function checkView(ref: TensorRef, file: string, part: string): void {
  const fail = (msg: string): never => {
    throw new CheckpointError(`Tensor view is invalid: ${msg}`, { file, part });
  };
  const { storage, offset, shape, stride } = ref;
  if (offset < 0) fail(`negative storage offset ${offset}`);
  let count = 1;
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] < 0 || stride[i] < 0) fail(`size [${shape}] / stride [${stride}]`);
    count *= shape[i];
    if (shape[i] > 0) last += (shape[i] - 1) * stride[i];
    if (!Number.isSafeInteger(count) || !Number.isSafeInteger(last)) fail(`size [${shape}]`);
  }
  if (count === 0) return;
  if (last >= storage.numel) {
    fail(
      `size [${shape}], stride [${stride}], offset ${offset} reach element ${last} of a ` +
        `${storage.numel}-element storage "${storage.key}"`,
    );
  }
  const bytes = count * DTYPE_SIZE[storage.dtype];
  if (bytes > storage.numel * DTYPE_SIZE[storage.dtype] && bytes > MAX_EXPANDED_BYTES) {
    fail(`an overlapping view of ${bytes} bytes is larger than allowed`);
  }
}

/** Copies a strided view into contiguous row-major bytes (or shares them when contiguous). */
function gatherView(storage: Uint8Array, size: number, ref: TensorRef): Uint8Array {
  const { offset, shape, stride } = ref;
  const count = numel(shape);
  const want = contiguousStrides(shape);
  const isContiguous = shape.every((s, i) => s <= 1 || stride[i] === want[i]);
  if (isContiguous || count === 0) {
    const begin = offset * size;
    const end = begin + count * size;
    return begin === 0 && end === storage.byteLength
      ? storage
      : storage.slice(begin, count === 0 ? begin : end);
  }
  const out = new Uint8Array(count * size);
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  const inner = shape[nd - 1];
  const innerStride = stride[nd - 1] * size;
  let o = 0;
  let base = offset * size;
  for (let done = 0; done < count; done += inner) {
    let p = base;
    if (innerStride === size) {
      out.set(storage.subarray(p, p + inner * size), o);
      o += inner * size;
    } else {
      for (let j = 0; j < inner; j++) {
        for (let b = 0; b < size; b++) out[o++] = storage[p + b];
        p += innerStride;
      }
    }
    // Advance the odometer over the outer dimensions.
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      base += stride[d] * size;
      if (idx[d] < shape[d]) break;
      base -= idx[d] * stride[d] * size;
      idx[d] = 0;
    }
  }
  return out;
}

function swapBytes(b: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(b.byteLength);
  for (let i = 0; i < b.byteLength; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = b[i + size - 1 - j];
  }
  return out;
}

/** Replaces TensorRef leaves by LazyTensors (checking each view), keeping shared structure. */
function toLazy(
  root: unknown,
  archive: PtArchive,
  file: string,
  part: string,
): PyTree<LazyTensor> {
  const seen = new Map<unknown, unknown>();
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v !== "object" || v === null || v instanceof Uint8Array) return v;
    if (depth > MAX_DEPTH) {
      throw new CheckpointError(`Object tree is nested more than ${MAX_DEPTH} deep`, {
        file,
        part,
      });
    }
    if (seen.has(v)) return seen.get(v);
    if (v instanceof TensorRef) {
      checkView(v, file, part);
      const t = new LazyTensor(v.storage.dtype, v.shape, v.requiresGrad, v, archive);
      seen.set(v, t);
      return t;
    }
    if (v instanceof PyTuple || Array.isArray(v)) {
      const out = v instanceof PyTuple ? new PyTuple<unknown>() : [] as unknown[];
      seen.set(v, out);
      for (const x of v) out.push(walk(x, depth + 1));
      return out;
    }
    if (v instanceof PyDict) {
      const out = new PyDict<unknown>();
      out.ordered = v.ordered;
      seen.set(v, out);
      for (const [k, x] of v) out.set(k, walk(x, depth + 1));
      if (v.attrs) {
        out.attrs = new Map();
        for (const [k, x] of v.attrs) out.attrs.set(k, walk(x, depth + 1));
      }
      return out;
    }
    return v;
  };
  return walk(root, 0) as PyTree<LazyTensor>;
}

/** Loads every LazyTensor of a subtree, in file order, keeping dict/list types. */
async function materialize(
  root: unknown,
  load: (t: LazyTensor) => Promise<HostTensor>,
  file: string,
): Promise<PyValue> {
  const seen = new Map<unknown, unknown>();
  const walk = async (v: unknown, depth: number): Promise<unknown> => {
    if (typeof v !== "object" || v === null || v instanceof Uint8Array) return v;
    if (depth > MAX_DEPTH) {
      throw new CheckpointError(`Object tree is nested more than ${MAX_DEPTH} deep`, { file });
    }
    if (seen.has(v)) return seen.get(v);
    if (v instanceof LazyTensor) {
      const t = await load(v);
      seen.set(v, t);
      return t;
    }
    if (Array.isArray(v)) {
      const out = v instanceof PyTuple ? new PyTuple<unknown>() : [] as unknown[];
      seen.set(v, out);
      for (const x of v) out.push(await walk(x, depth + 1));
      return out;
    }
    if (v instanceof PyDict) {
      const out = new PyDict<unknown>();
      out.ordered = v.ordered;
      seen.set(v, out);
      for (const [k, x] of v) out.set(k, await walk(x, depth + 1));
      if (v.attrs) {
        out.attrs = new Map();
        for (const [k, x] of v.attrs) out.attrs.set(k, await walk(x, depth + 1));
      }
      return out;
    }
    return v;
  };
  return await walk(root, 0) as PyValue;
}

/**
 * Reads a whole `.pt` file (or the subtree at `options.path`) with tensors loaded as
 * {@link HostTensor}s. Released SAM 2 checkpoints give a `PyDict` with key "model"; trainer
 * checkpoints add "optimizer", "epoch", "steps", ...
 *
 * @example
 * ```ts
 * const ckpt = await loadPt("model.pt");
 * const sd = selectStateDict(ckpt, { keys: ["model"] });
 * ```
 * @throws {CheckpointError} for a missing, truncated, corrupt, unsafe or unsupported file.
 */
export async function loadPt(
  pathOrSource: string | ByteSource,
  options: LoadPtOptions & {
    /** Only load the subtree at this key path (e.g. ["model"]), skipping other tensors. */
    path?: PyKey[];
  } = {},
): Promise<PyValue> {
  const archive = await openPt(pathOrSource, options);
  try {
    return await archive.load(options.path ?? []);
  } finally {
    archive.close();
  }
}

/** Reads a `.pt` file held in memory (tests, downloads). */
export function loadPtBytes(bytes: Uint8Array, options: LoadPtOptions = {}): Promise<PyValue> {
  return loadPt(new MemorySource(bytes), options);
}
