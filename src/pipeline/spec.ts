/**
 * Reads a pipeline file into validated stages. Every problem found (YAML syntax, unknown keys,
 * wrong types, unresolved `${...}` references, missing inputs, duplicate outputs, cycles) is
 * collected with its position and thrown together as one `SpecErrors`.
 *
 * ```
 *   vars ──▶ ${vars.x}          stages.A.outs.o ──▶ ${stages.A.outs.o}  (implies A before B)
 *   foreach: list | glob ──▶ one stage per item: NAME@item, each its own cache entry
 * ```
 */
import { type SpecError, SpecErrors } from "./errors.ts";
import { NAME_RE, pipelineSchema } from "./format.ts";
import { glob, isGlob } from "./glob.ts";
import type { StageKind } from "./kind.ts";
import { entry, type LEntry, type LNode, plain } from "./located.ts";
import { basename, dirname, normalize, shellQuote, within } from "./paths.ts";
import type { KindRegistry } from "./registry.ts";
import { type CheckContext, didYouMean } from "./schema.ts";
import type { SourceText } from "./source.ts";

/** One runnable stage (a foreach stage gives one per item, named `group@item`). */
export interface Stage {
  name: string;
  group: string;
  /** The foreach item, when expanded from one. */
  item?: unknown;
  /** "run" for shell commands, else the kind name. */
  kind: string;
  /** The shell command; `${outs.NAME}` is left in place and replaced by staging paths. */
  cmd?: string;
  /** Resolved `with:` parameters (paths as written, relative to the root). */
  params: Record<string, unknown>;
  /** Input paths (files or folders), normalized, sorted. */
  deps: string[];
  /** Output name to path. */
  outs: Record<string, string>;
  tools: string[];
  env: Record<string, string>;
  frozen: boolean;
  alwaysChanged: boolean;
}

/** How a foreach stage is expanded. */
export type Foreach =
  | { kind: "list"; items: unknown[] }
  | { kind: "glob"; pattern: string; dynamic: boolean };

/** A stage as named in the file; `instances` is null until a dynamic foreach is expanded. */
export interface StageGroup {
  name: string;
  at: number;
  kind: string;
  desc?: string;
  /** Names of the stages that must complete first, with where the file says so. */
  upstream: { name: string; at: number }[];
  foreach?: Foreach;
  /** Output paths; for a foreach stage, the folder its instances' outputs live in. */
  outs: Record<string, string>;
  instances: Stage[] | null;
  frozen: boolean;
  alwaysChanged: boolean;
}

/** A parsed, validated pipeline. */
export interface Pipeline {
  /** Absolute path of the pipeline file. */
  file: string;
  /** Absolute project root. */
  root: string;
  name: string;
  vars: Record<string, unknown>;
  /** Stages in file order. */
  groups: StageGroup[];
  source: SourceText;
  registry: KindRegistry;
  /** (Re-)expands a foreach stage whose items are a glob, from the files there now. */
  expand(group: StageGroup): Stage[];
}

/** Options of `parsePipeline`. */
export interface ParseOptions {
  /** Path shown in messages and used to find the project root. */
  file: string;
  /** The kinds `uses:` may name. */
  registry: KindRegistry;
  /** Overrides of `vars` (from `--var NAME=VALUE`). @default {} */
  vars?: Record<string, unknown>;
  /** Project root; relative paths in the file are relative to it. @default the file's folder */
  root?: string;
  /** Check that input paths exist (or are produced by a stage). @default true */
  checkInputs?: boolean;
}

const FILE_ITEM_KEYS = ["path", "name", "stem", "ext", "dir"];

/** The item properties of a file matched by a foreach glob. */
export function fileItem(path: string): Record<string, string> {
  const name = basename(path);
  const dot = name.lastIndexOf(".");
  return {
    path,
    name,
    stem: dot > 0 ? name.slice(0, dot) : name,
    ext: dot > 0 ? name.slice(dot) : "",
    dir: dirname(path),
  };
}

