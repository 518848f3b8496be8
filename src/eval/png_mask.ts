/**
 * Mask PNGs as the J&F evaluator reads them (PIL `np.array(Image.open(path))`): a palette
 * PNG gives its palette indices (object ids), a grayscale PNG its gray values. Colour PNGs
 * are refused, since their pixel values are not object ids.
 */
import { decode, encode } from "fast-png";

/** A single-channel mask: one value per pixel, row-major. */
export interface MaskImage {
  width: number;
  height: number;
  /** Palette index or gray value per pixel. */
  data: Uint8Array | Uint16Array;
  /** The PNG's palette (RGB per index) when it has one. */
  palette?: [number, number, number][];
}

/** Unpacks 1/2/4-bit rows (byte-aligned, most significant bits first) into one value a pixel. */
function unpack(packed: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const perByte = 8 / depth;
  const maxv = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = packed[y * rowBytes + Math.floor(x / perByte)];
      const shift = 8 - depth * ((x % perByte) + 1);
      out[y * width + x] = (byte >> shift) & maxv;
    }
  }
  return out;
}

/**
 * Decodes mask PNG bytes.
 * @param name Used in error messages (the file path).
 * @throws {Error} naming the file for corrupt PNGs or colour (RGB/RGBA/gray+alpha) images.
 */
export function decodeMaskPng(bytes: Uint8Array, name = "<png>"): MaskImage {
  let img;
  try {
    img = decode(bytes);
  } catch (e) {
    throw new Error(`Cannot decode mask PNG ${name}: ${(e as Error).message}`);
  }
  if (img.channels !== 1) {
    throw new Error(
      `Mask PNG ${name} has ${img.channels} channels: expected a palette or grayscale PNG ` +
        "whose pixel values are object ids",
    );
  }
  const { width, height, depth } = img;
  const palette = img.palette?.map((c) => [c[0], c[1], c[2]] as [number, number, number]);
  if (depth < 8) {
    return { width, height, data: unpack(img.data as Uint8Array, width, height, depth), palette };
  }
  const data = img.data instanceof Uint16Array
    ? img.data
    : new Uint8Array(img.data.buffer, img.data.byteOffset, width * height);
  return { width, height, data, palette };
}

/** Reads and decodes a mask PNG file (see {@link decodeMaskPng}). */
export async function readMaskPng(path: string): Promise<MaskImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Mask not found: ${path}`);
    }
    throw e;
  }
  return decodeMaskPng(bytes, path);
}

/**
 * The DAVIS palette (PASCAL VOC colour map) that the reference writes predictions with when
 * the input has none: id i gets the colour from the bits of i spread over r, g, b.
 */
export function vocMaskPalette(): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let i = 0; i < 256; i++) {
    let r = 0, g = 0, b = 0, c = i;
    for (let j = 0; j < 8; j++) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    out.push([r, g, b]);
  }
  return out;
}

/** Encodes an 8-bit palette PNG of object ids (DAVIS palette unless one is given). */
export function encodeMaskPng(
  mask: { width: number; height: number; data: Uint8Array },
  palette: [number, number, number][] = vocMaskPalette(),
): Uint8Array {
  return encode({
    width: mask.width,
    height: mask.height,
    data: mask.data,
    depth: 8,
    channels: 1,
    palette,
  });
}

/** Writes a palette PNG atomically (temporary file, then rename). */
export async function writeMaskPng(
  path: string,
  mask: { width: number; height: number; data: Uint8Array },
  palette?: [number, number, number][],
): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeFile(tmp, encodeMaskPng(mask, palette));
  await Deno.rename(tmp, path);
}
