import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../assert.ts";
import {
  type ExtractEvent,
  extractVideos,
  MARKER_NAME,
  shardList,
  stagingDir,
} from "../../../src/data/extract/mod.ts";
import { join } from "node:path";
import { makeColourClip, names, tempDir } from "./_clips.ts";

/** Three tiny clips in SA-V's layout (`<tmp>/videos/<chunk>/<name>.mp4`). */
async function clips(tmp: string, n = 3): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const dir = join(tmp, "videos", `sav_00${Math.floor(i / 2)}`);
    await Deno.mkdir(dir, { recursive: true });
    const v = join(dir, `sav_00000${i}.mp4`);
    await makeColourClip(v, { frames: 8 });
    out.push(v);
  }
  return out;
}

Deno.test("extractVideos() skips complete videos and redoes partial or stale ones", async () => {
  const tmp = await tempDir();
  try {
    const videos = await clips(tmp);
    const out = join(tmp, "frames");
    const first = await extractVideos(videos, out, { jobs: 2 });
    assertEquals([first.extracted, first.skipped, first.failed.length, first.frames], [3, 0, 0, 6]);
    assertEquals(await names(out), ["sav_000000", "sav_000001", "sav_000002"]);

    // A killed run: a half-written staging folder, and a folder without its marker.
    const staging = stagingDir(join(out, "sav_000001"));
    await Deno.remove(join(out, "sav_000001"), { recursive: true });
    await Deno.mkdir(staging);
    await Deno.writeFile(join(staging, "00000.jpg"), new Uint8Array([0xff, 0xd8]));
    await Deno.remove(join(out, "sav_000002", MARKER_NAME));
    await Deno.mkdir(join(out, ".sav_000002.old")); // killed between the two final renames
    const stamp = (await Deno.stat(join(out, "sav_000000", "00000.jpg"))).mtime;

    const events: ExtractEvent[] = [];
    const second = await extractVideos(videos, out, { onEvent: (e) => events.push(e) });
    assertEquals([second.extracted, second.skipped, second.failed.length], [2, 1, 0]);
    assertEquals(
      events.filter((e) => e.kind === "skipped").map((e) => e.video),
      [videos[0]],
    );
    assertEquals((await Deno.stat(join(out, "sav_000000", "00000.jpg"))).mtime, stamp);
    assertEquals(
      await names(out),
      ["sav_000000", "sav_000001", "sav_000002"],
      "staging and the stale .old folder are gone",
    );
    assertEquals(await names(join(out, "sav_000001")), [MARKER_NAME, "00000.jpg", "00004.jpg"]);
    const redone = await Deno.readFile(join(out, "sav_000001", "00000.jpg"));
    assert(redone.length > 100, "the partial file was rewritten");

    // A changed sample rate re-extracts everything.
    const third = await extractVideos(videos, out, { sampleRate: 2 });
    assertEquals([third.extracted, third.skipped, third.frames], [3, 0, 12]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("extractVideos() reports a corrupt video with ffmpeg's reason and does the others", async () => {
  const tmp = await tempDir();
  try {
    const videos = await clips(tmp, 2);
    const good = await Deno.readFile(videos[0]);
    const broken = join(tmp, "videos", "sav_000", "sav_000009.mp4");
    await Deno.writeFile(broken, good.subarray(0, 600)); // truncated: no moov atom
    const all = [...videos, broken].sort();
    const s = await extractVideos(all, join(tmp, "frames"), { jobs: 2 });
    assertEquals([s.total, s.extracted, s.failed.length], [3, 2, 1]);
    assertEquals(s.failed[0].video, broken);
    assertStringIncludes(s.failed[0].reason, "moov atom not found");
    assertEquals(await names(join(tmp, "frames")), ["sav_000000", "sav_000001"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("extractVideos() runs only its shard of the list", async () => {
  const tmp = await tempDir();
  try {
    const videos = await clips(tmp, 3);
    const out = join(tmp, "frames");
    const s0 = await extractVideos(videos, out, { shard: { index: 0, count: 2 } });
    assertEquals(s0.total, 2);
    assertEquals(await names(out), ["sav_000000", "sav_000001"]);
    const s1 = await extractVideos(videos, out, { shard: { index: 1, count: 2 } });
    assertEquals(s1.total, 1);
    assertEquals(shardList(videos, { index: 1, count: 2 }), [videos[2]]);
    assertEquals(await names(out), ["sav_000000", "sav_000001", "sav_000002"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("extractVideos() gives each job's ffmpeg its share of the cores as decoding threads", async () => {
  const tmp = await tempDir();
  const before = Deno.env.get("FFMPEG");
  try {
    const videos = await clips(tmp, 2);
    // An ffmpeg that notes its -threads value, then runs the real one.
    const log = join(tmp, "threads.log"), wrapper = join(tmp, "ffmpeg.sh");
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nprev=\nfor a in "$@"; do [ "$prev" = -threads ] && echo "$a" >> '${log}'; ` +
        `prev="$a"; done\nexec ffmpeg "$@"\n`,
      { mode: 0o755 },
    );
    Deno.env.set("FFMPEG", wrapper);
    const cores = navigator.hardwareConcurrency ?? 2;
    for (const jobs of [1, 2]) {
      await Deno.writeTextFile(log, "");
      const s = await extractVideos(videos, join(tmp, `out${jobs}`), { jobs });
      assertEquals(s.extracted, 2);
      const share = String(Math.max(1, Math.floor(cores / jobs)));
      assertEquals((await Deno.readTextFile(log)).trim().split("\n"), [share, share]);
    }
  } finally {
    if (before === undefined) Deno.env.delete("FFMPEG");
    else Deno.env.set("FFMPEG", before);
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("extractVideos() refuses two videos with the same stem, or bad options, before starting", async () => {
  await assertRejects(() => extractVideos(["a/x.mp4"], "out", { sampleRate: 0 }), RangeError);
  await assertRejects(() => extractVideos(["a/x.mp4"], "out", { jobs: 0 }), RangeError, "Jobs");
  await assertRejects(
    () => extractVideos(["a/x.mp4", "b/x.mp4"], "out"),
    Error,
    'same name "x"',
  );
});
