/**
 * Runs the frames' pending pixel plans (see `plan.ts`) on the GPU: the source uint8 RGB is
 * uploaded once per frame, then unpack, flip, affine warp, PIL's fixed-point resize, colour
 * jitter / grayscale and to-tensor + normalise run as WGSL kernels (`image_transforms.ts`),
 * and each frame lands as normalised float32 [3, H, W] in one [T, 3, H, W] tensor. The
 * random parameters were drawn on the CPU by the same transforms and generator as the CPU
 * path, so a seed gives the same clip either way.
 *
 * Same result as the CPU path: resize, colour, grayscale and normalise are exact (integer
 * fixed point, host-made float32 blend products, host-made tables); the affine warp maps
 * coordinates in float32 where PIL uses double, so a few pixels whose sample lands within
 * ~1e-4 px of a truncation or border decision differ.
 *
 * @module
 */
import { gpu } from "../../../gpu/runtime.ts";
import {
  affinePixelsKernel,
  COLOR_BRIGHTNESS,
  COLOR_CONTRAST,
  COLOR_GRAY,
  COLOR_SATURATION,
  colorPixelsKernel,
  flipPixelsKernel,
  imageGrid,
  resizePixelsKernel,
  SUM_PIXELS,
  unpackRgbKernel,
} from "../../../kernels/image_transforms.ts";
import { Tensor } from "../../../tensor/tensor.ts";
import type { VideoDatapoint } from "../datapoint.ts";
import { hostBufferPool } from "../buffer_pool.ts";
import {
  type FramePlan,
  JITTER_BRIGHTNESS,
  JITTER_CONTRAST,
  JITTER_HUE,
  JITTER_SATURATION,
  type PlannedFrame,
} from "./plan.ts";
import { resizeTaps } from "./resample.ts";
import { toTensorLuts } from "./tensor_ops.ts";

/** A plan the GPU path cannot run (the CPU path can). */
export class GpuPlanError extends Error {
  override name = "GpuPlanError";
}

/** Steps of one colour run: their kinds, the blend products, where the contrast steps are. */
interface ColorRun {
  kinds: number[];
  prods: number[]; // 511 f32 per blend step, in step order
  contrastAt: number[]; // step index of each contrast step, in order
}

function colorRun(ops: FramePlan["ops"], frameDesc: string): ColorRun {
  const run: ColorRun = { kinds: [], prods: [], contrastAt: [] };
  const blend = (kind: number, factor: number) => {
    const a = Math.fround(factor);
    for (let d = -255; d <= 255; d++) run.prods.push(Math.fround(a * d));
    run.kinds.push(kind);
  };
  for (const op of ops) {
    if (op.op === "grayscale") run.kinds.push(COLOR_GRAY);
    else if (op.op === "jitter") {
      for (const [fn, f] of op.steps) {
        if (fn === JITTER_BRIGHTNESS) blend(COLOR_BRIGHTNESS, f);
        else if (fn === JITTER_CONTRAST) {
          run.contrastAt.push(run.kinds.length);
          blend(COLOR_CONTRAST, f);
        } else if (fn === JITTER_SATURATION) blend(COLOR_SATURATION, f);
        else if (fn === JITTER_HUE) {
          throw new GpuPlanError(
            `${frameDesc}: hue jitter has no GPU kernel (PIL's 8-bit HSV round trip); ` +
              "set hue to null or transform pixels on the CPU",
          );
        }
      }
    }
  }
  return run;
}

/** Options for {@linkcode GpuPixelPipeline.run}. */
export interface GpuPixelRunOptions {
  /**
   * Write into this tensor instead of a new one: [T, 3, H, W], or a batch [T, B, 3, H, W]
   * (`BatchedVideoDatapoint.imgBatch` layout) with this clip at `batchIndex`.
   */
  out?: Tensor;
  /** The clip's position b in a batch `out`. @default 0 */
  batchIndex?: number;
}

/** The GPU executor of pixel plans. Needs `initGpu()` first. */
export class GpuPixelPipeline {
  #tables = new Map<string, GPUBuffer>();
  #lutBufs = new Map<string, GPUBuffer>();

