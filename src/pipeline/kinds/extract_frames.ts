/**
 * `uses: extract-frames`: one video to a folder of JPEG frames (`00000.jpg`, every Nth frame,
 * like the SA-V script), over `src/data/extract`. Use it with `foreach:` over videos so each
 * video is its own cache entry.
 */
import type { StageKind } from "../kind.ts";
import { importLazily } from "../lazy_import.ts";
import { type Infer, s } from "../schema.ts";

const params = s.object({
  video: s.path({ role: "input", desc: "The video file (mp4, ...)" }),
  sample_rate: s.defaulted(s.int({ min: 1, desc: "Keep every Nth decoded frame" }), 4),
  quality: s.defaulted(s.int({ min: 1, max: 100, desc: "JPEG quality (libjpeg scale)" }), 95),
}, { what: "extract-frames with:" });

/** Parameters of `extract-frames`. */
export type ExtractFramesParams = Infer<typeof params>;

/** The `extract-frames` stage kind. */
export const extractFramesKind: StageKind<ExtractFramesParams> = {
  name: "extract-frames",
  description: "Extract every Nth frame of one video as JPEG files <index:05d>.jpg",
  params,
  outputs: { dir: "dir" },
  modules: [
    import.meta.url,
    new URL("../../data/extract/extract_video.ts", import.meta.url).href,
  ],
  tools: [{ name: "ffmpeg" }],
  async run(ctx) {
    const { extractVideo } = await importLazily<
      typeof import("../../data/extract/extract_video.ts")
    >(
      "../../data/extract/extract_video.ts",
      import.meta.url,
    );
    const r = await extractVideo(ctx.params.video, ctx.outputs.dir, {
      sampleRate: ctx.params.sample_rate,
      quality: ctx.params.quality,
      signal: ctx.signal,
      onProgress: (done, total) => ctx.progress(done, Math.max(done, total)),
    });
    ctx.log(`${r.frames} frames written`);
  },
};
