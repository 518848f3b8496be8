/**
 * COCO polygon segmentations to RLE, pixel-identical to pycocotools (`frPyObjects` with
 * `maskApi.c`'s `rleFrPoly` / `rleFrBbox`, then `merge` as `COCO.annToRLE` does).
 *
 * How `rleFrPoly` rasterises, which is what makes its masks differ from a plain scan-line fill:
 * the vertices are scaled by 5 and rounded (C's `(int)(5x + .5)`, which truncates toward zero),
 * the closed outline is walked one upsampled unit at a time along its major axis (the minor
 * coordinate rounded the same way), and every step where the walk changes column and lands on
 * an upsampled column that is a pixel centre `x` (upsampled `5x + 2`) in `[0, width - 1]` emits
 * one boundary point: the pixel row `ceil((min(v, v_prev) + .5) / 5 - .5)` clamped to
 * `[0, height]`. Each point toggles the mask at column-major index `x * height + row`; sorted,
 * the gaps between toggles are the runs (two toggles at one index cancel).
 *
 * @module
 */
import {
  type CocoRle,
  countsToString,
  MAX_RLE_PIXELS,
  mergeRles,
  type RleCounts,
  rleCounts,
  RleError,
} from "./rle.ts";

/** A COCO polygon: `[x0, y0, x1, y1, ...]` in pixel coordinates of the image (closed). */
export type CocoPolygon = readonly number[];

/** A COCO box `[x, y, width, height]` in pixel coordinates. */
export type CocoBox = readonly number[];

/** Size of the image a polygon is rasterised into, and where it came from (for errors). */
export interface PolygonRasterOptions {
  height: number;
  width: number;
  /** Prefix of error messages, e.g. `annotations[3].segmentation`. @default "polygon" */
  where?: string;
}

/**
 * Largest |coordinate| accepted: pycocotools converts `5 * c + .5` and the differences of such
 * values to C `int`, so anything beyond ±2^30 / 5 would overflow there.
 */
export const MAX_POLYGON_COORD = 2 ** 30 / 5;

/**
 * Largest number of upsampled outline points one polygon may walk (pycocotools allocates this
 * many): an outline longer than about 13 million pixels is refused (walking it would take
 * seconds); real annotations stay far below.
 */
export const MAX_POLYGON_OUTLINE = 2 ** 26;

const SCALE = 5;
/** What x86-64 gives for C's `(int)NaN` (the 0/0 slope of a zero-length edge). */
const INT_MIN = -2147483648;

function checkSize(o: PolygonRasterOptions, where: string): void {
  const { height: h, width: w } = o;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) {
    throw new RleError(`${where}: image size must be non-negative integers, got ${h}x${w}`);
  }
  if (h * w > MAX_RLE_PIXELS) {
    throw new RleError(`${where}: image of ${h}x${w} pixels is larger than ${MAX_RLE_PIXELS}`);
  }
}

/** The vertices scaled by 5 and rounded like pycocotools, after checking every number. */
function upsampledVertices(poly: unknown, where: string): { x: Int32Array; y: Int32Array } {
  if (!Array.isArray(poly)) {
    throw new RleError(`${where}: a polygon must be a list of numbers [x0, y0, x1, y1, ...]`);
  }
  if (poly.length % 2 !== 0) {
    throw new RleError(
      `${where}: a polygon needs an even number of coordinates (x, y pairs), got ${poly.length}`,
    );
  }
  const k = poly.length / 2;
  const x = new Int32Array(k + 1), y = new Int32Array(k + 1);
  for (let i = 0; i < poly.length; i++) {
    const c = poly[i];
    if (typeof c !== "number" || !Number.isFinite(c)) {
      throw new RleError(`${where}[${i}]: coordinates must be finite numbers, got ${c}`);
    }
    if (Math.abs(c) > MAX_POLYGON_COORD) {
      throw new RleError(
        `${where}[${i}]: coordinate ${c} is beyond ±${MAX_POLYGON_COORD} (pycocotools' int range)`,
      );
    }
    (i % 2 === 0 ? x : y)[i >> 1] = Math.trunc(SCALE * c + 0.5);
  }
  x[k] = x[0], y[k] = y[0];
  return { x, y };
}

