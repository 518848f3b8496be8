/**
 * COCO run-length encoding, byte-compatible with pycocotools' `maskApi.c`.
 *
 * Masks are counted in column-major (Fortran) order, runs alternate starting with
 * background (a leading 0 when the first pixel is foreground). The compressed string form
 * stores each count (after the first two, as the delta to the count two places back) in
 * 5-bit groups, least significant first, with bit 0x20 meaning "more groups follow" and bit
 * 0x10 of the last group giving the sign, each group offset by 48 into printable ASCII.
 *
 * @module
 */

/** A compressed COCO RLE as found in SA-V / SA-1B json: `size` is `[height, width]`. */
export interface CocoRle {
  size: [number, number];
  counts: string;
}

/** The same RLE with its counts as numbers (pycocotools' "uncompressed" form). */
export interface RleCounts {
  size: [number, number];
  counts: number[];
}

/** A binary mask in row-major order, one byte per pixel (0 or 1). */
export interface BinaryMask {
  height: number;
  width: number;
  data: Uint8Array;
}

/** Bad RLE input: the message names the problem and where (character offset or run index). */
export class RleError extends Error {
  override name = "RleError";
}

/** Largest mask we agree to decode (pixels); guards against absurd `size` fields. */
export const MAX_RLE_PIXELS = 1 << 28;

function checkSize(size: unknown, where: string): [number, number] {
  if (!Array.isArray(size) || size.length !== 2) {
    throw new RleError(`${where}: "size" must be [height, width], got ${JSON.stringify(size)}`);
  }
  const [h, w] = size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) {
    throw new RleError(`${where}: "size" must hold non-negative integers, got [${h}, ${w}]`);
  }
  if (h * w > MAX_RLE_PIXELS) {
    throw new RleError(`${where}: mask of ${h}x${w} pixels is larger than ${MAX_RLE_PIXELS}`);
  }
  return [h, w];
}

/**
 * Parses the compressed counts string into run lengths (pycocotools `rleFrString`), checking
 * that every run is non-negative and that they add up to `height * width`.
 *
 * @throws {RleError} on a bad character, an over-long group, a negative run or a wrong total.
 */
export function countsFromString(s: string, size: [number, number], where = "RLE"): number[] {
  const [h, w] = checkSize(size, where);
  const total = h * w;
  const cnts: number[] = [];
  let p = 0;
  let sum = 0;
  while (p < s.length) {
    const start = p;
    let x = 0;
    let k = 0;
    let more = true;
    let c = 0;
    while (more) {
      if (p >= s.length) {
        throw new RleError(`${where}: counts string ends inside a number (offset ${start})`);
      }
      c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) {
        throw new RleError(
          `${where}: invalid character ${JSON.stringify(s[p])} at offset ${p} of counts`,
        );
      }
      if (k >= 10) {
        throw new RleError(`${where}: number starting at offset ${start} is too long`);
      }
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
    }
    if (c & 0x10) x -= 2 ** (5 * k); // sign-extend (two's complement over 5k bits)
    const m = cnts.length;
    if (m > 2) x += cnts[m - 2];
    if (x < 0) {
      throw new RleError(`${where}: run ${m} is negative (${x}) at offset ${start} of counts`);
    }
    sum += x;
    if (sum > total) {
      throw new RleError(
        `${where}: runs exceed ${h}x${w}=${total} pixels at run ${m} (offset ${start})`,
      );
    }
    cnts.push(x);
  }
  if (sum !== total) {
    throw new RleError(`${where}: runs cover ${sum} pixels, expected ${h}x${w}=${total}`);
  }
  return cnts;
}

/** Encodes run lengths to pycocotools' compressed string (`rleToString`). */
export function countsToString(cnts: ArrayLike<number>): string {
  const out: number[] = [];
  for (let i = 0; i < cnts.length; i++) {
    let x = cnts[i];
    if (i > 2) x -= cnts[i - 2];
    let more = true;
    while (more) {
      // x may be negative: floor division by 32 is the arithmetic shift of the C code.
      let c = ((x % 32) + 32) % 32;
      x = Math.floor(x / 32);
      more = (c & 0x10) ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out.push(c + 48);
    }
  }
  return chunkedChars(out);
}

function chunkedChars(codes: number[]): string {
  let s = "";
  for (let i = 0; i < codes.length; i += 8192) {
    s += String.fromCharCode(...codes.slice(i, i + 8192));
  }
  return s;
}

/** Validates an RLE object of either form and returns its run lengths. */
export function rleCounts(rle: CocoRle | RleCounts, where = "RLE"): number[] {
  if (rle === null || typeof rle !== "object") {
    throw new RleError(`${where}: expected an object with "size" and "counts"`);
  }
  const size = checkSize((rle as CocoRle).size, where);
  const counts = (rle as { counts: unknown }).counts;
  if (typeof counts === "string") return countsFromString(counts, size, where);
  if (Array.isArray(counts)) {
    let sum = 0;
    for (let i = 0; i < counts.length; i++) {
      const v = counts[i];
      if (!Number.isInteger(v) || v < 0) {
        throw new RleError(`${where}: counts[${i}] must be a non-negative integer, got ${v}`);
      }
      sum += v;
    }
    if (sum !== size[0] * size[1]) {
      throw new RleError(
        `${where}: runs cover ${sum} pixels, expected ${size[0]}x${size[1]}=${size[0] * size[1]}`,
      );
    }
    return counts.slice();
  }
  throw new RleError(`${where}: "counts" must be a string or an array of integers`);
}

