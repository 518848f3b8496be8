import { assertEquals, assertRejects, assertStringIncludes } from "../../assert.ts";
import { FfmpegError, ffmpegVersion, probeVideo } from "../../../src/data/extract/ffmpeg.ts";

const FIX = new URL("../../../../shared/fixtures/", import.meta.url).pathname;

/** Runs `fn` with env var `name` set to `value`, restoring it afterwards. */
async function withEnv(name: string, value: string, fn: () => Promise<void>): Promise<void> {
  const before = Deno.env.get(name);
  Deno.env.set(name, value);
  try {
    await fn();
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
}

Deno.test("ffmpegVersion() and probeVideo() say how to install a missing tool", async () => {
  await withEnv("FFMPEG", "/nonexistent/ffmpeg", async () => {
    const e = await assertRejects(() => ffmpegVersion(), FfmpegError);
    assertStringIncludes(e.message, 'Cannot run "/nonexistent/ffmpeg"');
    assertStringIncludes(e.message, "apt-get install ffmpeg");
    assertStringIncludes(e.message, "FFMPEG");
  });
  await withEnv("FFPROBE", "/nonexistent/ffprobe", async () => {
    const e = await assertRejects(() => probeVideo(`${FIX}videos/bedroom.mp4`), FfmpegError);
    assertStringIncludes(e.message, 'Cannot run "/nonexistent/ffprobe"');
    assertStringIncludes(e.message, "FFPROBE");
  });
});

Deno.test("probeVideo() reads a real video and names an unreadable one with ffprobe's reason", async () => {
  const info = await probeVideo(`${FIX}videos/bedroom.mp4`);
  assertEquals(info.codec, "h264");
  const bad = await Deno.makeTempFile({ suffix: ".mp4" });
  try {
    await Deno.writeTextFile(bad, "not a video");
    const e = await assertRejects(() => probeVideo(bad), FfmpegError);
    assertEquals((e as FfmpegError).path, bad);
    assertStringIncludes(e.message, bad);
  } finally {
    await Deno.remove(bad);
  }
});
