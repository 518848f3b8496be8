/**
 * A small typed schema language for hydra-style configs. Each `_target_` class path gets a
 * {@link TargetSchema} listing every constructor argument with its type and default, checked
 * by the compiler against the matching TypeScript interface. Validation turns a resolved
 * YAML tree into plain typed objects and reports the first problem with file:line:col.
 */
import { ConfigError, type SourcePos, suggestion } from "./errors.ts";
import type { RMap, RNode } from "./interpolate.ts";

/** What validation needs besides the node: the source text for caret snippets. */
export interface ValidateContext {
  source: string;
}

/** How one field is read from its node, and its default when the key is absent. */
export interface FieldSpec<T> {
  /** The expected type in words, for error messages ("an integer", "a list of numbers"). */
  describe: string;
  /** A function giving the default; absent means the key is required. */
  default?: () => T;
  /** Reads and checks the node. */
  parse(node: RNode, ctx: ValidateContext, name: string): T;
}

/** Keys hydra's `instantiate` understands on any node; accepted and, unless declared, dropped. */
export const HYDRA_KEYS = ["_partial_", "_recursive_", "_convert_", "_args_"];

/** Where each validated object and each of its keys was written. */
interface Positions {
  self: SourcePos;
  keys: Record<string, SourcePos>;
}
const POSITIONS = new WeakMap<object, Positions>();

/**
 * Where a validated config object (or one of its keys) was written, so that code consuming
 * the typed config (the model builder, the trainer) can point its own errors at the file.
 */
export function configPosition(obj: object, key?: string): SourcePos | undefined {
  const p = POSITIONS.get(obj);
  if (!p) return undefined;
  return key === undefined ? p.self : p.keys[key] ?? p.self;
}

export function fail(ctx: ValidateContext, pos: SourcePos, msg: string): never {
  throw new ConfigError(pos, msg, pos.file.startsWith("<") ? undefined : ctx.source);
}

function scalarOf(node: RNode, ctx: ValidateContext, name: string, describe: string) {
  if (node.kind !== "scalar") {
    fail(
      ctx,
      node.pos,
      `"${name}" must be ${describe}, got a ${node.kind === "map" ? "mapping" : "list"}`,
    );
  }
  if (node.missing) {
    fail(ctx, node.pos, `Missing mandatory value (???) for "${name}": set it to ${describe}`);
  }
  return node;
}

function got(v: unknown, from?: string): string {
  const s = typeof v === "string" ? `"${v}"` : String(v);
  return from ? `${s} (from ${from})` : s;
}

/** Copies a spec keeping lazy getters (schemas may refer to each other before they exist). */
function withProps<T>(spec: FieldSpec<T>, extra: Partial<FieldSpec<T>>): FieldSpec<T> {
  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(spec)) as FieldSpec<T>;
  return Object.assign(out, extra);
}

function withDefault<T>(spec: FieldSpec<T>, def: T | undefined): FieldSpec<T> {
  if (def === undefined) return spec;
  const json = JSON.stringify(def);
  return withProps(spec, { default: () => JSON.parse(json) });
}

function scalarSpec<T>(
  describe: string,
  ok: (v: unknown) => v is T,
  def?: T,
): FieldSpec<T> {
  return withDefault({
    describe,
    parse(node, ctx, name) {
      const s = scalarOf(node, ctx, name, describe);
      if (!ok(s.value)) {
        fail(ctx, s.pos, `"${name}" must be ${describe}, got ${got(s.value, s.from)}`);
      }
      return s.value;
    },
  }, def);
}

/** An integer (Python `int`). */
export function int(def?: number): FieldSpec<number> {
  return scalarSpec(
    "an integer",
    (v): v is number => typeof v === "number" && Number.isInteger(v),
    def,
  );
}

/** A number (Python `float`; integers are accepted as Python does). */
export function float(def?: number): FieldSpec<number> {
  return scalarSpec("a number", (v): v is number => typeof v === "number", def);
}

/** A boolean. */
export function bool(def?: boolean): FieldSpec<boolean> {
  return scalarSpec("true or false", (v): v is boolean => typeof v === "boolean", def);
}

/** A string. */
export function str(def?: string): FieldSpec<string> {
  return scalarSpec("a string", (v): v is string => typeof v === "string", def);
}

/** One of a fixed set of strings (a Python enum-like argument). */
export function choice<T extends string>(values: readonly T[], def?: T): FieldSpec<T> {
  const describe = `one of ${values.map((v) => `"${v}"`).join(", ")}`;
  return withDefault({
    describe,
    parse(node, ctx, name) {
      const s = scalarOf(node, ctx, name, describe);
      if (typeof s.value !== "string" || !values.includes(s.value as T)) {
        fail(
          ctx,
          s.pos,
          `"${name}" must be ${describe}, got ${got(s.value, s.from)}.${
            typeof s.value === "string" ? suggestion(s.value, values) : ""
          }`,
        );
      }
      return s.value as T;
    },
  }, def);
}

