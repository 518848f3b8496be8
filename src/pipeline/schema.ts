/**
 * A small typed schema language for pipeline files and stage-kind parameters. One definition
 * gives three things: the TypeScript type (`Infer<S>`), validation of a located YAML tree with
 * positioned errors (unknown keys get a did-you-mean), and the published JSON Schema.
 *
 * @example
 * ```ts
 * const params = s.object({ video: s.path({ role: "input" }), quality: s.defaulted(s.int({ min: 1, max: 100 }), 95) });
 * type Params = Infer<typeof params>; // { video: string; quality: number }
 * ```
 */
import type { SpecError } from "./errors.ts";
import type { LNode, Scalar } from "./located.ts";
import { plain } from "./located.ts";
import type { SourceText } from "./source.ts";

/** A JSON Schema (draft 2020-12) fragment. */
export type JsonSchema = Record<string, unknown>;

/** What a schema sees while checking: where to report, and who wants the path values. */
export interface CheckContext {
  src: SourceText;
  errors: SpecError[];
  /** Called for every value checked by `s.path()`, with its role and offset. */
  onPath?: (role: PathRole, value: string, at: number) => void;
}

/** Whether a path parameter is read (input: hashed into the key) or written. */
export type PathRole = "input" | "output";

/** A typed schema: checks a located node into a `T` (or undefined after reporting errors). */
export interface Schema<T> {
  readonly json: JsonSchema;
  readonly optional?: boolean;
  readonly defaultValue?: T;
  check(n: LNode, cx: CheckContext): T | undefined;
}

/** The type a schema produces. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

type Props = Record<string, Schema<unknown>>;
type RequiredKeys<P extends Props> = {
  [K in keyof P]: undefined extends Infer<P[K]> ? never : K;
}[keyof P];
type OptionalKeys<P extends Props> = Exclude<keyof P, RequiredKeys<P>>;
/** The object type of a props record: optional props are optional fields. */
export type ObjectOf<P extends Props> =
  & { [K in RequiredKeys<P>]: Infer<P[K]> }
  & { [K in OptionalKeys<P>]?: Infer<P[K]> };

const kindName = (n: LNode) =>
  n.kind === "map"
    ? "a mapping"
    : n.kind === "seq"
    ? "a list"
    : n.value === null
    ? "empty"
    : typeof n.value === "string"
    ? `the string ${JSON.stringify(n.value.length > 40 ? n.value.slice(0, 40) + "…" : n.value)}`
    : `the ${typeof n.value} ${n.value}`;

function scalarSchema<T extends Scalar>(
  json: JsonSchema,
  want: string,
  accept: (v: Scalar) => string | null,
): Schema<T> {
  return {
    json,
    check(n, cx) {
      if (n.kind !== "scalar") {
        cx.errors.push(cx.src.error(n.at, `Expected ${want}, got ${kindName(n)}`));
        return undefined;
      }
      const why = accept(n.value);
      if (why !== null) {
        cx.errors.push(cx.src.error(n.at, why || `Expected ${want}, got ${kindName(n)}`));
        return undefined;
      }
      return n.value as T;
    },
  };
}

