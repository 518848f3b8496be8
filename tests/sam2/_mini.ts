/**
 * Shared helpers for the sam2-mini parity tests: fixture paths, the mini config, the reference
 * weights with a prefix stripped, the mini model, and the assertion over the rows of the parity
 * comparisons (which live once, in src/cli/commands/parity_run.ts).
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
import { initGpu } from "../../src/gpu/mod.ts";
import { SAM2Base } from "../../src/sam2/mod.ts";
import { formatParityRows, type ParityRow } from "../../src/cli/commands/parity_run.ts";
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

let baseModel: Promise<SAM2Base> | undefined;
/** SAM2Base built from configs/mini.yaml with the reference weights, in eval mode, built once. */
export function miniBaseModel(): Promise<SAM2Base> {
  return baseModel ??= (async () => {
    await initGpu();
    const m = new SAM2Base((await miniConfig()).model);
    m.loadStateDict(
      withPrefix(new Map([...await miniWeights()].map(([k, v]) => [`m.${k}`, v])), "m"),
    );
    m.eval();
    return m;
  })();
}

/**
 * Prints the rows of a parity comparison (src/cli/commands/parity_run.ts, the same code as
 * `deno task parity`) and throws listing every row outside its tolerance.
 */
export function assertParityRows(title: string, rows: readonly ParityRow[]): void {
  console.log(formatParityRows(title, rows));
  const bad = rows.filter((r) => !r.ok);
  if (bad.length) {
    throw new AssertionError(`${bad.length} tensor(s) differ:\n${formatParityRows(title, bad)}`);
  }
}
