/** @module raw datasets (DAVIS/MOSE PNG folders, SA-V json, SA-1B) and segment loaders. */
export * from "./types.ts";
export * from "./segment_loaders.ts";
export * from "./raw_datasets.ts";
