import { assert, assertEquals, assertNotEquals } from "../assert.ts";
import { hashBytes, hashFile, Store } from "../../src/pipeline/mod.ts";

Deno.test("Store.restoreTree() copies: editing a restored file in place leaves the store intact", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = new TextEncoder().encode("stored once\n");
    const hash = await hashBytes(data);
    await Deno.writeFile(`${dir}/src.txt`, data);
    const store = new Store(`${dir}/store`);
    await store.putFile(`${dir}/src.txt`, hash);
    const obj = store.objectPath(hash);
    assertEquals((await Deno.stat(obj)).mode! & 0o777, 0o444);
    await store.restoreTree({ type: "file", hash, size: data.length }, `${dir}/out.txt`);
    const [o, r] = [await Deno.stat(obj), await Deno.stat(`${dir}/out.txt`)];
    assertNotEquals(r.ino, o.ino);
    assertEquals(r.mode! & 0o777, 0o644);
    await Deno.writeTextFile(`${dir}/out.txt`, "edited\n", { append: true });
    assertEquals((await hashFile(obj)).hash, hash);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Store.restoreTree() with link 'hardlink' shares the stored inode (why it is opt-in)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = new TextEncoder().encode("linked\n");
    const hash = await hashBytes(data);
    await Deno.writeFile(`${dir}/src.txt`, data);
    const store = new Store(`${dir}/store`, { link: "hardlink" });
    await store.putFile(`${dir}/src.txt`, hash);
    await store.restoreTree({ type: "file", hash, size: data.length }, `${dir}/out.txt`);
    const r = await Deno.stat(`${dir}/out.txt`);
    assertEquals(r.ino, (await Deno.stat(store.objectPath(hash))).ino);
    assertEquals(r.mode! & 0o777, 0o444);
    assert(r.nlink! >= 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
