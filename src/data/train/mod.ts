/** @module training clips: sampler, dataset, transforms, collation, mixing, Worker loader. */
export * from "./datapoint.ts";
export * from "./sampler.ts";
export * from "./vos_dataset.ts";
export * from "./concat_dataset.ts";
export * from "./transforms/mod.ts";
export * from "./collate.ts";
export * from "./buffer_pool.ts";
export * from "./mixed_dataset.ts";
export * from "./clip_dataset_spec.ts";
export * from "./clip_loader.ts";
export * from "./reference_config.ts";