  /** Uploads (once) a resize tap table in the layout `resizePixelsKernel` reads. */
  #taps(
    inSize: number,
    outSize: number,
  ): { buf: GPUBuffer; k: number; first: number; last: number } {
    const t = resizeTaps(inSize, outSize);
    const key = `${inSize}>${outSize}`;
    let buf = this.#tables.get(key);
    const k = t.maxTaps;
    if (!buf) {
      const tab = new Int32Array(outSize * (k + 2));
      for (let o = 0; o < outSize; o++) {
        tab[o * (k + 2)] = t.start[o];
        tab[o * (k + 2) + 1] = t.count[o];
        tab.set(t.fixed.subarray(o * k, o * k + t.count[o]), o * (k + 2) + 2);
      }
      buf = gpu().pool.acquire(tab.byteLength, "resize taps");
      gpu().write(buf, 0, tab);
      this.#tables.set(key, buf);
    }
    return { buf, k, first: t.start[0], last: t.start[outSize - 1] + t.count[outSize - 1] };
  }

  #lut(mean?: number[], std?: number[]): GPUBuffer {
    const key = JSON.stringify([mean, std]);
    let b = this.#lutBufs.get(key);
    if (!b) {
      const l = toTensorLuts(mean, std);
      const all = new Float32Array(768);
      l.forEach((x, c) => all.set(x, c * 256));
      b = gpu().pool.acquire(all.byteLength, "to-tensor table");
      gpu().write(b, 0, all);
      this.#lutBufs.set(key, b);
    }
    return b;
  }

  /**
   * Runs the pending plans of `dp`'s frames (each must end with the tensor op and reach the
   * same size) and returns their [T, 3, H, W] float32 tensor. The frames keep their masks;
   * their plans are cleared, and `image` is left at the final size with no pixels (`data`
   * empty), the source bytes going back to the host pool.
   *
   * @throws {GpuPlanError} when a frame has no plan, a plan does not end with the tensor op,
   *   holds an op without a kernel (hue), or frames end at different sizes.
   */
  run(dp: VideoDatapoint, opts: GpuPixelRunOptions = {}): Tensor {
    const frames = dp.frames as PlannedFrame[];
    const plans = frames.map((f, t) => {
      const p = f.pixelPlan;
      if (!p) throw new GpuPlanError(`Frame ${t} has no pending pixel plan`);
      const last = p.ops[p.ops.length - 1];
      if (!last || last.op !== "tensor") {
        throw new GpuPlanError(`Frame ${t}: the GPU path needs ToTensorAPI as the last transform`);
      }
      return p;
    });
    // everything is checked before any frame is touched, so a caller can fall back to the CPU
    plans.forEach((p, t) => colorRun(p.ops, `Frame ${t}`));
    const W = plans[0].width, H = plans[0].height;
    if (plans.some((p) => p.width !== W || p.height !== H)) {
      throw new GpuPlanError("Frames of a clip end at different sizes: cannot stack them");
    }
    const out = opts.out ?? Tensor.empty([frames.length, 3, H, W], "f32");
    const batched = out.shape.length === 5;
    const B = batched ? out.shape[1] : 1, b = opts.batchIndex ?? 0;
    const want = batched ? [frames.length, B, 3, H, W] : [frames.length, 3, H, W];
    if (out.shape.join() !== want.join() || b < 0 || b >= B) {
      throw new RangeError(
        `GpuPixelPipeline.run: out is [${out.shape}], clip ${b} needs [${want}]`,
      );
    }
    frames.forEach((f, t) => {
      this.#runFrame(f, plans[t], out.storage.buffer, (t * B + b) * 3 * H * W, `Frame ${t}`);
      delete f.pixelPlan;
      hostBufferPool.release(f.image.data);
      f.image = { width: W, height: H, data: new Uint8Array(0) };
    });
    return out;
  }

  #runFrame(f: PlannedFrame, plan: FramePlan, out: GPUBuffer, outOff: number, desc: string) {
    const g = gpu();
    const pool = g.pool;
    const held: GPUBuffer[] = [];
    const acquire = (bytes: number, label: string) => {
      const b = pool.acquire(Math.max(4, bytes), label);
      held.push(b);
      return b;
    };
    let w = f.image.width, h = f.image.height;
    const src = acquire(w * h * 3, "frame bytes");
    g.write(src, 0, f.image.data);
    let cur = acquire(w * h * 4, "frame pixels");
    // a leading flip not followed by a warp is done while unpacking
    const unpackFlip = plan.ops[0]?.op === "hflip" && plan.ops[1]?.op !== "affine";
    g.launch(unpackRgbKernel(), {
      buffers: [cur, src],
      uniforms: new Uint32Array([w, h, unpackFlip ? 1 : 0, imageGrid(w * h)[0]]),
      workgroups: imageGrid(w * h),
    });
    let flip = false;
    let opIdx = unpackFlip ? 1 : 0;
    const ops = plan.ops;
    const flipNow = () => {
      if (!flip) return;
      flip = false;
      const next = acquire(w * h * 4, "frame pixels");
      g.launch(flipPixelsKernel(), {
        buffers: [next, cur],
        uniforms: new Uint32Array([w, h, 0, imageGrid(w * h)[0]]),
        workgroups: imageGrid(w * h),
      });
      cur = next;
    };
    while (opIdx < ops.length) {
      const op = ops[opIdx];
      if (op.op === "hflip") {
        flip = !flip;
        opIdx++;
      } else if (op.op === "affine") {
        const next = acquire(w * h * 4, "frame pixels");
        const u = new ArrayBuffer(48), uf = new Float32Array(u), uu = new Uint32Array(u);
        uf.set(op.matrix.slice(0, 6));
        uu.set([
          w,
          h,
          op.fill[0] | (op.fill[1] << 8) | (op.fill[2] << 16),
          flip ? 1 : 0,
          imageGrid(w * h)[0],
          0,
        ], 6);
        g.launch(affinePixelsKernel(op.interpolation), {
          buffers: [next, cur],
          uniforms: u,
          workgroups: imageGrid(w * h),
        });
        flip = false;
        cur = next;
        opIdx++;
      } else if (op.op === "resize") {
        flipNow();
        const ow = op.width, oh = op.height;
        const tv = oh !== h ? this.#taps(h, oh) : null;
        const y0 = tv ? tv.first : 0, y1 = tv ? tv.last : h;
        let tw = w, rowOff = 0;
        if (ow !== w) {
          const th = this.#taps(w, ow);
          const next = acquire(ow * (y1 - y0) * 4, "frame pixels");
          const n = ow * (y1 - y0);
          g.launch(resizePixelsKernel("h"), {
            buffers: [next, cur, th.buf],
            uniforms: new Uint32Array([w, ow, y1 - y0, th.k, y0, imageGrid(n)[0], 0, 0]),
            workgroups: imageGrid(n),
          });
          cur = next;
          tw = ow;
          rowOff = y0;
        }
        if (tv) {
          const next = acquire(ow * oh * 4, "frame pixels");
          g.launch(resizePixelsKernel("v"), {
            buffers: [next, cur, tv.buf],
            uniforms: new Uint32Array([tw, ow, oh, tv.k, rowOff, imageGrid(ow * oh)[0], 0, 0]),
            workgroups: imageGrid(ow * oh),
          });
          cur = next;
        }
        w = ow;
        h = oh;
        opIdx++;
      } else {
        // a run of colour ops up to the next geometric op or the tensor op
        flipNow();
        let end = opIdx;
        while (end < ops.length && (ops[end].op === "jitter" || ops[end].op === "grayscale")) {
          end++;
        }
        const run = colorRun(ops.slice(opIdx, end), desc);
        const final = ops[end]?.op === "tensor" ? ops[end] : null;
        const n = w * h;
        if (n * 255 >= 2 ** 31) {
          throw new GpuPlanError(`${desc}: ${w}x${h} is too large for the u32 luma sums`);
        }
        const prods = acquire(Math.max(4, run.prods.length * 4), "blend products");
        if (run.prods.length) g.write(prods, 0, new Float32Array(run.prods));
        const sums = acquire(Math.max(4, run.contrastAt.length * 4), "luma sums");
        g.write(sums, 0, new Uint32Array(Math.max(1, run.contrastAt.length)));
        const grid = imageGrid(n);
        run.contrastAt.forEach((stepIdx, slot) => {
          const sumGrid = imageGrid(Math.ceil(n / SUM_PIXELS));
          g.launch(colorPixelsKernel("sum", run.kinds.slice(0, stepIdx)), {
            buffers: [sums, cur, prods],
            uniforms: new Uint32Array([n, slot, 0, sumGrid[0]]),
            workgroups: sumGrid,
          });
        });
        if (final && final.op === "tensor") {
          // bind from an aligned offset; the rest of the offset goes in the uniforms
          const align = g.bindingAlignment / 4;
          const base = Math.floor(outOff / align) * align;
          g.launch(colorPixelsKernel("tensor", run.kinds), {
            buffers: [
              { buffer: out, offset: base * 4, size: (outOff - base + 3 * n) * 4 },
              cur,
              prods,
              sums,
              this.#lut(final.mean, final.std),
            ],
            uniforms: new Uint32Array([n, 0, outOff - base, grid[0]]),
            workgroups: grid,
          });
          opIdx = end + 1;
          break;
        }
        const next = acquire(n * 4, "frame pixels");
        g.launch(colorPixelsKernel("pixels", run.kinds), {
          buffers: [next, cur, prods, sums, prods],
          uniforms: new Uint32Array([n, 0, 0, grid[0]]),
          workgroups: grid,
        });
        cur = next;
        opIdx = end;
      }
    }
    for (const b of held) pool.release(b);
  }

  /** Gives the cached tables back to the GPU pool. */
  dispose(): void {
    for (const b of [...this.#tables.values(), ...this.#lutBufs.values()]) gpu().pool.release(b);
    this.#tables.clear();
    this.#lutBufs.clear();
  }
}

/**
 * The [T, H, W] a clip's frames reach: from the pending plans of {@linkcode
 * GpuPixelPipeline.run}, or the frames' images once their pixels were done (so a batch tensor
 * can be made before any clip of it runs).
 */
export function clipOutputSize(
  dp: VideoDatapoint,
): { frames: number; height: number; width: number } {
  const f0 = dp.frames[0] as PlannedFrame | undefined;
  if (!f0) throw new RangeError("The clip has no frames");
  const p = f0.pixelPlan;
  return {
    frames: dp.frames.length,
    height: p ? p.height : f0.image.height,
    width: p ? p.width : f0.image.width,
  };
}

/**
 * Uploads the CPU-made frame tensors of a clip (`DatapointFrame.tensor`, [3, H, W] each) into
 * its slot b of a [T, B, 3, H, W] batch tensor: for the clips the GPU path cannot run (hue),
 * so a batch is on the GPU whichever path each of its clips took.
 *
 * @throws {RangeError} when a frame has no tensor or the sizes do not match `out`.
 */
export function writeFrameTensors(dp: VideoDatapoint, out: Tensor, batchIndex: number): void {
  const [T, B, C, H, W] = out.shape;
  const plane = 3 * H * W;
  if (out.shape.length !== 5 || C !== 3 || dp.frames.length !== T || batchIndex >= B) {
    throw new RangeError(
      `writeFrameTensors: a clip of ${dp.frames.length} frames does not fit slot ${batchIndex} ` +
        `of [${out.shape}]`,
    );
  }
  dp.frames.forEach((f, t) => {
    if (!f.tensor || f.tensor.length !== plane) {
      throw new RangeError(
        `writeFrameTensors: frame ${t} has ${f.tensor ? f.tensor.length : "no"} tensor values, ` +
          `[3, ${H}, ${W}] needs ${plane} (ToTensorAPI last, one size for the batch)`,
      );
    }
    gpu().write(out.storage.buffer, (t * B + batchIndex) * plane * 4, f.tensor);
  });
}

/**
 * Reads a clip tensor of {@linkcode GpuPixelPipeline.run} back into each frame's `tensor`, so
 * the CPU collation can take GPU-transformed clips. The frames' tensors are views of one read
 * back buffer (no second copy).
 */
export async function readFrameTensors(dp: VideoDatapoint, t: Tensor): Promise<void> {
  const [T, , H, W] = t.shape;
  const plane = 3 * H * W;
  const all = await gpu().read(t.storage.buffer, 0, T * plane * 4);
  dp.frames.forEach((f, i) => {
    f.tensor = new Float32Array(all, i * plane * 4, plane);
  });
}