/** Parses a `--var NAME=VALUE` value: numbers, booleans and JSON lists/objects are typed. */
export function parseVarValue(v: string): unknown {
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return Number(v);
  if (v === "true" || v === "false") return v === "true";
  if (v === "null") return null;
  if (/^[[{]/.test(v)) {
    try {
      return JSON.parse(v);
    } catch { /* a plain string */ }
  }
  return v;
}

interface Scope {
  vars: Record<string, unknown>;
  item?: unknown;
  hasItem: boolean;
  /** Resolves `stages.NAME.outs.OUT`. */
  stageOut: (stage: string, out: string, at: number) => string | undefined;
  /** Whether `${outs.NAME}` is allowed (run commands) and which names exist. */
  selfOuts?: string[];
  /** Stage names referenced, with positions. */
  refs: { name: string; at: number }[];
}

const EXPR = /\$\$\{|\$\{([^}]*)\}/g;

/**
 * Replaces `${...}` in a string. A string that is exactly one reference takes the referenced
 * value's type (a list var stays a list). Returns undefined after reporting an error.
 */
function interpolate(
  text: string,
  at: number,
  cx: CheckContext,
  scope: Scope,
  quote?: (v: string) => string,
): unknown {
  const values: unknown[] = [];
  let ok = true;
  const out = text.replace(EXPR, (m, expr: string | undefined, index: number) => {
    if (m === "$${") return "${";
    const v = resolveExpr(expr!.trim(), at + index + 2, cx, scope);
    if (v === undefined) {
      ok = false;
      return "";
    }
    values.push(v);
    const text = v !== null && typeof v === "object" ? JSON.stringify(v) : String(v);
    return quote && !text.startsWith("${outs.") ? quote(text) : text;
  });
  if (!ok) return undefined;
  const whole = text.match(/^\$\{[^}]*\}$/);
  return whole && values.length === 1 ? values[0] : out;
}

function resolveExpr(expr: string, at: number, cx: CheckContext, scope: Scope): unknown {
  const fail = (msg: string) => {
    cx.errors.push(cx.src.error(at, msg));
    return undefined;
  };
  if (!/^[A-Za-z_][\w-]*(\.[\w@-]+)*$/.test(expr)) {
    return fail(
      `Invalid reference "\${${expr}}": expected e.g. \${vars.NAME} or \${stages.NAME.outs.OUT}`,
    );
  }
  const parts = expr.split(".");
  const walk = (v: unknown, rest: string[], what: string): unknown => {
    for (const p of rest) {
      if (v === null || typeof v !== "object" || !(p in (v as object))) {
        const keys = v && typeof v === "object" ? Object.keys(v) : [];
        const dym = didYouMean(p, keys);
        return fail(
          `Cannot resolve "\${${expr}}": ${what} has no "${p}"${
            dym ? ` (did you mean "${dym}"?)` : ""
          }`,
        );
      }
      v = (v as Record<string, unknown>)[p];
      what = `${what}.${p}`;
    }
    if (v === undefined) return fail(`Cannot resolve "\${${expr}}"`);
    return v;
  };
  switch (parts[0]) {
    case "vars": {
      if (parts.length < 2) return fail(`Use \${vars.NAME}, not \${vars}`);
      if (!(parts[1] in scope.vars)) {
        const dym = didYouMean(parts[1], Object.keys(scope.vars));
        return fail(
          `Unknown var "${parts[1]}"${
            dym ? ` (did you mean "${dym}"?)` : ""
          }; declare it under vars:`,
        );
      }
      return walk(scope.vars[parts[1]], parts.slice(2), `vars.${parts[1]}`);
    }
    case "item": {
      if (!scope.hasItem) return fail(`"\${${expr}}" is only defined in a stage with foreach:`);
      const it = scope.item as Record<string, unknown> | null;
      if (
        parts.length === 1 && it && typeof it === "object" && FILE_ITEM_KEYS.every((k) => k in it)
      ) {
        return it.path; // a file matched by a glob stands for its path
      }
      return walk(scope.item, parts.slice(1), "item");
    }
    case "stages": {
      if (parts.length !== 4 || parts[2] !== "outs") {
        return fail(`Use \${stages.NAME.outs.OUT} to refer to another stage's output`);
      }
      scope.refs.push({ name: parts[1], at });
      return scope.stageOut(parts[1], parts[3], at);
    }
    case "outs":
      if (!scope.selfOuts) return fail(`"\${outs.NAME}" is only allowed in a run command`);
      if (parts.length !== 2 || !scope.selfOuts.includes(parts[1])) {
        const dym = didYouMean(parts[1] ?? "", scope.selfOuts);
        return fail(
          `Unknown output "${parts[1] ?? ""}" in "\${${expr}}"${
            dym ? ` (did you mean "${dym}"?)` : ""
          }`,
        );
      }
      return "${" + expr + "}"; // replaced by the staging path at run time
    default: {
      const dym = didYouMean(parts[0], ["vars", "stages", "item", "outs"]);
      return fail(
        `Unknown reference "\${${expr}}"${
          dym ? ` (did you mean "${dym}"?)` : ""
        }: use vars., stages., item or outs.`,
      );
    }
  }
}

/** Interpolates every string in a located tree, keeping positions. */
function interpolateNode(n: LNode, cx: CheckContext, scope: Scope): LNode | undefined {
  if (n.kind === "scalar") {
    if (typeof n.value !== "string" || !n.value.includes("$")) return n;
    const v = interpolate(n.value, n.at + (n.quoted ? 1 : 0), cx, scope);
    if (v === undefined) return undefined;
    return toNode(v, n.at);
  }
  if (n.kind === "seq") {
    const items: LNode[] = [];
    let ok = true;
    for (const i of n.items) {
      const r = interpolateNode(i, cx, scope);
      if (r) items.push(r);
      else ok = false;
    }
    return ok ? { kind: "seq", items, at: n.at } : undefined;
  }
  const entries: LEntry[] = [];
  let ok = true;
  for (const e of n.entries) {
    const r = interpolateNode(e.value, cx, scope);
    if (r) entries.push({ ...e, value: r });
    else ok = false;
  }
  return ok ? { kind: "map", entries, at: n.at } : undefined;
}

function toNode(v: unknown, at: number): LNode {
  if (Array.isArray(v)) return { kind: "seq", items: v.map((x) => toNode(x, at)), at };
  if (v !== null && typeof v === "object") {
    return {
      kind: "map",
      entries: Object.entries(v).map(([key, x]) => ({ key, keyAt: at, value: toNode(x, at) })),
      at,
    };
  }
  const value = v === undefined ? null : v as string | number | boolean | null;
  return { kind: "scalar", value, at, quoted: false };
}

function str(n: LNode | undefined): string | undefined {
  return n?.kind === "scalar" && typeof n.value === "string" ? n.value : undefined;
}

/** Finds the project root: the nearest folder above `dir` with .git, deno.json or .sam2. */
export function findRoot(dir: string): string {
  let d = normalize(dir);
  for (;;) {
    for (const marker of [".git", "deno.json", ".sam2"]) {
      try {
        Deno.statSync(`${d}/${marker}`);
        return d;
      } catch { /* keep looking */ }
    }
    const up = dirname(d);
    if (up === d || d === "/") return normalize(dir);
    d = up;
  }
}

/**
 * Validates a pipeline from its located YAML tree (see `parsePipeline` for text). Throws
 * `SpecErrors` with every problem found; `errors` may already hold YAML syntax errors.
 */
export function buildPipeline(
  src: SourceText,
  tree: LNode | null,
  errors: SpecError[],
  opts: ParseOptions,
): Pipeline {
  const cx: CheckContext = { src, errors };
  const fail = () => {
    errors.sort((a, b) => a.pos.offset - b.pos.offset);
    throw new SpecErrors(errors);
  };
  if (!tree) fail();
  if (tree!.kind === "scalar" && tree!.value === null) {
    errors.push(src.error(0, "The pipeline file is empty: it needs at least stages:"));
    fail();
  }
  pipelineSchema.check(tree!, cx); // reports unknown keys and wrong types everywhere
  if (tree!.kind !== "map") fail();
  const fileAbs = normalize(opts.file.startsWith("/") ? opts.file : `${Deno.cwd()}/${opts.file}`);
  const root = opts.root ? normalize(opts.root) : findRoot(dirname(fileAbs));
  const registry = opts.registry;

  // vars, with CLI overrides
  const varsNode = entry(tree!, "vars")?.value;
  const vars: Record<string, unknown> = varsNode?.kind === "map"
    ? plain(varsNode) as Record<string, unknown>
    : {};
  for (const [k, v] of Object.entries(opts.vars ?? {})) {
    if (!(k in vars)) {
      const dym = didYouMean(k, Object.keys(vars));
      errors.push(src.error(
        varsNode?.at ?? 0,
        `--var "${k}" is not declared under vars:${dym ? ` (did you mean "${dym}"?)` : ""}`,
      ));
    } else vars[k] = v;
  }
  // vars may refer to other vars (one level, in file order)
  const varScope = (): Scope => ({
    vars,
    hasItem: false,
    stageOut: (_s, _o, at) => {
      errors.push(src.error(at, "vars cannot refer to stage outputs"));
      return undefined;
    },
    refs: [],
  });
  if (varsNode?.kind === "map") {
    for (const e of varsNode.entries) {
      if (opts.vars && e.key in opts.vars) continue;
      const r = interpolateNode(e.value, cx, varScope());
      if (r) vars[e.key] = plain(r);
    }
  }

  const stagesNode = entry(tree!, "stages")?.value;
  const stageEntries = stagesNode?.kind === "map" ? stagesNode.entries : [];
  if (stagesNode?.kind === "map" && stageEntries.length === 0) {
    errors.push(src.error(stagesNode.at, "The pipeline has no stages"));
  }
  const byName = new Map<string, LEntry>(
    stageEntries.filter((e) => NAME_RE.test(e.key) && e.value.kind === "map").map((
      e,
    ) => [e.key, e]),
  );

  // Pass 1: each stage's declared outputs (vars resolved; foreach: the owning parent folder).
  const groupOuts = new Map<string, Record<string, string>>();
  const outAt = new Map<string, Record<string, number>>();
  const isForeach = (e: LEntry) => entry(e.value, "foreach") !== undefined;
  for (const [name, e] of byName) {
    const outs: Record<string, string> = {};
    const ats: Record<string, number> = {};
    const node = entry(e.value, "outs")?.value;
    const list: { key: string; n: LNode }[] = node?.kind === "map"
      ? node.entries.map((x) => ({ key: x.key, n: x.value }))
      : node?.kind === "seq"
      ? node.items.map((n) => ({ key: str(n) ?? "", n }))
      : [];
    for (const { key, n } of list) {
      let raw = str(n);
      if (raw === undefined || raw === "") continue;
      const off = n.at + ((n.kind === "scalar" && n.quoted) ? 1 : 0);
      if (isForeach(e)) {
        const i = raw.indexOf("${item");
        if (i < 0) {
          errors.push(src.error(
            n.at,
            `Output "${key}" of foreach stage "${name}" must contain \${item...} (e.g. data/frames/\${item.stem}) so that each item writes its own`,
          ));
          continue;
        }
        const slash = raw.lastIndexOf("/", i);
        if (slash <= 0) {
          errors.push(src.error(
            n.at,
            `Output "${key}" of foreach stage "${name}" needs a parent folder before \${item...} (e.g. data/frames/\${item.stem})`,
          ));
          continue;
        }
        raw = raw.slice(0, slash);
      }
      const v = interpolate(raw, off, cx, varScope());
      if (typeof v !== "string") {
        if (v !== undefined) errors.push(src.error(n.at, "An output path must be a string"));
        continue;
      }
      const p = normalize(v);
      if (p.startsWith("/") || p === "." || p.startsWith("..")) {
        errors.push(
          src.error(n.at, `Output "${v}" must be a path inside the project root ${root}`),
        );
        continue;
      }
      if (p.split("/")[0] === ".sam2") {
        errors.push(src.error(n.at, `Output "${v}" is inside .sam2/, which the cache owns`));
        continue;
      }
      outs[key] = p;
      ats[key] = n.at;
    }
    groupOuts.set(name, outs);
    outAt.set(name, ats);
  }

  const stageOut = (stage: string, out: string, at: number): string | undefined => {
    const outs = groupOuts.get(stage);
    if (!outs) {
      const dym = didYouMean(stage, byName.keys());
      errors.push(src.error(
        at,
        `Cannot resolve "\${stages.${stage}.outs.${out}}": no stage "${stage}"${
          dym ? ` (did you mean "${dym}"?)` : ""
        }`,
      ));
      return undefined;
    }
    if (!(out in outs)) {
      const dym = didYouMean(out, Object.keys(outs));
      errors.push(src.error(
        at,
        `Cannot resolve "\${stages.${stage}.outs.${out}}": stage "${stage}" has no output "${out}"${
          dym ? ` (did you mean "${dym}"?)` : ""
        }`,
      ));
      return undefined;
    }
    return outs[out];
  };

  // Pass 2: stages.
  const groups: StageGroup[] = [];
  const templates = new Map<string, { e: LEntry; kind?: StageKind<unknown> }>();
  for (const [name, e] of byName) {
    const n = e.value;
    const uses = entry(n, "uses");
    const runE = entry(n, "run") ?? entry(n, "cmd");
    if (entry(n, "run") && entry(n, "cmd")) {
      errors.push(
        src.error(
          entry(n, "cmd")!.keyAt,
          `Stage "${name}" has both run: and cmd: (they are the same)`,
        ),
      );
    }
    let kindName = "run";
    let kind: StageKind<unknown> | undefined;
    if (uses && runE) {
      errors.push(
        src.error(runE.keyAt, `Stage "${name}" has both uses: and ${runE.key}: (choose one)`),
      );
      continue;
    }
    if (!uses && !runE) {
      errors.push(src.error(e.keyAt, `Stage "${name}" needs uses: KIND or run: COMMAND`));
      continue;
    }
    if (uses) {
      kindName = str(uses.value) ?? "";
      kind = registry.get(kindName);
      if (!kind) {
        const dym = didYouMean(kindName, registry.names());
        errors.push(src.error(
          uses.value.at,
          `Unknown stage kind "${kindName}"${dym ? ` (did you mean "${dym}"?)` : ""}; known: ${
            registry.names().join(", ")
          }`,
        ));
        continue;
      }
      for (const out of Object.keys(kind.outputs)) {
        if (!(out in (groupOuts.get(name) ?? {})) && !entry(n, "outs")) {
          errors.push(
            src.error(e.keyAt, `Stage "${name}" (${kindName}) must declare outs: ${out}: PATH`),
          );
        } else if (
          !(out in (groupOuts.get(name) ?? {})) && entry(n, "outs")?.value.kind === "map"
        ) {
          const o = entry(n, "outs")!;
          if (!(o.value.kind === "map" && o.value.entries.some((x) => x.key === out))) {
            errors.push(
              src.error(o.keyAt, `Stage "${name}" (${kindName}) must declare outs: ${out}: PATH`),
            );
          }
        }
      }
      const outsNode = entry(n, "outs")?.value;
      if (outsNode?.kind === "map") {
        for (const x of outsNode.entries) {
          if (!(x.key in kind.outputs)) {
            const dym = didYouMean(x.key, Object.keys(kind.outputs));
            errors.push(src.error(
              x.keyAt,
              `Kind "${kindName}" has no output "${x.key}"${
                dym ? ` (did you mean "${dym}"?)` : ""
              }; it writes: ${Object.keys(kind.outputs).join(", ")}`,
            ));
          }
        }
      } else if (outsNode?.kind === "seq") {
        errors.push(
          src.error(
            outsNode.at,
            `Outputs of a "${kindName}" stage are named: outs: {${
              Object.keys(kind.outputs).map((k) => `${k}: PATH`).join(", ")
            }}`,
          ),
        );
      }
    } else if (entry(n, "with")) {
      errors.push(
        src.error(
          entry(n, "with")!.keyAt,
          `with: is for uses: stages; put values in the command or in vars:`,
        ),
      );
    }
    const upstream: { name: string; at: number }[] = [];
    const needs = entry(n, "needs")?.value;
    if (needs?.kind === "seq") {
      for (const x of needs.items) {
        const s = str(x);
        if (s === undefined) continue;
        if (!byName.has(s)) {
          const dym = didYouMean(s, byName.keys());
          errors.push(
            src.error(x.at, `needs: no stage "${s}"${dym ? ` (did you mean "${dym}"?)` : ""}`),
          );
        } else upstream.push({ name: s, at: x.at });
      }
    }
    // foreach
    let foreach: Foreach | undefined;
    const fe = entry(n, "foreach")?.value;
    if (fe) {
      if (fe.kind === "seq") foreach = { kind: "list", items: fe.items.map(plain) };
      else if (fe.kind === "scalar" && typeof fe.value === "string") {
        const refs: Scope["refs"] = [];
        const v = interpolate(fe.value, fe.at + (fe.quoted ? 1 : 0), cx, {
          vars,
          hasItem: false,
          stageOut,
          refs,
        });
        upstream.push(...refs.filter((r) => byName.has(r.name)));
        if (Array.isArray(v)) foreach = { kind: "list", items: v };
        else if (typeof v === "string") {
          foreach = { kind: "glob", pattern: normalize(v), dynamic: refs.length > 0 };
          if (!isGlob(v) && refs.length === 0) {
            foreach = { kind: "list", items: [v] };
          }
        } else if (v !== undefined) {
          errors.push(
            src.error(fe.at, "foreach: needs a list, a ${vars.NAME} list or a glob of files"),
          );
        }
      }
    }
    const group: StageGroup = {
      name,
      at: e.keyAt,
      kind: kindName,
      desc: str(entry(n, "desc")?.value),
      upstream,
      foreach,
      outs: groupOuts.get(name) ?? {},
      instances: null,
      frozen: entry(n, "frozen")?.value.kind === "scalar" &&
        entry(n, "frozen")!.value.kind === "scalar" &&
        (entry(n, "frozen")!.value as { value: unknown }).value === true,
      alwaysChanged:
        (entry(n, "always_changed")?.value as { value?: unknown } | undefined)?.value === true,
    };
    groups.push(group);
    templates.set(name, { e, kind });
  }

  /** Builds one stage for `item` (or none). */
  const instantiate = (
    group: StageGroup,
    item: unknown,
    hasItem: boolean,
    instName: string,
  ): Stage | undefined => {
    const { e, kind } = templates.get(group.name)!;
    const n = e.value;
    const refs: Scope["refs"] = [];
    const before = errors.length;
    const deps: string[] = [];
    // A reference to another stage's output is an input of this one, hashed by content.
    const refOut = (stage: string, out: string, at: number) => {
      const v = stageOut(stage, out, at);
      if (v !== undefined) deps.push(v);
      return v;
    };
    const scope: Scope = { vars, item, hasItem, stageOut: refOut, refs };
    const outs: Record<string, string> = {};
    const outsNode = entry(n, "outs")?.value;
    const outList = outsNode?.kind === "map"
      ? outsNode.entries.map((x) => ({ key: x.key, n: x.value }))
      : outsNode?.kind === "seq"
      ? outsNode.items.map((x) => ({ key: str(x) ?? "", n: x }))
      : [];
    for (const { key, n: on } of outList) {
      if (!(key in group.outs)) continue;
      const v = interpolate(
        str(on) ?? "",
        on.at + (on.kind === "scalar" && on.quoted ? 1 : 0),
        cx,
        { ...scope, refs: [] },
      );
      if (typeof v === "string") {
        const p = normalize(v);
        if (hasItem && group.foreach && !within(p, group.outs[key])) {
          errors.push(src.error(on.at, `Output "${v}" must stay inside "${group.outs[key]}"`));
        } else if (hasItem && group.foreach && p === group.outs[key]) {
          errors.push(
            src.error(
              on.at,
              `Output "${v}" of item ${JSON.stringify(item)} is the whole folder "${p}"`,
            ),
          );
        }
        outs[key] = p;
      }
    }
    const depsNode = entry(n, "deps")?.value;
    if (depsNode?.kind === "seq") {
      for (const d of depsNode.items) {
        const s = str(d);
        if (s === undefined) continue;
        const v = interpolate(s, d.at + (d.kind === "scalar" && d.quoted ? 1 : 0), cx, scope);
        if (typeof v === "string" && v !== "") deps.push(normalize(v));
        else if (Array.isArray(v)) deps.push(...v.map((x) => normalize(String(x))));
      }
    }
    const env: Record<string, string> = {};
    const envNode = entry(n, "env")?.value;
    if (envNode?.kind === "map") {
      for (const x of envNode.entries) {
        const r = interpolateNode(x.value, cx, scope);
        if (r) {
          const pv = plain(r);
          env[x.key] = typeof pv === "string" ? pv : JSON.stringify(pv);
        }
      }
    }
    let cmd: string | undefined;
    let params: Record<string, unknown> = {};
    if (group.kind === "run") {
      const runE = entry(n, "run") ?? entry(n, "cmd")!;
      const raw = str(runE.value);
      if (raw !== undefined) {
        const v = interpolate(
          raw,
          runE.value.at + (runE.value.kind === "scalar" && runE.value.quoted ? 1 : 0),
          cx,
          {
            ...scope,
            selfOuts: Object.keys(group.outs),
          },
          shellQuote,
        );
        if (typeof v === "string") cmd = v;
        else if (v !== undefined) cmd = JSON.stringify(v);
        if (cmd !== undefined && cmd.trim() === "") {
          errors.push(src.error(runE.value.at, "The command is empty"));
        }
      }
    } else if (kind) {
      const w = entry(n, "with");
      const wNode: LNode = w?.value ?? { kind: "map", entries: [], at: e.keyAt };
      const resolved = interpolateNode(
        wNode.kind === "scalar" && wNode.value === null
          ? { kind: "map", entries: [], at: wNode.at }
          : wNode,
        cx,
        scope,
      );
      if (resolved) {
        const pcx: CheckContext = {
          src,
          errors,
          onPath: (role, value) => {
            if (role === "input") deps.push(normalize(value));
          },
        };
        const v = kind.params.check(resolved, pcx);
        if (v !== undefined) params = v as Record<string, unknown>;
      }
    }
    if (errors.length > before) return undefined;
    for (const r of refs) {
      if (byName.has(r.name) && !group.upstream.some((u) => u.name === r.name)) {
        group.upstream.push(r);
      }
    }
    const tools = new Set<string>(
      ((plain(entry(n, "tools")?.value ?? { kind: "seq", items: [], at: 0 }) ?? []) as string[])
        .filter((t) => typeof t === "string"),
    );
    return {
      name: instName,
      group: group.name,
      ...(hasItem ? { item } : {}),
      kind: group.kind,
      ...(cmd !== undefined ? { cmd } : {}),
      params,
      deps: [...new Set(deps)].sort(),
      outs,
      tools: [...tools].sort(),
      env,
      frozen: group.frozen,
      alwaysChanged: group.alwaysChanged,
    };
  };

  const instanceName = (group: string, item: unknown, i: number, used: Set<string>): string => {
    let tag: string;
    if (item !== null && typeof item === "object" && !Array.isArray(item)) {
      const o = item as Record<string, unknown>;
      tag = typeof o.stem === "string" ? o.stem : typeof o.name === "string" ? o.name : String(i);
    } else tag = String(item);
    tag = tag.replace(/[^A-Za-z0-9_.-]+/g, "_").slice(0, 80) || String(i);
    let name = `${group}@${tag}`;
    if (used.has(name)) name = `${group}@${i}`;
    used.add(name);
    return name;
  };

  const expandWith = (group: StageGroup, items: unknown[]): Stage[] => {
    const used = new Set<string>();
    const out: Stage[] = [];
    items.forEach((item, i) => {
      const st = instantiate(group, item, true, instanceName(group.name, item, i, used));
      if (st) out.push(st);
    });
    return out;
  };

  const globItems = (pattern: string) => glob(root, pattern).map(fileItem);

  for (const g of groups) {
    if (!g.foreach) {
      const st = instantiate(g, undefined, false, g.name);
      g.instances = st ? [st] : [];
    } else if (g.foreach.kind === "list") {
      g.instances = expandWith(g, g.foreach.items);
    } else if (!g.foreach.dynamic) {
      g.instances = expandWith(g, globItems(g.foreach.pattern));
    } else {
      // Items exist only after the upstream stage ran: check the template with a sample item.
      const sample = fileItem(`${g.foreach.pattern.replace(/\*+|\?|\[[^\]]*\]/g, "x")}`);
      instantiate(g, sample, true, `${g.name}@sample`);
      g.instances = null;
    }
  }

  // Duplicate or nested outputs (a foreach stage owns its whole folder).
  const claims: { path: string; stage: string; at: number; group: string }[] = [];
  for (const g of groups) {
    if (g.foreach) {
      for (const [k, p] of Object.entries(g.outs)) {
        claims.push({ path: p, stage: g.name, at: outAt.get(g.name)?.[k] ?? g.at, group: g.name });
      }
    } else {
      for (const st of g.instances ?? []) {
        for (const [k, p] of Object.entries(st.outs)) {
          claims.push({
            path: p,
            stage: st.name,
            at: outAt.get(g.name)?.[k] ?? g.at,
            group: g.name,
          });
        }
      }
    }
  }
  for (let i = 0; i < claims.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = claims[i], b = claims[j];
      if (within(a.path, b.path) || within(b.path, a.path)) {
        const how = a.path === b.path ? "is also an output of" : "overlaps the output of";
        errors.push(
          src.error(
            a.at,
            `Output "${a.path}" of stage "${a.stage}" ${how} stage "${b.stage}" ("${b.path}", line ${
              src.position(b.at).line
            })`,
          ),
        );
      }
    }
  }

  // Inputs inside another stage's output imply a dependency; others must exist.
  for (const g of groups) {
    const { e } = templates.get(g.name)!;
    const depsAt = (p: string): number => {
      const dn = entry(e.value, "deps")?.value;
      if (dn?.kind === "seq") {
        for (const d of dn.items) if (str(d) && normalize(str(d)!) === p) return d.at;
      }
      return entry(e.value, "with")?.value.at ?? entry(e.value, "deps")?.value.at ?? g.at;
    };
    for (const st of g.instances ?? []) {
      for (const d of st.deps) {
        const producer = claims.find((c) => within(d, c.path) || within(c.path, d));
        if (producer) {
          if (producer.group === g.name) {
            errors.push(
              src.error(depsAt(d), `Stage "${st.name}" reads "${d}", which it writes itself`),
            );
          } else if (!g.upstream.some((u) => u.name === producer.group)) {
            g.upstream.push({ name: producer.group, at: depsAt(d) });
          }
        } else if (opts.checkInputs !== false) {
          try {
            Deno.statSync(d.startsWith("/") ? d : `${root}/${d}`);
          } catch {
            errors.push(
              src.error(
                depsAt(d),
                `Input "${d}" of stage "${st.name}" does not exist (under ${root}) and no stage outputs it`,
              ),
            );
          }
        }
      }
    }
  }

  // Cycles, named.
  const gmap = new Map(groups.map((g) => [g.name, g]));
  const state = new Map<string, 1 | 2>();
  const stack: { name: string; at: number }[] = [];
  const reported = new Set<string>();
  const visit = (g: StageGroup) => {
    state.set(g.name, 1);
    for (const u of g.upstream) {
      const ug = gmap.get(u.name);
      if (!ug) continue;
      stack.push({ name: g.name, at: u.at });
      if (state.get(u.name) === 1) {
        const i = stack.findIndex((x) => x.name === u.name);
        const cyc = stack.slice(i < 0 ? 0 : i);
        const names = [...cyc.map((x) => x.name), u.name];
        const key = [...names].sort().join(",");
        if (!reported.has(key)) {
          reported.add(key);
          errors.push(
            src.error(
              u.at,
              `Cycle: ${names.reverse().join(" -> ")} (each stage needs the next one's output)`,
            ),
          );
        }
      } else if (!state.has(u.name)) visit(ug);
      stack.pop();
    }
    state.set(g.name, 2);
  };
  for (const g of groups) if (!state.has(g.name)) visit(g);

  if (errors.length > 0) fail();

  return {
    file: fileAbs,
    root,
    name: str(entry(tree!, "name")?.value) ?? basename(fileAbs).replace(/\.ya?ml$/, ""),
    vars,
    groups,
    source: src,
    registry,
    expand(group: StageGroup): Stage[] {
      if (group.foreach?.kind !== "glob") return group.instances ?? [];
      const before = errors.length;
      const inst = expandWith(group, globItems(group.foreach.pattern));
      if (errors.length > before) throw new SpecErrors(errors.splice(before));
      group.instances = inst;
      return inst;
    },
  };
}
