import { assertEquals, assertRejects } from "../../assert.ts";
import { listVideos } from "../../../src/data/extract/mod.ts";
import { join } from "node:path";
import { tempDir } from "./_clips.ts";

Deno.test("listVideos() finds videos in a folder and one level down, sorted", async () => {
  const tmp = await tempDir();
  try {
    for (const p of ["sav_001/sav_001002.mp4", "sav_000/sav_000001.mp4", "top.MP4", "notes.txt"]) {
      await Deno.mkdir(join(tmp, p, ".."), { recursive: true });
      await Deno.writeFile(join(tmp, p), new Uint8Array(1));
    }
    await Deno.mkdir(join(tmp, "a", "b"), { recursive: true });
    await Deno.writeFile(join(tmp, "a", "b", "deep.mp4"), new Uint8Array(1));
    assertEquals(await listVideos(tmp), [
      join(tmp, "sav_000/sav_000001.mp4"),
      join(tmp, "sav_001/sav_001002.mp4"),
      join(tmp, "top.MP4"),
    ]);
    assertEquals(await listVideos(join(tmp, "top.MP4")), [join(tmp, "top.MP4")]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("listVideos() reads a list file: comments, blanks, paths relative to the list", async () => {
  const tmp = await tempDir();
  try {
    const list = join(tmp, "videos.txt");
    await Deno.writeTextFile(
      list,
      "# train split\nb/two.mp4\n\n  a/one.mp4  \n/abs/three.mp4\nb/two.mp4\n",
    );
    assertEquals(await listVideos(list), [
      "/abs/three.mp4",
      join(tmp, "a/one.mp4"),
      join(tmp, "b/two.mp4"),
    ]);
    await assertRejects(
      () => listVideos(join(tmp, "missing")),
      Deno.errors.NotFound,
      "does not exist",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
