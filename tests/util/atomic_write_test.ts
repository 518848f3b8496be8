import { assertEquals, assertRejects } from "../assert.ts";
import { atomicWrite, writeAll } from "../../src/util/atomic_write.ts";

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

Deno.test("atomicWrite() writes text, bytes and streamed content under the final name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await atomicWrite(`${dir}/a.txt`, "héllo");
    await atomicWrite(`${dir}/b.bin`, new Uint8Array([1, 2, 3]));
    await atomicWrite(`${dir}/c.bin`, (f) => writeAll(f, new Uint8Array([9, 8])));
    assertEquals(await Deno.readTextFile(`${dir}/a.txt`), "héllo");
    assertEquals(await Deno.readFile(`${dir}/b.bin`), new Uint8Array([1, 2, 3]));
    assertEquals(await Deno.readFile(`${dir}/c.bin`), new Uint8Array([9, 8]));
    await atomicWrite(`${dir}/a.txt`, "replaced");
    assertEquals(await Deno.readTextFile(`${dir}/a.txt`), "replaced");
    assertEquals(await names(dir), ["a.txt", "b.bin", "c.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atomicWrite() keeps the old file and leaves no temporary file on error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await atomicWrite(`${dir}/x`, "old");
    await assertRejects(
      () =>
        atomicWrite(`${dir}/x`, async (f) => {
          await writeAll(f, new Uint8Array(10));
          throw new Error("writer failed");
        }),
      Error,
      "writer failed",
    );
    await assertRejects(
      () => atomicWrite(`${dir}/x`, "new", { overwrite: false }),
      Deno.errors.AlreadyExists,
      `${dir}/x`,
    );
    assertEquals(await Deno.readTextFile(`${dir}/x`), "old");
    assertEquals(await names(dir), ["x"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
