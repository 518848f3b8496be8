/**
 * Everything a command needs about one pipeline: the parsed spec, the project root and state
 * folder, the store, the stat cache, the lock file; and the two questions every command asks:
 * what is this stage's key now (`keyOf`), and is it up to date, restorable or stale, and why
 * (`decide`, checking cheapest first like DVC: definition, then inputs, then outputs).
 */
import { CodeHasher, setToolMemo, toolVersion } from "./code.ts";
import { HASH_ALGO, hashBytes } from "./hash.ts";
import type { StageKind } from "./kind.ts";
import {
  canonicalJson,
  type KeyComponents,
  type LockFile,
  lockPathFor,
  type LockStage,
  readLockFile,
  writeLockFile,
} from "./lockfile.ts";
import { resolve } from "./paths.ts";
import type { KindRegistry } from "./registry.ts";
import { loadPipeline } from "./load.ts";
import type { Pipeline, Stage } from "./spec.ts";
import { type LinkMode, type RunEntry, Store } from "./store.ts";
import { StatCache, type TreeSummary } from "./tree.ts";

/** Options of `Engine.open`. */
export interface EngineOptions {
  /** Stage kinds for `uses:`. @default the built-in kinds */
  registry?: KindRegistry;
  /** `--var` overrides. @default {} */
  vars?: Record<string, unknown>;
  /** Store folder (objects and run entries), e.g. shared between checkouts. @default "<root>/.sam2" or $SAM2_STORE */
  storeDir?: string;
  /** Project root. @default the nearest folder above the pipeline with .git, deno.json or .sam2 */
  root?: string;
  /** How restored files are made. @default "copy" */
  link?: LinkMode;
  /** Receives warnings. */
  warn?: (message: string) => void;
  /** Check input paths exist while parsing. @default true */
  checkInputs?: boolean;
}

/** Why a stage will (or would) do what it does. */
export type Decision =
  | { action: "up-to-date"; key: string }
  | { action: "restore"; key: string; entry: RunEntry; reasons: string[] }
  | { action: "run"; key: string; reasons: string[] }
  | { action: "frozen" };

/** A stage's key and what it is made of. */
export interface StageKey {
  key: string;
  components: KeyComponents;
  /** Content summaries of the inputs, by path. */
  deps: Record<string, TreeSummary>;
}

/** An opened pipeline with its caches. */
export class Engine {
  #lockWrites: Promise<void> = Promise.resolve();
  private constructor(
    readonly pipeline: Pipeline,
    readonly root: string,
    readonly stateDir: string,
    readonly store: Store,
    readonly stats: StatCache,
    readonly code: CodeHasher,
    readonly lockPath: string,
    readonly lock: LockFile,
    readonly warn: (m: string) => void,
  ) {}

  /** Parses the pipeline (throws `SpecErrors`) and opens its caches. */
  static async open(file: string, opts: EngineOptions = {}): Promise<Engine> {
    const registry = opts.registry ?? (await import("./builtin.ts")).builtinRegistry();
    const pipeline = await loadPipeline(file, {
      registry,
      vars: opts.vars,
      root: opts.root,
      checkInputs: opts.checkInputs,
    });
    const root = pipeline.root;
    const stateDir = `${root}/.sam2`;
    const storeEnv = Deno.env.get("SAM2_STORE");
    const storeDir = opts.storeDir
      ? resolve(Deno.cwd(), opts.storeDir)
      : storeEnv
      ? resolve(Deno.cwd(), storeEnv)
      : stateDir;
    const warn = opts.warn ?? ((m: string) => console.error(`warning: ${m}`));
    const stats = await StatCache.load(`${stateDir}/stat-cache.json`);
    setToolMemo(`${stateDir}/tools.json`);
    const lockPath = lockPathFor(pipeline.file);
    const lock = await readLockFile(lockPath, pipeline.name, warn);
    const link = opts.link ?? (Deno.env.get("SAM2_LINK") === "hardlink" ? "hardlink" : "copy");
    return new Engine(
      pipeline,
      root,
      stateDir,
      new Store(storeDir, { link }),
      stats,
      new CodeHasher(root, `${stateDir}/code-graph.json`, stats),
      lockPath,
      lock,
      warn,
    );
  }

  /** The kind of a `uses:` stage. */
  kind(stage: Stage): StageKind<unknown> | undefined {
    return stage.kind === "run" ? undefined : this.pipeline.registry.get(stage.kind);
  }

  /** Absolute workspace path of a pipeline path. */
  abs(p: string): string {
    return resolve(this.root, p);
  }

