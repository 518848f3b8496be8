/**
 * Scoring of one video (used by evaluate() inline and by its worker pool). Not public:
 * call {@link evaluate}.
 */
import { JFAccumulator, type ObjectMeans } from "./accumulator.ts";
import { type MaskImage, readMaskPng } from "./png_mask.ts";

/** The entries of a folder, sorted by name as Python's sorted(os.listdir()) does. */
export async function listDir(path: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(path)) out.push(e);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Folder not found: ${path}`);
    }
    throw e;
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

function distinctValues(m: MaskImage): number {
  const seen = new Set<number>();
  for (let i = 0; i < m.data.length && seen.size < 3; i++) seen.add(m.data[i]);
  return seen.size;
}

function binarize(m: MaskImage): Uint8Array {
  const out = new Uint8Array(m.data.length);
  for (let i = 0; i < out.length; i++) out[i] = m.data[i] > 0 ? 1 : 0;
  return out;
}

async function evalFolder(
  gtDir: string,
  predDir: string,
  frames: string[],
  perObjectFile: boolean,
  acc: JFAccumulator,
): Promise<void> {
  for (const frame of frames) {
    const gtPath = `${gtDir}/${frame}`;
    const predPath = `${predDir}/${frame}`;
    let pred: MaskImage;
    try {
      pred = await readMaskPng(predPath);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Deno.errors.NotFound(`Prediction ${predPath} not found (the GT has ${gtPath})`);
      }
      throw e;
    }
    const gt = await readMaskPng(gtPath);
    if (gt.width !== pred.width || gt.height !== pred.height) {
      throw new Error(
        `Shape mismatch: ${gtPath} is ${gt.width}x${gt.height}, ${predPath} is ` +
          `${pred.width}x${pred.height}`,
      );
    }
    if (perObjectFile) {
      for (const [m, p] of [[gt, gtPath], [pred, predPath]] as const) {
        if (distinctValues(m) > 2) {
          throw new Error(
            `Found more than 1 object in ${p}: the SA-V layout has one object mask per PNG file`,
          );
        }
      }
      acc.feedFrame(binarize(pred), binarize(gt), gt.width, gt.height);
    } else {
      acc.feedFrame(pred.data, gt.data, gt.width, gt.height);
    }
  }
}

/** One video's layout and per-object means, keyed by object id. */
export interface VideoEvaluation {
  layout: "davis" | "sav";
  objects: [string, ObjectMeans][];
}

/** Evaluates one video; returns its layout and per-object means keyed by object id. */
export async function evaluateVideo(
  gtRoot: string,
  predRoot: string,
  video: string,
  skip: boolean,
  boundTh: number,
): Promise<VideoEvaluation> {
  const gtVideo = `${gtRoot}/${video}`;
  const predVideo = `${predRoot}/${video}`;
  const entries = (await listDir(gtVideo)).map((e) => e.name);
  const cut = (xs: string[]) => (skip ? xs.slice(1, -1) : xs);
  if (entries.every((n) => n.endsWith(".png"))) {
    const acc = new JFAccumulator(boundTh);
    await evalFolder(gtVideo, predVideo, cut(entries), false, acc);
    const objects = [...acc.conclude()].map(([id, m]) => [String(id), m] as [string, ObjectMeans]);
    return { layout: "davis", objects };
  }
  const objects: [string, ObjectMeans][] = [];
  for (const obj of entries) {
    const frames = (await listDir(`${gtVideo}/${obj}`)).map((e) => e.name);
    const acc = new JFAccumulator(boundTh);
    await evalFolder(`${gtVideo}/${obj}`, `${predVideo}/${obj}`, cut(frames), true, acc);
    const means = acc.conclude();
    if (means.size !== 1) {
      throw new Error(
        `Object ${obj} of video ${video} has no foreground in its evaluated GT frames ` +
          `(${cut(frames).length} after skipping first and last): the reference cannot score it`,
      );
    }
    objects.push([obj, [...means.values()][0]]);
  }
  return { layout: "sav", objects };
}
