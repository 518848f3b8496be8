/**
 * Shared helpers for the sam2-mini parity tests: fixture paths, the mini config, the reference
 * weights with a prefix stripped, and the relative-to-max comparison the issue asks for.
 */
import {
  loadPt,
  loadSafetensors,
  selectStateDict,
  type StateDict,
  toFloat32,
} from "../../src/checkpoint/mod.ts";
import type { StateValue } from "../../src/nn/mod.ts";
import { loadModelConfig, type ModelConfigFile } from "../../src/sam2/config/mod.ts";
import type { Tensor } from "../../src/tensor/mod.ts";
import { AssertionError } from "../assert.ts";

export const MINI = new URL("../../../shared/fixtures/sam2-mini/", import.meta.url);

let config: Promise<ModelConfigFile> | undefined;
/** configs/mini.yaml, parsed once. */
export function miniConfig(): Promise<ModelConfigFile> {
  return config ??= loadModelConfig(new URL("../../configs/mini.yaml", import.meta.url));
}

let weights: Promise<StateDict> | undefined;
/** The reference weights (`model.pt` ["model"]), read once. */
export function miniWeights(): Promise<StateDict> {
  return weights ??= loadPt(new URL("model.pt", MINI).pathname, { path: ["model"] }).then((root) =>
    selectStateDict(root)
  );
}

/** The entries under `prefix.` with the prefix removed, as values `loadStateDict` takes. */
export function withPrefix(sd: StateDict, prefix: string): Map<string, StateValue> {
  const out = new Map<string, StateValue>();
  for (const [k, t] of sd) {
    if (k.startsWith(prefix + ".")) {
      out.set(k.slice(prefix.length + 1), { shape: t.shape, data: toFloat32(t) });
    }
  }
  return out;
}

const fixtureCache = new Map<string, Promise<StateDict>>();
/** A fixture safetensors file of sam2-mini, read once. */
export function miniFixture(name: string): Promise<StateDict> {
  let p = fixtureCache.get(name);
  if (!p) fixtureCache.set(name, p = loadSafetensors(new URL(name, MINI).pathname));
  return p;
}

/** max |a - b| / max |ref| (0 when both are all-zero). */
export function relMaxError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  let err = 0, mag = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(ours[i] - ref[i]));
    mag = Math.max(mag, Math.abs(ref[i]));
  }
  return mag === 0 ? err : err / mag;
}

/**
 * Compares a tensor with a fixture tensor: shapes equal and |a-b| <= atol + rtol*max|ref|
 * everywhere. Returns the relative-to-max error for the report.
 */
export async function compareWithFixture(
  name: string,
  ours: Tensor,
  ref: StateDict,
  key: string,
  { atol = 1e-4, rtol = 1e-4 }: { atol?: number; rtol?: number } = {},
): Promise<number> {
  const r = ref.get(key);
  if (!r) throw new AssertionError(`${name}: fixture has no tensor "${key}"`);
  if (r.shape.join(",") !== ours.shape.join(",")) {
    throw new AssertionError(`${name}: shape ours=[${ours.shape}] | ref=[${r.shape}]`);
  }
  const a = (await ours.toArray()) as ArrayLike<number>;
  const b = toFloat32(r);
  let mag = 0, worst = 0, at = -1;
  for (let i = 0; i < b.length; i++) mag = Math.max(mag, Math.abs(b[i]));
  for (let i = 0; i < b.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= worst)) [worst, at] = [e, i];
  }
  const rel = mag === 0 ? worst : worst / mag;
  if (!(worst <= atol + rtol * mag)) {
    throw new AssertionError(
      `${name}: max abs error ${worst} at ${at} (ours=${a[at]} | ref=${
        b[at]
      }), rel-to-max ${rel}, allowed ${atol + rtol * mag}`,
    );
  }
  return rel;
}
