import { buildDatasetKind } from "./kinds/build_dataset.ts";
import { evalKind } from "./kinds/eval.ts";
import { extractFramesKind } from "./kinds/extract_frames.ts";
import { trainKind } from "./kinds/train.ts";
import { KindRegistry } from "./registry.ts";

/** A registry with the built-in kinds: extract-frames, build-dataset, train, eval. */
export function builtinRegistry(): KindRegistry {
  return new KindRegistry()
    .register(extractFramesKind)
    .register(buildDatasetKind)
    .register(trainKind)
    .register(evalKind);
}