/**
 * Decodes an RLE (compressed or not) into a row-major binary mask.
 *
 * @throws {RleError} when the RLE is malformed; nothing is written out of bounds.
 */
export function decodeRle(rle: CocoRle | RleCounts, where = "RLE"): BinaryMask {
  const cnts = rleCounts(rle, where);
  const [h, w] = rle.size;
  const data = new Uint8Array(h * w);
  let pos = 0; // column-major position
  let v = 0;
  for (const n of cnts) {
    if (v) {
      for (let k = 0; k < n; k++) {
        const q = pos + k;
        const x = (q / h) | 0;
        data[(q - x * h) * w + x] = 1;
      }
    }
    pos += n;
    v ^= 1;
  }
  return { height: h, width: w, data };
}

/** Run lengths of a row-major mask (non-zero = foreground), in COCO's column-major order. */
export function maskToCounts(mask: BinaryMask): number[] {
  const { height: h, width: w, data } = mask;
  if (data.length !== h * w) {
    throw new RleError(`Mask data has ${data.length} bytes, expected ${h}x${w}=${h * w}`);
  }
  const cnts: number[] = [];
  let prev = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = data[y * w + x] ? 1 : 0;
      if (v !== prev) {
        cnts.push(run);
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  cnts.push(run);
  return cnts;
}

/** Encodes a row-major mask to a compressed COCO RLE (pycocotools `encode`). */
export function encodeRle(mask: BinaryMask): CocoRle {
  return { size: [mask.height, mask.width], counts: countsToString(maskToCounts(mask)) };
}

/** Foreground pixel count, from the runs alone (pycocotools `area`). */
export function rleArea(rle: CocoRle | RleCounts, where = "RLE"): number {
  const cnts = rleCounts(rle, where);
  let a = 0;
  for (let i = 1; i < cnts.length; i += 2) a += cnts[i];
  return a;
}

/**
 * Bounding box `[x, y, width, height]` from the runs alone (pycocotools `toBbox`): a
 * foreground run that wraps to the next column spans the full height.
 */
export function rleBbox(
  rle: CocoRle | RleCounts,
  where = "RLE",
): [number, number, number, number] {
  const cnts = rleCounts(rle, where);
  const [h, w] = rle.size;
  const m = cnts.length - (cnts.length % 2);
  if (m === 0 || h === 0) return [0, 0, 0, 0];
  let xs = w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (let j = 0; j < m; j++) {
    cc += cnts[j];
    const t = cc - (j % 2);
    const y = t % h;
    const x = (t - y) / h;
    if (j % 2 === 0) xp = x;
    else if (xp < x) {
      ys = 0;
      ye = h - 1;
    }
    xs = Math.min(xs, x);
    xe = Math.max(xe, x);
    ys = Math.min(ys, y);
    ye = Math.max(ye, y);
  }
  if (xs > xe) return [0, 0, 0, 0];
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}

/** Combines two equally sized run lists pixel-wise with `op` (0/1 in, 0/1 out). */
function mergeCounts(a: number[], b: number[], op: (x: number, y: number) => number): number[] {
  const out: number[] = [];
  let ia = 0, ib = 0, ra = a[0] ?? 0, rb = b[0] ?? 0, va = 0, vb = 0;
  let cur = 0, run = 0;
  for (;;) {
    while (ra === 0 && ia < a.length - 1) {
      ia++;
      ra = a[ia];
      va ^= 1;
    }
    while (rb === 0 && ib < b.length - 1) {
      ib++;
      rb = b[ib];
      vb ^= 1;
    }
    if (ra === 0 || rb === 0) break;
    const n = Math.min(ra, rb);
    const v = op(va, vb);
    if (v !== cur) {
      out.push(run);
      run = 0;
      cur = v;
    }
    run += n;
    ra -= n;
    rb -= n;
  }
  out.push(run);
  return out;
}

function sameSize(a: CocoRle | RleCounts, b: CocoRle | RleCounts): void {
  if (a.size[0] !== b.size[0] || a.size[1] !== b.size[1]) {
    throw new RleError(`RLE sizes differ: [${a.size}] vs [${b.size}]`);
  }
}

/** Union (or intersection with `intersect: true`) of RLEs of one size (pycocotools `merge`). */
export function mergeRles(rles: (CocoRle | RleCounts)[], intersect = false): CocoRle {
  if (rles.length === 0) throw new RleError("mergeRles() needs at least one RLE");
  let acc = rleCounts(rles[0]);
  for (let i = 1; i < rles.length; i++) {
    sameSize(rles[0], rles[i]);
    acc = mergeCounts(acc, rleCounts(rles[i]), intersect ? (x, y) => x & y : (x, y) => x | y);
  }
  return { size: [rles[0].size[0], rles[0].size[1]], counts: countsToString(acc) };
}

/** Intersection over union of two RLE masks; 0 when both are empty (as pycocotools `iou`). */
export function rleIou(a: CocoRle | RleCounts, b: CocoRle | RleCounts): number {
  sameSize(a, b);
  const ca = rleCounts(a), cb = rleCounts(b);
  const inter = mergeCounts(ca, cb, (x, y) => x & y);
  const uni = mergeCounts(ca, cb, (x, y) => x | y);
  let i = 0, u = 0;
  for (let k = 1; k < inter.length; k += 2) i += inter[k];
  for (let k = 1; k < uni.length; k += 2) u += uni[k];
  return u === 0 ? 0 : i / u;
}
