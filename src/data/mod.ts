/** @module data: RLE, image codecs, raw datasets, synthetic data, manifests, training clips. */
export * from "./rle/mod.ts";
export * from "./image/mod.ts";
export * from "./rng.ts";
export * from "./fs_atomic.ts";
export * from "./raw/mod.ts";
export * from "./manifest/mod.ts";
export * from "./synthetic/mod.ts";
export * from "./extract/mod.ts";
export * from "./train/mod.ts";
