/**
 * `uses: eval`: registered with its parameters so pipelines validate and plan today; running
 * it fails clearly until video inference and J&F (src/eval) exist.
 */
import { KindUnavailableError } from "../errors.ts";
import type { StageKind } from "../kind.ts";
import { type Infer, s } from "../schema.ts";

const params = s.object({
  checkpoint: s.path({ role: "input", desc: "Checkpoint to evaluate" }),
  dataset: s.path({ role: "input", desc: "Validation dataset manifest" }),
  config: s.optional(s.path({ role: "input", desc: "Model config (YAML)" })),
  split: s.optional(s.string({ desc: "Split name" })),
}, { what: "eval with:" });

/** Parameters of `eval`. */
export type EvalParams = Infer<typeof params>;

/** The `eval` stage kind (not available yet). */
export const evalKind: StageKind<EvalParams> = {
  name: "eval",
  description: "Predict masks and score J&F on a validation set (not available yet)",
  params,
  outputs: { report: "dir" },
  modules: [import.meta.url],
  run() {
    return Promise.reject(
      new KindUnavailableError(
        `Stage kind "eval" is not available yet: video inference and J&F (src/eval) are not built in this version`,
      ),
    );
  },
};
