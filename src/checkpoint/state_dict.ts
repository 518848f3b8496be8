/**
 * From a decoded checkpoint to the weights a model takes: pick the state dict inside it
 * (`ckpt_state_dict_keys`), filter keys with include/exclude globs (the reference's checkpoint
 * kernels), and check the result against the model's parameter names and shapes the way
 * `load_state_dict_into_model` does: unexpected keys and wrong shapes always fail, missing keys
 * fail when strict. Every problem is listed by name in one error.
 */
import { childAt } from "./pt_reader.ts";
import { CheckpointError } from "./errors.ts";
import { type HostTensor, isHostTensor, type StateDict } from "./host_tensor.ts";
import type { PyKey } from "./py_value.ts";
import { fnmatch } from "./fnmatch.ts";

/** Options for {@link selectStateDict}. */
export interface SelectStateDictOptions {
  /**
   * Path of keys from the checkpoint's root to the state dict (`ckpt_state_dict_keys`):
   * `["model"]` for released SAM 2 and trainer checkpoints. @default []
   */
  keys?: PyKey[];
  /** File name for error messages. */
  file?: string;
}

/**
 * The state dict at `options.keys` inside a decoded checkpoint, as a `Map<name, HostTensor>`.
 *
 * @throws {CheckpointError} when a key is missing (naming the keys that exist) or when the
 *   value there is not a dict of tensors.
 */
export function selectStateDict(root: unknown, options: SelectStateDictOptions = {}): StateDict {
  const keys = options.keys ?? [];
  let node = root;
  const walked: string[] = [];
  for (const k of keys) {
    node = childAt(node, k, walked, options.file ?? "checkpoint");
    walked.push(String(k));
  }
  const at = walked.length ? `checkpoint["${walked.join('"]["')}"]` : "checkpoint";
  if (!(node instanceof Map)) {
    throw new CheckpointError(
      `${at} is not a dict of tensors` +
        (keys.length === 0 ? ': pass keys, e.g. ["model"]' : ""),
      { file: options.file },
    );
  }
  const out: StateDict = new Map();
  for (const [k, v] of node) {
    if (typeof k !== "string" || !isHostTensor(v)) {
      const what = isHostTensor(v) ? `key ${String(k)}` : `value of "${String(k)}"`;
      throw new CheckpointError(
        `${at} is not a state dict: its ${what} is not a tensor` +
          (keys.length === 0 && v instanceof Map ? ` (pass keys: ["${String(k)}"]?)` : ""),
        { file: options.file },
      );
    }
    out.set(k, v as HostTensor);
  }
  return out;
}

/** One step of key filtering, applied in order (the reference's `checkpoint_kernels`). */
export type CheckpointKernel =
  | { /** Keep only keys matching any of these globs. */ include: string[] }
  | { /** Drop keys matching any of these globs (`CkptExcludeKernel`). */ exclude: string[] };

function matchAll(patterns: string[], keys: string[], kernel: string): Set<string> {
  const out = new Set<string>();
  for (const p of patterns) {
    const hits = keys.filter((k) => fnmatch(k, p));
    if (hits.length === 0) {
      throw new CheckpointError(
        `${kernel} pattern "${p}" matches no key of the checkpoint's state dict ` +
          `(${keys.length} keys, e.g. "${keys[0] ?? ""}")`,
      );
    }
    for (const h of hits) out.add(h);
  }
  return out;
}

/**
 * Applies include/exclude kernels in order. As in the reference, every pattern must match at
 * least one key (a typo fails loudly); an empty pattern list leaves the dict unchanged.
 *
 * @throws {CheckpointError} when a pattern matches nothing.
 */
export function applyCheckpointKernels(sd: StateDict, kernels: CheckpointKernel[]): StateDict {
  let cur = sd;
  for (const k of kernels) {
    const keys = [...cur.keys()];
    if ("include" in k) {
      if (k.include.length === 0) continue;
      const keep = matchAll(k.include, keys, "Include");
      cur = new Map([...cur].filter(([name]) => keep.has(name)));
    } else {
      if (k.exclude.length === 0) continue;
      const drop = matchAll(k.exclude, keys, "Exclude");
      cur = new Map([...cur].filter(([name]) => !drop.has(name)));
    }
  }
  return cur;
}

/** Options for {@link validateStateDict}. */
export interface ValidateStateDictOptions {
  /** Fail on missing keys too (unexpected keys and wrong shapes always fail). @default true */
  strict?: boolean;
  /** Globs of missing keys to accept (`ignore_missing_keys`). @default [] */
  ignoreMissing?: string[];
  /** Globs of unexpected keys to accept and drop (`ignore_unexpected_keys`). @default [] */
  ignoreUnexpected?: string[];
  /** File name for the error message. */
  file?: string;
}

/** What {@link validateStateDict} found. */
export interface StateDictReport {
  /** The checkpoint's tensors for the model's keys, in the model's order. */
  stateDict: StateDict;
  /** Model keys the checkpoint lacks (after ignores). */
  missing: string[];
  /** Checkpoint keys the model lacks (after ignores). */
  unexpected: string[];
  /** Keys present in both with different shapes. */
  mismatched: { name: string; expected: number[]; got: number[] }[];
  /** Missing keys accepted by `ignoreMissing`. */
  ignoredMissing: string[];
}

/**
 * Checks a state dict against a model's parameter shapes (`target`: name -> shape).
 *
 * @example
 * ```ts
 * const { stateDict } = validateStateDict(sd, new Map([["w", [2, 3]]]));
 * ```
 * @throws {CheckpointError} listing every unexpected and mis-shaped key, and every missing key
 *   when strict; nothing is returned half-checked.
 */
export function validateStateDict(
  sd: StateDict,
  target: Map<string, readonly number[]>,
  options: ValidateStateDictOptions = {},
): StateDictReport {
  const strict = options.strict !== false;
  const ignoreM = options.ignoreMissing ?? [];
  const ignoreU = options.ignoreUnexpected ?? [];
  const missing: string[] = [];
  const ignoredMissing: string[] = [];
  const mismatched: StateDictReport["mismatched"] = [];
  const out: StateDict = new Map();
  for (const [name, shape] of target) {
    const t = sd.get(name);
    if (!t) {
      (ignoreM.some((p) => fnmatch(name, p)) ? ignoredMissing : missing).push(name);
      continue;
    }
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      mismatched.push({ name, expected: [...shape], got: [...t.shape] });
      continue;
    }
    out.set(name, t);
  }
  const unexpected = [...sd.keys()].filter((k) =>
    !target.has(k) && !ignoreU.some((p) => fnmatch(k, p))
  );
  const problems: string[] = [];
  const list = (xs: string[]) =>
    xs.slice(0, 50).map((x) => `"${x}"`).join(", ") + (xs.length > 50 ? ", ..." : "");
  if (unexpected.length) {
    problems.push(`Unexpected keys (${unexpected.length}): ${list(unexpected)}`);
  }
  if (mismatched.length) {
    problems.push(
      `Wrong shapes (${mismatched.length}): ` +
        mismatched.slice(0, 50).map((m) =>
          `"${m.name}" is [${m.got}] in the checkpoint, the model wants [${m.expected}]`
        ).join("; "),
    );
  }
  if (missing.length && strict) problems.push(`Missing keys (${missing.length}): ${list(missing)}`);
  if (problems.length) {
    throw new CheckpointError(
      `State dict does not fit the model. ${problems.join(". ")}`,
      { file: options.file },
    );
  }
  return { stateDict: out, missing, unexpected, mismatched, ignoredMissing };
}
