import type { BoxRequest, HostPoints, PointRequest, TrainRandom } from "./train_random.ts";

/** One recorded numpy `Generator` call (the fixture's `rng_calls` entries). */
export interface RecordedRngCall {
  call: "random" | "integers" | "choice";
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  population?: number[];
  result: number | number[];
}

/** One recorded sampler call (the fixture's `sampler_calls` entries). */
export interface RecordedSamplerCall {
  fn: "get_next_point" | "sample_box_points";
  phase: string;
  frame: number;
  /** get_next_point only: true when `pred_masks=None` was passed. */
  from_gt_only?: boolean;
  method?: string;
  /** [O][n][2] (x, y). */
  points: number[][][];
  /** [O][n]. */
  labels: number[][];
}

/** A recording of every random decision of one `SAM2Train` forward. */
export interface TrainRandomRecording {
  rng_calls: RecordedRngCall[];
  sampler_calls: RecordedSamplerCall[];
}

/** Raised when a replayed run asks for something other than what was recorded. */
export class ReplayMismatchError extends Error {
  override name = "ReplayMismatchError";
}

/**
 * Replays a recorded run: each call returns the recorded result after checking that the call
 * (kind, arguments, frame, phase, GT-only flag) is the one recorded at that index, so a
 * divergence is reported where it happens instead of as a numeric mismatch later.
 */
export class ReplayTrainRandom implements TrainRandom {
  #rng = 0;
  #sampler = 0;

  constructor(readonly recording: TrainRandomRecording) {}

  #nextRng(kind: RecordedRngCall["call"], detail: string): RecordedRngCall {
    const i = this.#rng++;
    const rec = this.recording.rng_calls[i];
    if (!rec) {
      throw new ReplayMismatchError(
        `Replay: rng call #${i} is ${kind}(${detail}) but the recording has only ` +
          `${this.recording.rng_calls.length} rng calls`,
      );
    }
    if (rec.call !== kind) {
      throw new ReplayMismatchError(
        `Replay: rng call #${i} is ${kind}(${detail}) but the recording has ${rec.call}` +
          `(${JSON.stringify(rec.args ?? rec.population ?? [])})`,
      );
    }
    return rec;
  }

  random(): number {
    return this.#nextRng("random", "").result as number;
  }

  integers(low: number, high: number): number {
    const rec = this.#nextRng("integers", `${low}, ${high}, endpoint=True`);
    const [l, h] = (rec.args ?? []) as number[];
    if (l !== low || h !== high || rec.kwargs?.endpoint !== true) {
      throw new ReplayMismatchError(
        `Replay: rng call #${this.#rng - 1} is integers(${low}, ${high}, endpoint=True) but ` +
          `the recording has integers(${rec.args}, ${JSON.stringify(rec.kwargs)})`,
      );
    }
    return rec.result as number;
  }

  choice(population: readonly number[], size: number): number[] {
    const rec = this.#nextRng("choice", `[${population}], ${size}`);
    const [n] = (rec.args ?? []) as number[];
    if (rec.population?.join(",") !== population.join(",") || n !== size) {
      throw new ReplayMismatchError(
        `Replay: rng call #${this.#rng - 1} is choice([${population}], ${size}) but the ` +
          `recording has choice([${rec.population}], ${n})`,
      );
    }
    return [...(rec.result as number[])];
  }

  #nextSampler(
    fn: RecordedSamplerCall["fn"],
    frame: number,
    phase: string,
    fromGtOnly?: boolean,
  ): RecordedSamplerCall {
    const i = this.#sampler++;
    const rec = this.recording.sampler_calls[i];
    const want = `${fn}(frame ${frame}, ${phase}${
      fromGtOnly === undefined ? "" : `, from_gt_only=${fromGtOnly}`
    })`;
    if (!rec) {
      throw new ReplayMismatchError(
        `Replay: sampler call #${i} is ${want} but the recording has only ` +
          `${this.recording.sampler_calls.length} sampler calls`,
      );
    }
    const got = `${rec.fn}(frame ${rec.frame}, ${rec.phase}${
      rec.from_gt_only === undefined ? "" : `, from_gt_only=${rec.from_gt_only}`
    })`;
    if (got !== want) {
      throw new ReplayMismatchError(
        `Replay: sampler call #${i} is ${want} but the recording has ${got}`,
      );
    }
    return rec;
  }

  samplePoints(req: PointRequest): Promise<HostPoints> {
    const rec = this.#nextSampler("get_next_point", req.frame, req.phase, req.pred === null);
    const method = req.method ?? "uniform";
    if (rec.method !== undefined && rec.method !== method) {
      throw new ReplayMismatchError(
        `Replay: sampler call #${this.#sampler - 1} is get_next_point(method="${method}") but ` +
          `the recording has method="${rec.method}"`,
      );
    }
    return Promise.resolve(toHost(rec, req.gt.numObjects, this.#sampler - 1));
  }

  sampleBox(req: BoxRequest): HostPoints {
    return toHost(
      this.#nextSampler("sample_box_points", req.frame, req.phase),
      req.gt.numObjects,
      this.#sampler - 1,
    );
  }

  /** Throws unless every recorded call was consumed. */
  assertExhausted(): void {
    const r = this.recording;
    if (this.#rng !== r.rng_calls.length || this.#sampler !== r.sampler_calls.length) {
      throw new ReplayMismatchError(
        `Replay: used ${this.#rng}/${r.rng_calls.length} rng calls and ` +
          `${this.#sampler}/${r.sampler_calls.length} sampler calls`,
      );
    }
  }
}

function toHost(rec: RecordedSamplerCall, numObjects: number, index: number): HostPoints {
  if (rec.points.length !== numObjects) {
    throw new ReplayMismatchError(
      `Replay: sampler call #${index} has ${rec.points.length} objects, the batch has ${numObjects}`,
    );
  }
  const n = rec.points[0].length;
  return {
    coords: Float32Array.from(rec.points.flat(2)),
    labels: Int32Array.from(rec.labels.flat()),
    numObjects,
    numPoints: n,
  };
}
