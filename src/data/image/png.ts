/**
 * PNG masks: palette PNGs decoded to their palette indices (DAVIS-style object ids, which a
 * colour conversion would destroy), and palette PNG encoding for the masks we write. Both the
 * dataset loaders and the evaluator (src/eval/png_mask.ts) use these, so there is one decoder.
 *
 * @module
 */
import { decode, encode } from "fast-png";
import { ImageDecodeError } from "./errors.ts";

/**
 * A single-channel image of indices (palette PNG) or gray levels (grayscale PNG). The data is a
 * Uint16Array only for 16-bit grayscale PNGs decoded with `gray16: "keep"`.
 */
export interface IndexedImage<D extends Uint8Array | Uint16Array = Uint8Array> {
  width: number;
  height: number;
  /** One value per pixel, row-major. */
  data: D;
  /** The PNG's palette when it had one: RGB per index (RGBA when it had a tRNS chunk). */
  palette?: number[][];
}

function unpackBits(src: ArrayLike<number>, w: number, h: number, depth: number): Uint8Array {
  const out = new Uint8Array(w * h);
  const stride = Math.ceil((w * depth) / 8);
  const per = 8 / depth;
  const maskBits = (1 << depth) - 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const byte = src[y * stride + Math.floor(x / per)];
      const shift = 8 - depth * ((x % per) + 1);
      out[y * w + x] = (byte >> shift) & maskBits;
    }
  }
  return out;
}

/** Options for {@linkcode decodeIndexedPng}. */
export interface DecodeIndexedPngOptions {
  /** Name used in errors. @default "<bytes>" */
  name?: string;
  /**
   * What to do with RGB(A), gray+alpha or (unless `gray16` keeps them) 16-bit PNGs: "error"
   * (palette loaders need indices), or "nonzero" to give 1 where any colour channel is non-zero
   * (binary object masks).
   * @default "error"
   */
  color?: "error" | "nonzero";
  /**
   * What to do with 16-bit grayscale PNGs: "error", or "keep" to return their values in a
   * Uint16Array, as PIL's `np.array(Image.open(path))` does (the J&F evaluator compares them
   * as object ids).
   * @default "error"
   */
  gray16?: "error" | "keep";
  /**
   * Verify chunk CRCs. The evaluator turns this off to accept what PIL accepts (PIL skips the
   * CRC of image data chunks).
   * @default true
   */
  checkCrc?: boolean;
}

/**
 * Decodes a mask PNG keeping palette indices (PIL `convert("P")` on a palette or 8-bit gray
 * PNG; 1/2/4-bit rows are unpacked to one value a pixel). The one PNG mask decoder: the dataset
 * loaders and the J&F evaluator both read masks through it.
 *
 * @throws {ImageDecodeError} naming the file for broken PNGs or unsupported colour types.
 */
export function decodeIndexedPng(
  bytes: Uint8Array,
  opts: DecodeIndexedPngOptions & { gray16: "keep" },
): IndexedImage<Uint8Array | Uint16Array>;
export function decodeIndexedPng(
  bytes: Uint8Array,
  opts?: DecodeIndexedPngOptions,
): IndexedImage;
export function decodeIndexedPng(
  bytes: Uint8Array,
  opts: DecodeIndexedPngOptions = {},
): IndexedImage<Uint8Array | Uint16Array> {
  const name = opts.name ?? "<bytes>";
  // deno-lint-ignore no-explicit-any
  let png: any;
  try {
    png = decode(bytes, { checkCrc: opts.checkCrc ?? true });
  } catch (e) {
    throw new ImageDecodeError(name, `not a valid PNG (${(e as Error).message})`);
  }
  const { width: w, height: h, channels, depth } = png;
  if (!(w > 0 && h > 0)) throw new ImageDecodeError(name, `bad dimensions ${w}x${h}`);
  const need = depth < 8 ? Math.ceil((w * depth) / 8) * h * channels : w * h * channels;
  if (!png.data || png.data.length < need) {
    throw new ImageDecodeError(
      name,
      `pixel data is truncated (${png.data?.length ?? 0} < ${need})`,
    );
  }
  let data: Uint8Array | Uint16Array;
  if (channels === 1 && depth <= 8) {
    data = depth < 8
      ? unpackBits(png.data, w, h, depth)
      : new Uint8Array(png.data.subarray(0, w * h));
  } else if (channels === 1 && depth === 16 && opts.gray16 === "keep") {
    data = new Uint16Array(png.data.subarray(0, w * h));
  } else if (opts.color === "nonzero") {
    const bin = new Uint8Array(w * h);
    const colorCh = channels === 4 || channels === 2 ? channels - 1 : channels;
    const src = depth < 8 ? unpackBits(png.data, w * channels, h, depth) : png.data;
    for (let i = 0; i < w * h; i++) {
      let v = 0;
      for (let c = 0; c < colorCh; c++) v |= src[i * channels + c];
      bin[i] = v ? 1 : 0;
    }
    data = bin;
  } else {
    throw new ImageDecodeError(
      name,
      `the PNG has ${channels} channel${
        channels === 1 ? "" : "s"
      } at ${depth} bits: expected a palette or ` +
        `${opts.gray16 === "keep" ? "" : "8-bit "}grayscale mask PNG whose pixel values are ` +
        "object ids",
    );
  }
  return { width: w, height: h, data, palette: png.palette };
}

/** The DAVIS / PASCAL VOC colour map: index i gets the bit-interleaved colour of i. */
export function davisPalette(): [number, number, number][] {
  const pal: [number, number, number][] = [];
  for (let i = 0; i < 256; i++) {
    let r = 0, g = 0, b = 0, c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    pal.push([r, g, b]);
  }
  return pal;
}

/** Encodes object ids (one byte per pixel) as an 8-bit palette PNG, DAVIS colours by default. */
export function encodePalettePng(img: IndexedImage): Uint8Array {
  if (img.data.length !== img.width * img.height) {
    throw new RangeError(
      `Index data has ${img.data.length} bytes, expected ${img.width}x${img.height}`,
    );
  }
  return encode({
    width: img.width,
    height: img.height,
    data: img.data,
    channels: 1,
    depth: 8,
    palette: img.palette ?? davisPalette(),
  });
}
