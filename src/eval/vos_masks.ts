/**
 * Reading prompt masks and writing predicted masks in the folder layouts of the reference's
 * `tools/vos_inference.py`, so our predictions can be scored by {@link evaluate} (or by the
 * reference's evaluator) unchanged:
 *
 * - DAVIS layout `<root>/<video>/<frame>.png`: one palette PNG of object ids; when objects
 *   overlap, the lower id wins (higher ids are painted first); the input's palette is
 *   reused, else the DAVIS palette.
 * - SA-V layout (`perObjectFiles`) `<root>/<video>/<obj:03d>/<frame>.png`: one 0/1 PNG per
 *   object.
 */
import { type MaskImage, readMaskPng, vocMaskPalette, writeMaskPng } from "./png_mask.ts";

/** Object id to its binary mask (1 = object), all of one frame size. */
export type ObjectMasks = Map<number, Uint8Array>;

/** Splits an id mask into one binary mask per nonzero id (`get_per_obj_mask`). */
export function splitObjectMasks(mask: ArrayLike<number>): ObjectMasks {
  const out: ObjectMasks = new Map();
  for (let i = 0; i < mask.length; i++) {
    const id = mask[i];
    if (id === 0) continue;
    let m = out.get(id);
    if (!m) out.set(id, m = new Uint8Array(mask.length));
    m[i] = 1;
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

/** Combines binary masks into an id mask, lower ids winning overlaps (`put_per_obj_mask`). */
export function composeObjectMasks(masks: ObjectMasks, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (const id of [...masks.keys()].sort((a, b) => b - a)) {
    if (id < 1 || id > 255) throw new RangeError(`Object id ${id} does not fit an 8-bit PNG`);
    const m = masks.get(id)!;
    if (m.length !== out.length) {
      throw new RangeError(`Mask of object ${id} has ${m.length} pixels, expected ${out.length}`);
    }
    for (let i = 0; i < out.length; i++) if (m[i]) out[i] = id;
  }
  return out;
}

/** Options for {@link readPromptMasks}. */
export interface ReadPromptOptions {
  /** SA-V layout (one folder per object). @default false */
  perObjectFiles?: boolean;
  /** Return no masks (instead of failing) when the frame's PNG is absent. @default false */
  allowMissing?: boolean;
}

/** The masks of one frame and the palette to write predictions with. */
export interface PromptMasks {
  masks: ObjectMasks;
  width: number;
  height: number;
  /** The input's palette (DAVIS layout), to reuse for the output. */
  palette?: [number, number, number][];
}

/**
 * Reads the masks of one frame from a DAVIS- or SA-V-layout folder (`load_masks_from_dir`).
 * @throws {Deno.errors.NotFound} naming the missing file, unless allowMissing.
 */
export async function readPromptMasks(
  root: string,
  video: string,
  frame: string,
  options: ReadPromptOptions = {},
): Promise<PromptMasks> {
  const read = async (path: string): Promise<MaskImage | undefined> => {
    try {
      return await readMaskPng(path);
    } catch (e) {
      if (options.allowMissing && e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  };
  if (!options.perObjectFiles) {
    const m = await read(`${root}/${video}/${frame}.png`);
    if (!m) return { masks: new Map(), width: 0, height: 0 };
    return {
      masks: splitObjectMasks(m.data),
      width: m.width,
      height: m.height,
      palette: m.palette,
    };
  }
  const masks: ObjectMasks = new Map();
  let width = 0, height = 0;
  const dirs = [];
  for await (const e of Deno.readDir(`${root}/${video}`)) if (e.isDirectory) dirs.push(e.name);
  for (const name of dirs.sort()) {
    const id = Number.parseInt(name, 10);
    if (!Number.isFinite(id)) {
      throw new Error(`Object folder ${root}/${video}/${name} is not a number`);
    }
    const m = await read(`${root}/${video}/${name}/${frame}.png`);
    if (!m) continue;
    ({ width, height } = m);
    masks.set(id, Uint8Array.from(m.data, (v) => (v > 0 ? 1 : 0)));
  }
  return { masks: new Map([...masks].sort((a, b) => a[0] - b[0])), width, height };
}

/** Options for {@link writePredictionMasks}. */
export interface WritePredictionOptions {
  /** SA-V layout (one folder per object, `{id:03d}`). @default false */
  perObjectFiles?: boolean;
  /** Palette to write with. @default the DAVIS palette */
  palette?: [number, number, number][];
}

/**
 * Writes one frame's predicted masks (`save_masks_to_dir`); each PNG is written to a
 * temporary file and renamed.
 */
export async function writePredictionMasks(
  root: string,
  video: string,
  frame: string,
  masks: ObjectMasks,
  size: { width: number; height: number },
  options: WritePredictionOptions = {},
): Promise<void> {
  const palette = options.palette ?? vocMaskPalette();
  await Deno.mkdir(`${root}/${video}`, { recursive: true });
  if (!options.perObjectFiles) {
    const data = composeObjectMasks(masks, size.width, size.height);
    await writeMaskPng(`${root}/${video}/${frame}.png`, { ...size, data }, palette);
    return;
  }
  for (const [id, m] of masks) {
    const dir = `${root}/${video}/${String(id).padStart(3, "0")}`;
    await Deno.mkdir(dir, { recursive: true });
    const data = Uint8Array.from(m, (v) => (v ? 1 : 0));
    await writeMaskPng(`${dir}/${frame}.png`, { ...size, data }, palette);
  }
}
