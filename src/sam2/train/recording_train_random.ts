import type {
  RecordedRngCall,
  RecordedSamplerCall,
  TrainRandomRecording,
} from "./replay_train_random.ts";
import type { BoxRequest, HostPoints, PointRequest, TrainRandom } from "./train_random.ts";

/**
 * Wraps a `TrainRandom` and records every decision in the fixture's JSON layout (`rng_calls`,
 * `sampler_calls`), so a training step can be replayed exactly with `ReplayTrainRandom` (e.g.
 * to reproduce a step that went wrong).
 */
export class RecordingTrainRandom implements TrainRandom {
  readonly recording: TrainRandomRecording = { rng_calls: [], sampler_calls: [] };

  constructor(readonly inner: TrainRandom) {}

  random(): number {
    const result = this.inner.random();
    this.recording.rng_calls.push({ call: "random", result });
    return result;
  }

  integers(low: number, high: number): number {
    const result = this.inner.integers(low, high);
    const rec: RecordedRngCall = {
      call: "integers",
      args: [low, high],
      kwargs: { endpoint: true },
      result,
    };
    this.recording.rng_calls.push(rec);
    return result;
  }

  choice(population: readonly number[], size: number): number[] {
    const result = this.inner.choice(population, size);
    this.recording.rng_calls.push({
      call: "choice",
      population: [...population],
      args: [size],
      kwargs: { replace: false },
      result: [...result],
    });
    return result;
  }

  async samplePoints(req: PointRequest): Promise<HostPoints> {
    const p = await this.inner.samplePoints(req);
    this.recording.sampler_calls.push({
      ...sampled("get_next_point", req.frame, req.phase, p),
      from_gt_only: req.pred === null,
      method: req.method ?? "uniform",
    });
    return p;
  }

  sampleBox(req: BoxRequest): HostPoints {
    const p = this.inner.sampleBox(req);
    this.recording.sampler_calls.push(sampled("sample_box_points", req.frame, req.phase, p));
    return p;
  }
}

function sampled(
  fn: RecordedSamplerCall["fn"],
  frame: number,
  phase: string,
  p: HostPoints,
): RecordedSamplerCall {
  const points: number[][][] = [], labels: number[][] = [];
  for (let b = 0; b < p.numObjects; b++) {
    const pts: number[][] = [], lab: number[] = [];
    for (let i = 0; i < p.numPoints; i++) {
      const j = b * p.numPoints + i;
      pts.push([p.coords[2 * j], p.coords[2 * j + 1]]);
      lab.push(p.labels[j]);
    }
    points.push(pts), labels.push(lab);
  }
  return { fn, phase, frame, points, labels };
}
