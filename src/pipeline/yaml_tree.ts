/**
 * YAML text to a located tree with the npm `yaml` parser (which keeps source offsets). Kept
 * apart from the rest of the spec code so that runs whose pipeline file is unchanged (its tree
 * is cached) never load the YAML parser.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Node, parseDocument } from "yaml";
import type { SpecError } from "./errors.ts";
import type { LEntry, LNode, Scalar } from "./located.ts";
import type { SourceText } from "./source.ts";

/**
 * Parses YAML into a located tree; syntax errors and duplicate keys are pushed to `errors`
 * (the tree is then whatever could be recovered, or null).
 */
export function parseLocated(src: SourceText, errors: SpecError[]): LNode | null {
  let doc;
  try {
    doc = parseDocument(src.text, {
      prettyErrors: false,
      uniqueKeys: false,
      strict: true,
      version: "1.2",
    });
  } catch (e) {
    errors.push(src.error(0, `Cannot parse YAML: ${(e as Error).message}`));
    return null;
  }
  // After the first syntax error the parser's further complaints are mostly echoes of it.
  for (const e of doc.errors.slice(0, 1)) {
    const msg = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    errors.push(src.error(e.pos?.[0] ?? 0, `Invalid YAML: ${msg}`));
  }
  if (doc.errors.length > 0) return null;
  const seen = new Set<Node>();
  let budget = 200_000; // aliases can multiply nodes ("billion laughs"): cap the expansion
  const convert = (node: unknown, depth: number): LNode => {
    const at = (node as Node | null)?.range?.[0] ?? 0;
    if (--budget < 0) {
      if (budget === -1) {
        errors.push(src.error(at, "The file expands to too many values (aliases?)"));
      }
      return { kind: "scalar", value: null, at, quoted: false };
    }
    if (depth > 64) {
      errors.push(src.error(at, "Value is nested too deeply (more than 64 levels)"));
      return { kind: "scalar", value: null, at, quoted: false };
    }
    if (node === null || node === undefined) {
      return { kind: "scalar", value: null, at, quoted: false };
    }
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target || seen.has(target)) {
        errors.push(src.error(at, `Cannot resolve alias "*${node.source}"`));
        return { kind: "scalar", value: null, at, quoted: false };
      }
      seen.add(target);
      const out = convert(target, depth + 1);
      seen.delete(target);
      return out;
    }
    if (isScalar(node)) {
      let v = node.value as unknown;
      if (typeof v === "bigint") v = Number(v);
      if (v !== null && !["string", "number", "boolean"].includes(typeof v)) v = String(v);
      if (typeof v === "number" && !Number.isFinite(v)) v = String(node.source ?? v);
      const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
      return { kind: "scalar", value: v as Scalar, at, quoted };
    }
    if (isSeq(node)) {
      return {
        kind: "seq",
        items: node.items.map((i) => convert(i, depth + 1)),
        at,
      };
    }
    if (isMap(node)) {
      const entries: LEntry[] = [];
      const keys = new Map<string, number>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = pair.key as Node | null;
        const keyAt = k?.range?.[0] ?? at;
        if (!isScalar(k) || (k.value !== null && typeof k.value === "object")) {
          errors.push(src.error(keyAt, "Keys must be plain names, not lists or mappings"));
          continue;
        }
        const key = String(k.value);
        if (keys.has(key)) {
          const first = src.position(keys.get(key)!);
          errors.push(src.error(keyAt, `Duplicate key "${key}" (first at line ${first.line})`));
          continue;
        }
        keys.set(key, keyAt);
        const value = pair.value === null
          ? { kind: "scalar" as const, value: null, at: keyAt, quoted: false }
          : convert(pair.value, depth + 1);
        entries.push({ key, keyAt, value });
      }
      return { kind: "map", entries, at };
    }
    errors.push(src.error(at, "Unsupported YAML node"));
    return { kind: "scalar", value: null, at, quoted: false };
  };
  return convert(doc.contents, 0);
}
