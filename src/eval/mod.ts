/**
 * @module eval: J&F evaluation of video object segmentation with the reference's semantics
 * (`sav_dataset/sav_evaluator.py`), mask PNG reading/writing, and reports.
 *
 * ```ts
 * import { evaluate, writeJFReport } from "./mod.ts";
 * const result = await evaluate({ gtRoot: "data/Annotations", predRoot: "out/preds" });
 * await writeJFReport(result, "out/eval");
 * console.log(result.jf.toFixed(1));
 * ```
 */
export * from "./metrics.ts";
export * from "./accumulator.ts";
export * from "./evaluate.ts";
export * from "./png_mask.ts";
export * from "./report.ts";
export * from "./vos_masks.ts";
export * from "./inference/mod.ts";
