/**
 * @module eval/inference: video object segmentation inference (the reference's
 * `tools/vos_inference.py` with `SAM2VideoPredictor`), writing predictions that `evaluate` scores.
 *
 * ```ts
 * import { predictVideos } from "./mod.ts";
 * const r = await predictVideos({
 *   checkpoint: "model.pt", modelConfig: "configs/mini.yaml",
 *   baseVideoDir: "davis/JPEGImages", inputMaskDir: "davis/Annotations", outputMaskDir: "preds",
 * });
 * console.log(r.fps.toFixed(2), "frames/s");
 * ```
 */
export * from "./frames.ts";
export * from "./video_predictor.ts";
export * from "./predict_videos.ts";
