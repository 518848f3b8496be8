/**
 * The stage graph of a pipeline: topological order and drawings (text, Mermaid, DOT).
 *
 * ```
 *   synth ──▶ frames (foreach video) ──▶ dataset
 * ```
 */
import type { Pipeline, StageGroup } from "./spec.ts";

/** Stages in an order where each comes after everything it needs (file order otherwise). */
export function topoOrder(p: Pipeline): StageGroup[] {
  const byName = new Map(p.groups.map((g) => [g.name, g]));
  const done = new Set<string>();
  const out: StageGroup[] = [];
  const visit = (g: StageGroup, path: Set<string>) => {
    if (done.has(g.name) || path.has(g.name)) return;
    path.add(g.name);
    for (const u of g.upstream) {
      const ug = byName.get(u.name);
      if (ug) visit(ug, path);
    }
    path.delete(g.name);
    done.add(g.name);
    out.push(g);
  };
  for (const g of p.groups) visit(g, new Set());
  return out;
}

/** Names of the stages that need `name`, directly or not. */
export function downstreamOf(p: Pipeline, name: string): Set<string> {
  const out = new Set<string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const g of p.groups) {
      if (out.has(g.name)) continue;
      if (g.upstream.some((u) => u.name === name || out.has(u.name))) {
        out.add(g.name);
        grew = true;
      }
    }
  }
  return out;
}

/** Names of the stages `name` needs, directly or not. */
export function upstreamOf(p: Pipeline, name: string): Set<string> {
  const byName = new Map(p.groups.map((g) => [g.name, g]));
  const out = new Set<string>();
  const stack = [name];
  while (stack.length) {
    for (const u of byName.get(stack.pop()!)?.upstream ?? []) {
      if (!out.has(u.name)) {
        out.add(u.name);
        stack.push(u.name);
      }
    }
  }
  return out;
}

/** Drawing formats of `renderDag`. */
export type DagFormat = "text" | "mermaid" | "dot";

function label(g: StageGroup): string {
  const what = g.kind === "run" ? "run" : g.kind;
  const each = g.foreach ? g.instances ? ` ×${g.instances.length}` : " ×(after upstream)" : "";
  return `${g.name} [${what}${each}]`;
}

/** Draws the stage graph. */
export function renderDag(p: Pipeline, format: DagFormat = "text"): string {
  const order = topoOrder(p);
  const edges = order.flatMap((g) =>
    [...new Set(g.upstream.map((u) => u.name))].map((u) => [u, g.name])
  );
  if (format === "mermaid") {
    const id = (n: string) => n.replace(/[^A-Za-z0-9_]/g, "_");
    return [
      "flowchart LR",
      ...order.map((g) => `  ${id(g.name)}["${label(g).replace(/"/g, "'")}"]`),
      ...edges.map(([a, b]) => `  ${id(a)} --> ${id(b)}`),
    ].join("\n");
  }
  if (format === "dot") {
    return [
      `digraph "${p.name.replace(/"/g, '\\"')}" {`,
      "  rankdir=LR;",
      "  node [shape=box];",
      ...order.map((g) => `  "${g.name}" [label="${label(g).replace(/"/g, '\\"')}"];`),
      ...edges.map(([a, b]) => `  "${a}" -> "${b}";`),
      "}",
    ].join("\n");
  }
  const lines = [`pipeline ${p.name} (${order.length} stages)`];
  for (const g of order) {
    const ups = [...new Set(g.upstream.map((u) => u.name))];
    lines.push(`  ${label(g)}${ups.length ? `  <- ${ups.join(", ")}` : ""}`);
    const outs = Object.entries(g.outs).map(([k, v]) => `${k}=${v}${g.foreach ? "/*" : ""}`);
    if (outs.length) lines.push(`      outs: ${outs.join(", ")}`);
  }
  return lines.join("\n");
}
