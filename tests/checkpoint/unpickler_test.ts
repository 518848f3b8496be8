import { assert, assertEquals, assertThrows } from "../assert.ts";
import { CheckpointError, PyDict, PyTuple, UnsafePickleError } from "../../src/checkpoint/mod.ts";
import { unpickle } from "../../src/checkpoint/unpickler.ts";
import { flatten } from "./_helpers.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const ctx = {
  file: "t.pt",
  part: "archive/data.pkl",
  persistentLoad: () => {
    throw new CheckpointError("no storages here");
  },
};
const ascii = (s: string) => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));

// Python: pickle.dumps(v, protocol=p) for
// v = {'a': [1, 2.5, 'x', None, True, (1,2), -300, 70000, -2**31], 'b': 2**70, 'c': b'hi',
//      'd': {1: 'one'}, 'e': (), 'f': 'é∑'}
const PICKLES: Record<string, string> = {
  0: "286470300a56610a70310a286c70320a49310a6146322e350a6156780a70330a614e614930310a612849310a49320a7470340a61492d3330300a614937303030300a61492d323134373438333634380a617356620a70350a4c313138303539313632303731373431313330333432344c0a7356630a70360a635f636f646563730a656e636f64650a70370a285668690a70380a566c6174696e310a70390a747031300a527031310a7356640a7031320a28647031330a49310a566f6e650a7031340a737356650a7031350a28747356660a7031360a56e95c75323231310a7031370a732e",
  2: "80027d71002858010000006171015d7102284b0147400400000000000058010000007871034e884b014b028671044ad4feffff4a701101004a000000806558010000006271058a090000000000000000405801000000637106635f636f646563730a656e636f64650a710758020000006869710858060000006c6174696e31710986710a52710b580100000064710c7d710d4b0158030000006f6e65710e73580100000065710f2958010000006671105805000000c3a9e288917111752e",
  4: "8004956b000000000000007d94288c0161945d94284b014740040000000000008c0178944e884b014b0286944ad4feffff4a701101004a00000080658c0162948a090000000000000000408c01639443026869948c0164947d944b018c036f6e6594738c016594298c0166948c05c3a9e2889194752e",
};

for (const [proto, h] of Object.entries(PICKLES)) {
  Deno.test(`unpickle() decodes a Python protocol ${proto} pickle`, () => {
    const v = unpickle(hex(h), ctx);
    assert(v instanceof PyDict);
    const a = v.get("a") as unknown[];
    assertEquals(a.slice(0, 5), [1, 2.5, "x", null, true]);
    assert(a[5] instanceof PyTuple);
    assertEquals([...(a[5] as PyTuple)], [1, 2]);
    assertEquals(a.slice(6), [-300, 70000, -(2 ** 31)]);
    assertEquals(v.get("b"), 2n ** 70n);
    assertEquals(v.get("c"), new Uint8Array([0x68, 0x69]));
    assertEquals((v.get("d") as Map<unknown, unknown>).get(1), "one");
    assert(v.get("e") instanceof PyTuple);
    assertEquals(v.get("f"), "é∑");
    assertEquals(Object.keys(flatten(v)).length, 19);
  });
}

Deno.test("unpickle() refuses os.system by name", () => {
  // GLOBAL 'os system', BINUNICODE 'echo hi', TUPLE1, REDUCE, STOP
  const bytes = new Uint8Array([
    0x80,
    2,
    ...ascii("cos\nsystem\n"),
    0x58,
    7,
    0,
    0,
    0,
    ...ascii("echo hi"),
    0x85,
    0x52,
    0x2e,
  ]);
  const e = assertThrows(() => unpickle(bytes, ctx), UnsafePickleError);
  assertEquals((e as UnsafePickleError).global, "os.system");
  assert(e.message.includes("Refusing to load global 'os.system'"), e.message);
  assert(e.message.includes("t.pt") && e.message.includes("byte 2"), e.message);
});

Deno.test("unpickle() refuses STACK_GLOBAL builtins.eval and torch internals not listed", () => {
  const stackGlobal = (m: string, n: string) =>
    new Uint8Array([
      0x80,
      4,
      0x8c,
      m.length,
      ...ascii(m),
      0x8c,
      n.length,
      ...ascii(n),
      0x93,
      0x2e,
    ]);
  assertThrows(() => unpickle(stackGlobal("builtins", "eval"), ctx), UnsafePickleError, "eval");
  assertThrows(
    () => unpickle(stackGlobal("torch", "load"), ctx),
    UnsafePickleError,
    "'torch.load'",
  );
  assertThrows(
    () => unpickle(stackGlobal("torch._utils", "_rebuild_qtensor"), ctx),
    UnsafePickleError,
  );
});

Deno.test("unpickle() reports truncation, bad memo and stack underflow with offsets", () => {
  const full = hex(PICKLES[2]);
  for (const cut of [1, 10, 50, full.length - 1]) {
    const e = assertThrows(() => unpickle(full.subarray(0, cut), ctx), CheckpointError);
    assert(/byte \d+/.test(e.message), e.message);
  }
  assertThrows(
    () => unpickle(new Uint8Array([0x80, 2, 0x68, 9, 0x2e]), ctx),
    CheckpointError,
    "Memo entry 9",
  );
  assertThrows(
    () => unpickle(new Uint8Array([0x80, 2, 0x73, 0x2e]), ctx),
    CheckpointError,
    "underflow",
  );
  assertThrows(
    () => unpickle(new Uint8Array([0x80, 2, 0xff]), ctx),
    CheckpointError,
    "opcode 0xff",
  );
  // A BINUNICODE claiming 4 GB must fail on length, not allocate.
  assertThrows(
    () => unpickle(new Uint8Array([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0xff, 0x2e]), ctx),
    CheckpointError,
    "truncated",
  );
});

Deno.test("unpickle() handles a list that contains itself without looping", () => {
  // EMPTY_LIST BINPUT 0 BINGET 0 APPEND STOP
  const v = unpickle(new Uint8Array([0x80, 2, 0x5d, 0x71, 0, 0x68, 0, 0x61, 0x2e]), ctx);
  assert(Array.isArray(v) && v[0] === v);
});

Deno.test("unpickle() builds a 200k-item tuple without overflowing the call stack", () => {
  const n = 200_000;
  const bytes = new Uint8Array(3 + 1 + 2 * n + 2);
  bytes.set([0x80, 2, 0x28]);
  for (let i = 0; i < n; i++) bytes.set([0x4b, i & 0xff], 3 + 2 * i);
  bytes.set([0x74, 0x2e], 3 + 2 * n);
  const v = unpickle(bytes, ctx);
  assert(v instanceof PyTuple && v.length === n);
});