/**
 * Rasterises one polygon exactly like pycocotools' `rleFrPoly` (see the module doc), into the
 * uncompressed run lengths it produces (which may start with a 0 run).
 *
 * @example
 * ```ts
 * // The square with corners (1, 1) and (3, 3) covers pixels 1..2 of rows 1..2 in a 4x4 image.
 * const r = polygonToCounts([1, 1, 3, 1, 3, 3, 1, 3], { height: 4, width: 4 });
 * // r.counts = [5, 2, 2, 2, 5]
 * ```
 * @param poly `[x0, y0, x1, y1, ...]`; an empty list gives an empty mask.
 * @param options The image size (and the name used in errors).
 * @returns `{ size: [height, width], counts }`.
 * @throws {RleError} On a non-list, an odd number of coordinates, a non-finite or huge
 * coordinate, an outline longer than {@linkcode MAX_POLYGON_OUTLINE} or a bad image size.
 */
export function polygonToCounts(poly: CocoPolygon, options: PolygonRasterOptions): RleCounts {
  const where = options.where ?? "polygon";
  checkSize(options, where);
  const { height: h, width: w } = options;
  const { x, y } = upsampledVertices(poly, where);
  const k = x.length - 1;
  let total = 0;
  for (let j = 0; j < k; j++) {
    total += Math.max(Math.abs(x[j] - x[j + 1]), Math.abs(y[j] - y[j + 1])) + 1;
  }
  if (total > MAX_POLYGON_OUTLINE) {
    throw new RleError(
      `${where}: the outline is ${Math.round(total / SCALE)} pixels long, more than ` +
        `${MAX_POLYGON_OUTLINE / SCALE}: check the coordinates`,
    );
  }
  // Boundary points as column-major toggle positions; the final h*w closes the last run.
  let toggles = new Uint32Array(64), n = 0;
  let prevU = 0, prevV = 0, first = true;
  const visit = (u: number, v: number) => {
    if (!first && u !== prevU) {
      let xd = u < prevU ? u : u - 1;
      xd = (xd + 0.5) / SCALE - 0.5;
      if (Math.floor(xd) === xd && xd >= 0 && xd <= w - 1) {
        let yd = v < prevV ? v : prevV;
        yd = (yd + 0.5) / SCALE - 0.5;
        yd = yd < 0 ? 0 : yd > h ? h : yd;
        if (n + 1 >= toggles.length) {
          const grown = new Uint32Array(2 * toggles.length);
          grown.set(toggles);
          toggles = grown;
        }
        toggles[n++] = xd * h + Math.ceil(yd);
      }
    }
    first = false;
    prevU = u, prevV = v;
  };
  for (let j = 0; j < k; j++) {
    let xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const dx = Math.abs(xe - xs), dy = Math.abs(ys - ye);
    // The walk always runs from vertex j to j+1; the swap only fixes where t counts from.
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) [xs, xe, ys, ye] = [xe, xs, ye, ys];
    if (dx >= dy) {
      const s = (ye - ys) / dx;
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        const v = ys + s * t + 0.5;
        visit(t + xs, Number.isNaN(v) ? INT_MIN : Math.trunc(v));
      }
    } else {
      const s = (xe - xs) / dy;
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        visit(Math.trunc(xs + s * t + 0.5), t + ys);
      }
    }
  }
  const a = toggles.subarray(0, n + 1);
  a[n] = h * w;
  a.sort();
  // Gaps between sorted toggles; a zero gap (a repeated toggle) cancels with the next gap.
  const counts: number[] = [];
  let prev = 0;
  for (let j = 0; j < a.length; j++) {
    const gap = a[j] - prev;
    prev = a[j];
    if (j === 0 || gap > 0) counts.push(gap);
    else if (++j < a.length) {
      counts[counts.length - 1] += a[j] - prev;
      prev = a[j];
    }
  }
  return { size: [h, w], counts };
}

