import { assertEquals, assertNotEquals, assertRejects } from "../assert.ts";
import {
  blake3Hex,
  hashBytes,
  hasherFactory,
  hashFile,
  hashSmallFiles,
  hashTree,
  StatCache,
} from "../../src/pipeline/mod.ts";

Deno.test("hashBytes() is BLAKE3 (known answer) in the native, the WASM and the TypeScript implementation", async () => {
  const abc = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
  assertEquals(await hashBytes("abc"), abc);
  assertEquals(blake3Hex(new TextEncoder().encode("abc")), abc);
  const big = `new Uint8Array(5000).map((_, i) => (i * 7) & 255)`;
  const expectBig = (await hasherFactory()).oneShot(
    new Uint8Array(5000).map((_, i) => (i * 7) & 255),
  );
  for (const impl of ["wasm", "js"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { hashBytes } from "${
          new URL("../../src/pipeline/hash.ts", import.meta.url).href
        }"; console.log(await hashBytes("abc")); console.log(await hashBytes(${big}))`,
      ],
      env: { SAM2_HASH_IMPL: impl },
      stdout: "piped",
    }).output();
    assertEquals(new TextDecoder().decode(out.stdout).trim().split("\n"), [abc, expectBig], impl);
  }
});

Deno.test("blake3Hex() matches the native BLAKE3 at block, chunk and tree boundaries", async () => {
  const { oneShot, impl } = await hasherFactory();
  const lengths = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 3072, 4097, 5120, 8193];
  for (const n of [...lengths, 16384, 31745, 65536 + 1024 + 1, (1 << 20) + 3]) {
    const data = new Uint8Array(n).map((_, i) => (i * 31 + 7) & 255);
    assertEquals(blake3Hex(data), oneShot(data), `${n} bytes (against ${impl})`);
  }
});

Deno.test("hashFile() streams large files to the same digest as one buffer", async () => {
  const f = await Deno.makeTempFile();
  try {
    const data = new Uint8Array((9 << 20) + 123);
    for (let i = 0; i < data.length; i += 4096) data[i] = i & 255;
    await Deno.writeFile(f, data);
    assertEquals((await hashFile(f)).hash, await hashBytes(data));
  } finally {
    await Deno.remove(f);
  }
});

Deno.test("hashTree() folder hashes change with a byte, a name or a new file, not with mtime", async () => {
  const d = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${d}/sub`);
    await Deno.writeTextFile(`${d}/a.txt`, "a");
    await Deno.writeTextFile(`${d}/sub/b.txt`, "b");
    const h0 = (await hashTree(d))!.hash;
    const t = new Date(Date.now() - 60_000);
    await Deno.utime(`${d}/a.txt`, t, t);
    assertEquals((await hashTree(d))!.hash, h0);
    await Deno.writeTextFile(`${d}/sub/b.txt`, "c");
    const h1 = (await hashTree(d))!.hash;
    assertNotEquals(h1, h0);
    await Deno.rename(`${d}/sub/b.txt`, `${d}/sub/c.txt`);
    const h2 = (await hashTree(d))!.hash;
    assertNotEquals(h2, h1);
    await Deno.writeTextFile(`${d}/sub/empty`, "");
    const tree = (await hashTree(d))!;
    assertNotEquals(tree.hash, h2);
    assertEquals(tree.type === "dir" ? tree.files : 0, 3);
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

/** `n` small files with distinct contents under a temp folder, in two sub-folders. */
async function smallFiles(n: number): Promise<{ dir: string; paths: string[] }> {
  const dir = await Deno.makeTempDir();
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const sub = `${dir}/d${i % 2}`;
    await Deno.mkdir(sub, { recursive: true });
    const p = `${sub}/f${i}.txt`;
    await Deno.writeTextFile(p, `file ${i} ${"x".repeat(i % 37)}`);
    paths.push(p);
  }
  return { dir, paths };
}

Deno.test("hashSmallFiles() gives each file's hash in order, on Workers as on one thread", async () => {
  const { dir, paths } = await smallFiles(300);
  try {
    const one = await hashSmallFiles(paths, { workers: 0 });
    const pool = await hashSmallFiles(paths, { workers: 2 });
    assertEquals(pool, one);
    for (const i of [0, 1, 150, 299]) {
      const data = await Deno.readFile(paths[i]);
      assertEquals(one[i], { hash: await hashBytes(data), size: data.length });
    }
    assertEquals(await hashSmallFiles([]), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashSmallFiles() rejects with NotFound when a file is gone, on Workers too", async () => {
  const { dir, paths } = await smallFiles(300);
  try {
    const gone = [...paths.slice(0, 200), `${dir}/missing.txt`, ...paths.slice(200)];
    await assertRejects(() => hashSmallFiles(gone, { workers: 0 }), Deno.errors.NotFound);
    await assertRejects(() => hashSmallFiles(gone, { workers: 2 }), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hashPath() builds the same tree with small files hashed on Workers", async () => {
  const { dir } = await smallFiles(300);
  try {
    const big = new Uint8Array((1 << 20) + 5).fill(7);
    await Deno.writeFile(`${dir}/d0/big.bin`, big);
    const one = await StatCache.memory().hashPath(dir, { workers: 0 });
    const cache = StatCache.memory();
    const pool = await cache.hashPath(dir, { workers: 2 });
    assertEquals(pool, one);
    assertEquals(cache.hashedFiles, 301);
    assertEquals(one?.type === "dir" ? one.files : 0, 301);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
