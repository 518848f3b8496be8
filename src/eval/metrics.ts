/**
 * Region (J) and boundary (F) measures for one object in one frame, as the reference's
 * `sav_dataset/utils/sav_benchmark.py` computes them (adapted there from the DAVIS 2017
 * evaluation): J is the IoU with J = 1 when both masks are empty; F is the F-measure of
 * boundary pixels matched within a disk whose radius is `ceil(bound_th * ||(H, W)||)`.
 */

/** Boundary tolerance of the reference: a fraction of the image diagonal. */
export const DEFAULT_BOUND_TH = 0.008;

/** A binary mask: 1 for the object, 0 elsewhere; row-major `height x width`. */
export type BinaryPixels = Uint8Array;

/** Options for {@link seg2bmap}. */
export interface Seg2BmapOptions {
  /** Width of the boundary map (<= the mask's). @default the mask's width */
  width?: number;
  /** Height of the boundary map (<= the mask's). @default the mask's height */
  height?: number;
}

/**
 * The one-pixel-wide boundary map of a mask (`_seg2bmap`): a pixel is on the boundary when
 * it differs from its right, bottom or bottom-right neighbour; in the last row only the
 * right neighbour counts, in the last column only the bottom one, and the bottom-right
 * pixel is never a boundary. With a smaller target size, boundary pixels are mapped with
 * the reference's formula (which uses `width / h`, kept as written there).
 */
export function seg2bmap(
  seg: BinaryPixels,
  w: number,
  h: number,
  opts: Seg2BmapOptions = {},
): Uint8Array {
  const width = opts.width ?? w;
  const height = opts.height ?? h;
  if (width > w || height > h || Math.abs(width / height - w / h) > 0.01) {
    throw new RangeError(`Cannot convert ${w}x${h} seg to ${width}x${height} bmap`);
  }
  const b = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const v = seg[row + x] ? 1 : 0;
      const lastRow = y === h - 1;
      const lastCol = x === w - 1;
      let on: number;
      if (lastRow && lastCol) on = 0;
      else if (lastRow) on = v ^ (seg[row + x + 1] ? 1 : 0);
      else if (lastCol) on = v ^ (seg[row + w + x] ? 1 : 0);
      else {
        on = (v ^ (seg[row + x + 1] ? 1 : 0)) | (v ^ (seg[row + w + x] ? 1 : 0)) |
          (v ^ (seg[row + w + x + 1] ? 1 : 0));
      }
      b[row + x] = on;
    }
  }
  if (width === w && height === h) return b;
  const out = new Uint8Array(width * height);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      if (!b[y * w + x]) continue;
      const j = 1 + Math.floor(y - 1 + height / h);
      const i = 1 + Math.floor(x - 1 + width / h);
      if (j < 0 || j >= height || i < 0 || i >= width) {
        throw new RangeError(`Boundary pixel (${x}, ${y}) maps outside the ${width}x${height} map`);
      }
      out[j * width + i] = 1;
    }
  }
  return out;
}

/** The disk radius in pixels for an image of this size: `ceil(boundTh * sqrt(H^2 + W^2))`. */
export function boundaryRadius(width: number, height: number, boundTh = DEFAULT_BOUND_TH): number {
  return Math.ceil(boundTh * Math.hypot(height, width));
}

/** Offsets (dx, dy) of `skimage.morphology.disk(r)`: all with dx^2 + dy^2 <= r^2. */
export function diskOffsets(radius: number): [number, number][] {
  const out: [number, number][] = [];
  for (let dy = -radius; dy <= radius; dy++) {
    for (let dx = -radius; dx <= radius; dx++) {
      if (dx * dx + dy * dy <= radius * radius) out.push([dx, dy]);
    }
  }
  return out;
}

/**
 * Binary dilation with a disk, as `cv2.dilate(img, disk(r))` (pixels outside the image do
 * not contribute). Used for inspection; the F-measure counts matches sparsely instead.
 */
export function dilate(mask: Uint8Array, w: number, h: number, radius: number): Uint8Array {
  const out = new Uint8Array(w * h);
  const offs = diskOffsets(radius);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      for (const [dx, dy] of offs) {
        const xx = x + dx, yy = y + dy;
        if (xx >= 0 && xx < w && yy >= 0 && yy < h) out[yy * w + xx] = 1;
      }
    }
  }
  return out;
}

