/**
 * Mask PNGs as the J&F evaluator reads them (PIL `np.array(Image.open(path))`): a palette
 * PNG gives its palette indices (object ids), a grayscale PNG its gray values (8 or 16 bits).
 * Colour PNGs are refused, since their pixel values are not object ids.
 *
 * The decoding and encoding are the dataset code's ({@link decodeIndexedPng},
 * {@link encodePalettePng} in src/data/image/png.ts); this module keeps the evaluator's view
 * of them. It imports png.ts directly rather than the image folder's mod.ts so that the
 * evaluation workers do not load the JPEG codec.
 */
import { davisPalette, decodeIndexedPng, encodePalettePng } from "../data/image/png.ts";
import { atomicWrite } from "../util/atomic_write.ts";

/** A single-channel mask: one value per pixel, row-major. */
export interface MaskImage {
  width: number;
  height: number;
  /** Palette index or gray value per pixel. */
  data: Uint8Array | Uint16Array;
  /** The PNG's palette (RGB per index) when it has one. */
  palette?: [number, number, number][];
}

/**
 * Decodes mask PNG bytes.
 * @param name Used in error messages (the file path).
 * @throws {ImageDecodeError} naming the file for corrupt PNGs or colour (RGB/RGBA/gray+alpha)
 * images.
 */
export function decodeMaskPng(bytes: Uint8Array, name = "<png>"): MaskImage {
  // No CRC check: PIL, which the reference evaluator reads masks with, does not check it either.
  const img = decodeIndexedPng(bytes, { name, gray16: "keep", checkCrc: false });
  const palette = img.palette?.map((c) => [c[0], c[1], c[2]] as [number, number, number]);
  return { width: img.width, height: img.height, data: img.data, palette };
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
  return davisPalette();
}

/** Encodes an 8-bit palette PNG of object ids (DAVIS palette unless one is given). */
export function encodeMaskPng(
  mask: { width: number; height: number; data: Uint8Array },
  palette: [number, number, number][] = vocMaskPalette(),
): Uint8Array {
  return encodePalettePng({ width: mask.width, height: mask.height, data: mask.data, palette });
}

/** Writes a palette PNG atomically (temporary file, fsync, rename; see {@link atomicWrite}). */
export async function writeMaskPng(
  path: string,
  mask: { width: number; height: number; data: Uint8Array },
  palette?: [number, number, number][],
): Promise<void> {
  await atomicWrite(path, encodeMaskPng(mask, palette));
}
