/**
 * Epoch plans for several datasets mixed in one training run (`training/dataset/
 * sam2_datasets.py::TorchTrainMixedDataset` + `MixedDataLoader`, `utils.py::
 * RepeatFactorWrapper`, torch's `DistributedSampler` and `BatchSampler`): which dataset
 * each batch comes from and which items it holds, for this rank.
 *
 * @module
 */
import { Rng } from "../rng.ts";

/**
 * Detectron2-style repeat factors: each index appears its integer part times, plus once
 * more with probability equal to the fractional part (seeded by `seed`).
 */
export function repeatFactorIndices(repeatFactors: ArrayLike<number>, seed: number): number[] {
  const rng = new Rng(seed);
  const out: number[] = [];
  for (let i = 0; i < repeatFactors.length; i++) {
    const f = repeatFactors[i];
    const whole = Math.trunc(f);
    const reps = whole + (rng.random() < f - whole ? 1 : 0);
    for (let k = 0; k < reps; k++) out.push(i);
  }
  return out;
}

/** What the mixer needs to know about a dataset. */
export interface MixableDataset {
  readonly repeatFactors: ArrayLike<number>;
}

/** Options for {@linkcode TrainMixedDataset}. */
export interface TrainMixedDatasetOptions {
  datasets: MixableDataset[];
  /** Clips per batch for each dataset. */
  batchSizes: number[];
  /** @default true */
  shuffle?: boolean;
  /** @default true */
  dropLast?: boolean;
  /** Each dataset epoch is split into this many trainer epochs. @default 1 */
  phasesPerEpoch?: number;
  /** Probability of drawing each dataset; default proportional to its number of batches. */
  datasetProb?: number[];
  /** Data-parallel rank and world size. @default 0, 1 */
  rank?: number;
  worldSize?: number;
  /** Seed of the repeat-factor rounding (`RepeatFactorWrapper(seed)`). @default 0 */
  seed?: number;
}

/** One batch of an epoch: the dataset and the item indices (into that dataset's videos). */
export interface PlannedBatch {
  datasetIdx: number;
  indices: number[];
}

/** Plans the batches of each epoch; the same on every rank apart from the rank's share. */
export class TrainMixedDataset {
  readonly opts: TrainMixedDatasetOptions;
  readonly datasetProb: number[];
  private chunks: (number[][] | null)[];

  constructor(opts: TrainMixedDatasetOptions) {
    if (opts.datasets.length === 0) {
      throw new RangeError("TrainMixedDataset needs at least one dataset");
    }
    if (opts.batchSizes.length !== opts.datasets.length) {
      throw new RangeError(
        `${opts.batchSizes.length} batch sizes for ${opts.datasets.length} datasets`,
      );
    }
    this.opts = opts;
    this.chunks = opts.datasets.map(() => null);
    if (opts.datasetProb) {
      if (opts.datasetProb.length !== opts.datasets.length) {
        throw new RangeError("datasetProb length differs");
      }
      const s = opts.datasetProb.reduce((a, b) => a + b, 0);
      if (Math.abs(s - 1) > 1e-6) throw new RangeError(`Probabilities should sum to 1.0, got ${s}`);
      this.datasetProb = opts.datasetProb.slice();
    } else {
      const lens = opts.datasets.map((_d, i) => {
        const n = this.epochIds(i, 0).length;
        const bs = opts.batchSizes[i];
        return (opts.dropLast ?? true) ? Math.floor(n / bs) : Math.ceil(n / bs);
      });
      const total = lens.reduce((a, b) => a + b, 0);
      this.datasetProb = lens.map((l) => (total ? l / total : 0));
    }
  }

  /** `RepeatFactorWrapper.set_epoch`: the repeated indices of a dataset for a data epoch. */
  epochIds(d: number, dataEpoch: number): number[] {
    return repeatFactorIndices(
      this.opts.datasets[d].repeatFactors,
      (this.opts.seed ?? 0) + dataEpoch,
    );
  }

  /** The batches of trainer epoch `epoch`, in mixing order, for this rank. */
  plan(epoch: number): PlannedBatch[] {
    const o = this.opts;
    const phases = o.phasesPerEpoch ?? 1;
    const world = o.worldSize ?? 1, rank = o.rank ?? 0;
    const perDataset: number[][][] = o.datasets.map((_, d) => {
      let items: number[];
      if (phases > 1) {
        const mainEpoch = Math.floor(epoch / phases), phase = epoch % phases;
        if (phase === 0 || this.chunks[d] === null) {
          const ids = this.epochIds(d, mainEpoch);
          const perm = new Rng(mainEpoch).permutation(ids.length).map((i) => ids[i]);
          const size = Math.ceil(perm.length / phases); // torch.chunk
          const chunks: number[][] = [];
          for (let i = 0; i < perm.length; i += size) chunks.push(perm.slice(i, i + size));
          this.chunks[d] = chunks;
        }
        items = this.chunks[d]![phase] ?? [];
      } else items = this.epochIds(d, epoch);
      // DistributedSampler(shuffle, seed 0, drop_last False) with set_epoch(epoch)
      let order = (o.shuffle ?? true)
        ? new Rng(epoch).permutation(items.length)
        : items.map((_, i) => i);
      if (order.length % world !== 0 && order.length > 0) {
        const pad = world - (order.length % world);
        const extra: number[] = [];
        while (extra.length < pad) extra.push(...order.slice(0, pad - extra.length));
        order = order.concat(extra);
      }
      const mine = order.filter((_, i) => i % world === rank).map((i) => items[i]);
      const bs = o.batchSizes[d];
      const batches: number[][] = [];
      for (let i = 0; i < mine.length; i += bs) {
        const b = mine.slice(i, i + bs);
        if (b.length < bs && (o.dropLast ?? true)) break;
        batches.push(b);
      }
      return batches;
    });
    // MixedDataLoader: generator seeded 42 at every iter, exhausted loaders get probability 0.
    const rng = new Rng(42);
    const prob = this.datasetProb.slice();
    const next = perDataset.map(() => 0);
    const out: PlannedBatch[] = [];
    for (;;) {
      const total = prob.reduce((a, b) => a + b, 0);
      if (total <= 0) break;
      let r = rng.random() * total, d = -1;
      for (let i = 0; i < prob.length; i++) {
        if (prob[i] <= 0) continue;
        d = i;
        if (r < prob[i]) break;
        r -= prob[i];
      }
      if (next[d] >= perDataset[d].length) {
        prob[d] = 0;
        continue;
      }
      out.push({ datasetIdx: d, indices: perDataset[d][next[d]++] });
    }
    return out;
  }
}
