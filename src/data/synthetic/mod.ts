/** @module synthetic datasets with exact ground truth (moving, occluding shapes). */
export * from "./generate.ts";
export * from "./scene.ts";
export * from "./mp4_writer.ts";
