/**
 * Per-video accumulation of J and F exactly as the reference's `Evaluator` (vos-benchmark,
 * in `sav_benchmark.py`) does it: objects are discovered as frames are fed (ids seen so far
 * in the GT or the prediction), each known object gets one J and one F per frame from the
 * frame it was first seen, and only objects seen in the GT are reported, as the mean over
 * their frames times 100.
 */
import { boundaryF, DEFAULT_BOUND_TH, regionJ } from "./metrics.ts";

/** The mean J and F (in percent) of one object over its frames. */
export interface ObjectMeans {
  /** Mean region similarity x 100. */
  j: number;
  /** Mean boundary F-measure x 100. */
  f: number;
  /** How many frames contributed. */
  frames: number;
}

/** Feeds frames of one video (or one SA-V object) and concludes per-object means. */
export class JFAccumulator {
  private inGt = new Set<number>();
  private inPred = new Set<number>();
  private js = new Map<number, number[]>();
  private fs = new Map<number, number[]>();

  constructor(readonly boundTh = DEFAULT_BOUND_TH) {}

  /**
   * Adds one frame. `pred` and `gt` hold object ids per pixel (0 is background).
   * @throws {RangeError} when the two masks differ in size.
   */
  feedFrame(pred: ArrayLike<number>, gt: ArrayLike<number>, width: number, height: number): void {
    if (pred.length !== width * height || gt.length !== width * height) {
      throw new RangeError(
        `Mask sizes differ: prediction has ${pred.length} pixels, GT ${gt.length}, ` +
          `expected ${width}x${height}`,
      );
    }
    for (let i = 0; i < gt.length; i++) {
      if (gt[i] !== 0) this.inGt.add(gt[i]);
      if (pred[i] !== 0) this.inPred.add(pred[i]);
    }
    const all = new Set([...this.inGt, ...this.inPred]);
    const p = new Uint8Array(width * height);
    const g = new Uint8Array(width * height);
    for (const id of all) {
      for (let i = 0; i < g.length; i++) {
        p[i] = pred[i] === id ? 1 : 0;
        g[i] = gt[i] === id ? 1 : 0;
      }
      if (!this.js.has(id)) {
        this.js.set(id, []);
        this.fs.set(id, []);
      }
      this.js.get(id)!.push(regionJ(p, g));
      this.fs.get(id)!.push(boundaryF(p, g, width, height, { boundTh: this.boundTh }).f);
    }
  }

  /** Per GT object: mean J and F over its frames, in percent (the reference's `conclude`). */
  conclude(): Map<number, ObjectMeans> {
    const out = new Map<number, ObjectMeans>();
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const id of [...this.inGt].sort((a, b) => a - b)) {
      const js = this.js.get(id)!;
      out.set(id, { j: mean(js) * 100, f: mean(this.fs.get(id)!) * 100, frames: js.length });
    }
    return out;
  }
}
