/**
 * `RandomMosaicVideoAPI`: with probability `prob`, every frame becomes a grid of downsized
 * copies of itself while the objects' masks keep only the copy in one random target cell
 * (optionally with cells mirrored at random), as in the reference.
 *
 * @module
 */
import type { Rng } from "../../rng.ts";
import type { VideoDatapoint } from "../datapoint.ts";
import { hostBufferPool } from "../buffer_pool.ts";
import { resizeBytes, resizeMask } from "./resample.ts";
import type { Transform } from "./transform.ts";

/** Options for {@linkcode RandomMosaicVideoAPI}. */
export interface RandomMosaicOptions {
  /** @default 0.15 */
  prob?: number;
  /** @default 2 */
  gridH?: number;
  /** @default 2 */
  gridW?: number;
  /** Mirror each cell with probability 0.5. @default false */
  useRandomHflip?: boolean;
}

function flipInPlace(d: Uint8Array, w: number, h: number, c: number): void {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w >> 1; x++) {
      const a = (y * w + x) * c, b = (y * w + w - 1 - x) * c;
      for (let k = 0; k < c; k++) [d[a + k], d[b + k]] = [d[b + k], d[a + k]];
    }
  }
}

function paste(
  dst: Uint8Array,
  dw: number,
  src: Uint8Array,
  sw: number,
  sh: number,
  x0: number,
  y0: number,
  c: number,
) {
  for (let y = 0; y < sh; y++) {
    dst.set(src.subarray(y * sw * c, (y + 1) * sw * c), ((y0 + y) * dw + x0) * c);
  }
}

/** The reference's mosaic augmentation (unused by the MOSE config, available to others). */
export class RandomMosaicVideoAPI implements Transform {
  readonly prob: number;
  readonly gridH: number;
  readonly gridW: number;
  readonly useRandomHflip: boolean;
  constructor(opts: RandomMosaicOptions = {}) {
    this.prob = opts.prob ?? 0.15;
    this.gridH = opts.gridH ?? 2;
    this.gridW = opts.gridW ?? 2;
    this.useRandomHflip = opts.useRandomHflip ?? false;
  }

  apply(dp: VideoDatapoint, rng: Rng): VideoDatapoint {
    if (rng.random() > this.prob) return dp;
    const gh = this.gridH, gw = this.gridW;
    const ty = rng.randint(0, gh - 1), tx = rng.randint(0, gw - 1);
    const flip = Array.from(
      { length: gh * gw },
      () => (this.useRandomHflip ? rng.random() < 0.5 : false),
    );
    for (const f of dp.frames) {
      const { width: W, height: H, data } = f.image;
      const out = hostBufferPool.u8(W * H * 3);
      const cell = (gy: number, gx: number) => {
        const y0 = Math.floor((gy * H) / gh), x0 = Math.floor((gx * W) / gw);
        return {
          y0,
          x0,
          h: Math.floor(((gy + 1) * H) / gh) - y0,
          w: Math.floor(((gx + 1) * W) / gw) - x0,
        };
      };
      const cache = new Map<string, Uint8Array>();
      for (let gy = 0; gy < gh; gy++) {
        for (let gx = 0; gx < gw; gx++) {
          const c = cell(gy, gx);
          const key = `${c.w}x${c.h}`;
          let small = cache.get(key);
          if (!small) {
            small = resizeBytes(data, W, H, 3, c.w, c.h);
            cache.set(key, small);
          }
          let piece = small;
          if (flip[gy * gw + gx]) {
            piece = small.slice();
            flipInPlace(piece, c.w, c.h, 3);
          }
          paste(out, W, piece, c.w, c.h, c.x0, c.y0, 3);
        }
      }
      for (const s of cache.values()) hostBufferPool.release(s);
      hostBufferPool.release(data);
      f.image = { width: W, height: H, data: out };
      const t = cell(ty, tx);
      for (const o of f.objects) {
        const small = resizeMask(o.segment, W, H, t.w, t.h);
        if (flip[ty * gw + tx]) flipInPlace(small, t.w, t.h, 1);
        const seg = hostBufferPool.u8(W * H);
        seg.fill(0);
        paste(seg, W, small, t.w, t.h, t.x0, t.y0, 1);
        hostBufferPool.release(small);
        hostBufferPool.release(o.segment);
        o.segment = seg;
      }
    }
    return dp;
  }
}