/** How many pixels of boundary `a` have a pixel of boundary `b` within the disk: |a ∩ dil(b)|. */
function countMatched(
  a: Uint8Array,
  b: Uint8Array,
  w: number,
  h: number,
  offs: [number, number][],
): number {
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!a[y * w + x]) continue;
      for (const [dx, dy] of offs) {
        const xx = x + dx, yy = y + dy;
        if (xx >= 0 && xx < w && yy >= 0 && yy < h && b[yy * w + xx]) {
          n++;
          break;
        }
      }
    }
  }
  return n;
}

/** Region similarity J (IoU); 1 when both masks are empty. */
export function regionJ(pred: BinaryPixels, gt: BinaryPixels): number {
  let inter = 0, sum = 0;
  for (let i = 0; i < gt.length; i++) {
    const p = pred[i] ? 1 : 0, g = gt[i] ? 1 : 0;
    inter += p & g;
    sum += p + g;
  }
  if (inter === sum) return 1; // both empty
  return inter / (sum - inter);
}

/** Boundary precision, recall and F-measure of one object in one frame. */
export interface BoundaryScore {
  precision: number;
  recall: number;
  f: number;
}

/** Options for {@link boundaryF}. */
export interface BoundaryOptions {
  /** Tolerance as a fraction of the image diagonal. @default 0.008 */
  boundTh?: number;
}

/**
 * Boundary F-measure: precision = |B_pred ∩ dil(B_gt)| / |B_pred|, recall =
 * |B_gt ∩ dil(B_pred)| / |B_gt|, with the reference's cases for empty boundaries
 * (none in pred, some in GT: P=1, R=0; some in pred, none in GT: P=0, R=1; none: P=R=1)
 * and F = 0 when P + R = 0.
 */
export function boundaryF(
  pred: BinaryPixels,
  gt: BinaryPixels,
  w: number,
  h: number,
  opts: BoundaryOptions = {},
): BoundaryScore {
  // Boundaries lie within one pixel of the objects, so work on the union's bounding box
  // grown by one pixel (clipped to the image): the boundary map inside it is the same as
  // the full image's (the rows/columns added are empty, or are the image's own last ones)
  // and it is empty outside. The disk radius still comes from the full image size.
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (pred[row + x] || gt[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  let nFg = 0, nGt = 0;
  let bp: Uint8Array = new Uint8Array(0), bg: Uint8Array = bp, cw = 0, ch = 0;
  if (x1 >= 0) {
    x0 = Math.max(0, x0 - 1);
    y0 = Math.max(0, y0 - 1);
    x1 = Math.min(w - 1, x1 + 1);
    y1 = Math.min(h - 1, y1 + 1);
    cw = x1 - x0 + 1;
    ch = y1 - y0 + 1;
    const cp = new Uint8Array(cw * ch), cg = new Uint8Array(cw * ch);
    for (let y = 0; y < ch; y++) {
      for (let x = 0; x < cw; x++) {
        cp[y * cw + x] = pred[(y + y0) * w + x + x0] ? 1 : 0;
        cg[y * cw + x] = gt[(y + y0) * w + x + x0] ? 1 : 0;
      }
    }
    bp = seg2bmap(cp, cw, ch);
    bg = seg2bmap(cg, cw, ch);
    for (let i = 0; i < bp.length; i++) {
      nFg += bp[i];
      nGt += bg[i];
    }
  }
  let precision: number, recall: number;
  if (nFg === 0 && nGt > 0) [precision, recall] = [1, 0];
  else if (nFg > 0 && nGt === 0) [precision, recall] = [0, 1];
  else if (nFg === 0 && nGt === 0) [precision, recall] = [1, 1];
  else {
    const offs = diskOffsets(boundaryRadius(w, h, opts.boundTh));
    precision = countMatched(bp, bg, cw, ch, offs) / nFg;
    recall = countMatched(bg, bp, cw, ch, offs) / nGt;
  }
  const f = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f };
}
