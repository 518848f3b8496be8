/**
 * `uses: train`: one training run from a trainer config (the reference's `train.py -c`), over
 * `runTraining` + `createSam2TrainTask` (src/train/trainer), as `deno task train` does. The
 * output folder is the run's `launcher.experiment_log_dir`: `checkpoints/checkpoint.pt`,
 * `logs/log.txt`, `logs/train_steps.jsonl`. The data folders and the initial weights are path
 * inputs, so their content is in the key; the config is one too.
 */
import type { StageKind } from "../kind.ts";
import { importLazily } from "../lazy_import.ts";
import { type Infer, s } from "../schema.ts";

const OVERRIDE = /^\+{0,2}[A-Za-z_][\w.]*=/;

const params = s.object({
  config: s.path({
    role: "input",
    desc: "Trainer config (YAML, the reference's configs/sam2.1_training form)",
  }),
  dataset: s.optional(s.path({
    role: "input",
    desc: "A build-dataset manifest: sets dataset.img_folder and dataset.gt_folder to its folders",
  })),
  img_folder: s.optional(s.path({
    role: "input",
    desc: "Frames, <dir>/<video>/<frame>.jpg: sets dataset.img_folder",
  })),
  gt_folder: s.optional(s.path({
    role: "input",
    desc: "Masks, <dir>/<video>/<frame>.png: sets dataset.gt_folder",
  })),
  init_checkpoint: s.optional(s.path({
    role: "input",
    desc: "Weights to start from (.pt): sets the model_weight_initializer's checkpoint_path",
  })),
  max_steps: s.optional(s.int({ min: 1, desc: "Stop after this many optimizer steps" })),
  overrides: s.defaulted(
    s.array(
      s.string({ pattern: OVERRIDE, desc: "Hydra-style key=value (scratch.num_epochs=2)" }),
      { desc: "Config overrides, applied after the ones the folders above set" },
    ),
    [],
  ),
}, { what: "train with:" });

/** Parameters of `train`. */
export type TrainParams = Infer<typeof params>;

/** The data folders a manifest names, for {@linkcode trainOverrides}. */
export interface ManifestFolders {
  frames: string;
  annotations: string;
}

/**
 * `key=value` overrides for `runTraining` from the stage's parameters (folders first; a
 * manifest's folders before explicit `img_folder` / `gt_folder`, which win).
 */
export function trainOverrides(
  p: TrainParams,
  logDir: string,
  manifest?: ManifestFolders,
): string[] {
  const out: string[] = [];
  if (manifest) {
    out.push(`dataset.img_folder=${manifest.frames}`, `dataset.gt_folder=${manifest.annotations}`);
  }
  if (p.img_folder) out.push(`dataset.img_folder=${p.img_folder}`);
  if (p.gt_folder) out.push(`dataset.gt_folder=${p.gt_folder}`);
  if (p.init_checkpoint) {
    out.push(
      `trainer.checkpoint.model_weight_initializer.state_dict.checkpoint_path=${p.init_checkpoint}`,
    );
  }
  out.push(...p.overrides, `launcher.experiment_log_dir=${logDir}`);
  return out;
}

const STEP_LINE = /^Train Epoch: \[\d+\]\[\d+\/\d+\] step (\d+) \|/;

/** The `train` stage kind. */
export const trainKind: StageKind<TrainParams> = {
  name: "train",
  description:
    "Train or fine-tune SAM 2 from a trainer config; writes <dir>/checkpoints/checkpoint.pt",
  params,
  outputs: { dir: "dir" },
  modules: [
    import.meta.url,
    new URL("../../train/trainer/run_training.ts", import.meta.url).href,
    new URL("../../train/trainer/sam2_task.ts", import.meta.url).href,
    new URL("../../data/manifest/manifest.ts", import.meta.url).href,
  ],
  async run(ctx) {
    const { runTraining } = await importLazily<
      typeof import("../../train/trainer/run_training.ts")
    >(
      "../../train/trainer/run_training.ts",
      import.meta.url,
    );
    const { createSam2TrainTask } = await importLazily<
      typeof import("../../train/trainer/sam2_task.ts")
    >("../../train/trainer/sam2_task.ts", import.meta.url);
    const p = ctx.params;
    let manifest: ManifestFolders | undefined;
    if (p.dataset) {
      const { readManifest } = await importLazily<
        typeof import("../../data/manifest/manifest.ts")
      >("../../data/manifest/manifest.ts", import.meta.url);
      const m = await readManifest(p.dataset);
      manifest = { frames: m.frames, annotations: m.annotations };
      ctx.log(
        `dataset ${p.dataset}: ${m.format}, ${m.totals.videos} videos, ${m.totals.objects} ` +
          `objects (frames ${m.frames}, annotations ${m.annotations})`,
      );
    }
    const total = p.max_steps ?? 0;
    if (total) ctx.progress(0, total);
    const report = await runTraining({
      config: p.config,
      overrides: trainOverrides(p, ctx.outputs.dir, manifest),
      cwd: ctx.root,
      // the staging folder is fresh: a checkpoint there would be a bug, not a run to continue
      resume: "refuse",
      maxSteps: p.max_steps,
      createTask: createSam2TrainTask,
      print: (line) => {
        for (const l of line.split("\n")) ctx.log(l);
        const m = STEP_LINE.exec(line);
        if (m && total) ctx.progress(Math.min(Number(m[1]), total), total);
      },
    });
    const r = report.result;
    if (!r) throw new Error(`train: runTraining returned no result for "${p.config}"`);
    if (!r.checkpoint) {
      throw new Error(
        `train: the run wrote no checkpoint (check trainer.checkpoint.save_dir in "${p.config}")`,
      );
    }
    if (!r.checkpoint.startsWith(ctx.outputs.dir + "/")) {
      throw new Error(
        `train: the checkpoint went to "${r.checkpoint}", outside the stage's output folder: ` +
          `set trainer.checkpoint.save_dir to \${launcher.experiment_log_dir}/checkpoints in ` +
          `"${p.config}"`,
      );
    }
    if (r.progress.steps.train === 0) {
      ctx.log("note: no optimizer step was taken; the checkpoint holds the initial weights");
    }
    if (total) ctx.progress(total, total);
    ctx.log(
      `${r.stoppedAtMaxSteps ? "stopped" : "finished"} at epoch ${r.progress.epoch}, step ` +
        `${r.progress.steps.train}, last loss ${r.lastLoss}; checkpoint ${r.checkpoint}`,
    );
  },
};
