import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../assert.ts";
import {
  extractVideo,
  ffmpegArgs,
  FfmpegError,
  frameName,
  MARKER_NAME,
  readMarker,
  stagingDir,
} from "../../../src/data/extract/mod.ts";
import { join } from "node:path";
import {
  decodeJpeg,
  fullDecode,
  H,
  makeColourClip,
  names,
  nearestFrame,
  packetTimes,
  tempDir,
  W,
} from "./_clips.ts";

/** Asserts each JPEG in `dir` is the decoded frame its name says (nearest of all frames). */
async function assertFramesMatch(dir: string, full: Uint8Array[], expected: string[]) {
  const got = (await names(dir)).filter((n) => n.endsWith(".jpg"));
  assertEquals(got, expected);
  for (const n of got) {
    const img = await decodeJpeg(join(dir, n));
    assertEquals(img.length, W * H * 3, `${n} has the video's size`);
    const near = nearestFrame(img, full);
    assertEquals(near.index, Number(n.slice(0, 5)), `${n} is decoded frame ${near.index}`);
    assert(near.d < 4 && near.next > 50, `${n}: distance ${near.d}, runner-up ${near.next}`);
  }
}

Deno.test("extractVideo() writes 00000, 00004, ... by default, each the decoded frame it names", async () => {
  const tmp = await tempDir();
  try {
    const video = join(tmp, "clip.mp4");
    await makeColourClip(video, { frames: 20 });
    const full = await fullDecode(video);
    assertEquals(full.length, 20);
    const out = join(tmp, "frames", "clip");
    const r = await extractVideo(video, out);
    const expected = ["00000.jpg", "00004.jpg", "00008.jpg", "00012.jpg", "00016.jpg"];
    assertEquals(r.frames, 5);
    assertEquals(r.written, expected.map((n) => join(out, n)));
    await assertFramesMatch(out, full, expected);
    const marker = await readMarker(out);
    assertEquals(marker?.frames, 5);
    assertEquals(marker?.sampleRate, 4);
    assertEquals(marker?.quality, 95);
    assertEquals(await names(join(tmp, "frames")), ["clip"], "no staging folder is left");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("extractVideo() counts decoded frames, not timestamps, on a variable-frame-rate clip", async () => {
  const tmp = await tempDir();
  try {
    const video = join(tmp, "vfr.mp4");
    await makeColourClip(video, { frames: 20, vfr: true });
    const times = await packetTimes(video);
    const gaps = new Set(times.slice(1).map((t, i) => Math.round((t - times[i]) * 30)));
    assert(gaps.size > 1, `the clip has uneven frame durations: ${[...gaps]}`);
    const full = await fullDecode(video);
    assertEquals(full.length, 20);
    const out = join(tmp, "vfr");
    const r = await extractVideo(video, out, { sampleRate: 3 });
    const expected = [0, 3, 6, 9, 12, 15, 18].map(frameName);
    assertEquals(r.frames, expected.length);
    await assertFramesMatch(out, full, expected);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("extractVideo() writes baseline 4:2:0 JPEGs with libjpeg's JFIF header, smaller at lower quality", async () => {
  const tmp = await tempDir();
  try {
    const video = join(tmp, "clip.mp4");
    await makeColourClip(video, { frames: 4 });
    await extractVideo(video, join(tmp, "q95"), { sampleRate: 1 });
    const jpg = await Deno.readFile(join(tmp, "q95", "00000.jpg"));
    assertEquals([...jpg.subarray(0, 4)], [0xff, 0xd8, 0xff, 0xe0], "SOI then APP0");
    assertEquals(new TextDecoder().decode(jpg.subarray(6, 10)), "JFIF");
    // Find SOF0 (baseline): components Y 2x2, Cb 1x1, Cr 1x1 = 4:2:0.
    let i = 2, sof = -1;
    while (i < jpg.length - 4 && sof < 0) {
      if (jpg[i + 1] === 0xc0) sof = i;
      i += 2 + ((jpg[i + 2] << 8) | jpg[i + 3]);
    }
    assert(sof > 0, "baseline SOF0 marker present");
    assertEquals([jpg[sof + 11], jpg[sof + 14], jpg[sof + 17]], [0x22, 0x11, 0x11]);
    // Quality 95 luminance table (IJG scaling: 10% of Annex K, rounded) starts 2,1,1.
    const dqt = jpg.indexOf(0xdb, 2);
    assertEquals([jpg[dqt + 4], jpg[dqt + 5], jpg[dqt + 6]], [2, 1, 1]);
    await extractVideo(video, join(tmp, "q30"), { sampleRate: 1, quality: 30 });
    const low = await Deno.readFile(join(tmp, "q30", "00000.jpg"));
    assert(low.length < jpg.length, `q30 ${low.length} B < q95 ${jpg.length} B`);
    assertEquals((await readMarker(join(tmp, "q30")))?.quality, 30);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("extractVideo() reports ffmpeg's reason for a corrupt video and leaves no folder", async () => {
  const tmp = await tempDir();
  try {
    const video = join(tmp, "broken.mp4");
    await Deno.writeFile(video, new TextEncoder().encode("this is not an mp4 file at all"));
    const out = join(tmp, "broken");
    const e = await assertRejects(() => extractVideo(video, out), FfmpegError);
    assertStringIncludes(e.message, video);
    assertStringIncludes((e as FfmpegError).reason, "Invalid data found when processing input");
    assertEquals(await names(tmp), ["broken.mp4"], "neither the folder nor its staging exist");
    const missing = await assertRejects(
      () => extractVideo(join(tmp, "nope.mp4"), out),
      FfmpegError,
    );
    assertStringIncludes(missing.message, "no such file");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("extractVideo() on abort removes its staging folder and keeps the old complete folder", async () => {
  const tmp = await tempDir();
  try {
    const video = join(tmp, "clip.mp4");
    await makeColourClip(video, { frames: 20 });
    const out = join(tmp, "clip");
    await extractVideo(video, out, { sampleRate: 4 });
    const before = await names(out);
    const ac = new AbortController();
    await assertRejects(() =>
      extractVideo(video, out, {
        sampleRate: 2,
        signal: ac.signal,
        onProgress: (done) => done === 2 && ac.abort(new Error("stop")),
      })
    );
    assertEquals(await names(tmp), ["clip", "clip.mp4"], "staging removed");
    assertEquals(await names(out), before, "the earlier complete extraction is untouched");
    assertEquals((await readMarker(out))?.sampleRate, 4);
    assertEquals(stagingDir(out), join(tmp, ".clip.partial"));
    assert(before.includes(MARKER_NAME));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("extractVideo() rejects a bad sample rate or quality before running ffmpeg", async () => {
  await assertRejects(
    () => extractVideo("x.mp4", "out", { sampleRate: 0 }),
    RangeError,
    "Sample rate",
  );
  await assertRejects(() => extractVideo("x.mp4", "out", { quality: 101 }), RangeError, "quality");
  await assertRejects(
    () => extractVideo("x.mp4", "out", { ffmpegThreads: 0 }),
    RangeError,
    "threads",
  );
});

Deno.test("ffmpegArgs() decodes with the given threads and writes PPM frames to the given output", async () => {
  const args = await ffmpegArgs("in.mp4", 4, { threads: 1, output: "/tmp/x/frames.ppm" });
  const at = (flag: string) => args[args.indexOf(flag) + 1];
  assert(args.indexOf("-threads") < args.indexOf("-i"), "-threads is a decoder option");
  assertEquals(at("-threads"), "1");
  assertEquals(at("-vf"), "select='not(mod(n\\,4))'");
  assertEquals([at("-pix_fmt"), at("-c:v"), at("-f"), at("-avioflags")], [
    "rgb24",
    "ppm",
    "image2pipe",
    "direct",
  ]);
  assertEquals(args.slice(-2), ["-y", "/tmp/x/frames.ppm"]);
  const plain = await ffmpegArgs("in.mp4", 1);
  assertEquals(plain.includes("-threads") || plain.includes("-vf") || plain.includes("-y"), false);
  assertEquals(plain.at(-1), "pipe:1");
});
