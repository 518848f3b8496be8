/**
 * Fuzzing the .pt reader with mutated and truncated copies of sam2-mini/model.pt. Every case
 * must end in a decoded checkpoint or a CheckpointError: never another exception (a crash), a
 * hang, a huge allocation, or code run (an unknown global is an UnsafePickleError).
 */
import { assert, assertEquals } from "../assert.ts";
import {
  CheckpointError,
  MemorySource,
  openPt,
  openSafetensors,
  UnsafePickleError,
} from "../../src/checkpoint/mod.ts";
import { readZipDirectory } from "../../src/checkpoint/zip_reader.ts";
import { local, MODEL_PT, SHARED } from "./_helpers.ts";

/** mulberry32: a small seeded generator, so every run mutates the same way. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

type Region = [number, number];

Deno.test("openPt() survives thousands of mutated and truncated model.pt copies", async () => {
  const original = await Deno.readFile(MODEL_PT);
  const dir = await readZipDirectory(new MemorySource(original));
  const view = new DataView(original.buffer);
  const dataStart = (off: number) =>
    off + 30 + view.getUint16(off + 26, true) + view.getUint16(off + 28, true);
  const pklEntry = dir.entries.get("model/data.pkl")!;
  const pkl: Region = [
    dataStart(pklEntry.localHeaderOffset),
    dataStart(pklEntry.localHeaderOffset) + pklEntry.size,
  ];
  const headers: Region[] = [];
  const tensors: Region[] = [];
  for (const e of dir.entries.values()) {
    headers.push([e.localHeaderOffset, dataStart(e.localHeaderOffset)]);
    if (e.name.includes("/data/") && e.size > 0) {
      tensors.push([dataStart(e.localHeaderOffset), dataStart(e.localHeaderOffset) + e.size]);
    }
  }
  const central: Region = [dir.cdStart, original.length - 98];
  const tail: Region = [original.length - 98, original.length];
  // Bytes of the GLOBAL names ("torch._utils\n_rebuild_tensor_v2\n", ...) inside the pickle.
  const globals: number[] = [];
  const pklBytes = original.subarray(pkl[0], pkl[1]);
  const text = new TextDecoder("latin1").decode(pklBytes);
  for (const name of ["ctorch._utils\n_rebuild_tensor_v2\n", "ccollections\nOrderedDict\n"]) {
    for (let i = text.indexOf(name); i >= 0; i = text.indexOf(name, i + 1)) {
      for (let j = 1; j < name.length - 1; j++) globals.push(pkl[0] + i + j);
    }
  }
  assert(globals.length > 20, "found the GLOBAL opcodes");

  const r = rng(20261125);
  const pick = (regions: Region[]) => {
    const [a, b] = regions[r.int(regions.length)];
    return a + r.int(b - a);
  };
  const kinds = ["pickle", "global", "header", "central", "tail", "tensor", "truncate"] as const;
  const counts: Record<string, { ok: number; error: number }> = {};
  let unsafe = 0;
  const budgetMs = 18_000;
  const started = performance.now();
  let cases = 0;
  while (cases < 3000 && performance.now() - started < budgetMs) {
    const kind = kinds[cases % kinds.length];
    // Mutate in place and restore afterwards: copying 5 MB per case would dominate the time.
    let bytes = original;
    const undo: [number, number][] = [];
    // CRC checks on a quarter of the cases; without them the unpickler, the directory code
    // and the view code see the damage instead of the CRC catching it first.
    const verifyCrc = cases % 4 === 0;
    if (kind === "truncate") {
      bytes = original.subarray(0, r.int(original.length));
    } else {
      const flips = 1 + r.int(4);
      for (let f = 0; f < flips; f++) {
        const at = kind === "pickle"
          ? pick([pkl])
          : kind === "global"
          ? globals[r.int(globals.length)]
          : kind === "header"
          ? pick(headers)
          : kind === "central"
          ? pick([central])
          : kind === "tail"
          ? pick([tail])
          : pick(tensors);
        undo.push([at, bytes[at]]);
        bytes[at] = r.next() < 0.5 ? bytes[at] ^ (1 << r.int(8)) : r.int(256);
      }
    }
    const changed = undo.some(([at]) => bytes[at] !== undo.find((u) => u[0] === at)![1]);
    const c = counts[kind] ??= { ok: 0, error: 0 };
    try {
      const a = await openPt(new MemorySource(bytes, `case${cases}.pt`), { verifyCrc });
      try {
        await a.load();
      } finally {
        a.close();
      }
      c.ok++;
      if (kind === "truncate") throw new Error(`case ${cases}: a truncated file decoded`);
      if (kind === "tensor" && verifyCrc) {
        // A flip that happened to restore the original byte is the only way through.
        assert(!changed, `case ${cases}: the CRC check missed a flipped tensor byte`);
      }
    } catch (e) {
      if (!(e instanceof CheckpointError)) {
        throw new Error(`case ${cases} (${kind}) ended in a non-CheckpointError: ${e}`, {
          cause: e,
        });
      }
      if (e instanceof UnsafePickleError) unsafe++;
      if (kind === "tensor" && !verifyCrc) {
        throw new Error(`case ${cases}: flipping tensor bytes only must still decode: ${e}`);
      }
      c.error++;
    } finally {
      for (let i = undo.length - 1; i >= 0; i--) original[undo[i][0]] = undo[i][1];
    }
    cases++;
  }
  console.log(`fuzz: ${cases} cases in ${Math.round(performance.now() - started)} ms`, counts, {
    unsafe,
  });
  // Thousands on an idle machine; the floor leaves room for a loaded 2-core CI runner.
  assert(cases >= 350, `only ${cases} cases ran`);
  for (const k of kinds) assert(counts[k].ok + counts[k].error > 0, k);
  assertEquals(counts.truncate.ok, 0);
  assert(counts.tail.error > 0 && counts.central.error > 0 && counts.pickle.error > 0);
  assert(unsafe > 0, "a damaged global name was refused by name");
});

Deno.test("openSafetensors() survives mutated and truncated headers", async () => {
  const original = await Deno.readFile(
    new URL("sam2-mini/sam_heads.safetensors", SHARED).pathname,
  );
  const headerEnd = 8 + Number(new DataView(original.buffer).getBigUint64(0, true));
  const r = rng(7);
  const counts = { ok: 0, error: 0, truncated: 0, data: 0 };
  const started = performance.now();
  let cases = 0;
  while (cases < 1500 && performance.now() - started < 4000) {
    let bytes = original;
    const undo: [number, number][] = [];
    const kind = cases % 3; // 0: header flips, 1: truncation, 2: data flips
    if (kind === 1) bytes = original.subarray(0, r.int(original.length));
    else {
      for (let f = 1 + r.int(3); f > 0; f--) {
        const at = kind === 0 ? r.int(headerEnd) : headerEnd + r.int(original.length - headerEnd);
        undo.push([at, bytes[at]]);
        bytes[at] = r.int(256);
      }
    }
    try {
      const f = await openSafetensors(new MemorySource(bytes, `case${cases}.safetensors`));
      for (const name of f.entries.keys()) await f.read(name);
      f.close();
      counts.ok++;
      if (kind === 2) counts.data++;
    } catch (e) {
      if (!(e instanceof CheckpointError)) {
        throw new Error(`case ${cases} ended in a non-CheckpointError: ${e}`, { cause: e });
      }
      if (kind === 2) throw new Error(`case ${cases}: data-only flips must still load: ${e}`);
      if (kind === 1) counts.truncated++;
      counts.error++;
    } finally {
      for (let i = undo.length - 1; i >= 0; i--) original[undo[i][0]] = undo[i][1];
    }
    cases++;
  }
  console.log(`safetensors fuzz: ${cases} cases`, counts);
  assert(cases >= 150, `only ${cases} cases ran`);
  assert(counts.error > 0 && counts.data > 0);
});

Deno.test("openPt() survives mutated and truncated legacy-format files", async () => {
  const original = await Deno.readFile(local("legacy_trainer.pt"));
  const r = rng(11);
  const counts = { ok: 0, error: 0 };
  for (let cases = 0; cases < 800; cases++) {
    const bytes = cases % 4 === 0 ? original.slice(0, r.int(original.length)) : original.slice();
    if (cases % 4 !== 0) {
      for (let f = 1 + r.int(3); f > 0; f--) bytes[r.int(bytes.length)] = r.int(256);
    }
    try {
      const a = await openPt(new MemorySource(bytes, `legacy${cases}.pt`));
      await a.load();
      a.close();
      counts.ok++;
    } catch (e) {
      if (!(e instanceof CheckpointError)) {
        throw new Error(`legacy case ${cases} ended in a non-CheckpointError: ${e}`, {
          cause: e,
        });
      }
      counts.error++;
    }
  }
  console.log("legacy fuzz: 800 cases", counts);
  assert(counts.error > 0 && counts.ok > 0);
});
