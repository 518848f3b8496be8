/**
 * `status`: what a run would do to each stage and why, without running anything, in DVC's
 * words ("deps 'videos/a.mp4' modified", "params changed: sample_rate", "never ran").
 */
import { Engine, type EngineOptions } from "./engine.ts";
import type { Stage } from "./spec.ts";
import { topoOrder } from "./dag.ts";

/** One stage's state. */
export interface StageState {
  stage: string;
  group: string;
  state: "up to date" | "restorable" | "stale" | "frozen" | "pending" | "error";
  reasons: string[];
  key?: string;
}

/** The state of every stage of a pipeline. */
export async function pipelineStatus(
  file: string,
  opts: EngineOptions = {},
): Promise<StageState[]> {
  const engine = await Engine.open(file, opts);
  const p = engine.pipeline;
  const out: StageState[] = [];
  const notCurrent = new Set<string>();
  for (const g of topoOrder(p)) {
    const ups = [...new Set(g.upstream.map((u) => u.name))].filter((u) => notCurrent.has(u));
    let instances: Stage[];
    try {
      instances = g.instances ?? p.expand(g);
    } catch (e) {
      out.push({ stage: g.name, group: g.name, state: "error", reasons: [(e as Error).message] });
      notCurrent.add(g.name);
      continue;
    }
    if (g.instances === null && instances.length === 0 && ups.length) {
      out.push({
        stage: g.name,
        group: g.name,
        state: "pending",
        reasons: [`items appear when ${ups.join(", ")} has run`],
      });
      notCurrent.add(g.name);
      continue;
    }
    for (const st of instances) {
      const upNote = ups.length
        ? [`upstream ${ups.join(", ")} is not up to date (this may change)`]
        : [];
      try {
        const sk = await engine.keyOf(st);
        const d = await engine.decide(st, sk);
        if (d.action === "frozen") {
          out.push({ stage: st.name, group: g.name, state: "frozen", reasons: ["frozen"] });
        } else if (d.action === "up-to-date") {
          out.push({
            stage: st.name,
            group: g.name,
            state: ups.length ? "stale" : "up to date",
            reasons: upNote,
            key: sk.key,
          });
        } else if (d.action === "restore") {
          out.push({
            stage: st.name,
            group: g.name,
            state: "restorable",
            reasons: [...d.reasons, ...upNote],
            key: sk.key,
          });
        } else {out.push({
            stage: st.name,
            group: g.name,
            state: "stale",
            reasons: [...d.reasons, ...upNote],
            key: sk.key,
          });}
      } catch (e) {
        out.push({
          stage: st.name,
          group: g.name,
          state: ups.length ? "pending" : "error",
          reasons: [(e as Error).message, ...upNote],
        });
      }
      if (out[out.length - 1].state !== "up to date" && out[out.length - 1].state !== "frozen") {
        notCurrent.add(g.name);
      }
    }
  }
  await engine.save();
  return out;
}
