/**
 * `uses: train`: registered with its parameters so pipelines validate and plan today; running
 * it fails clearly until the trainer (src/train) exists.
 */
import { KindUnavailableError } from "../errors.ts";
import type { StageKind } from "../kind.ts";
import { type Infer, s } from "../schema.ts";

const params = s.object({
  config: s.path({ role: "input", desc: "Training config (YAML, named like the reference's)" }),
  dataset: s.path({ role: "input", desc: "Dataset manifest from build-dataset" }),
  checkpoint: s.optional(s.path({ role: "input", desc: "Checkpoint to start from (.pt)" })),
  epochs: s.defaulted(s.int({ min: 1 }), 1),
  batch_size: s.defaulted(s.int({ min: 1 }), 1),
  lr: s.optional(s.number({ min: 0, desc: "Base learning rate (overrides the config)" })),
  seed: s.defaulted(s.int({ min: 0 }), 0),
  overrides: s.optional(s.record(s.any(), { desc: "Config overrides (dotted keys)" })),
}, { what: "train with:" });

/** Parameters of `train`. */
export type TrainParams = Infer<typeof params>;

/** The `train` stage kind (not available yet). */
export const trainKind: StageKind<TrainParams> = {
  name: "train",
  description: "Train or fine-tune SAM 2 (not available yet)",
  params,
  outputs: { checkpoint: "file", logs: "dir" },
  modules: [import.meta.url],
  tools: [{ name: "deno" }],
  run() {
    return Promise.reject(
      new KindUnavailableError(
        `Stage kind "train" is not available yet: the trainer (src/train) is not built in this version`,
      ),
    );
  },
};