/** `spec` or null (Python `Optional[...]`). */
export function nullable<T>(spec: FieldSpec<T>, def?: T | null): FieldSpec<T | null> {
  return withDefault<T | null>({
    get describe() {
      return `${spec.describe} or null`;
    },
    parse(node, ctx, name) {
      const describe = `${spec.describe} or null`;
      if (node.kind === "scalar" && !node.missing && node.value === null) return null;
      try {
        return spec.parse(node, ctx, name);
      } catch (e) {
        if (e instanceof ConfigError && node.kind === "scalar" && !node.missing) {
          fail(ctx, node.pos, `"${name}" must be ${describe}, got ${got(node.value, node.from)}`);
        }
        throw e;
      }
    },
  }, def);
}

/** Options for {@link list}. */
export interface ListOptions {
  /** Exact length required (a Python tuple of fixed size). */
  length?: number;
  /** Also accept a single value, read as a one-element list (e.g. `sizes: 1024`). */
  acceptScalar?: boolean;
}

/** A list of `item`. */
export function list<T>(item: FieldSpec<T>, def?: T[], opts: ListOptions = {}): FieldSpec<T[]> {
  const describe = () =>
    opts.length !== undefined
      ? `a list of ${opts.length} values (each ${item.describe})`
      : `a list (each ${item.describe})`;
  return withDefault({
    get describe() {
      return describe();
    },
    parse(node, ctx, name) {
      if (node.kind === "scalar" && opts.acceptScalar && !node.missing && node.value !== null) {
        return [item.parse(node, ctx, name)];
      }
      if (node.kind !== "seq") {
        if (node.kind === "scalar") scalarOf(node, ctx, name, describe());
        fail(ctx, node.pos, `"${name}" must be ${describe()}`);
      }
      if (opts.length !== undefined && node.items.length !== opts.length) {
        fail(ctx, node.pos, `"${name}" must have ${opts.length} values, got ${node.items.length}`);
      }
      return node.items.map((it, i) => item.parse(it, ctx, `${name}[${i}]`));
    },
  }, def);
}

/** Any value, converted to plain JavaScript data (mappings become objects). */
export function anyValue(def?: unknown): FieldSpec<unknown> {
  return withDefault({
    describe: "any value",
    parse(node, ctx, name) {
      return plainData(node, ctx, name);
    },
  }, def);
}

/** Converts a resolved node to plain data (objects, arrays, scalars). */
export function plainData(node: RNode, ctx: ValidateContext, name: string): unknown {
  if (node.kind === "scalar") return scalarOf(node, ctx, name, "a value").value;
  if (node.kind === "seq") return node.items.map((it, i) => plainData(it, ctx, `${name}[${i}]`));
  const out: Record<string, unknown> = {};
  for (const e of node.entries) out[e.key] = plainData(e.value, ctx, `${name}.${e.key}`);
  return out;
}

/** A mapping with arbitrary string keys whose values all follow `item`. */
export function record<T>(
  item: FieldSpec<T>,
  def?: Record<string, T>,
): FieldSpec<Record<string, T>> {
  return withDefault({
    get describe() {
      return `a mapping (each value ${item.describe})`;
    },
    parse(node, ctx, name) {
      if (node.kind !== "map") fail(ctx, node.pos, `"${name}" must be ${this.describe}`);
      const out: Record<string, T> = {};
      for (const e of node.entries) out[e.key] = item.parse(e.value, ctx, `${name}.${e.key}`);
      return out;
    },
  }, def);
}

/** The field specs of an interface: one per key, every key present. */
export type Fields<T> = { [K in Exclude<keyof T, "_target_">]-?: FieldSpec<T[K]> };

/** Reads a mapping against `fields`; unknown keys are errors with a did-you-mean. */
function readFields<T>(
  map: RMap,
  fields: Fields<T>,
  ctx: ValidateContext,
  owner: string,
  skip: (key: string) => boolean,
): Record<string, unknown> {
  const specs = fields as Record<string, FieldSpec<unknown>>;
  const out: Record<string, unknown> = {};
  const keys: Record<string, SourcePos> = {};
  for (const e of map.entries) {
    if (skip(e.key)) continue;
    const spec = specs[e.key];
    if (!spec) {
      fail(
        ctx,
        e.keyPos,
        `Unknown key "${e.key}" for ${owner}.${suggestion(e.key, Object.keys(specs))}`,
      );
    }
    out[e.key] = spec.parse(e.value, ctx, e.key);
    keys[e.key] = e.keyPos;
  }
  for (const [k, spec] of Object.entries(specs)) {
    if (k in out) continue;
    if (!spec.default) {
      fail(ctx, map.pos, `Missing required key "${k}" (${spec.describe}) for ${owner}`);
    }
    out[k] = spec.default();
  }
  POSITIONS.set(out, { self: map.pos, keys });
  return out;
}

/** A plain mapping with a fixed set of keys (no `_target_`), e.g. `trainer.optim.amp`. */
export function section<T>(owner: string, fields: Fields<T>, def?: T): FieldSpec<T> {
  const spec: FieldSpec<T> = {
    describe: `a mapping (${owner})`,
    parse(node, ctx, name) {
      if (node.kind !== "map") {
        fail(
          ctx,
          node.pos,
          `"${name}" must be a mapping with keys ${Object.keys(fields).join(", ")}`,
        );
      }
      return readFields(node, fields, ctx, owner, () => false) as T;
    },
  };
  return def === undefined ? spec : withProps(spec, { default: () => structuredClone(def) });
}

