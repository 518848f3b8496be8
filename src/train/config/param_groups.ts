/**
 * Optimizer parameter groups from a training config's `optim.options` and
 * `optim.param_group_modifiers`, with the semantics of the reference's
 * `construct_optimizer` (`training/optimizer.py`):
 *
 * - each option (`lr`, `weight_decay`, ...) has a list of scheduler entries; an entry selects
 *   parameters by `param_names` (fnmatch globs on full names) and/or `module_cls_names`
 *   (parameters owned *directly* by a module of that class); at most one entry per option
 *   has no selector and takes all remaining parameters;
 * - `layer_decay_param_modifier` splits every lr entry into one entry per trunk layer with
 *   the lr scaled by `decay^(L+1-layer_id)` (Hiera's get_layer_id; `overrides` by pattern);
 * - groups are the Cartesian product of the options' entries, intersected, empty ones
 *   dropped, parameters kept in model order; they must be disjoint and cover the model.
 */
import type { LayerDecayParamModifierConfig, OptimConfig } from "./training_types.ts";
import { makeParamSchedule, type ParamSchedule, scaleSchedule } from "../schedule.ts";

/** A model parameter as the grouping sees it. */
export interface ParamOwnerInfo {
  /** Full state_dict name, e.g. `image_encoder.trunk.blocks.0.norm1.weight`. */
  name: string;
  /**
   * The PyTorch class path of the module that owns the parameter directly, e.g.
   * `torch.nn.LayerNorm`, `torch.nn.Linear`, `sam2.modeling.sam2_utils.LayerNorm2d`.
   */
  moduleClass: string;
}

/** One optimizer param group: its parameters and a schedule per option. */
export interface ScheduledParamGroup {
  /** Parameter names in model order. */
  params: string[];
  /** Option name (`lr`, `weight_decay`) to its schedule. */
  schedules: Record<string, ParamSchedule>;
  /** A readable account of where each schedule came from (for logs and tests). */
  describe: Record<string, string>;
}

/** Options for {@link buildParamGroups}. */
export interface ParamGroupOptions {
  /**
   * Number of blocks of the layer-decayed module (Hiera's `len(blocks)`).
   * @default the largest `blocks.<k>` index under `apply_to`, plus one
   */
  numLayers?: number;
  /**
   * Check that groups are disjoint and cover every parameter (`validate_param_groups`).
   * @default true
   */
  validate?: boolean;
}

/** Python's fnmatch pattern as a RegExp (`*`, `?`, `[seq]`, `[!seq]`; `*` crosses dots). */
export function fnmatchRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, end).replace(/\\/g, "\\\\");
      if (body.startsWith("!")) body = "^" + body.slice(1);
      else if (body.startsWith("^")) body = "\\" + body;
      re += `[${body}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^(?:${re})$`, "s");
}

/** The torch.nn classes are reachable under two paths (torch.nn.X, torch.nn.modules.*.X). */
function sameClass(a: string, b: string): boolean {
  if (a === b) return true;
  const canon = (s: string) =>
    s.startsWith("torch.nn.") ? "torch.nn." + s.slice(s.lastIndexOf(".") + 1) : s;
  return canon(a) === canon(b);
}

/**
 * Hiera's `get_layer_id` (BEiT style): 0 for pos_embed and patch_embed, k+1 for blocks.k,
 * numLayers+1 for anything else.
 */
export function hieraLayerId(paramName: string, numLayers: number): number {
  if (paramName.includes("rel_pos")) return numLayers + 1;
  if (paramName.includes("pos_embed")) return 0;
  if (paramName.includes("patch_embed")) return 0;
  const at = paramName.indexOf("blocks");
  if (at >= 0) return Number(paramName.slice(at + "blocks".length).split(".")[1]) + 1;
  return numLayers + 1;
}

interface Entry {
  option?: string;
  schedule?: ParamSchedule;
  describe?: string;
  names: Set<string>;
}

function selectByNames(patterns: string[], all: string[]): Set<string> {
  const out = new Set<string>();
  for (const p of patterns) {
    const re = fnmatchRegExp(p);
    const hits = all.filter((n) => re.test(n));
    if (hits.length === 0) {
      throw new Error(`param_name "${p}" does not match any parameters in the model`);
    }
    hits.forEach((h) => out.add(h));
  }
  return out;
}

function selectByClass(classes: string[], params: ParamOwnerInfo[]): Set<string> {
  const out = new Set<string>();
  for (const c of classes) {
    const hits = params.filter((p) => sameClass(p.moduleClass, c));
    if (hits.length === 0) {
      throw new Error(
        `module_cls_name "${c}" does not match any parameter-owning module in the model`,
      );
    }
    hits.forEach((h) => out.add(h.name));
  }
  return out;
}

