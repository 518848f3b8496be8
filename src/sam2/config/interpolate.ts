/**
 * OmegaConf-style interpolation: `${a.b}` (absolute), `${.x}` / `${..x}` (relative to the
 * node holding the value), and resolver calls `${name:arg,...}` with the resolvers that the
 * reference's training code registers (`training/utils/train_utils.py`). A value that is
 * exactly one interpolation takes the referenced node as-is (a number stays a number, a
 * list stays a list); an interpolation inside other text is formatted into the string.
 * `???` is OmegaConf's mandatory value: it stays marked as missing until a reader needs it.
 */
import { parse as parseYamlValue } from "yaml";
import { ConfigError, formatPos, type SourcePos, suggestion } from "./errors.ts";
import type { YamlFile, YEntry, YMap, YNode, YScalar, YSeq } from "./yaml_tree.ts";

/** A resolved scalar: like a YAML scalar, plus where an interpolated value came from. */
export interface RScalar extends YScalar {
  /** True for OmegaConf's mandatory-value marker `???`. */
  missing?: boolean;
  /** The interpolation that produced this value (e.g. `${scratch.resolution}`). */
  from?: string;
}

/** A resolved node: maps and sequences of resolved nodes. */
export type RNode = RMap | RSeq | RScalar;
/** A resolved mapping. */
export interface RMap extends Omit<YMap, "entries"> {
  entries: REntry[];
}
/** A resolved `key: value`. */
export interface REntry extends Omit<YEntry, "value"> {
  value: RNode;
}
/** A resolved sequence. */
export interface RSeq extends Omit<YSeq, "items"> {
  items: RNode[];
}

type Expr =
  | { t: "ref"; path: string }
  | { t: "call"; name: string; args: Expr[] }
  | { t: "lit"; value: string | number | boolean | null }
  | { t: "concat"; parts: (string | Expr)[] };

type Scalar = string | number | boolean | null;
type Value = Scalar | Value[];

function num(name: string, v: Value): number {
  if (typeof v !== "number") throw new Error(`Resolver "${name}" needs numbers, got ${show(v)}`);
  return v;
}

/** The resolvers `register_omegaconf_resolvers()` installs (merge/get_* are not data). */
const RESOLVERS: Record<string, (args: Value[]) => Value> = {
  add: ([x, y]) => num("add", x) + num("add", y),
  subtract: ([x, y]) => num("subtract", x) - num("subtract", y),
  times: (xs) => xs.reduce<number>((p, x) => p * num("times", x), 1),
  divide: ([x, y]) => num("divide", x) / num("divide", y),
  pow: ([x, y]) => num("pow", x) ** num("pow", y),
  range: ([x]) => Array.from({ length: Math.max(0, Math.trunc(num("range", x))) }, (_, i) => i),
  int: ([x]) => Math.trunc(typeof x === "string" ? Number(x) : num("int", x)),
  ceil_int: ([x]) => Math.ceil(num("ceil_int", x)),
};

/** Python's str() of a scalar, as OmegaConf formats interpolations inside text. */
function pyStr(v: Value): string {
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (Array.isArray(v)) {
    return `[${v.map((x) => typeof x === "string" ? `'${x}'` : pyStr(x)).join(", ")}]`;
  }
  return String(v);
}

function show(v: Value): string {
  return typeof v === "string" ? `"${v}"` : pyStr(v);
}

function literal(text: string): Scalar {
  if (/^[-+]?\d+$/.test(text)) return Number(text);
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (/^(null|Null|NULL|~)$/.test(text)) return null;
  return text;
}

class ExprParser {
  i = 0;
  constructor(readonly s: string, readonly fail: (msg: string) => never) {}

  /** Whole string: text with embedded `${...}` (escaped `\${` stays literal). */
  parseTemplate(): (string | Expr)[] {
    const parts: (string | Expr)[] = [];
    let text = "";
    while (this.i < this.s.length) {
      if (this.s.startsWith("\\${", this.i)) {
        text += "${";
        this.i += 3;
      } else if (this.s.startsWith("${", this.i)) {
        if (text) parts.push(text);
        text = "";
        this.i += 2;
        parts.push(this.parseInterp());
      } else {
        text += this.s[this.i++];
      }
    }
    if (text) parts.push(text);
    return parts;
  }

  private skip() {
    while (this.s[this.i] === " ") this.i++;
  }