/** A class path with its typed constructor arguments. */
export interface TargetSchema<T extends { _target_: string }> {
  /** The `_target_` class (or function) path, e.g. `sam2.modeling.backbones.hieradet.Hiera`. */
  target: T["_target_"];
  /** Every constructor argument except `_target_`. */
  fields: Fields<T>;
  /** Cross-field checks the reference asserts in its constructor. */
  check?: (value: T) => CheckProblem | undefined;
}

/** A cross-field problem found by a schema's check: which key to point at, and why. */
export interface CheckProblem {
  /** The key whose position the error shows (the whole node when absent). */
  key?: string;
  message: string;
}

// deno-lint-ignore no-explicit-any
const REGISTRY = new Map<string, TargetSchema<any>>();

/** Declares (and registers) the schema of one `_target_`. */
export function defineTarget<T extends { _target_: string }>(
  target: T["_target_"],
  fields: Fields<T>,
  check?: (value: T) => CheckProblem | undefined,
  register = true,
): TargetSchema<T> {
  const schema: TargetSchema<T> = { target, fields, check };
  if (register) REGISTRY.set(target, schema);
  return schema;
}

/** Every `_target_` this loader knows. */
export function knownTargets(): string[] {
  return [...REGISTRY.keys()];
}

/** The schema registered for a `_target_` (for tooling and docs), or undefined. */
export function targetSchema(target: string): AnyTargetSchema | undefined {
  return REGISTRY.get(target);
}

/**
 * Reads a node that must carry a `_target_` among `candidates`; returns the typed object.
 * An unknown target, a target not allowed in this slot, an unknown key or a wrong type is a
 * {@link ConfigError} at its position.
 */
export function parseTarget<T>(
  node: RNode,
  // deno-lint-ignore no-explicit-any
  candidates: TargetSchema<any>[],
  ctx: ValidateContext,
  name: string,
): T {
  const expected = candidates.map((c) => c.target);
  if (node.kind !== "map") {
    fail(ctx, node.pos, `"${name}" must be a mapping with _target_: ${expected.join(" | ")}`);
  }
  const t = node.entries.find((e) => e.key === "_target_");
  if (!t) {
    fail(ctx, node.pos, `"${name}" has no _target_ (expected ${expected.join(" or ")})`);
  }
  if (t.value.kind !== "scalar" || typeof t.value.value !== "string") {
    fail(ctx, t.value.pos, `"${name}._target_" must be a class path string`);
  }
  const target = t.value.value;
  const schema = candidates.find((c) => c.target === target);
  if (!schema) {
    const where = t.value.pos;
    if (REGISTRY.has(target)) {
      fail(
        ctx,
        where,
        `_target_ "${target}" is not allowed for "${name}"; expected ${expected.join(" or ")}`,
      );
    }
    fail(
      ctx,
      where,
      `Unknown _target_ "${target}" for "${name}" (expected ${expected.join(" or ")}).${
        suggestion(target, [...expected, ...REGISTRY.keys()])
      }`,
    );
  }
  const owner = target.slice(target.lastIndexOf(".") + 1);
  const fields = schema.fields as Record<string, unknown>;
  const out = readFields(
    node,
    schema.fields,
    ctx,
    owner,
    (k) => k === "_target_" || (HYDRA_KEYS.includes(k) && !(k in fields)),
  );
  const positions = POSITIONS.get(out)!;
  const value = { _target_: target, ...out };
  POSITIONS.set(value, positions);
  const problem = schema.check?.(value);
  if (problem) {
    const at = (problem.key ? positions.keys[problem.key] : undefined) ?? positions.self;
    fail(ctx, at, `${owner}: ${problem.message}`);
  }
  return value as T;
}

/** A field holding a `_target_` node; `schemas` is a thunk so schemas can refer to each other. */
export function obj<T>(
  // deno-lint-ignore no-explicit-any
  schemas: () => TargetSchema<any> | TargetSchema<any>[],
  def?: T,
): FieldSpec<T> {
  const list = () => {
    const s = schemas();
    return Array.isArray(s) ? s : [s];
  };
  const spec: FieldSpec<T> = {
    get describe() {
      return `a mapping with _target_ ${list().map((s) => s.target).join(" or ")}`;
    },
    parse(node, ctx, name) {
      return parseTarget<T>(node, list(), ctx, name);
    },
  };
  return def === undefined ? spec : withProps(spec, { default: () => structuredClone(def) });
}

/** Gives `to` the recorded positions of `from` (for objects derived from a validated one). */
export function copyPositions(from: object, to: object): void {
  const p = POSITIONS.get(from);
  if (p) POSITIONS.set(to, p);
}

/** A schema of any target (for lists of alternatives in one slot). */
// deno-lint-ignore no-explicit-any
export type AnyTargetSchema = TargetSchema<any>;
