/**
 * PNG masks: palette PNGs decoded to their palette indices (DAVIS-style object ids, which a
 * colour conversion would destroy), and palette PNG encoding for the masks we write.
 *
 * @module
 */
import { decode, encode } from "fast-png";
import { ImageDecodeError } from "./errors.ts";

/** A single-channel image of indices (palette PNG) or gray levels (grayscale PNG). */
export interface IndexedImage {
  width: number;
  height: number;
  /** One byte per pixel, row-major. */
  data: Uint8Array;
  /** RGB palette when the PNG had one. */
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
   * What to do with RGB(A) or 16-bit PNGs: "error" (palette loaders need indices), or
   * "nonzero" to give 1 where any colour channel is non-zero (binary object masks).
   * @default "error"
   */
  color?: "error" | "nonzero";
}

/**
 * Decodes a PNG keeping palette indices (PIL `convert("P")` on a palette or 8-bit gray PNG).
 *
 * @throws {ImageDecodeError} naming the file for broken PNGs or unsupported colour types.
 */
export function decodeIndexedPng(
  bytes: Uint8Array,
  opts: DecodeIndexedPngOptions = {},
): IndexedImage {
  const name = opts.name ?? "<bytes>";
  // deno-lint-ignore no-explicit-any
  let png: any;
  try {
    png = decode(bytes, { checkCrc: true });
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
  let data: Uint8Array;
  if (channels === 1 && depth <= 8) {
    data = depth < 8
      ? unpackBits(png.data, w, h, depth)
      : new Uint8Array(png.data.subarray(0, w * h));
  } else if (opts.color === "nonzero") {
    data = new Uint8Array(w * h);
    const colorCh = channels === 4 || channels === 2 ? channels - 1 : channels;
    const src = depth < 8 ? unpackBits(png.data, w * channels, h, depth) : png.data;
    for (let i = 0; i < w * h; i++) {
      let v = 0;
      for (let c = 0; c < colorCh; c++) v |= src[i * channels + c];
      data[i] = v ? 1 : 0;
    }
  } else {
    throw new ImageDecodeError(
      name,
      `expected a palette or 8-bit grayscale mask PNG, got ${channels} channel(s) at ${depth} bits`,
    );
  }
  return { width: w, height: h, data, palette: png.palette };
}

/** The DAVIS / PASCAL VOC colour map: index i gets the bit-interleaved colour of i. */
export function davisPalette(): number[][] {
  const pal: number[][] = [];
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
