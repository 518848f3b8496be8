/**
 * Several clip datasets as one (`training/dataset/utils.py::ConcatDataset`): indices run
 * through the parts in order and the repeat factors are concatenated, so one loader entry
 * (one batch size) can draw from, e.g., MOSE and SA-V together.
 *
 * @module
 */
import type { Rng } from "../rng.ts";
import type { VideoDatapoint } from "./datapoint.ts";

/** Anything that yields clips by index and knows its repeat factors. */
export interface ClipSource {
  readonly length: number;
  readonly repeatFactors: ArrayLike<number>;
  get(idx: number, rng: Rng, epoch?: number): Promise<VideoDatapoint>;
}

/** The concatenation of clip sources. */
export class ConcatDataset implements ClipSource {
  readonly parts: ClipSource[];
  readonly repeatFactors: Float64Array;
  readonly #offsets: number[];

  constructor(parts: ClipSource[]) {
    if (parts.length === 0) throw new RangeError("ConcatDataset needs at least one dataset");
    this.parts = parts;
    this.#offsets = [];
    let n = 0;
    for (const p of parts) {
      this.#offsets.push(n);
      n += p.length;
    }
    this.repeatFactors = new Float64Array(n);
    parts.forEach((p, i) => this.repeatFactors.set(Array.from(p.repeatFactors), this.#offsets[i]));
  }

  get length(): number {
    return this.repeatFactors.length;
  }

  get(idx: number, rng: Rng, epoch = 0): Promise<VideoDatapoint> {
    if (!(idx >= 0 && idx < this.length)) throw new RangeError(`Index ${idx} out of range`);
    let i = this.parts.length - 1;
    while (this.#offsets[i] > idx) i--;
    return this.parts[i].get(idx - this.#offsets[i], rng, epoch);
  }
}
