/**
 * YAML text to a small positioned tree. The `yaml` package gives us exact offsets; we turn
 * them into line/column once here so every later error can name where a value was written.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { ConfigError, type SourcePos } from "./errors.ts";

/** A mapping; entries keep their order and the position of each key. */
export interface YMap {
  kind: "map";
  pos: SourcePos;
  entries: YEntry[];
}

/** One `key: value` of a mapping. */
export interface YEntry {
  key: string;
  keyPos: SourcePos;
  value: YNode;
}

/** A sequence. */
export interface YSeq {
  kind: "seq";
  pos: SourcePos;
  items: YNode[];
}

/** A scalar: string, number, boolean or null (`???` stays the string "???"). */
export interface YScalar {
  kind: "scalar";
  pos: SourcePos;
  value: string | number | boolean | null;
  /** True when the scalar was quoted in the source (so `"???"` is not a missing value). */
  quoted: boolean;
}

/** Any node of a configuration tree. */
export type YNode = YMap | YSeq | YScalar;

/** A parsed configuration file: the tree plus the `# @package` header if present. */
export interface YamlFile {
  file: string;
  source: string;
  root: YMap;
  /** The package named by a `# @package <name>` header comment, or undefined. */
  packageName?: string;
}

/**
 * Parses YAML text into a positioned tree.
 * @throws {ConfigError} on invalid YAML, duplicate keys, non-string keys or a non-mapping root.
 */
export function parseYamlTree(source: string, file: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const posAt = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ConfigError(posAt(e.pos[0]), `Invalid YAML: ${e.message.split("\n")[0]}`, source);
  }
  const header = /^\s*#\s*@package\s+(\S+)/m.exec(
    source.split(/\r?\n/).filter((l) => /^\s*(#|$)/.test(l)).join("\n"),
  );
  const convert = (node: unknown, fallback: number): YNode => {
    if (isAlias(node)) return convert(node.resolve(doc), fallback);
    const n = node as Node | null;
    const start = n?.range?.[0] ?? fallback;
    const pos = posAt(start);
    if (isMap(n)) {
      const entries: YEntry[] = [];
      for (const pair of n.items) {
        const k = pair.key as Node | null;
        const keyOffset = k?.range?.[0] ?? start;
        if (!isScalar(k) || (typeof k.value !== "string" && typeof k.value !== "number")) {
          throw new ConfigError(posAt(keyOffset), "Mapping keys must be plain names", source);
        }
        const valueOffset = k.range?.[1] ?? keyOffset;
        entries.push({
          key: String(k.value),
          keyPos: posAt(keyOffset),
          value: convert(pair.value, valueOffset),
        });
      }
      return { kind: "map", pos, entries };
    }
    if (isSeq(n)) {
      return { kind: "seq", pos, items: n.items.map((it) => convert(it, start)) };
    }
    if (isScalar(n)) {
      const v = n.value;
      const value = v === null || v === undefined
        ? null
        : typeof v === "string" || typeof v === "number" || typeof v === "boolean"
        ? v
        : String(v);
      const quoted = n.type === "QUOTE_DOUBLE" || n.type === "QUOTE_SINGLE";
      return { kind: "scalar", pos, value, quoted };
    }
    // An empty value (`key:` with nothing after it) is null, as in PyYAML.
    return { kind: "scalar", pos, value: null, quoted: false };
  };
  const root = doc.contents === null
    ? { kind: "map" as const, pos: posAt(0), entries: [] }
    : convert(doc.contents, 0);
  if (root.kind !== "map") {
    throw new ConfigError(root.pos, "A configuration file must be a mapping at the top", source);
  }
  return { file, source, root, packageName: header?.[1] };
}