/**
 * A box as pycocotools' `rleFrBbox` draws it: the polygon of its four corners
 * `(x, y) (x, y+h) (x+w, y+h) (x+w, y)` through {@linkcode polygonToCounts}.
 *
 * @example
 * ```ts
 * const r = bboxToCounts([1, 1, 2, 2], { height: 4, width: 4 });
 * // r.counts = [5, 2, 2, 2, 5]
 * ```
 * @throws {RleError} When the box is not four finite numbers.
 */
export function bboxToCounts(bbox: CocoBox, options: PolygonRasterOptions): RleCounts {
  const where = options.where ?? "bbox";
  if (!Array.isArray(bbox) || bbox.length !== 4) {
    throw new RleError(
      `${where}: a box must be [x, y, width, height], got ${JSON.stringify(bbox)}`,
    );
  }
  const [bx, by, bw, bh] = bbox;
  return polygonToCounts([bx, by, bx, by + bh, bx + bw, by + bh, bx + bw, by], {
    ...options,
    where,
  });
}

/**
 * A COCO polygon segmentation (a list of polygons, one object) as one compressed RLE: every
 * polygon rasterised by {@linkcode polygonToCounts}, then their union, which is what
 * `COCO.annToRLE` computes with `frPyObjects` and `merge`. Like `frPyObjects`, a list whose
 * first entry has exactly 4 numbers is read as a list of boxes `[x, y, w, h]`.
 *
 * @example
 * ```ts
 * const rle = polygonsToRle([[0, 0, 2, 0, 2, 2, 0, 2], [2, 2, 4, 2, 4, 4, 2, 4]], {
 *   height: 4,
 *   width: 4,
 * });
 * // rleArea(rle) = 8 (two 2x2 squares)
 * ```
 * @throws {RleError} On an empty list, a first polygon of fewer than 3 points (pycocotools
 * rejects it too) or any bad polygon.
 */
export function polygonsToRle(
  polygons: readonly CocoPolygon[],
  options: PolygonRasterOptions,
): CocoRle {
  const where = options.where ?? "polygons";
  if (!Array.isArray(polygons) || polygons.length === 0) {
    throw new RleError(`${where}: expected a non-empty list of polygons [[x0, y0, x1, y1, ...]]`);
  }
  const head = polygons[0];
  if (!Array.isArray(head)) {
    throw new RleError(`${where}[0]: a polygon must be a list of numbers [x0, y0, x1, y1, ...]`);
  }
  const asBoxes = head.length === 4;
  if (!asBoxes && head.length < 6) {
    throw new RleError(
      `${where}[0]: ${head.length} coordinates is neither a box (4) nor a polygon (6 or more)`,
    );
  }
  const parts = polygons.map((p, i) => {
    const o = { ...options, where: `${where}[${i}]` };
    return asBoxes ? bboxToCounts(p, o) : polygonToCounts(p, o);
  });
  if (parts.length === 1) {
    return { size: parts[0].size, counts: countsToString(parts[0].counts) };
  }
  return mergeRles(parts);
}

/**
 * Any COCO `segmentation` value as a compressed RLE for an image of the given size: a polygon
 * list ({@linkcode polygonsToRle}), an uncompressed RLE (`counts` as numbers, compressed here)
 * or a compressed one (returned as it is, after checking it).
 *
 * @throws {RleError} When the value is none of these or is malformed.
 */
export function segmentationToRle(segmentation: unknown, options: PolygonRasterOptions): CocoRle {
  const where = options.where ?? "segmentation";
  if (Array.isArray(segmentation)) return polygonsToRle(segmentation, { ...options, where });
  if (segmentation && typeof segmentation === "object" && "counts" in segmentation) {
    const rle = segmentation as CocoRle | RleCounts;
    const counts = rleCounts(rle, where);
    if (typeof rle.counts === "string") return rle as CocoRle;
    return { size: [rle.size[0], rle.size[1]], counts: countsToString(counts) };
  }
  throw new RleError(
    `${where}: expected a list of polygons or an RLE {size, counts}, got ${
      JSON.stringify(segmentation)?.slice(0, 80)
    }`,
  );
}
