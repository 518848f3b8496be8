/**
 * `uses: eval`: predicts masks with a checkpoint (tools/vos_inference.py: each video's first
 * frame masks tracked through its frames) and scores them against ground truth with J&F
 * (sav_dataset/sav_evaluator.py), over `predictVideos`, `evaluate` and `writeJFReport`
 * (src/eval), as `deno task eval --checkpoint ... --gt_root ... --out ...` does.
 */
import type { StageKind } from "../kind.ts";
import { importLazily } from "../lazy_import.ts";
import { type Infer, s } from "../schema.ts";

const params = s.object({
  checkpoint: s.path({ role: "input", desc: "Checkpoint to evaluate (.pt or .safetensors)" }),
  model_config: s.path({ role: "input", desc: "Model config (YAML, e.g. configs/mini.yaml)" }),
  dataset: s.optional(s.path({
    role: "input",
    desc: "A DAVIS-format build-dataset manifest: its folders are video_dir and gt_dir",
  })),
  video_dir: s.optional(s.path({
    role: "input",
    desc: "Frames, <dir>/<video>/<frame>.jpg @default the dataset's frames",
  })),
  gt_dir: s.optional(s.path({
    role: "input",
    desc: "Ground-truth masks (DAVIS or SA-V layout) @default the dataset's annotations",
  })),
  input_mask_dir: s.optional(s.path({
    role: "input",
    desc: "Prompt masks (the first frame's of each video are used) @default gt_dir",
  })),
  videos: s.optional(s.array(s.string({ minLength: 1 }), { desc: "Only these videos" })),
  score_thresh: s.defaulted(s.number({ desc: "Mask logit threshold" }), 0),
  per_obj_png_file: s.defaulted(
    s.boolean({ desc: "SA-V layout (one folder per object) in and out" }),
    false,
  ),
  skip_first_and_last: s.defaulted(
    s.boolean({ desc: "Do not score each object's first and last annotated frame" }),
    true,
  ),
  bound_th: s.defaulted(
    s.number({ min: 0, max: 1, desc: "Boundary tolerance / image diagonal" }),
    0.008,
  ),
}, { what: "eval with:" });

/** Parameters of `eval`. */
export type EvalParams = Infer<typeof params>;

/** The frames and ground-truth folders: explicit ones win over the manifest's. */
export function evalFolders(
  p: EvalParams,
  manifest?: { format: string; frames: string; annotations: string },
): { videoDir: string; gtDir: string } {
  if (manifest && manifest.format !== "davis" && !(p.video_dir && p.gt_dir)) {
    throw new Error(
      `eval: the dataset is "${manifest.format}"; evaluation reads DAVIS-style PNG masks ` +
        `(build the dataset with format: davis, or give video_dir and gt_dir)`,
    );
  }
  const videoDir = p.video_dir ?? manifest?.frames;
  const gtDir = p.gt_dir ?? manifest?.annotations;
  if (!videoDir || !gtDir) {
    throw new Error("eval: give `dataset` (a build-dataset manifest) or both video_dir and gt_dir");
  }
  return { videoDir, gtDir };
}

/** The `eval` stage kind. */
export const evalKind: StageKind<EvalParams> = {
  name: "eval",
  description:
    "Predict masks from first-frame prompts with a checkpoint and score J&F against ground truth",
  params,
  outputs: { predictions: "dir", report: "dir" },
  modules: [
    import.meta.url,
    new URL("../../gpu/mod.ts", import.meta.url).href,
    new URL("../../eval/inference/predict_videos.ts", import.meta.url).href,
    new URL("../../eval/evaluate.ts", import.meta.url).href,
    new URL("../../eval/_video_worker.ts", import.meta.url).href,
    new URL("../../eval/report.ts", import.meta.url).href,
    new URL("../../data/manifest/manifest.ts", import.meta.url).href,
  ],
  async run(ctx) {
    const { initGpu } = await importLazily<typeof import("../../gpu/mod.ts")>(
      "../../gpu/mod.ts",
      import.meta.url,
    );
    const { predictVideos } = await importLazily<
      typeof import("../../eval/inference/predict_videos.ts")
    >("../../eval/inference/predict_videos.ts", import.meta.url);
    const { evaluate } = await importLazily<typeof import("../../eval/evaluate.ts")>(
      "../../eval/evaluate.ts",
      import.meta.url,
    );
    const { writeJFReport } = await importLazily<typeof import("../../eval/report.ts")>(
      "../../eval/report.ts",
      import.meta.url,
    );
    const p = ctx.params;
    let manifest: { format: string; frames: string; annotations: string } | undefined;
    if (p.dataset) {
      const { readManifest } = await importLazily<
        typeof import("../../data/manifest/manifest.ts")
      >("../../data/manifest/manifest.ts", import.meta.url);
      manifest = await readManifest(p.dataset);
    }
    const { videoDir, gtDir } = evalFolders(p, manifest);
    await initGpu();
    const pred = await predictVideos({
      checkpoint: p.checkpoint,
      modelConfig: p.model_config,
      baseVideoDir: videoDir,
      inputMaskDir: p.input_mask_dir ?? gtDir,
      outputMaskDir: ctx.outputs.predictions,
      videos: p.videos,
      scoreThresh: p.score_thresh,
      perObjPngFile: p.per_obj_png_file,
      onVideo: (v, done, total) => {
        ctx.log(
          `${v.name}: ${v.frames} frames, ${v.objects} objects, ` +
            `${(v.frames / v.seconds).toFixed(2)} frames/s`,
        );
        ctx.progress(done, total + 1);
      },
    });
    ctx.log(`predicted ${pred.frames} frames of ${pred.videos.length} videos`);
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const result = await evaluate({
      gtRoot: gtDir,
      predRoot: ctx.outputs.predictions,
      videos: p.videos,
      skipFirstAndLast: p.skip_first_and_last,
      boundTh: p.bound_th,
    });
    if (result.objects.length === 0) {
      throw new Error(
        `eval: no object was scored: no video of "${gtDir}" has predictions in ` +
          `"${ctx.outputs.predictions}" (check video_dir, gt_dir and input_mask_dir)`,
      );
    }
    await writeJFReport(result, ctx.outputs.report);
    ctx.progress(1, 1);
    ctx.log(
      `J&F ${result.jf.toFixed(1)}  J ${result.j.toFixed(1)}  F ${result.f.toFixed(1)}  ` +
        `(${result.videos.length} videos, ${result.objects.length} objects, ${result.layout})`,
    );
  },
};