  /** After `${`: a resolver call or a node path, through the closing `}`. */
  parseInterp(): Expr {
    this.skip();
    const m = /^([A-Za-z_][\w.]*)\s*:/.exec(this.s.slice(this.i));
    if (m) {
      this.i += m[0].length;
      const args: Expr[] = [];
      this.skip();
      if (this.s[this.i] === "}") {
        this.i++;
        return { t: "call", name: m[1], args };
      }
      for (;;) {
        args.push(this.parseArg());
        this.skip();
        const c = this.s[this.i++];
        if (c === "}") break;
        if (c !== ",") this.fail(`Expected "," or "}" in resolver call "${m[1]}"`);
      }
      return { t: "call", name: m[1], args };
    }
    const end = this.s.indexOf("}", this.i);
    if (end < 0) this.fail(`Unclosed interpolation "\${" in "${this.s}"`);
    const path = this.s.slice(this.i, end).trim();
    if (!/^\.*[\w-]+(\.[\w-]+)*$/.test(path)) this.fail(`Invalid interpolation path "${path}"`);
    this.i = end + 1;
    return { t: "ref", path };
  }

  private parseArg(): Expr {
    this.skip();
    const q = this.s[this.i];
    if (q === "'" || q === '"') {
      const end = this.s.indexOf(q, this.i + 1);
      if (end < 0) this.fail(`Unclosed quote in "${this.s}"`);
      const value = this.s.slice(this.i + 1, end);
      this.i = end + 1;
      return { t: "lit", value };
    }
    const parts: (string | Expr)[] = [];
    let text = "";
    while (this.i < this.s.length) {
      const c = this.s[this.i];
      if (c === "," || c === "}") break;
      if (this.s.startsWith("${", this.i)) {
        if (text) parts.push(text);
        text = "";
        this.i += 2;
        parts.push(this.parseInterp());
      } else {
        text += c;
        this.i++;
      }
    }
    if (this.i >= this.s.length) this.fail(`Unclosed interpolation "\${" in "${this.s}"`);
    if (text.trim()) parts.push(text.trim());
    else if (text && parts.length > 1) parts.push(text);
    if (parts.length === 1 && typeof parts[0] !== "string") return parts[0];
    if (parts.length === 1) return { t: "lit", value: literal(parts[0] as string) };
    if (parts.length === 0) return { t: "lit", value: "" };
    return { t: "concat", parts };
  }
}

/** Options for {@link resolveConfig}. */
export interface ResolveOptions {
  /**
   * Hydra-style overrides applied before resolving: `a.b=value`, `+a.b=value`,
   * `++a.b=value` (value is YAML).
   * @default []
   */
  overrides?: string[];
}

/**
 * Resolves every interpolation of a parsed file (after `# @package` nesting and overrides).
 * @throws {ConfigError} naming the position of an interpolation that cannot be resolved.
 */
export function resolveConfig(yf: YamlFile, options: ResolveOptions = {}): RMap {
  let root: YMap = yf.root;
  if (yf.packageName && yf.packageName !== "_global_") {
    for (const key of yf.packageName.split(".").reverse()) {
      root = { kind: "map", pos: root.pos, entries: [{ key, keyPos: root.pos, value: root }] };
    }
  }
  for (const o of options.overrides ?? []) root = applyOverride(root, o);
  return new Resolver(root, yf.source).run();
}

function applyOverride(root: YMap, override: string): YMap {
  const pos: SourcePos = { file: `<override ${override}>`, line: 1, col: 1 };
  const m = /^\+{0,2}([\w.-]+)=(.*)$/s.exec(override);
  if (!m) {
    throw new ConfigError(pos, `Cannot read override "${override}": expected key.path=value`);
  }
  const value = toNode(parseYamlValue(m[2] === "" ? "null" : m[2]), pos);
  const keys = m[1].split(".");
  const set = (map: YMap, i: number): YMap => {
    const entries = [...map.entries];
    const at = entries.findIndex((e) => e.key === keys[i]);
    const old = at >= 0 ? entries[at].value : undefined;
    const next: YNode = i === keys.length - 1
      ? value
      : set(old?.kind === "map" ? old : { kind: "map", pos, entries: [] }, i + 1);
    const entry = { key: keys[i], keyPos: at >= 0 ? entries[at].keyPos : pos, value: next };
    if (at >= 0) entries[at] = entry;
    else entries.push(entry);
    return { ...map, entries };
  };
  return set(root, 0);
}

function toNode(v: unknown, pos: SourcePos): YNode {
  if (Array.isArray(v)) return { kind: "seq", pos, items: v.map((x) => toNode(x, pos)) };
  if (v !== null && typeof v === "object") {
    return {
      kind: "map",
      pos,
      entries: Object.entries(v).map(([key, x]) => ({ key, keyPos: pos, value: toNode(x, pos) })),
    };
  }
  const value = v === undefined ? null : v as Scalar;
  return { kind: "scalar", pos, value, quoted: false };
}

class Resolver {
  private memo = new Map<YNode, RNode>();
  private active = new Set<YNode>();
  constructor(readonly root: YMap, readonly source: string) {}

  run(): RMap {
    return this.node(this.root, []) as RMap;
  }

  private err(pos: SourcePos, msg: string): never {
    throw new ConfigError(pos, msg, pos.file.startsWith("<") ? undefined : this.source);
  }