function applyLayerDecay(
  perOption: Entry[][],
  mod: LayerDecayParamModifierConfig,
  params: ParamOwnerInfo[],
  options: ParamGroupOptions,
): Entry[][] {
  const prefix = mod.apply_to ?? "";
  let blocks = options.numLayers;
  if (blocks === undefined) {
    blocks = 0;
    for (const p of params) {
      if (!p.name.startsWith(prefix)) continue;
      const m = /(?:^|\.)blocks\.(\d+)\./.exec(p.name.slice(prefix.length));
      if (m) blocks = Math.max(blocks, Number(m[1]) + 1);
    }
  }
  const numLayers = blocks + 1;
  const decays = Array.from({ length: numLayers + 1 }, (_, i) => {
    const v = mod.layer_decay_value ** (numLayers - i);
    return mod.layer_decay_min === null ? v : Math.max(v, mod.layer_decay_min);
  });
  const overrides = mod.overrides.map((o) => ({ re: fnmatchRegExp(o.pattern), ...o }));
  return perOption.map((entries) =>
    entries.flatMap((entry) => {
      if (entry.option !== "lr") return [entry];
      const byLayer = new Map<number | string, Entry & { scale: number }>();
      for (const name of [...entry.names].sort()) {
        let layer: number | string = numLayers;
        let scale = decays[layer];
        if (name.startsWith(prefix)) {
          layer = hieraLayerId(name, blocks!);
          scale = decays[layer];
          const o = overrides.find((o) => o.re.test(name));
          if (o) {
            scale = o.value;
            layer = o.pattern;
          }
        }
        const g = byLayer.get(layer);
        if (g) g.names.add(name);
        else {
          byLayer.set(layer, {
            option: "lr",
            scale,
            schedule: entry.schedule ? scaleSchedule(entry.schedule, scale) : undefined,
            describe: `${entry.describe} x ${scale} (layer ${layer})`,
            names: new Set([name]),
          });
        }
      }
      return [...byLayer.values()];
    })
  );
}

/**
 * Builds the param groups of `optim` for a model with parameters `params` (in model order).
 * Without `optim.options`, everything is one group with no schedules.
 * @throws {Error} when a selector matches nothing, two entries of one option have no
 *   selector, or (validate) the groups overlap or miss parameters.
 */
export function buildParamGroups(
  params: ParamOwnerInfo[],
  optim: Pick<OptimConfig, "options" | "param_group_modifiers">,
  options: ParamGroupOptions = {},
): ScheduledParamGroup[] {
  const all = params.map((p) => p.name);
  if (!optim.options || Object.keys(optim.options).length === 0) {
    return [{ params: all, schedules: {}, describe: {} }];
  }
  let perOption: Entry[][] = [];
  for (const [option, cfgs] of Object.entries(optim.options)) {
    const entries: Entry[] = cfgs.map((c) => {
      const hasSelector = c.param_names !== null || c.module_cls_names !== null;
      const names = hasSelector
        ? new Set([
          ...selectByNames(c.param_names ?? [], all),
          ...selectByClass(c.module_cls_names ?? [], params),
        ])
        : undefined;
      return {
        option,
        schedule: makeParamSchedule(c.scheduler),
        describe: c.scheduler._target_.slice(c.scheduler._target_.lastIndexOf(".") + 1),
        // Filled below for the default entry (the one without a selector).
        names: names as Set<string>,
      };
    });
    const taken = new Set<string>();
    entries.forEach((e) => e.names?.forEach((n) => taken.add(n)));
    const rest = new Set(all.filter((n) => !taken.has(n)));
    const defaults = entries.filter((e) => e.names === undefined);
    if (defaults.length > 1) {
      throw new Error(`Only one scheduler per option can be default (option "${option}")`);
    }
    defaults.forEach((e) => (e.names = rest));
    if (defaults.length === 0) entries.push({ names: rest });
    perOption.push(entries);
  }
  for (const mod of optim.param_group_modifiers ?? []) {
    perOption = applyLayerDecay(perOption, mod, params, options);
  }
  // Cartesian product over options, in option order then entry order (itertools.product).
  let combos: Entry[][] = [[]];
  for (const entries of perOption) combos = combos.flatMap((c) => entries.map((e) => [...c, e]));
  const groups: ScheduledParamGroup[] = [];
  for (const combo of combos) {
    const names = all.filter((n) => combo.every((e) => e.names.has(n)));
    if (names.length === 0) continue;
    const schedules: Record<string, ParamSchedule> = {};
    const describe: Record<string, string> = {};
    for (const e of combo) {
      if (e.option && e.schedule) {
        schedules[e.option] = e.schedule;
        describe[e.option] = e.describe ?? "";
      }
    }
    groups.push({ params: names, schedules, describe });
  }
  if (options.validate ?? true) {
    const seen = new Set<string>();
    for (const g of groups) {
      for (const n of g.params) {
        if (seen.has(n)) throw new Error(`Param groups overlap on "${n}"`);
        seen.add(n);
      }
    }
    if (seen.size !== all.length) {
      throw new Error(`Param groups cover ${seen.size} of the model's ${all.length} parameters`);
    }
  }
  return groups;
}

/** Every group's option values at progress `where` (the reference's `step_schedulers`). */
export function paramGroupValues(
  groups: ScheduledParamGroup[],
  where: number,
): Record<string, number>[] {
  return groups.map((g) =>
    Object.fromEntries(Object.entries(g.schedules).map(([k, s]) => [k, s(where)]))
  );
}