  /** Computes the key of a stage from its current inputs. Throws when an input is missing. */
  async keyOf(stage: Stage): Promise<StageKey> {
    const deps: Record<string, TreeSummary> = {};
    const depHashes: Record<string, string> = {};
    for (const d of stage.deps) {
      const t = await this.stats.summaryOf(this.abs(d));
      if (!t) throw new Error(`Input "${d}" of stage "${stage.name}" does not exist`);
      deps[d] = t;
      depHashes[d] = t.hash;
    }
    const kind = this.kind(stage);
    const tools: Record<string, string> = {};
    for (const t of kind?.tools ?? []) tools[t.name] = await (t.version?.() ?? toolVersion(t.name));
    for (const t of stage.tools) tools[t] = await toolVersion(t);
    const components: KeyComponents = {
      kind: stage.kind,
      params: stage.params,
      deps: depHashes,
      tools,
    };
    if (kind) {
      const { code, files } = await this.code.hash(kind.modules);
      components.code = code;
      components.codeFiles = files;
    } else {
      components.cmd = stage.cmd;
    }
    if (Object.keys(stage.env).length) components.env = stage.env;
    if (kind?.placeDependent) components.outs = stage.outs;
    // The key is memoized against the lock file: identical components give the recorded key
    // without hashing (keeps no-op runs from loading the hasher at all).
    const text = canonicalJson(keyMaterial(components));
    const prev = this.lock.stages[stage.name];
    const key =
      prev && prev.algo === HASH_ALGO && canonicalJson(keyMaterial(prev.components)) === text
        ? prev.key
        : await hashBytes(`sam2-key-v1 ${HASH_ALGO}\n${text}`);
    return { key, components, deps };
  }

  /** Compares the workspace outputs of a stage with its lock entry. */
  async outputsMatch(stage: Stage, lockStage: LockStage): Promise<string | null> {
    for (const [name, path] of Object.entries(stage.outs)) {
      const rec = lockStage.outs[name];
      if (!rec || rec.path !== path) return `outs '${path}' is new`;
      const t = await this.stats.summaryOf(this.abs(path));
      if (!t) return `outs '${path}' deleted`;
      if (t.hash !== rec.hash) return `outs '${path}' modified`;
    }
    return null;
  }

  /** Decides what a stage needs, with reasons in DVC's words. */
  async decide(stage: Stage, sk: StageKey, opts: { force?: boolean } = {}): Promise<Decision> {
    if (stage.frozen) return { action: "frozen" };
    const prev = this.lock.stages[stage.name];
    const reasons = prev ? explainChange(prev.components, sk.components) : ["never ran"];
    if (opts.force) return { action: "run", key: sk.key, reasons: ["forced", ...reasons] };
    if (stage.alwaysChanged) return { action: "run", key: sk.key, reasons: ["always_changed"] };
    if (prev && prev.key === sk.key) {
      const why = await this.outputsMatch(stage, prev);
      if (!why) return { action: "up-to-date", key: sk.key };
      reasons.push(why);
    }
    const entry = await this.store.getEntry(sk.key, this.warn);
    if (entry && Object.values(entry.outs).every((t) => this.store.hasTree(t))) {
      return { action: "restore", key: sk.key, entry, reasons };
    }
    return { action: "run", key: sk.key, reasons };
  }

  /** Updates one stage's lock entry and rewrites the lock file (serialized). */
  updateLock(name: string, entry: LockStage | null): Promise<void> {
    if (entry) this.lock.stages[name] = entry;
    else delete this.lock.stages[name];
    this.#lockWrites = this.#lockWrites.then(() => writeLockFile(this.lockPath, this.lock));
    return this.#lockWrites;
  }

  /** Saves the stat cache and code-graph memo. */
  async save(): Promise<void> {
    await this.#lockWrites;
    await Deno.mkdir(this.stateDir, { recursive: true });
    await this.stats.save();
    await this.code.save();
  }
}

/** The part of the components that is hashed (file lists are informative only). */
function keyMaterial(c: KeyComponents): unknown {
  const { codeFiles: _files, ...rest } = c;
  return rest;
}

/** Human reasons why `now` differs from `before` (empty when equal). */
export function explainChange(before: KeyComponents, now: KeyComponents): string[] {
  const out: string[] = [];
  if (before.kind !== now.kind) out.push(`kind changed: ${before.kind} -> ${now.kind}`);
  if (before.cmd !== now.cmd) out.push("cmd changed");
  if (before.code !== now.code) {
    const files = new Set([
      ...Object.keys(before.codeFiles ?? {}),
      ...Object.keys(now.codeFiles ?? {}),
    ]);
    const changed = [...files].filter((f) => before.codeFiles?.[f] !== now.codeFiles?.[f]);
    out.push(
      `code changed${
        changed.length
          ? `: ${changed.slice(0, 5).join(", ")}${changed.length > 5 ? ", …" : ""}`
          : ""
      }`,
    );
  }
  const pk = new Set([...Object.keys(before.params ?? {}), ...Object.keys(now.params ?? {})]);
  const pch = [...pk].filter((k) =>
    canonicalJson(before.params?.[k]) !== canonicalJson(now.params?.[k])
  );
  if (pch.length) out.push(`params changed: ${pch.join(", ")}`);
  const dk = new Set([...Object.keys(before.deps ?? {}), ...Object.keys(now.deps ?? {})]);
  for (const d of [...dk].sort()) {
    if (!(d in (before.deps ?? {}))) out.push(`deps '${d}' new`);
    else if (!(d in now.deps)) out.push(`deps '${d}' removed`);
    else if (before.deps[d] !== now.deps[d]) out.push(`deps '${d}' modified`);
  }
  const tk = new Set([...Object.keys(before.tools ?? {}), ...Object.keys(now.tools ?? {})]);
  for (const t of tk) if (before.tools?.[t] !== now.tools?.[t]) out.push(`tools '${t}' changed`);
  if (canonicalJson(before.env ?? {}) !== canonicalJson(now.env ?? {})) out.push("env changed");
  if (canonicalJson(before.outs ?? {}) !== canonicalJson(now.outs ?? {})) {
    out.push("outs paths changed");
  }
  return out;
}
