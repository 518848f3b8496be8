/**
 * Video frames as the reference's `load_video_frames` (sam2/utils/misc.py) prepares them: the
 * JPEG frames of a folder, sorted by their integer names, each resized to a square
 * `image_size` with PIL's default (bicubic) filter and normalised with the ImageNet mean/std.
 *
 * @module
 */
import { decodeRgb, type RgbImage } from "../../data/image/mod.ts";

/** ImageNet mean and standard deviation (RGB), the reference's `img_mean` / `img_std`. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
/** See {@link IMAGENET_MEAN}. */
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

const JPEG_EXTENSIONS = [".jpg", ".jpeg", ".JPG", ".JPEG"];

/** One frame file of a video folder. */
export interface VideoFrame {
  /** The file name without its extension (`00000`): also the name of its mask PNGs. */
  name: string;
  /** The file's path. */
  path: string;
}

/**
 * The JPEG frames of a video folder in the reference's order (by the integer value of the
 * name, as `frame_names.sort(key=int)`).
 * @throws {Error} naming the folder when it is missing, empty, or a frame name is not an integer.
 */
export async function listVideoFrames(dir: string): Promise<VideoFrame[]> {
  const st = await Deno.stat(dir).catch(() => null);
  if (!st?.isDirectory) {
    throw new Deno.errors.NotFound(
      `Video folder "${dir}" does not exist (expected <base_video_dir>/<video>/<frame>.jpg)`,
    );
  }
  const frames: { name: string; path: string; index: number }[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile) continue;
    const dot = e.name.lastIndexOf(".");
    if (dot < 0 || !JPEG_EXTENSIONS.includes(e.name.slice(dot))) continue;
    const name = e.name.slice(0, dot);
    if (!/^\d+$/.test(name)) {
      throw new Error(
        `Frame "${dir}/${e.name}" is not named by an integer (the reference sorts frames by int(name))`,
      );
    }
    frames.push({ name, path: `${dir}/${e.name}`, index: Number(name) });
  }
  if (frames.length === 0) throw new Error(`Video folder "${dir}" holds no JPEG frames`);
  frames.sort((a, b) => a.index - b.index);
  return frames.map(({ name, path }) => ({ name, path }));
}

/** PIL's bicubic kernel (a = -0.5). */
function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

interface FixedTaps {
  start: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, `maxTaps` per output pixel. */
  weights: Float64Array;
  maxTaps: number;
}

/** PIL `precompute_coeffs` + `normalize_coeffs_8bpc` for the bicubic filter (support 2). */
function bicubicTaps(inSize: number, outSize: number): FixedTaps {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  const pre = new Float64Array(maxTaps);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < n; x++) {
      pre[x] = bicubic((x + xmin - center + 0.5) / filterscale);
      ww += pre[x];
    }
    for (let x = 0; x < n; x++) {
      const k = ww === 0 ? pre[x] : pre[x] / ww;
      weights[xx * maxTaps + x] = k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    }
    start[xx] = xmin;
    count[xx] = n;
  }
  return { start, count, weights, maxTaps };
}

function clip8(acc: number): number {
  const v = Math.floor(acc / ONE);
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes interleaved RGB exactly as PIL's `Image.resize(size)` with its default bicubic
 * filter on an 8-bit image (fixed-point weights, horizontal pass then vertical, each rounded
 * and clipped to uint8).
 */
export function resizeRgbBicubic(img: RgbImage, ow: number, oh: number): RgbImage {
  const { width: w, height: h, data } = img;
  let src = data, sw = w;
  if (ow !== w) {
    const t = bicubicTaps(w, ow);
    const out = new Uint8Array(ow * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < ow; x++) {
        const s = t.start[x], n = t.count[x], base = x * t.maxTaps;
        for (let c = 0; c < 3; c++) {
          let acc = ONE / 2;
          for (let k = 0; k < n; k++) acc += data[(y * w + s + k) * 3 + c] * t.weights[base + k];
          out[(y * ow + x) * 3 + c] = clip8(acc);
        }
      }
    }
    src = out;
    sw = ow;
  }
  if (oh === h) return { width: sw, height: h, data: src };
  const t = bicubicTaps(h, oh);
  const out = new Uint8Array(sw * oh * 3);
  for (let y = 0; y < oh; y++) {
    const s = t.start[y], n = t.count[y], base = y * t.maxTaps;
    for (let x = 0; x < sw; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = ONE / 2;
        for (let k = 0; k < n; k++) acc += src[((s + k) * sw + x) * 3 + c] * t.weights[base + k];
        out[(y * sw + x) * 3 + c] = clip8(acc);
      }
    }
  }
  return { width: sw, height: oh, data: out };
}

/** A frame ready for the image encoder, plus the size of the original. */
export interface LoadedFrame {
  /** [3, imageSize, imageSize] planar, normalised (`(x / 255 - mean) / std`). */
  pixels: Float32Array;
  /** The original frame's size (the video resolution the outputs are written at). */
  width: number;
  height: number;
}

/**
 * Reads one frame as `_load_img_as_tensor` + the normalisation of `load_video_frames`.
 * @throws {ImageDecodeError} naming the file when it is missing or not an image.
 */
export async function loadFrame(path: string, imageSize: number): Promise<LoadedFrame> {
  const img = await decodeRgb(path);
  const small = resizeRgbBicubic(img, imageSize, imageSize);
  const hw = imageSize * imageSize;
  const pixels = new Float32Array(3 * hw);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(IMAGENET_MEAN[c]), std = Math.fround(IMAGENET_STD[c]);
    for (let i = 0; i < hw; i++) {
      const v = Math.fround(small.data[i * 3 + c] / 255);
      pixels[c * hw + i] = Math.fround(Math.fround(v - mean) / std);
    }
  }
  return { pixels, width: img.width, height: img.height };
}
