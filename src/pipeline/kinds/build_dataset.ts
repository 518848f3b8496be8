/**
 * `uses: build-dataset`: indexes frames and annotations (DAVIS, SA-V or SA-1B layout) into a
 * dataset manifest, over `src/data/manifest`. The manifest names the folders relative to where
 * it is placed (`ctx.destinations`), so it is place-dependent: its `outs` path is in the key.
 */
import type { StageKind } from "../kind.ts";
import { importLazily } from "../lazy_import.ts";
import { dirname } from "../paths.ts";
import { type Infer, s } from "../schema.ts";

const params = s.object({
  frames: s.path({ role: "input", desc: "Frames folder (one sub-folder per video)" }),
  annotations: s.optional(s.path({ role: "input", desc: "Annotations folder" })),
  format: s.enum(["davis", "sav", "sa1b"] as const, { desc: "Dataset layout" }),
  ann_every: s.defaulted(s.int({ min: 1, desc: "SA-V: annotation i is frame i * ann_every" }), 4),
  verify: s.defaulted(
    s.enum(["decode", "header"] as const, { desc: "Decode every frame or read headers only" }),
    "header",
  ),
}, { what: "build-dataset with:" });

/** Parameters of `build-dataset`. */
export type BuildDatasetParams = Infer<typeof params>;

/** The `build-dataset` stage kind. */
export const buildDatasetKind: StageKind<BuildDatasetParams> = {
  name: "build-dataset",
  description: "Index frames and annotations into a dataset manifest (JSON)",
  params,
  outputs: { manifest: "file" },
  // the manifest holds the frames and annotations folders relative to where it is placed
  placeDependent: true,
  modules: [
    import.meta.url,
    new URL("../../data/manifest/build_dataset.ts", import.meta.url).href,
  ],
  async run(ctx) {
    const { buildDataset } = await importLazily<
      typeof import("../../data/manifest/build_dataset.ts")
    >(
      "../../data/manifest/build_dataset.ts",
      import.meta.url,
    );
    const { frames, annotations } = ctx.params;
    const m = await buildDataset({
      frames,
      ...(annotations ? { annotations } : {}),
      format: ctx.params.format,
      out: ctx.outputs.manifest,
      relativeTo: dirname(ctx.destinations.manifest),
      annEvery: ctx.params.ann_every,
      verify: ctx.params.verify,
      digests: {
        frames: ctx.inputDigests[frames],
        ...(annotations ? { annotations: ctx.inputDigests[annotations] } : {}),
      },
      onProgress: (d, t) => ctx.progress(d, t),
    });
    // Only the `with:` paths are hashed into the key: a default annotations folder outside
    // `frames` (DAVIS `Annotations` beside `JPEGImages`) would change without re-running us.
    if (!annotations && !`${m.annotations}/`.startsWith(`${frames.replace(/\/+$/, "")}/`)) {
      throw new Error(
        `build-dataset: the annotations were found at "${m.annotations}", outside "frames"; ` +
          `name that folder in \`annotations:\` so that its content is part of the stage's key`,
      );
    }
    ctx.log(`manifest: ${JSON.stringify(m).length} bytes`);
  },
};
