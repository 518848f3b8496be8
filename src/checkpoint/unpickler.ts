/**
 * A pickle reader for the subset `torch.save` uses for state dicts and trainer checkpoints
 * (protocols 2 to 5). It is a data decoder, not a Python: globals are looked up in a fixed
 * allow-list of tensor and container constructors and anything else is refused by name, so a
 * checkpoint can never run code. Every length is checked against the bytes left, memo keys
 * live in a Map, and nothing recurses, so hostile input ends in a {@link CheckpointError}.
 */
import type { HostDType } from "./host_tensor.ts";
import { CheckpointError, UnsafePickleError } from "./errors.ts";
import { PyDict, type PyKey, PyTuple, type PyValue } from "./py_value.ts";

/** A storage a tensor refers to: the zip record `data/<key>` holding `numel` elements. */
export interface StorageRef {
  readonly kind: "storage";
  dtype: HostDType;
  key: string;
  numel: number;
  location: string;
}

/** A tensor as the pickle describes it: a strided view into a storage. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
  ) {}
}

/** Storage classes by their torch name, with the dtype of their elements. */
export const STORAGE_DTYPES: Readonly<Record<string, HostDType>> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

type GlobalKind =
  | "OrderedDict"
  | "rebuild_tensor_v2"
  | "rebuild_tensor"
  | "rebuild_parameter"
  | "rebuild_parameter_with_state"
  | "rebuild_from_type_v2"
  | "tensor_type"
  | "size"
  | "codecs_encode"
  | "storage";

class Global {
  constructor(readonly kind: GlobalKind, readonly name: string, readonly dtype?: HostDType) {}
}

const ALLOWED = new Map<string, Global>();
function allow(kind: GlobalKind, name: string, dtype?: HostDType) {
  ALLOWED.set(name, new Global(kind, name, dtype));
}
allow("OrderedDict", "collections.OrderedDict");
allow("rebuild_tensor_v2", "torch._utils._rebuild_tensor_v2");
allow("rebuild_tensor", "torch._utils._rebuild_tensor");
allow("rebuild_parameter", "torch._utils._rebuild_parameter");
allow("rebuild_parameter_with_state", "torch._utils._rebuild_parameter_with_state");
allow("rebuild_from_type_v2", "torch._tensor._rebuild_from_type_v2");
allow("tensor_type", "torch.Tensor");
allow("tensor_type", "torch.nn.parameter.Parameter");
allow("size", "torch.Size");
allow("codecs_encode", "_codecs.encode");
for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) {
  allow("storage", `torch.${name}`, dtype);
}
allow("storage", "torch.storage.UntypedStorage", "uint8");

/** The globals a checkpoint may name (everything else is refused). */
export const ALLOWED_GLOBALS: readonly string[] = [...ALLOWED.keys()];

const MARK = Symbol("mark");
type Item = PyValue | TensorRef | StorageRef | Global | typeof MARK;

/** Where the pickle came from, for error messages. */
export interface UnpickleContext {
  file: string;
  part: string;
  /** Resolves a BINPERSID tuple to a storage. */
  persistentLoad(pid: PyValue, offset: number): StorageRef;
}

const MAX_LONG_BYTES = 4096;

/** A tuple of `items`, built without spreading them into a call (which fails past ~100k). */
function tupleOf<T>(items: T[]): PyTuple<T> {
  const t = new PyTuple<T>();
  for (const x of items) t.push(x);
  return t;
}
const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");

/**
 * Decodes one pickle. Tensors come back as {@link TensorRef} leaves (views into storages), to
 * be turned into host tensors by the caller.
 *
 * @throws {CheckpointError} for malformed or truncated data, {@link UnsafePickleError} for a
 *   global outside the allow-list.
 */
export function unpickle(bytes: Uint8Array, ctx: UnpickleContext): PyValue | TensorRef {
  return unpickleAt(bytes, ctx, 0).value;
}

/**
 * Decodes the pickle starting at `start` and says where it ended (the byte after STOP), for
 * files that hold several pickles in a row (torch's legacy format).
 */
