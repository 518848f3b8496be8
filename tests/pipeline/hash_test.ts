import { assertEquals, assertNotEquals } from "../assert.ts";
import { hashBytes, hashFile, hashTree } from "../../src/pipeline/mod.ts";

Deno.test("hashBytes() is BLAKE3 (known answer) in the native and the WASM implementation", async () => {
  const abc = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
  assertEquals(await hashBytes("abc"), abc);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { hashBytes } from "${
        new URL("../../src/pipeline/hash.ts", import.meta.url).href
      }"; console.log(await hashBytes("abc"))`,
    ],
    env: { SAM2_HASH_IMPL: "wasm" },
    stdout: "piped",
  }).output();
  assertEquals(new TextDecoder().decode(out.stdout).trim(), abc);
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
