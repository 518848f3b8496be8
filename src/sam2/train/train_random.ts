/**
 * The one door through which every random decision of `SAM2Train` passes, so that a recorded
 * run (the fixture's `rng_calls` and `sampler_calls`) can be replayed exactly and a seeded run is
 * reproducible.
 *
 * @module
 */

/** Where a point or box request comes from (the reference's call site). */
export type SamplerPhase = "prepare_prompt_inputs" | "correction";

/** A batch of ground-truth (and optionally predicted) binary masks [O, 1, H, W] on the host. */
export interface MaskBatch {
  /** Row-major [O, H, W] 0/1 values. */
  data: Uint8Array;
  numObjects: number;
  height: number;
  width: number;
}

/**
 * How a new click is chosen (`get_next_point`'s `method`): "uniform" draws at random from the
 * error region (training), "center" takes the point farthest inside it (the reference's default
 * in eval mode, `pt_sampling_for_eval`).
 */
export type PointSamplingMethod = "uniform" | "center";

/** A request for one new click per object (`get_next_point(gt, pred, method)`). */
export interface PointRequest {
  frame: number;
  phase: SamplerPhase;
  gt: MaskBatch;
  /** @default "uniform" */
  method?: PointSamplingMethod;
  /**
   * The current prediction `high_res_masks > 0` as [O, H, W] 0/1, read lazily (a GPU
   * read-back); null samples "from GT only" (the reference passes `pred_masks=None`).
   */
  pred: (() => Promise<Uint8Array>) | null;
}

/** A request for a noisy ground-truth box per object (`sample_box_points`). */
export interface BoxRequest {
  frame: number;
  phase: SamplerPhase;
  gt: MaskBatch;
}

/** Points of a prompt on the host: coordinates [O, N, 2] (x, y pixels), labels [O, N]. */
export interface HostPoints {
  coords: Float32Array;
  labels: Int32Array;
  numObjects: number;
  numPoints: number;
}

/**
 * Every random decision `SAM2Train` makes. The first three mirror numpy's `Generator` calls of
 * the reference (`rng.random()`, `rng.integers(low, high, endpoint=True)`,
 * `rng.choice(population, size, replace=False)`); the samplers stand for the torch-random point
 * and box samplers of sam2_utils.
 */
export interface TrainRandom {
  /** Uniform in [0, 1). */
  random(): number;
  /** Uniform integer in [low, high] (inclusive, numpy's `endpoint=True`). */
  integers(low: number, high: number): number;
  /** `size` distinct entries of `population`, in draw order. */
  choice(population: readonly number[], size: number): number[];
  /** One new click per object from the error regions (or the GT when `pred` is null). */
  samplePoints(req: PointRequest): Promise<HostPoints>;
  /** A noisy box per object as two points with labels 2 (top-left) and 3 (bottom-right). */
  sampleBox(req: BoxRequest): HostPoints;
}

/**
 * Passes every call to `inner`: a base for wrappers that watch or check one kind of draw (a
 * spy on the clicks, a replay that validates them) and leave the rest as they are.
 */
export class ForwardingTrainRandom implements TrainRandom {
  constructor(readonly inner: TrainRandom) {}
  random(): number {
    return this.inner.random();
  }
  integers(low: number, high: number): number {
    return this.inner.integers(low, high);
  }
  choice(population: readonly number[], size: number): number[] {
    return this.inner.choice(population, size);
  }
  samplePoints(req: PointRequest): Promise<HostPoints> {
    return this.inner.samplePoints(req);
  }
  sampleBox(req: BoxRequest): HostPoints {
    return this.inner.sampleBox(req);
  }
}
