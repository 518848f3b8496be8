/**
 * JPEG (and any format libvips reads) to and from interleaved RGB uint8, through `sharp`.
 *
 * @module
 */
import sharp from "sharp";
import { ImageDecodeError } from "./errors.ts";

/** An interleaved RGB image, row-major, 3 bytes per pixel. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Options for {@linkcode decodeRgb}. */
export interface DecodeRgbOptions {
  /** Name used in error messages when `input` is bytes. @default "<bytes>" */
  name?: string;
}

/**
 * Decodes an image file (path) or its bytes to RGB uint8, dropping alpha and converting
 * grayscale to three channels (as PIL's `convert("RGB")`).
 *
 * @throws {ImageDecodeError} naming the file when it is missing or not a decodable image.
 */
export async function decodeRgb(
  input: string | Uint8Array,
  opts: DecodeRgbOptions = {},
): Promise<RgbImage> {
  const name = typeof input === "string" ? input : (opts.name ?? "<bytes>");
  let bytes: Uint8Array;
  try {
    bytes = typeof input === "string" ? await Deno.readFile(input) : input;
  } catch (e) {
    throw new ImageDecodeError(name, `cannot read file (${(e as Error).message})`);
  }
  try {
    const { data, info } = await sharp(bytes, { failOn: "error" })
      .toColourspace("srgb")
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      throw new Error(`expected 3 channels after conversion, got ${info.channels}`);
    }
    return {
      width: info.width,
      height: info.height,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(name, (e as Error).message.split("\n")[0]);
  }
}

/**
 * Reads only an image's width and height from its header (cheap validation).
 *
 * @throws {ImageDecodeError} naming the file when the header is unreadable.
 */
export async function imageSize(path: string): Promise<{ width: number; height: number }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new ImageDecodeError(path, `cannot read file (${(e as Error).message})`);
  }
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) throw new Error("no size in header");
    return { width: meta.width, height: meta.height };
  } catch (e) {
    throw new ImageDecodeError(path, (e as Error).message.split("\n")[0]);
  }
}

/** Options for {@linkcode encodeRgbJpeg}. */
export interface EncodeRgbJpegOptions {
  /** libjpeg quality 1..100. @default 90 */
  quality?: number;
}

/** Encodes an RGB image as baseline JPEG (4:2:0, like most datasets' frames). */
export async function encodeRgbJpeg(
  img: RgbImage,
  opts: EncodeRgbJpegOptions = {},
): Promise<Uint8Array> {
  if (img.data.length !== img.width * img.height * 3) {
    throw new RangeError(
      `RGB data has ${img.data.length} bytes, expected ${img.width}x${img.height}x3`,
    );
  }
  const buf = await sharp(img.data, {
    raw: { width: img.width, height: img.height, channels: 3 },
  }).jpeg({ quality: opts.quality ?? 90 }).toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
