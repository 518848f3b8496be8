/**
 * sam2/train: `SAM2Train`, the training-time forward of SAM 2 (prompt simulation, iterative
 * correction clicks, tracking with gradients through every frame), and the `TrainRandom`
 * interface every random decision goes through (seeded, or replayed from a recording).
 *
 * @module
 */
export * from "./train_random.ts";
export * from "./prompt_sampling.ts";
export * from "./distance_transform.ts";
export * from "./seeded_train_random.ts";
export * from "./replay_train_random.ts";
export * from "./recording_train_random.ts";
export * from "./sam2_train.ts";