export function unpickleAt(
  bytes: Uint8Array,
  ctx: UnpickleContext,
  start: number,
): { value: PyValue | TensorRef; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength;
  const stack: Item[] = [];
  const marks: number[] = [];
  const memo = new Map<number, Item>();
  let pos = start;
  let opAt = start;

  const fail = (msg: string, at = opAt): never => {
    throw new CheckpointError(msg, { file: ctx.file, part: ctx.part, offset: at });
  };
  const need = (k: number, what: string) => {
    if (k < 0 || pos + k > n) fail(`Pickle is truncated: ${what} needs ${k} bytes past the end`);
  };
  const u8 = () => {
    need(1, "argument");
    return bytes[pos++];
  };
  const u16 = () => {
    need(2, "argument");
    const x = view.getUint16(pos, true);
    pos += 2;
    return x;
  };
  const u32 = () => {
    need(4, "argument");
    const x = view.getUint32(pos, true);
    pos += 4;
    return x;
  };
  const u64 = () => {
    need(8, "argument");
    const x = view.getBigUint64(pos, true);
    pos += 8;
    if (x > BigInt(n)) fail(`Length ${x} is larger than the pickle`);
    return Number(x);
  };
  const take = (k: number, what: string) => {
    need(k, what);
    const s = bytes.subarray(pos, pos + k);
    pos += k;
    return s;
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail("Pickle is truncated: text argument without a newline");
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const text = (k: number) => {
    try {
      return utf8.decode(take(k, "string"));
    } catch (e) {
      if (e instanceof CheckpointError) throw e;
      return fail("String is not valid UTF-8");
    }
  };
  const pop = (): Item => {
    const floor = marks.length ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail("Pickle stack underflow");
    return stack.pop()!;
  };
  const top = (): Item => {
    const floor = marks.length ? marks[marks.length - 1] : 0;
    if (stack.length <= floor) fail("Pickle stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): Item[] => {
    if (!marks.length) fail("Pickle has no MARK to pop to");
    const at = marks.pop()!;
    return stack.splice(at);
  };
  const value = (x: Item, what: string): PyValue | TensorRef => {
    if (x instanceof Global) return fail(`${what} is the bare global '${x.name}'`);
    if (typeof x === "object" && x !== null && (x as StorageRef).kind === "storage") {
      return fail(`${what} is a bare storage`);
    }
    return x as PyValue | TensorRef;
  };
  const key = (x: Item): PyKey => {
    if (
      typeof x === "string" || typeof x === "number" || typeof x === "bigint" ||
      typeof x === "boolean" || x === null
    ) return x;
    return fail("Dict key must be a str, int, float, bool or None");
  };
  const int = (x: Item, what: string): number => {
    if (typeof x === "number" && Number.isSafeInteger(x)) return x;
    return fail(`${what} must be an int`);
  };
  const intTuple = (x: Item, what: string): number[] => {
    if (!Array.isArray(x)) fail(`${what} must be a tuple of ints`);
    return (x as Item[]).map((v) => int(v, what));
  };
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    if (b.length > MAX_LONG_BYTES) fail(`Integer of ${b.length} bytes is too large`);
    let x = 0n;
    for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) x -= 1n << BigInt(8 * b.length);
    return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(x)
      : x;
  };
  const textInt = (s: string): number | bigint | boolean => {
    if (s === "01") return true;
    if (s === "00") return false;
    const t = s.endsWith("L") ? s.slice(0, -1) : s;
    if (!/^[-+]?\d{1,4000}$/.test(t)) fail(`Bad integer literal "${s.slice(0, 40)}"`);
    const b = BigInt(t);
    return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(b)
      : b;
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`Memo entry ${i} was never stored`);
    stack.push(memo.get(i)!);
  };
  const memoPut = (i: number) => {
    if (!stack.length) fail("Pickle stack underflow");
    memo.set(i, stack[stack.length - 1]);
  };
  const findGlobal = (module: string, name: string): Global => {
    const full = `${module}.${name}`;
    const g = ALLOWED.get(full);
    if (!g) throw new UnsafePickleError(full, { file: ctx.file, part: ctx.part, offset: opAt });
    return g;
  };

  const rebuildTensor = (args: Item[], g: Global): TensorRef => {
    const minArgs = g.kind === "rebuild_tensor" ? 4 : 6;
    if (args.length < minArgs) fail(`${g.name} needs ${minArgs} arguments, got ${args.length}`);
    const storage = args[0] as StorageRef;
    if (typeof storage !== "object" || storage === null || storage.kind !== "storage") {
      fail(`${g.name}: first argument is not a storage`);
    }
    const offset = int(args[1], "storage offset");
    const shape = intTuple(args[2], "tensor size");
    const stride = intTuple(args[3], "tensor stride");
    const requiresGrad = g.kind === "rebuild_tensor_v2" ? args[4] === true : false;
    if (shape.length !== stride.length) fail(`Tensor size and stride have different lengths`);
    if (shape.length > 64) fail(`Tensor has ${shape.length} dimensions`);
    return new TensorRef(storage, offset, shape, stride, requiresGrad);
  };

  const call = (g: Global, args: Item[]): Item => {
    switch (g.kind) {
      case "OrderedDict": {
        const d = new PyDict();
        d.ordered = true;
        if (args.length === 1 && Array.isArray(args[0])) {
          for (const pair of args[0] as Item[]) {
            if (!Array.isArray(pair) || pair.length !== 2) fail("OrderedDict item is not a pair");
            const [k, v] = pair as Item[];
            d.set(key(k), value(v, "OrderedDict value") as PyValue);
          }
        } else if (args.length !== 0) fail("OrderedDict called with unsupported arguments");
        return d;
      }
      case "rebuild_tensor_v2":
      case "rebuild_tensor":
        return rebuildTensor(args, g);
      case "rebuild_parameter":
      case "rebuild_parameter_with_state": {
        const t = args[0];
        if (!(t instanceof TensorRef)) return fail(`${g.name}: first argument is not a tensor`);
        return new TensorRef(t.storage, t.offset, t.shape, t.stride, args[1] === true);
      }
      case "rebuild_from_type_v2": {
        const [fn, type, inner] = args;
        if (!(fn instanceof Global) || !(type instanceof Global) || type.kind !== "tensor_type") {
          fail(`${g.name}: unsupported function or type`);
        }
        if (!Array.isArray(inner)) fail(`${g.name}: arguments are not a tuple`);
        return call(fn as Global, inner as Item[]);
      }
      case "size":
        if (args.length !== 1 || !Array.isArray(args[0])) fail("torch.Size needs a tuple");
        return tupleOf(args[0] as Item[]) as unknown as PyValue;
      case "codecs_encode": {
        if (typeof args[0] !== "string") fail("_codecs.encode needs a str");
        const s = args[0] as string;
        const out = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) {
          const c = s.charCodeAt(i);
          if (c > 255) fail("_codecs.encode: character outside latin-1");
          out[i] = c;
        }
        return out;
      }
      case "tensor_type":
      case "storage":
        return fail(`Calling '${g.name}' is not supported`);
    }
  };

  while (true) {
    opAt = pos;
    if (pos >= n) fail("Pickle ended without STOP: the file is truncated");
    const op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail("Pickle protocol newer than 5");
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length) fail("Pickle stack is not a single value at STOP");
        return { value: value(stack[0], "Pickle result"), end: pos };
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x49: // INT (text)
      case 0x4c: // LONG (text)
        stack.push(textInt(line()));
        break;
      case 0x4a: // BININT
        need(4, "BININT");
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(take(u8(), "LONG1")));
        break;
      case 0x8b: { // LONG4
        const k = u32();
        if (k > MAX_LONG_BYTES) fail(`Integer of ${k} bytes is too large`);
        stack.push(decodeLong(take(k, "LONG4")));
        break;
      }
      case 0x46: { // FLOAT (text)
        const s = line();
        const x = Number(s);
        if (Number.isNaN(x) && !/nan/i.test(s)) fail(`Bad float literal "${s.slice(0, 40)}"`);
        stack.push(x);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8, "BINFLOAT");
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x56: // UNICODE (protocol 0, raw-unicode-escape)
        stack.push(
          line().replace(
            /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
            (_m, a, b) => {
              const cp = parseInt(a ?? b, 16);
              return cp <= 0x10ffff ? String.fromCodePoint(cp) : fail("Bad \\U escape");
            },
          ),
        );
        break;
      case 0x54: // BINSTRING (py2 str)
        stack.push(latin1.decode(take(u32(), "BINSTRING")));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8(), "SHORT_BINSTRING")));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32(), "BINBYTES").slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8(), "SHORT_BINBYTES").slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64(), "BINBYTES8").slice());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark().map((x) => value(x, "List item")) as PyValue[]);
        break;
      case 0x61: { // APPEND
        const x = value(pop(), "List item");
        const list = top();
        if (!Array.isArray(list) || list instanceof PyTuple) fail("APPEND to a non-list");
        (list as unknown[]).push(x);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list) || list instanceof PyTuple) fail("APPENDS to a non-list");
        for (const x of items) (list as unknown[]).push(value(x, "List item"));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple());
        break;
      case 0x74: // TUPLE
        stack.push(tupleOf(popMark()) as unknown as PyValue);
        break;
      case 0x85: // TUPLE1
        stack.push(PyTuple.of(pop()) as unknown as PyValue);
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push(PyTuple.of(a, b) as unknown as PyValue);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push(PyTuple.of(a, b, c) as unknown as PyValue);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2) fail("DICT with an odd number of items");
        const d = new PyDict();
        for (let i = 0; i < items.length; i += 2) {
          d.set(key(items[i]), value(items[i + 1], "Dict value") as PyValue);
        }
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = value(pop(), "Dict value");
        const k = key(pop());
        const d = top();
        if (!(d instanceof PyDict)) fail("SETITEM on a non-dict");
        (d as PyDict).set(k, v as PyValue);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) fail("SETITEMS with an odd number of items");
        const d = top();
        if (!(d instanceof PyDict)) fail("SETITEMS on a non-dict");
        for (let i = 0; i < items.length; i += 2) {
          (d as PyDict).set(key(items[i]), value(items[i + 1], "Dict value") as PyValue);
        }
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(findGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof name !== "string" || typeof module !== "string") {
          fail("STACK_GLOBAL needs two strings");
        }
        stack.push(findGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof Global)) return fail("REDUCE on something that is not a global");
        if (!Array.isArray(args)) fail("REDUCE arguments are not a tuple");
        stack.push(call(fn, args as Item[]));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict && state instanceof PyDict) {
          const attrs = obj.attrs ?? new Map<string, PyValue>();
          for (const [k, v] of state) {
            if (typeof k !== "string") fail("BUILD attribute name is not a str");
            attrs.set(k as string, v);
          }
          obj.attrs = attrs;
        } else if (obj instanceof TensorRef && (state === null || state instanceof PyDict)) {
          // Parameter/tensor __dict__ state (e.g. from _rebuild_from_type_v2): nothing to keep.
        } else fail("BUILD on an object that has no supported state");
        break;
      }
      case 0x51: { // BINPERSID
        const pid = value(pop(), "Persistent id");
        stack.push(ctx.persistentLoad(pid as PyValue, opAt));
        break;
      }
      case 0x70: // PUT (text)
        memoPut(int(textInt(line()) as Item, "PUT index"));
        break;
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x67: // GET (text)
        memoGet(int(textInt(line()) as Item, "GET index"));
        break;
      case 0x68: // BINGET
        memoGet(u8());
        break;
      case 0x6a: // LONG_BINGET
        memoGet(u32());
        break;
      default:
        fail(
          `Unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}: not part of a ` +
            `torch.save state dict`,
        );
    }
  }
}
