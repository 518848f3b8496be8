import {
  sampleBoxPoints,
  sampleOnePointFromErrorCenter,
  sampleRandomPointsFromErrors,
} from "./prompt_sampling.ts";
import type { BoxRequest, HostPoints, PointRequest, TrainRandom } from "./train_random.ts";

/**
 * A seeded `TrainRandom` (xoshiro128** seeded through splitmix32). It does not reproduce
 * numpy's PCG64 stream: runs are reproducible for a seed, not equal to the reference's draws
 * (replay a recording with `ReplayTrainRandom` for that).
 */
export class SeededTrainRandom implements TrainRandom {
  #s: Uint32Array;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s = Uint32Array.from([next(), next(), next(), next()]);
  }

  #nextU32(): number {
    const s = this.#s;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  random(): number {
    // 53 random bits, like numpy's double draw.
    const hi = this.#nextU32() >>> 5, lo = this.#nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  integers(low: number, high: number): number {
    if (!(high >= low)) throw new RangeError(`integers(): high ${high} < low ${low}`);
    return low + Math.min(high - low, Math.floor(this.random() * (high - low + 1)));
  }

  choice(population: readonly number[], size: number): number[] {
    if (size > population.length) {
      throw new RangeError(`choice(): ${size} from ${population.length} without replacement`);
    }
    const pool = [...population], out: number[] = [];
    for (let i = 0; i < size; i++) {
      const j = i + Math.min(pool.length - i - 1, Math.floor(this.random() * (pool.length - i)));
      [pool[i], pool[j]] = [pool[j], pool[i]];
      out.push(pool[i]);
    }
    return out;
  }

  async samplePoints(req: PointRequest): Promise<HostPoints> {
    const pred = req.pred ? await req.pred() : null;
    // The error-center click draws nothing, like the reference's.
    if (req.method === "center") return sampleOnePointFromErrorCenter(req.gt, pred);
    return sampleRandomPointsFromErrors(req.gt, pred, () => this.random());
  }

  sampleBox(req: BoxRequest): HostPoints {
    return sampleBoxPoints(req.gt, () => this.random());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
