/**
 * Writes the pickle half of a `torch.save` file (protocol 2, as torch writes it): containers,
 * scalars and strings as plain pickle, tensors as `torch._utils._rebuild_tensor_v2` over a
 * persistent storage id that names the zip record holding the bytes.
 */
import { CheckpointError } from "./errors.ts";
import { type HostDType, type HostTensor, isHostTensor } from "./host_tensor.ts";
import { PyDict, PyFloat, PyTuple } from "./py_value.ts";
import { isTensorSource, type TensorSource } from "./tensor_source.ts";

const STORAGE_CLASS: Readonly<Record<HostDType, string>> = {
  float32: "FloatStorage",
  float64: "DoubleStorage",
  float16: "HalfStorage",
  bfloat16: "BFloat16Storage",
  int64: "LongStorage",
  int32: "IntStorage",
  int16: "ShortStorage",
  int8: "CharStorage",
  uint8: "ByteStorage",
  bool: "BoolStorage",
};

const MAX_DEPTH = 500;

class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private ensure(k: number) {
    if (this.length + k <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + k) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(x: number) {
    this.ensure(1);
    this.buf[this.length++] = x;
  }
  u16(x: number) {
    this.ensure(2);
    this.view.setUint16(this.length, x, true);
    this.length += 2;
  }
  u32(x: number) {
    this.ensure(4);
    this.view.setUint32(this.length, x, true);
    this.length += 4;
  }
  i32(x: number) {
    this.ensure(4);
    this.view.setInt32(this.length, x, true);
    this.length += 4;
  }
  f64be(x: number) {
    this.ensure(8);
    this.view.setFloat64(this.length, x, false);
    this.length += 8;
  }
  bytes(b: Uint8Array) {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** A tensor leaf and the storage record its bytes go to. */
export interface PickledStorage {
  /** Record key: the bytes go to `<archive>/data/<key>`. */
  key: string;
  tensor: HostTensor | TensorSource;
}

/** The pickle bytes and the storages (in key order) whose data must follow in the zip. */
export interface PickleResult {
  bytes: Uint8Array;
  storages: PickledStorage[];
}

/**
 * Pickles a checkpoint tree. Maps, PyDicts and plain objects become dicts (PyDict with
 * `ordered` becomes an OrderedDict, its `attrs` restored by BUILD), arrays become lists,
 * PyTuples tuples, tensors (HostTensor or lazy TensorSource) torch tensors. The same tensor
 * object appearing twice shares one storage, like tied weights in torch.
 *
 * @throws {CheckpointError} for values a checkpoint cannot hold (functions, symbols, cycles
 *   through tuples, nesting deeper than 500).
 */
export function pickle(root: unknown): PickleResult {
  const w = new ByteWriter();
  const memo = new Map<unknown, number>();
  const globals = new Map<string, number>();
  const storages: PickledStorage[] = [];
  const storageOf = new Map<object, string>();
  const enc = new TextEncoder();

  const put = (obj: unknown) => {
    const i = memo.size + globals.size;
    memo.set(obj, i);
    putIndex(i);
  };
  const putIndex = (i: number) => {
    if (i < 256) {
      w.u8(0x71); // BINPUT
      w.u8(i);
    } else {
      w.u8(0x72); // LONG_BINPUT
      w.u32(i);
    }
  };
  const get = (i: number) => {
    if (i < 256) {
      w.u8(0x68); // BINGET
      w.u8(i);
    } else {
      w.u8(0x6a); // LONG_BINGET
      w.u32(i);
    }
  };
  const global = (module: string, name: string) => {
    const k = `${module}\n${name}\n`;
    const known = globals.get(k);
    if (known !== undefined) return get(known);
    w.u8(0x63); // GLOBAL
    w.bytes(enc.encode(k));
    const i = memo.size + globals.size;
    globals.set(k, i);
    putIndex(i);
  };
  const str = (s: string) => {
    const b = enc.encode(s);
    w.u8(0x58); // BINUNICODE
    w.u32(b.length);
    w.bytes(b);
  };
  const int = (x: number | bigint) => {
    if (typeof x === "number" && x >= 0 && x < 256) {
      w.u8(0x4b);
      w.u8(x);
    } else if (typeof x === "number" && x >= 0 && x < 65536) {
      w.u8(0x4d);
      w.u16(x);
    } else if (typeof x === "number" && x >= -(2 ** 31) && x < 2 ** 31) {
      w.u8(0x4a);
      w.i32(x);
    } else {
      let v = BigInt(x);
      const out: number[] = [];
      // Minimal two's complement, little-endian.
      while (true) {
        const byte = Number(v & 0xffn);
        out.push(byte);
        v >>= 8n;
        if ((v === 0n && !(byte & 0x80)) || (v === -1n && byte & 0x80)) break;
      }
      w.u8(0x8a); // LONG1
      w.u8(out.length);
      w.bytes(Uint8Array.from(out));
    }
  };
  const float = (x: number) => {
    w.u8(0x47); // BINFLOAT
    w.f64be(x);
  };
  const emptyOrderedDict = () => {
    global("collections", "OrderedDict");
    w.u8(0x29); // EMPTY_TUPLE
    w.u8(0x52); // REDUCE
  };
  const tuple = (items: (() => void)[]) => {
    if (items.length === 0) return w.u8(0x29);
    if (items.length <= 3) {
      for (const f of items) f();
      w.u8([0x85, 0x86, 0x87][items.length - 1]);
      return;
    }
    w.u8(0x28); // MARK
    for (const f of items) f();
    w.u8(0x74); // TUPLE
  };
  const tensor = (t: HostTensor | TensorSource) => {
    let key = storageOf.get(t);
    if (key === undefined) {
      key = String(storages.length);
      storageOf.set(t, key);
      storages.push({ key, tensor: t });
    }
    const shape = [...t.shape];
    const stride = new Array<number>(shape.length);
    let acc = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      stride[i] = acc;
      acc *= shape[i];
    }
    const requiresGrad = t.requiresGrad === true;
    if (requiresGrad) global("torch._utils", "_rebuild_parameter");
    global("torch._utils", "_rebuild_tensor_v2");
    w.u8(0x28); // MARK
    // Persistent id: ('storage', torch.XStorage, key, 'cpu', numel)
    w.u8(0x28);
    str("storage");
    global("torch", STORAGE_CLASS[t.dtype]);
    str(key);
    str("cpu");
    int(acc);
    w.u8(0x74); // TUPLE
    w.u8(0x51); // BINPERSID
    int(0);
    tuple(shape.map((s) => () => int(s)));
    tuple(stride.map((s) => () => int(s)));
    w.u8(0x89); // requires_grad=False on the inner tensor
    emptyOrderedDict();
    w.u8(0x74); // TUPLE
    w.u8(0x52); // REDUCE
    if (requiresGrad) {
      w.u8(0x88); // NEWTRUE
      emptyOrderedDict();
      w.u8(0x87); // TUPLE3
      w.u8(0x52);
    }
  };
  const dictItems = (entries: Iterable<[unknown, unknown]>, depth: number) => {
    let batch = 0;
    for (const [k, v] of entries) {
      if (batch === 0) w.u8(0x28); // MARK
      value(k, depth + 1, true);
      value(v, depth + 1, false);
      if (++batch === 1000) {
        w.u8(0x75); // SETITEMS
        batch = 0;
      }
    }
    if (batch > 0) w.u8(0x75);
  };

  const value = (v: unknown, depth: number, isKey: boolean): void => {
    if (depth > MAX_DEPTH) {
      throw new CheckpointError(`Cannot pickle: object tree is nested more than ${MAX_DEPTH} deep`);
    }
    if (v === null || v === undefined) return w.u8(0x4e); // NONE
    if (v === true) return w.u8(0x88);
    if (v === false) return w.u8(0x89);
    if (typeof v === "number") {
      return Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER && !Object.is(v, -0)
        ? int(v)
        : float(v);
    }
    if (typeof v === "bigint") return int(v);
    if (typeof v === "string") return str(v);
    if (v instanceof PyFloat) return float(v.value);
    if (isKey) {
      throw new CheckpointError(`Cannot pickle a dict key of type ${typeof v}: use str or int`);
    }
    if (typeof v !== "object") throw new CheckpointError(`Cannot pickle a ${typeof v}`);
    const known = memo.get(v);
    if (known !== undefined) return get(known);
    if (isHostTensor(v) || isTensorSource(v)) {
      tensor(v);
      put(v);
      return;
    }
    if (v instanceof Uint8Array) {
      global("_codecs", "encode");
      let s = "";
      for (let i = 0; i < v.length; i++) s += String.fromCharCode(v[i]);
      str(s);
      str("latin1");
      w.u8(0x86);
      w.u8(0x52);
      put(v);
      return;
    }
    if (v instanceof PyTuple) {
      tuple([...v].map((x) => () => value(x, depth + 1, false)));
      if (memo.has(v)) {
        throw new CheckpointError("Cannot pickle a tuple that contains itself");
      }
      put(v);
      return;
    }
    if (Array.isArray(v)) {
      w.u8(0x5d); // EMPTY_LIST
      put(v);
      for (let i = 0; i < v.length; i += 1000) {
        w.u8(0x28);
        for (const x of v.slice(i, i + 1000)) value(x, depth + 1, false);
        w.u8(0x65); // APPENDS
      }
      return;
    }
    if (v instanceof Map) {
      const ordered = v instanceof PyDict && v.ordered;
      if (ordered) {
        global("collections", "OrderedDict");
        w.u8(0x29);
        w.u8(0x52);
      } else {
        w.u8(0x7d); // EMPTY_DICT
      }
      put(v);
      dictItems(v.entries(), depth);
      if (v instanceof PyDict && v.attrs && v.attrs.size > 0) {
        w.u8(0x7d);
        const attrs = v.attrs;
        put(attrs);
        dictItems(attrs.entries(), depth);
        w.u8(0x62); // BUILD
      }
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      w.u8(0x7d);
      put(v);
      dictItems(Object.entries(v as Record<string, unknown>), depth);
      return;
    }
    throw new CheckpointError(
      `Cannot pickle a ${(v as object).constructor?.name ?? "object"}: a checkpoint holds ` +
        `tensors, dicts, lists, tuples, numbers, strings and bytes`,
    );
  };

  w.u8(0x80); // PROTO 2
  w.u8(2);
  value(root, 0, false);
  w.u8(0x2e); // STOP
  return { bytes: w.result(), storages };
}
