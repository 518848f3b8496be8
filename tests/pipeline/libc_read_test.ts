import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../assert.ts";
import { LibcFileReader } from "../../src/pipeline/_libc_read.ts";
import { hashBytes, hashSmallFiles, StatCache } from "../../src/pipeline/mod.ts";

const reader = LibcFileReader.create();
const root = new URL("../../", import.meta.url).pathname;

/** Files of the given lengths (distinct bytes) in a temp folder; paths in the same order. */
async function filesOf(lengths: number[]): Promise<{ dir: string; paths: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "sam2-libc-" });
  const paths: string[] = [];
  for (const [i, n] of lengths.entries()) {
    const p = `${dir}/f${i}_${n}.bin`;
    await Deno.writeFile(p, new Uint8Array(n).map((_, k) => (k * 13 + i) & 255));
    paths.push(p);
  }
  return { dir, paths };
}

const LENGTHS = [0, 1, 4095, 4096, 4097, 65536, 200_000];

Deno.test("LibcFileReader is available on Linux with --allow-ffi", () => {
  if (Deno.build.os === "linux") assert(reader !== null, "libc.so.6 could not be bound");
});

Deno.test("LibcFileReader.read() returns whole files: empty, 1 byte, 4096, 4097, larger than its buffer", async () => {
  if (!reader) return;
  const { dir, paths } = await filesOf(LENGTHS);
  try {
    for (const p of paths) {
      const want = await Deno.readFile(p);
      // without a listed size, with the right one, and with a stale one (smaller and larger)
      for (const expected of [-1, want.length, Math.max(0, want.length - 1), want.length + 7]) {
        const n = reader.read(p, expected);
        assertEquals(n, want.length, `${p} (expected ${expected})`);
        assertEquals(reader.buffer.subarray(0, n), want, `${p} (expected ${expected})`);
      }
    }
  } finally {
    reader.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashSmallFiles() through libc is bit-identical to reading with Deno, with and without sizes", async () => {
  const { dir, paths } = await filesOf([...LENGTHS, 3, 1024, 1025]);
  try {
    const sizes = paths.map((p) => Deno.statSync(p).size);
    const viaDeno = await hashSmallFiles(paths, { workers: 0, reader: "deno" });
    for (const [i, p] of paths.entries()) {
      const data = await Deno.readFile(p);
      assertEquals(viaDeno[i], { hash: await hashBytes(data), size: data.length }, p);
    }
    if (!reader) return;
    assertEquals(await hashSmallFiles(paths, { workers: 0, reader: "ffi" }), viaDeno);
    assertEquals(await hashSmallFiles(paths, { workers: 0, reader: "ffi", sizes }), viaDeno);
    // a file that grew since it was listed is still read whole
    const grown = sizes.map((s) => Math.max(0, s - 1));
    assertEquals(await hashSmallFiles(paths, { workers: 0, sizes: grown }), viaDeno);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashSmallFiles() through libc names a file that vanished after it was listed", async () => {
  const { dir, paths } = await filesOf([10, 20, 30, 40]);
  try {
    const sizes = paths.map((p) => Deno.statSync(p).size);
    await Deno.remove(paths[2]);
    for (const reader of ["ffi", "deno"] as const) {
      if (reader === "ffi" && !LibcFileReader.create()) continue;
      const e = await assertRejects(
        () => hashSmallFiles(paths, { workers: 0, sizes, reader }),
        Deno.errors.NotFound,
      );
      assertStringIncludes(e.message, paths[2], reader);
    }
    // the folder itself gone: the error still names the file
    await Deno.remove(dir, { recursive: true });
    const e = await assertRejects(
      () => hashSmallFiles(paths, { workers: 0, sizes }),
      Deno.errors.NotFound,
    );
    assertStringIncludes(e.message, paths[0]);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test({
  name: "hashSmallFiles() through libc reports permission denied with the file's path",
  // root reads files whatever their mode
  ignore: Deno.build.os !== "linux" || Deno.uid() === 0,
  fn: async () => {
    const { dir, paths } = await filesOf([5, 6]);
    try {
      await Deno.chmod(paths[1], 0);
      const e = await assertRejects(
        () => hashSmallFiles(paths, { workers: 0, reader: "ffi" }),
        Deno.errors.PermissionDenied,
      );
      assertStringIncludes(e.message, paths[1]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("LibcFileReader.read() names a folder given as a file and a path through a file", async () => {
  if (!reader) return;
  const { dir, paths } = await filesOf([5]);
  try {
    const e = assertThrows(() => reader.read(dir), Deno.errors.IsADirectory);
    assertStringIncludes(e.message, dir);
    const e2 = assertThrows(() => reader.read(`${paths[0]}/x`), Deno.errors.NotADirectory);
    assertStringIncludes(e2.message, `${paths[0]}/x`);
  } finally {
    reader.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs `script` with read and env permissions only (no FFI), never prompting. */
function runWithoutFfi(script: string): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      "--allow-env",
      "--config",
      `${root}deno.json`,
      script,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("hashSmallFiles() falls back to Deno's reads without --allow-ffi, same hashes, no prompt", async () => {
  const { dir, paths } = await filesOf([0, 1, 4096, 4097]);
  try {
    const script = `${dir}/run.ts`;
    await Deno.writeTextFile(
      script,
      `import { hashSmallFiles } from "${
        new URL("../../src/pipeline/hash_pool.ts", import.meta.url).href
      }";\nconsole.log(JSON.stringify(await hashSmallFiles(${
        JSON.stringify(paths)
      }, { workers: 0 })));\n`,
    );
    const out = await runWithoutFfi(script);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const got = JSON.parse(new TextDecoder().decode(out.stdout));
    assertEquals(got, await hashSmallFiles(paths, { workers: 0 }));
    // asking for libc explicitly without the permission says what is missing
    await Deno.writeTextFile(
      script,
      `import { hashSmallFiles } from "${
        new URL("../../src/pipeline/hash_pool.ts", import.meta.url).href
      }";\nawait hashSmallFiles(${JSON.stringify(paths)}, { workers: 0, reader: "ffi" });\n`,
    );
    const denied = await runWithoutFfi(script);
    assert(!denied.success);
    assertStringIncludes(new TextDecoder().decode(denied.stderr), "--allow-ffi");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashPath() hashing while find lists gives the tree of a plain walk, and a failing find falls back to one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sam2-stream-" });
  try {
    for (let i = 0; i < 600; i++) {
      await Deno.mkdir(`${dir}/in/d${i % 7}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/in/d${i % 7}/f${i}.txt`, `file ${i} ${"y".repeat(i % 300)}`);
    }
    await Deno.writeFile(`${dir}/in/big.bin`, new Uint8Array((1 << 20) + 3).fill(9));
    const streamed = await StatCache.memory().hashPath(`${dir}/in`, { workers: 0 });
    // the listing handed over whole, as the engine does after comparing it with its memo
    const given = await StatCache.memory().hashPath(`${dir}/in`, { workers: 0, raw: null });
    assertEquals(streamed, given);
    // a find that lists a bogus file and fails: what was hashed meanwhile is dropped
    const bin = `${dir}/bin`;
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      `${bin}/find`,
      `#!/bin/sh\nprintf 'f\\t1\\t2\\t3\\t4\\t5\\tnot-there.txt\\0'\nexit 1\n`,
    );
    await Deno.chmod(`${bin}/find`, 0o755);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { StatCache } from "${
          new URL("../../src/pipeline/tree.ts", import.meta.url).href
        }"; console.log(JSON.stringify(await StatCache.memory().hashPath(${
          JSON.stringify(`${dir}/in`)
        }, { workers: 0 })))`,
      ],
      env: { PATH: `${bin}:${Deno.env.get("PATH")}` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertEquals(JSON.parse(new TextDecoder().decode(out.stdout)), given);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
