/**
 * Builds a transform pipeline from plain, serialisable specs, using the reference's class
 * names and snake_case arguments (as in its Hydra YAML: `_target_:
 * training.dataset.transforms.RandomAffine`, `consistent_transform: true`, ...), so a
 * Worker can rebuild the same pipeline and configs carry over.
 *
 * @module
 */
import type { Transform } from "./transform.ts";
import { RandomAffine, RandomHorizontalFlip, RandomResizeAPI } from "./geometry.ts";
import { ColorJitter, RandomGrayscale } from "./color.ts";
import { RandomMosaicVideoAPI } from "./mosaic.ts";
import { NormalizeAPI, ToTensorAPI, ToTensorNormalize } from "./tensor.ts";
import { deferPixelWork } from "./plan.ts";

/**
 * A spec that tells {@linkcode buildTransforms} to leave the recorded pixel ops pending on the
 * frames (`pixelPlan`) for the GPU instead of running them on the CPU; loaders add it to the
 * specs they send to their Workers when pixels are transformed on the GPU.
 */
export const PIXEL_OPS_ON_GPU: TransformSpec = { type: "PixelOpsOnGpu" };

/** One transform: `_target_` (dotted path, last part used) or `type`, plus its arguments. */
export type TransformSpec = { _target_?: string; type?: string } & Record<string, unknown>;

/** The MOSE fine-tuning training pipeline of the reference config, at `resolution`. */
export function moseTrainTransformSpecs(resolution = 1024): TransformSpec[] {
  return [
    { type: "RandomHorizontalFlip", consistent_transform: true },
    {
      type: "RandomAffine",
      degrees: 25,
      shear: 20,
      image_interpolation: "bilinear",
      consistent_transform: true,
    },
    { type: "RandomResizeAPI", sizes: resolution, square: true, consistent_transform: true },
    {
      type: "ColorJitter",
      consistent_transform: true,
      brightness: 0.1,
      contrast: 0.03,
      saturation: 0.03,
      hue: null,
    },
    { type: "RandomGrayscale", p: 0.05, consistent_transform: true },
    {
      type: "ColorJitter",
      consistent_transform: false,
      brightness: 0.1,
      contrast: 0.05,
      saturation: 0.05,
      hue: null,
    },
    { type: "ToTensorAPI" },
    { type: "NormalizeAPI", mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  ];
}

function bool(v: unknown, name: string, where: string): boolean {
  if (typeof v !== "boolean") throw new TypeError(`${where}: "${name}" must be true or false`);
  return v;
}

/**
 * Instantiates specs; `ComposeAPI` specs are flattened. Pixel work is recorded by each step
 * and done once at the end (see `deferPixelWork`), or left pending for the GPU when the
 * specs hold {@linkcode PIXEL_OPS_ON_GPU}. The random draws are the same either way.
 *
 * @throws {TypeError} naming the transform and argument when a spec is not understood.
 */
export function buildTransforms(specs: TransformSpec[]): Transform[] {
  const onGpu = specs.some((s) => (s.type ?? s._target_) === PIXEL_OPS_ON_GPU.type);
  return deferPixelWork(
    instantiate(specs.filter((s) => (s.type ?? s._target_) !== PIXEL_OPS_ON_GPU.type)),
    {
      leavePending: onGpu,
    },
  );
}

/** The transform objects of `specs`, each applying its own pixel work. */
export function instantiate(specs: TransformSpec[]): Transform[] {
  const out: Transform[] = [];
  let skipNext = false;
  for (const [i, s] of specs.entries()) {
    if (skipNext) {
      skipNext = false;
      continue;
    }
    const name = (s._target_ ?? s.type ?? "").split(".").pop() ?? "";
    const where = `transform ${i} (${name || "?"})`;
    const a = s as Record<string, unknown>;
    const known = new Set(["_target_", "type"]);
    const take = (k: string) => {
      known.add(k);
      return a[k];
    };
    switch (name) {
      case "RandomHorizontalFlip":
        out.push(
          new RandomHorizontalFlip({
            consistentTransform: bool(take("consistent_transform"), "consistent_transform", where),
            p: (take("p") as number) ?? 0.5,
          }),
        );
        break;
      case "RandomAffine":
        out.push(
          new RandomAffine({
            degrees: take("degrees") as number,
            consistentTransform: bool(take("consistent_transform"), "consistent_transform", where),
            scale: (take("scale") as [number, number]) ?? undefined,
            translate: (take("translate") as [number, number]) ?? undefined,
            shear: (take("shear") as number) ?? undefined,
            imageMean: (take("image_mean") as [number, number, number]) ?? undefined,
            numTentatives: (take("num_tentatives") as number) ?? undefined,
            imageInterpolation: (take("image_interpolation") as "bilinear") ?? undefined,
          }),
        );
        take("log_warning");
        break;
      case "RandomResizeAPI":
        out.push(
          new RandomResizeAPI({
            sizes: take("sizes") as number,
            consistentTransform: bool(take("consistent_transform"), "consistent_transform", where),
            maxSize: (take("max_size") as number) ?? undefined,
            square: (take("square") as boolean) ?? false,
          }),
        );
        take("v2");
        break;
      case "ColorJitter":
        out.push(
          new ColorJitter({
            consistentTransform: bool(take("consistent_transform"), "consistent_transform", where),
            brightness: take("brightness") as number,
            contrast: take("contrast") as number,
            saturation: take("saturation") as number,
            hue: take("hue") as number | null,
          }),
        );
        break;
      case "RandomGrayscale":
        out.push(
          new RandomGrayscale({
            consistentTransform: bool(take("consistent_transform"), "consistent_transform", where),
            p: (take("p") as number) ?? 0.5,
          }),
        );
        break;
      case "ToTensorAPI": {
        take("v2");
        const nx = specs[i + 1];
        const nxName = nx ? (nx._target_ ?? nx.type ?? "").split(".").pop() : "";
        if (nxName === "NormalizeAPI" && !nx.v2) {
          // fused: same numbers, one pass (the normalise spec is consumed here)
          out.push(new ToTensorNormalize({ mean: nx.mean as number[], std: nx.std as number[] }));
          skipNext = true;
        } else out.push(new ToTensorAPI());
        break;
      }
      case "NormalizeAPI":
        out.push(
          new NormalizeAPI({ mean: take("mean") as number[], std: take("std") as number[] }),
        );
        take("v2");
        break;
      case "RandomMosaicVideoAPI":
        out.push(
          new RandomMosaicVideoAPI({
            prob: (take("prob") as number) ?? undefined,
            gridH: (take("grid_h") as number) ?? undefined,
            gridW: (take("grid_w") as number) ?? undefined,
            useRandomHflip: (take("use_random_hflip") as boolean) ?? undefined,
          }),
        );
        break;
      case "ComposeAPI":
        out.push(...instantiate(take("transforms") as TransformSpec[]));
        break;
      default:
        throw new TypeError(`${where}: unknown transform "${s._target_ ?? s.type}"`);
    }
    for (const k of Object.keys(a)) {
      if (!known.has(k)) throw new TypeError(`${where}: unknown argument "${k}"`);
    }
  }
  return out;
}
