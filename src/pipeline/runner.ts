/**
 * Runs a pipeline: independent stages in parallel up to `jobs`, each either left alone (up to
 * date), restored from the store (its key was seen in any earlier run), or run into a staging
 * folder and moved into place once its outputs are stored. A failing stage stops only its
 * dependents.
 *
 * ```
 *   for each stage, when its upstream stages are done:
 *     key = hash(kind, code, params, deps by content, tools)
 *     lock[stage].key == key and outs match ─▶ up to date
 *     store has runs/key                    ─▶ restore outs from objects
 *     else run into .sam2/tmp/… ─▶ hash outs ─▶ objects + runs/key ─▶ move into place ─▶ lock
 * ```
 */
import { Engine, type EngineOptions, type StageKey } from "./engine.ts";
import { HASH_ALGO, hashBytes } from "./hash.ts";
import type { StageContext } from "./kind.ts";
import type { LockStage } from "./lockfile.ts";
import { dirname, normalize, resolve, shellQuote } from "./paths.ts";
import { type Reporter, type RunSummary, silentReporter, type StageResult } from "./report.ts";
import { acquireRunLock } from "./run_lock.ts";
import { findRoot, type Stage, type StageGroup } from "./spec.ts";
import { StatCache, summarize, type TreeNode } from "./tree.ts";
import { upstreamOf } from "./dag.ts";

/** Options of `runPipeline`. */
export interface RunOptions extends EngineOptions {
  /** Run only these stages (names or `group@item`), plus what they need. @default all */
  only?: string[];
  /** Re-run these stages (or all when true) even when cached. @default none */
  force?: string[] | boolean;
  /** Say what would happen; change nothing. @default false */
  dryRun?: boolean;
  /** Stages running at once. @default 2 */
  jobs?: number;
  /** Wait for another run of the same pipeline; false refuses. @default true */
  wait?: boolean;
  reporter?: Reporter;
  signal?: AbortSignal;
}

let seq = 0;