  private node(n: YNode, path: string[]): RNode {
    const done = this.memo.get(n);
    if (done) return done;
    if (this.active.has(n)) {
      this.err(n.pos, `Interpolation cycle through "${path.join(".")}"`);
    }
    this.active.add(n);
    let out: RNode;
    if (n.kind === "map") {
      out = {
        ...n,
        entries: n.entries.map((e) => ({ ...e, value: this.node(e.value, [...path, e.key]) })),
      };
    } else if (n.kind === "seq") {
      out = { ...n, items: n.items.map((it, i) => this.node(it, [...path, String(i)])) };
    } else {
      out = this.scalar(n, path);
    }
    this.active.delete(n);
    this.memo.set(n, out);
    return out;
  }

  private scalar(n: YScalar, path: string[]): RNode {
    if (n.value === "???") return { ...n, missing: true };
    if (typeof n.value !== "string" || !n.value.includes("${")) return n;
    const text = n.value;
    const fail = (msg: string): never => this.err(n.pos, msg);
    const parts = new ExprParser(text, fail).parseTemplate();
    if (parts.length === 1 && typeof parts[0] !== "string") {
      const r = this.evalExpr(parts[0], path, n.pos);
      if (r.kind === "scalar") return { ...r, pos: n.pos, quoted: false, from: text };
      return r;
    }
    const s = parts.map((p) => {
      if (typeof p === "string") return p;
      const r = this.evalExpr(p, path, n.pos);
      if (r.kind !== "scalar") {
        return fail(
          `Cannot format a ${r.kind === "map" ? "mapping" : "list"} into the text "${text}"`,
        );
      }
      if (r.missing) return fail(`Missing mandatory value (???) used in "${text}"`);
      return pyStr(r.value);
    }).join("");
    return { kind: "scalar", pos: n.pos, value: s, quoted: true, from: text };
  }

  private lookup(ref: string, path: string[], pos: SourcePos): { node: YNode; path: string[] } {
    let keys: string[];
    let base: string[];
    const dots = /^\.*/.exec(ref)![0].length;
    if (dots > 0) {
      // `.x` is a sibling of the value's key; each further dot climbs one level.
      base = path.slice(0, Math.max(0, path.length - dots));
      keys = ref.slice(dots).split(".");
    } else {
      base = [];
      keys = ref.split(".");
    }
    let cur: YNode = this.root;
    for (const k of base) cur = this.child(cur, k)!;
    const full = [...base];
    for (const k of keys) {
      const next = this.child(cur, k);
      if (next === undefined) {
        const names = cur.kind === "map" ? cur.entries.map((e) => e.key) : [];
        this.err(
          pos,
          `Cannot resolve interpolation "\${${ref}}": no key "${k}" in "${
            full.join(".") || "<root>"
          }".${suggestion(k, names)}`,
        );
      }
      cur = next;
      full.push(k);
    }
    return { node: cur, path: full };
  }

  private child(n: YNode, key: string): YNode | undefined {
    if (n.kind === "map") return n.entries.find((e) => e.key === key)?.value;
    if (n.kind === "seq" && /^\d+$/.test(key)) return n.items[Number(key)];
    return undefined;
  }

  private evalExpr(e: Expr, path: string[], pos: SourcePos): RNode {
    if (e.t === "ref") {
      const target = this.lookup(e.path, path, pos);
      return this.node(target.node, target.path);
    }
    if (e.t === "lit") return { kind: "scalar", pos, value: e.value, quoted: false };
    const value = this.evalValue(e, path, pos);
    return toNode(value, pos) as RNode;
  }

  private evalValue(e: Expr, path: string[], pos: SourcePos): Value {
    switch (e.t) {
      case "lit":
        return e.value;
      case "concat":
        return e.parts.map((p) => typeof p === "string" ? p : pyStr(this.evalValue(p, path, pos)))
          .join("");
      case "ref": {
        const r = this.evalExpr(e, path, pos);
        return this.plain(r, pos);
      }
      case "call": {
        const fn = RESOLVERS[e.name];
        if (!fn) {
          this.err(
            pos,
            `Unknown resolver "${e.name}" (known: ${Object.keys(RESOLVERS).join(", ")}).${
              suggestion(e.name, Object.keys(RESOLVERS))
            }`,
          );
        }
        const args = e.args.map((a) => this.evalValue(a, path, pos));
        try {
          return fn(args);
        } catch (err) {
          this.err(pos, (err as Error).message);
        }
      }
    }
  }

  private plain(r: RNode, pos: SourcePos): Value {
    if (r.kind === "scalar") {
      if (r.missing) this.err(pos, `Missing mandatory value (???) at ${formatPos(r.pos)}`);
      return r.value;
    }
    if (r.kind === "seq") return r.items.map((x) => this.plain(x, pos));
    this.err(pos, "A resolver argument cannot be a mapping");
  }
}
