/** @module dataset manifests: build-dataset validation and opening a validated dataset. */
export * from "./manifest.ts";
export * from "./build_dataset.ts";
export * from "./open_dataset.ts";