class Semaphore {
  #free: number;
  #queue: (() => void)[] = [];
  constructor(n: number) {
    this.#free = Math.max(1, n);
  }
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#queue.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

function matches(stage: Stage, names: string[]): boolean {
  return names.includes(stage.name) || names.includes(stage.group);
}

/** Runs a pipeline file; see `RunOptions`. Throws `SpecErrors` for an invalid file. */
export async function runPipeline(file: string, opts: RunOptions = {}): Promise<RunSummary> {
  const t0 = performance.now();
  const reporter = opts.reporter ?? silentReporter;
  // The run lock is taken before anything is read, so a waiting run sees the lock file, the
  // stat cache and the store as the run before it left them.
  const fileAbs = resolve(Deno.cwd(), file);
  const root = opts.root ? resolve(Deno.cwd(), opts.root) : findRoot(dirname(fileAbs));
  const lockName = (fileAbs.startsWith(root + "/") ? fileAbs.slice(root.length + 1) : fileAbs)
    .replace(/[^A-Za-z0-9_.-]+/g, "_");
  const release = opts.dryRun
    ? () => {}
    : await acquireRunLock(`${root}/.sam2/locks/${lockName}.lock`, fileAbs, {
      wait: opts.wait,
      onWait: (m) => reporter.info(m),
      signal: opts.signal,
    });
  let engine: Engine;
  try {
    engine = await Engine.open(file, {
      ...opts,
      root,
      warn: opts.warn ?? ((m) => reporter.info(`warning: ${m}`)),
    });
  } catch (e) {
    release();
    reporter.close();
    throw e;
  }
  const p = engine.pipeline;
  try {
    if (!opts.dryRun) await cleanTmp(`${engine.stateDir}/tmp`);
    if (!opts.dryRun) await engine.store.registerLockFile(engine.lockPath);
    const results = await execute(engine, opts, reporter);
    const summary: RunSummary = {
      pipeline: p.name,
      results,
      ok: results.every((r) => r.status !== "failed" && r.status !== "skipped"),
      elapsedMs: performance.now() - t0,
    };
    if (!opts.dryRun) {
      await engine.save();
      const keys = results.filter((r) =>
        r.key && ["ran", "restored", "up-to-date"].includes(r.status)
      ).map((r) => r.key!);
      await engine.store.recordRun({
        at: new Date().toISOString(),
        pipeline: engine.lockPath,
        keys,
      });
    }
    return summary;
  } finally {
    release();
    reporter.close();
  }
}

/** Removes staging folders left by processes that are gone (a crash or kill -9). */
async function cleanTmp(dir: string): Promise<void> {
  let names: string[] = [];
  try {
    names = [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(n.split("-")[0]);
    if (pid === Deno.pid) continue;
    let alive = false;
    try {
      Deno.statSync(`/proc/${pid}`);
      alive = Number.isInteger(pid) && pid > 0;
    } catch { /* gone */ }
    if (!alive) await Deno.remove(`${dir}/${n}`, { recursive: true }).catch(() => {});
  }
}

async function execute(
  engine: Engine,
  opts: RunOptions,
  reporter: Reporter,
): Promise<StageResult[]> {
  const p = engine.pipeline;
  const sem = new Semaphore(opts.jobs ?? 2);
  const results: StageResult[] = [];
  const only = opts.only?.length ? opts.only : null;
  if (only) {
    for (const n of only) {
      const g = n.split("@")[0];
      if (!p.groups.some((x) => x.name === g)) {
        throw new Error(
          `--only: no stage "${n}"; stages: ${p.groups.map((x) => x.name).join(", ")}`,
        );
      }
    }
  }
  const forced = (st: Stage) =>
    opts.force === true ||
    (Array.isArray(opts.force) && (opts.force.length === 0 || matches(st, opts.force)));
  if (Array.isArray(opts.force)) {
    for (const n of opts.force) {
      if (!p.groups.some((x) => x.name === n.split("@")[0])) {
        throw new Error(`--force: no stage "${n}"`);
      }
    }
  }
  // Which groups take part: all, or the named ones and everything they need.
  const selected = new Set<string>();
  if (!only) { for (const g of p.groups) selected.add(g.name); }
  else {
    for (const n of only) {
      const g = n.split("@")[0];
      selected.add(g);
      for (const u of upstreamOf(p, g)) selected.add(u);
    }
  }
  const done = new Map<string, Promise<boolean>>();
  const byName = new Map(p.groups.map((g) => [g.name, g]));
  const runGroup = (g: StageGroup): Promise<boolean> => {
    let pr = done.get(g.name);
    if (pr) return pr;
    pr = (async () => {
      const ups = [...new Set(g.upstream.map((u) => u.name))].filter((u) => selected.has(u));
      const oks = await Promise.all(ups.map((u) => runGroup(byName.get(u)!)));
      const failedUp = ups.filter((_, i) => !oks[i]);
      let instances: Stage[];
      if (failedUp.length) {
        const names = g.instances?.map((s) => s.name) ?? [g.name];
        for (const n of names) {
          const r: StageResult = {
            stage: n,
            group: g.name,
            status: "skipped",
            reasons: [`upstream ${failedUp.join(", ")} did not complete`],
            durationMs: 0,
          };
          results.push(r);
          reporter.stageEnd(r);
        }
        return false;
      }
      try {
        instances = g.instances ?? p.expand(g);
        if (g.foreach?.kind === "glob" && g.instances && g.foreach.dynamic === false) {
          instances = p.expand(g);
        }
      } catch (e) {
        const r: StageResult = {
          stage: g.name,
          group: g.name,
          status: "failed",
          reasons: [(e as Error).message],
          durationMs: 0,
        };
        results.push(r);
        reporter.stageEnd(r);
        return false;
      }
      if (g.instances === null && opts.dryRun) {
        // upstream did not run in a dry run: its outputs may not be there yet
      }
      const pick = only && only.some((n) => n.includes("@") && n.split("@")[0] === g.name) &&
          !only.includes(g.name)
        ? instances.filter((s) => only.includes(s.name))
        : instances;
      const oks2 = await Promise.all(
        pick.map((st) =>
          sem.use(() =>
            runStage(engine, st, opts, reporter, forced(st)).then((r) => {
              results.push(r);
              reporter.stageEnd(r);
              return r.status !== "failed" && r.status !== "skipped";
            })
          )
        ),
      );
      const ok = oks2.every(Boolean);
      if (ok && g.foreach && pick.length === instances.length && !opts.dryRun) {
        await pruneForeach(engine, g, instances);
      }
      return ok;
    })();
    done.set(g.name, pr);
    return pr;
  };
  await Promise.all(p.groups.filter((g) => selected.has(g.name)).map(runGroup));
  const order = new Map<string, number>();
  p.groups.forEach((g, i) => order.set(g.name, i));
  results.sort((a, b) =>
    (order.get(a.group)! - order.get(b.group)!) ||
    (a.stage < b.stage ? -1 : a.stage > b.stage ? 1 : 0)
  );
  return results;
}

/** Removes what is in a foreach stage's folder but belongs to no current item. */
async function pruneForeach(engine: Engine, g: StageGroup, instances: Stage[]): Promise<void> {
  for (const [name, parent] of Object.entries(g.outs)) {
    const keep = new Set(
      instances.map((s) => s.outs[name]?.slice(parent.length + 1).split("/")[0]),
    );
    let entries: string[] = [];
    try {
      entries = [...Deno.readDirSync(engine.abs(parent))].map((e) => e.name);
    } catch {
      if (instances.length === 0) {
        await Deno.mkdir(engine.abs(parent), { recursive: true }).catch(() => {});
      }
      continue;
    }
    for (const e of entries) {
      if (!keep.has(e)) {
        await Deno.remove(`${engine.abs(parent)}/${e}`, { recursive: true }).catch(() => {});
        engine.stats.forget(`${engine.abs(parent)}/${e}`);
      }
    }
  }
}

async function runStage(
  engine: Engine,
  stage: Stage,
  opts: RunOptions,
  reporter: Reporter,
  force: boolean,
): Promise<StageResult> {
  const t = performance.now();
  const base = { stage: stage.name, group: stage.group };
  const res = (
    status: StageResult["status"],
    reasons: string[],
    extra: Partial<StageResult> = {},
  ): StageResult => ({
    ...base,
    status,
    reasons,
    durationMs: performance.now() - t,
    ...extra,
  });
  if (opts.signal?.aborted) return res("skipped", ["interrupted"]);
  if (stage.frozen) {
    for (const p of Object.values(stage.outs)) {
      try {
        Deno.statSync(engine.abs(p));
      } catch {
        return res("failed", [`frozen, but its output "${p}" is missing`]);
      }
    }
    return res("frozen", ["frozen"]);
  }
  let sk: StageKey;
  try {
    sk = await engine.keyOf(stage);
  } catch (e) {
    // in a dry run, upstream stages did not produce their outputs: this one would run
    if (opts.dryRun) {
      return res("would-run", [`after its upstream stages: ${(e as Error).message}`]);
    }
    return res("failed", [(e as Error).message]);
  }
  const d = await engine.decide(stage, sk, { force });
  if (d.action === "frozen") return res("frozen", ["frozen"]);
  if (d.action === "up-to-date") {
    if (!opts.dryRun) await repairStore(engine, stage, sk);
    return res("up-to-date", [], { key: sk.key });
  }
  if (opts.dryRun) {
    return res(d.action === "restore" ? "would-restore" : "would-run", d.reasons, { key: sk.key });
  }
  const staging = `${engine.stateDir}/tmp/${Deno.pid}-${
    stage.name.replace(/[^A-Za-z0-9_.@-]/g, "_")
  }-${(seq++).toString(36)}`;
  await Deno.mkdir(`${staging}/outs`, { recursive: true });
  try {
    if (d.action === "restore") {
      reporter.stageStart(stage.name, "restore");
      const ok = await restoreInto(engine, d.entry.outs, staging);
      if (ok) {
        await moveIntoPlace(engine, stage, staging);
        const outs = Object.fromEntries(
          Object.entries(d.entry.outs).map((
            [n, tr],
          ) => [n, { path: stage.outs[n], ...summarize(tr) }]),
        );
        await engine.updateLock(
          stage.name,
          lockEntry(stage, sk, outs, "restored", d.entry.durationMs),
        );
        return res("restored", d.reasons, { key: sk.key });
      }
      reporter.info(`warning: cached outputs of ${stage.name} are damaged: running it instead`);
      await engine.store.deleteEntry(sk.key);
      for (const t of Object.values(d.entry.outs)) await engine.store.dropCorrupt(t);
      await Deno.remove(`${staging}/outs`, { recursive: true });
      await Deno.mkdir(`${staging}/outs`, { recursive: true });
    }
    reporter.stageStart(stage.name, "run");
    const logPath = `${staging}/log`;
    const log = await Deno.open(logPath, { write: true, create: true, truncate: true });
    const enc = new TextEncoder();
    const writeLog = (line: string) => {
      log.writeSync(enc.encode(line.endsWith("\n") ? line : line + "\n"));
    };
    const tStart = performance.now();
    let failure: string | null = null;
    try {
      await execStage(engine, stage, sk, staging, writeLog, reporter, opts.signal);
    } catch (e) {
      failure = (e as Error).message;
    } finally {
      log.close();
    }
    const durationMs = performance.now() - tStart;
    const keptLog = await keepLog(engine, stage, logPath);
    if (failure) return res("failed", [failure], { key: sk.key, log: keptLog });
    for (const [name] of Object.entries(stage.outs)) {
      try {
        Deno.statSync(`${staging}/outs/${name}`);
      } catch {
        return res("failed", [
          `it did not write its output "${name}"${
            stage.kind === "run" ? ` (the command must write to \${outs.${name}})` : ""
          }`,
        ], { key: sk.key, log: keptLog });
      }
    }
    // Inputs checked again: a stage whose inputs changed while it ran is not cached.
    let notCached: string | undefined;
    try {
      const after = await engine.keyOf(stage);
      const changed = Object.keys(sk.components.deps).filter((k) =>
        after.components.deps[k] !== sk.components.deps[k]
      );
      if (changed.length) {
        notCached = `inputs changed while it ran: ${
          changed.join(", ")
        }; it will run again next time`;
      }
    } catch (e) {
      notCached = `inputs changed while it ran (${(e as Error).message})`;
    }
    const trees: Record<string, TreeNode> = {};
    const scratch = StatCache.memory();
    for (const name of Object.keys(stage.outs)) {
      trees[name] = (await scratch.hashPath(`${staging}/outs/${name}`))!;
    }
    const logBytes = await Deno.readFile(logPath);
    const logHash = await hashBytes(logBytes);
    if (!notCached) {
      for (const [name, tr] of Object.entries(trees)) {
        await engine.store.putTree(`${staging}/outs/${name}`, tr);
      }
      await engine.store.putBytes(logBytes, logHash);
      await putRunEntry(engine, stage, sk, trees, durationMs, logHash);
    }
    await moveIntoPlace(engine, stage, staging);
    const outs = Object.fromEntries(
      Object.entries(trees).map(([n, tr]) => [n, { path: stage.outs[n], ...summarize(tr) }]),
    );
    await engine.updateLock(
      stage.name,
      notCached ? null : lockEntry(stage, sk, outs, "ran", durationMs),
    );
    return res("ran", d.reasons, { key: sk.key, notCached, log: keptLog });
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

function lockEntry(
  stage: Stage,
  sk: StageKey,
  outs: LockStage["outs"],
  how: LockStage["how"],
  durationMs?: number,
): LockStage {
  return {
    key: sk.key,
    algo: HASH_ALGO,
    kind: stage.kind,
    components: sk.components,
    outs,
    at: new Date().toISOString(),
    ...(durationMs !== undefined ? { durationMs: Math.round(durationMs) } : {}),
    how,
  };
}

/** Copies the stage's log to `.sam2/logs/<pipeline>/<stage>.log`; returns that path. */
async function keepLog(engine: Engine, stage: Stage, logPath: string): Promise<string> {
  const dir = `${engine.stateDir}/logs/${engine.pipeline.name}`;
  await Deno.mkdir(dir, { recursive: true });
  const dest = `${dir}/${stage.name}.log`;
  await Deno.copyFile(logPath, dest);
  return dest.slice(engine.root.length + 1);
}

/** An up-to-date stage whose run entry is gone from the store (gc, verify): store it again. */
async function repairStore(engine: Engine, stage: Stage, sk: StageKey): Promise<void> {
  try {
    Deno.statSync(engine.store.entryPath(sk.key));
    return;
  } catch { /* missing: repair */ }
  const trees: Record<string, TreeNode> = {};
  for (const [name, path] of Object.entries(stage.outs)) {
    const t = await engine.stats.hashPath(engine.abs(path));
    if (!t) return;
    trees[name] = t;
    await engine.store.putTree(engine.abs(path), t);
  }
  await putRunEntry(engine, stage, sk, trees, engine.lock.stages[stage.name]?.durationMs ?? 0);
}

/** Records a run of `stage` under its key in the store (its output trees, its log if kept). */
function putRunEntry(
  engine: Engine,
  stage: Stage,
  sk: StageKey,
  outs: Record<string, TreeNode>,
  durationMs: number,
  log?: string,
): Promise<void> {
  return engine.store.putEntry({
    schema: 1,
    algo: HASH_ALGO,
    key: sk.key,
    pipeline: engine.pipeline.name,
    stage: stage.name,
    kind: stage.kind,
    components: sk.components,
    outs,
    ...(log !== undefined ? { log } : {}),
    createdAt: new Date().toISOString(),
    durationMs,
  });
}

/** Restores trees from the store into the staging folder and checks them; false if damaged. */
async function restoreInto(
  engine: Engine,
  outs: Record<string, TreeNode>,
  staging: string,
): Promise<boolean> {
  const scratch = StatCache.memory();
  for (const [name, tree] of Object.entries(outs)) {
    const dest = `${staging}/outs/${name}`;
    try {
      await engine.store.restoreTree(tree, dest);
    } catch {
      return false;
    }
    const got = await scratch.hashPath(dest);
    if (got?.hash !== tree.hash) return false;
  }
  return true;
}

/** Moves staged outputs over the workspace paths (the old ones go to the trash first). */
async function moveIntoPlace(engine: Engine, stage: Stage, staging: string): Promise<void> {
  for (const [name, path] of Object.entries(stage.outs)) {
    const dest = engine.abs(path);
    await Deno.mkdir(dirname(dest), { recursive: true });
    const trash = `${staging}/trash-${name}`;
    let moved = false;
    try {
      await Deno.rename(dest, trash);
      moved = true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await Deno.rename(`${staging}/outs/${name}`, dest);
    if (moved) await Deno.remove(trash, { recursive: true }).catch(() => {});
    engine.stats.forget(dest);
  }
}

const PROGRESS_RE = /^::progress\s+(\d+)\s*\/\s*(\d+)\s*$/;

/** Runs the stage's command or kind with outputs in `staging/outs/<name>`. */
async function execStage(
  engine: Engine,
  stage: Stage,
  sk: StageKey,
  staging: string,
  log: (line: string) => void,
  reporter: Reporter,
  signal?: AbortSignal,
): Promise<void> {
  const outs: Record<string, string> = {};
  for (const name of Object.keys(stage.outs)) outs[name] = `${staging}/outs/${name}`;
  const kind = engine.kind(stage);
  if (!kind) {
    const cmd = stage.cmd!.replace(/\$\{outs\.([\w-]+)\}/g, (_, n: string) => shellQuote(outs[n]));
    log(`$ ${cmd}`);
    const env: Record<string, string> = { ...stage.env };
    for (const [n, p] of Object.entries(outs)) {
      env[`SAM2_OUT_${n.toUpperCase().replace(/-/g, "_")}`] = p;
    }
    const child = new Deno.Command("sh", {
      args: ["-c", cmd],
      cwd: engine.root,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const onAbort = () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
    };
    signal?.addEventListener("abort", onAbort);
    let last = "";
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of stream) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const m = line.match(PROGRESS_RE);
          if (m) reporter.stageProgress(stage.name, Number(m[1]), Number(m[2]));
          else {
            log(line);
            reporter.stageLog(stage.name, line);
            if (line.trim()) last = line.trim();
          }
        }
      }
      if (buf) {
        log(buf);
        last = buf.trim() || last;
      }
    };
    const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
    signal?.removeEventListener("abort", onAbort);
    if (!status.success) {
      const how = status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
      throw new Error(`command failed (${how})${last ? `: ${last.slice(0, 200)}` : ""}`);
    }
    return;
  }
  for (const [name, type] of Object.entries(kind.outputs)) {
    if (type === "dir") await Deno.mkdir(outs[name], { recursive: true });
  }
  const params = absolutizeInputs(engine, stage);
  const ctx: StageContext<unknown> = {
    stage: stage.name,
    params,
    root: engine.root,
    outputs: outs,
    destinations: Object.fromEntries(
      Object.entries(stage.outs).map(([name, path]) => [name, engine.abs(path)]),
    ),
    inputDigests: Object.fromEntries(
      Object.entries(sk.deps).map(([path, t]) => [engine.abs(path), `${HASH_ALGO}:${t.hash}`]),
    ),
    signal: signal ?? new AbortController().signal,
    progress: (doneN, total) => reporter.stageProgress(stage.name, doneN, total),
    log: (line) => {
      log(line);
      reporter.stageLog(stage.name, line);
    },
  };
  log(`uses ${kind.name} with ${JSON.stringify(stage.params)}`);
  try {
    await kind.run(ctx);
  } catch (e) {
    log(`error: ${(e as Error).stack ?? (e as Error).message}`);
    throw e;
  }
}

/** The stage's params with input path values made absolute. */
function absolutizeInputs(engine: Engine, stage: Stage): unknown {
  const deps = new Set(stage.deps);
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") {
      return deps.has(normalize(v)) ? engine.abs(v) : v;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return walk(stage.params);
}
