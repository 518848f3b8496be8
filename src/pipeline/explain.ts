/**
 * `explain`: each component of a stage's key, what it was in the last run (the lock file) and
 * what it is now, so "why does this stage run?" has a precise answer.
 */
import { canonicalJson, type KeyComponents } from "./lockfile.ts";
import { Engine, type EngineOptions } from "./engine.ts";
import type { Stage } from "./spec.ts";

/** One component of the key. */
export interface KeyRow {
  component: string;
  before: string | null;
  now: string | null;
  changed: boolean;
}

/** What `explainStage` returns. */
export interface StageExplanation {
  stage: string;
  keyBefore: string | null;
  keyNow: string;
  decision: string;
  reasons: string[];
  rows: KeyRow[];
}

function rows(before: KeyComponents | undefined, now: KeyComponents): KeyRow[] {
  const out: KeyRow[] = [];
  const add = (component: string, b: unknown, n: unknown) => {
    const bs = b === undefined ? null : typeof b === "string" ? b : canonicalJson(b);
    const ns = n === undefined ? null : typeof n === "string" ? n : canonicalJson(n);
    out.push({ component, before: bs, now: ns, changed: bs !== ns });
  };
  add("kind", before?.kind, now.kind);
  if (now.cmd !== undefined || before?.cmd !== undefined) add("cmd", before?.cmd, now.cmd);
  if (now.code !== undefined || before?.code !== undefined) {
    add("code", before?.code, now.code);
    const files = new Set([
      ...Object.keys(before?.codeFiles ?? {}),
      ...Object.keys(now.codeFiles ?? {}),
    ]);
    for (const f of [...files].sort()) {
      add(`code '${f}'`, before?.codeFiles?.[f], now.codeFiles?.[f]);
    }
  }
  const pk = new Set([...Object.keys(before?.params ?? {}), ...Object.keys(now.params)]);
  for (const k of [...pk].sort()) add(`params.${k}`, before?.params?.[k], now.params[k]);
  const dk = new Set([...Object.keys(before?.deps ?? {}), ...Object.keys(now.deps)]);
  for (const k of [...dk].sort()) add(`deps '${k}'`, before?.deps?.[k], now.deps[k]);
  const tk = new Set([...Object.keys(before?.tools ?? {}), ...Object.keys(now.tools)]);
  for (const k of [...tk].sort()) add(`tools.${k}`, before?.tools?.[k], now.tools[k]);
  if (now.env || before?.env) add("env", before?.env, now.env);
  if (now.outs || before?.outs) add("outs", before?.outs, now.outs);
  return out;
}

/** Explains the key of `stageName` (a stage or `group@item`). */
export async function explainStage(
  file: string,
  stageName: string,
  opts: EngineOptions = {},
): Promise<StageExplanation> {
  const engine = await Engine.open(file, opts);
  const p = engine.pipeline;
  const g = p.groups.find((x) => x.name === stageName.split("@")[0]);
  if (!g) {
    throw new Error(
      `No stage "${stageName}" in ${p.file}; stages: ${p.groups.map((x) => x.name).join(", ")}`,
    );
  }
  const instances: Stage[] = g.instances ?? p.expand(g);
  const st = instances.find((s) => s.name === stageName) ??
    (instances.length === 1 && stageName === g.name ? instances[0] : undefined);
  if (!st) {
    throw new Error(
      `"${stageName}" is a foreach stage; name one item: ${
        instances.map((s) => s.name).join(", ") || "(none yet)"
      }`,
    );
  }
  const sk = await engine.keyOf(st);
  const d = await engine.decide(st, sk);
  const prev = engine.lock.stages[st.name];
  await engine.save();
  return {
    stage: st.name,
    keyBefore: prev?.key ?? null,
    keyNow: sk.key,
    decision: d.action,
    reasons: "reasons" in d ? d.reasons : [],
    rows: rows(prev?.components, sk.components),
  };
}