/** Edit distance, for did-you-mean suggestions. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** The closest of `names` to `word`, if it is close enough to be a likely typo. */
export function didYouMean(word: string, names: Iterable<string>): string | undefined {
  let best: string | undefined, bestD = Infinity;
  for (const n of names) {
    const dist = editDistance(word.toLowerCase(), n.toLowerCase());
    if (dist < bestD) [best, bestD] = [n, dist];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Schema builders. */
export const s = {
  string(o: { desc?: string; pattern?: RegExp; minLength?: number } = {}): Schema<string> {
    return scalarSchema<string>(
      {
        type: "string",
        ...(o.desc ? { description: o.desc } : {}),
        ...(o.pattern ? { pattern: o.pattern.source } : {}),
        ...(o.minLength ? { minLength: o.minLength } : {}),
      },
      "a string",
      (v) => {
        if (typeof v !== "string") return "";
        if (o.minLength && v.length < o.minLength) return "Expected a non-empty string";
        if (o.pattern && !o.pattern.test(v)) {
          return `Expected a string matching ${o.pattern.source}, got ${JSON.stringify(v)}`;
        }
        return null;
      },
    );
  },
  int(o: { desc?: string; min?: number; max?: number } = {}): Schema<number> {
    return numberSchema(true, o);
  },
  number(o: { desc?: string; min?: number; max?: number } = {}): Schema<number> {
    return numberSchema(false, o);
  },
  boolean(o: { desc?: string } = {}): Schema<boolean> {
    return scalarSchema<boolean>(
      { type: "boolean", ...(o.desc ? { description: o.desc } : {}) },
      "true or false",
      (v) => typeof v === "boolean" ? null : "",
    );
  },
  enum<const T extends string>(values: readonly T[], o: { desc?: string } = {}): Schema<T> {
    return scalarSchema<T>(
      { enum: [...values], ...(o.desc ? { description: o.desc } : {}) },
      `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`,
      (v) => {
        if (typeof v === "string" && (values as readonly string[]).includes(v)) return null;
        const dym = typeof v === "string" ? didYouMean(v, values) : undefined;
        return `Expected one of ${values.map((x) => JSON.stringify(x)).join(", ")}, got ${
          JSON.stringify(v)
        }${dym ? ` (did you mean "${dym}"?)` : ""}`;
      },
    );
  },
  /** A file or folder path, relative to the project root; inputs are hashed into the key. */
  path(o: { role: PathRole; desc?: string }): Schema<string> {
    const str = s.string({ minLength: 1 });
    return {
      json: {
        type: "string",
        minLength: 1,
        description: o.desc ?? (o.role === "input" ? "input path" : "output path"),
      },
      check(n, cx) {
        const v = str.check(n, cx);
        if (v !== undefined) cx.onPath?.(o.role, v, n.at);
        return v;
      },
    };
  },
  any(o: { desc?: string } = {}): Schema<unknown> {
    return { json: o.desc ? { description: o.desc } : {}, check: (n) => plain(n) };
  },
  array<T>(item: Schema<T>, o: { desc?: string; minItems?: number } = {}): Schema<T[]> {
    return {
      json: {
        type: "array",
        items: item.json,
        ...(o.minItems ? { minItems: o.minItems } : {}),
        ...(o.desc ? { description: o.desc } : {}),
      },
      check(n, cx) {
        if (n.kind !== "seq") {
          cx.errors.push(cx.src.error(n.at, `Expected a list, got ${kindName(n)}`));
          return undefined;
        }
        if (o.minItems && n.items.length < o.minItems) {
          cx.errors.push(cx.src.error(n.at, `Expected at least ${o.minItems} item(s)`));
        }
        const out: T[] = [];
        let ok = true;
        for (const i of n.items) {
          const v = item.check(i, cx);
          if (v === undefined) ok = false;
          else out.push(v);
        }
        return ok ? out : undefined;
      },
    };
  },
  record<T>(value: Schema<T>, o: { desc?: string; keyPattern?: RegExp } = {}): Schema<
    Record<string, T>
  > {
    return {
      json: {
        type: "object",
        additionalProperties: value.json,
        ...(o.keyPattern ? { propertyNames: { pattern: o.keyPattern.source } } : {}),
        ...(o.desc ? { description: o.desc } : {}),
      },
      check(n, cx) {
        if (n.kind !== "map") {
          cx.errors.push(cx.src.error(n.at, `Expected a mapping, got ${kindName(n)}`));
          return undefined;
        }
        const out: Record<string, T> = {};
        let ok = true;
        for (const e of n.entries) {
          if (o.keyPattern && !o.keyPattern.test(e.key)) {
            cx.errors.push(
              cx.src.error(e.keyAt, `Invalid name "${e.key}": use letters, digits, "_" and "-"`),
            );
            ok = false;
            continue;
          }
          const v = value.check(e.value, cx);
          if (v === undefined) ok = false;
          else out[e.key] = v;
        }
        return ok ? out : undefined;
      },
    };
  },
  object<P extends Props>(props: P, o: { desc?: string; what?: string } = {}): Schema<ObjectOf<P>> {
    const required = Object.keys(props).filter((k) => !props[k].optional);
    return {
      json: {
        type: "object",
        properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, v.json])),
        ...(required.length ? { required } : {}),
        additionalProperties: false,
        ...(o.desc ? { description: o.desc } : {}),
      },
      check(n, cx) {
        if (n.kind !== "map") {
          cx.errors.push(cx.src.error(n.at, `Expected a mapping, got ${kindName(n)}`));
          return undefined;
        }
        const out: Record<string, unknown> = {};
        let ok = true;
        for (const e of n.entries) {
          const p = props[e.key];
          if (!p || !Object.hasOwn(props, e.key)) {
            const dym = didYouMean(e.key, Object.keys(props));
            cx.errors.push(
              cx.src.error(
                e.keyAt,
                `Unknown key "${e.key}"${o.what ? ` in ${o.what}` : ""}${
                  dym ? ` (did you mean "${dym}"?)` : ""
                }; known keys: ${Object.keys(props).join(", ")}`,
              ),
            );
            ok = false;
            continue;
          }
          const v = p.check(e.value, cx);
          if (v === undefined) ok = false;
          else out[e.key] = v;
        }
        for (const k of Object.keys(props)) {
          if (k in out || n.entries.some((e) => e.key === k)) continue;
          if (props[k].defaultValue !== undefined) out[k] = structuredClone(props[k].defaultValue);
          else if (!props[k].optional) {
            cx.errors.push(
              cx.src.error(n.at, `Missing required key "${k}"${o.what ? ` in ${o.what}` : ""}`),
            );
            ok = false;
          }
        }
        return ok ? out as ObjectOf<P> : undefined;
      },
    };
  },
  /** The first alternative whose JSON type fits the node decides (string vs list vs mapping). */
  oneOf<A, B>(a: Schema<A>, b: Schema<B>, o: { desc?: string } = {}): Schema<A | B> {
    const fits = (sc: Schema<unknown>, n: LNode) => {
      const t = sc.json.type;
      if (t === "object") return n.kind === "map";
      if (t === "array") return n.kind === "seq";
      if (t === "string") return n.kind === "scalar" && typeof n.value === "string";
      return n.kind === "scalar";
    };
    return {
      json: { oneOf: [a.json, b.json], ...(o.desc ? { description: o.desc } : {}) },
      check(n, cx) {
        if (fits(a as Schema<unknown>, n)) return a.check(n, cx);
        if (fits(b as Schema<unknown>, n)) return b.check(n, cx);
        return a.check(n, cx);
      },
    };
  },
  optional<T>(inner: Schema<T>): Schema<T | undefined> {
    return { ...inner, optional: true, check: (n, cx) => inner.check(n, cx) };
  },
  defaulted<T>(inner: Schema<T>, value: T): Schema<T> {
    return {
      ...inner,
      json: { ...inner.json, default: value },
      optional: true,
      defaultValue: value,
      check: (n, cx) => inner.check(n, cx),
    };
  },
};

function numberSchema(
  integer: boolean,
  o: { desc?: string; min?: number; max?: number },
): Schema<number> {
  const want = integer ? "an integer" : "a number";
  return scalarSchema<number>(
    {
      type: integer ? "integer" : "number",
      ...(o.min !== undefined ? { minimum: o.min } : {}),
      ...(o.max !== undefined ? { maximum: o.max } : {}),
      ...(o.desc ? { description: o.desc } : {}),
    },
    want,
    (v) => {
      if (typeof v !== "number" || (integer && !Number.isInteger(v))) return "";
      if (o.min !== undefined && v < o.min) return `Expected ${want} >= ${o.min}, got ${v}`;
      if (o.max !== undefined && v > o.max) return `Expected ${want} <= ${o.max}, got ${v}`;
      return null;
    },
  );
}
