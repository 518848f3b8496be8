/**
 * YAML text to a small tree of values that remember where they came from (offsets into the
 * file), so every later check (schema, references, cycles) can point at the offending text.
 */

/** A scalar YAML value. */
export type Scalar = string | number | boolean | null;

/** A value of the pipeline file together with its source offset. */
export type LNode =
  | { kind: "scalar"; value: Scalar; at: number; quoted: boolean }
  | { kind: "seq"; items: LNode[]; at: number }
  | { kind: "map"; entries: LEntry[]; at: number };

/** One `key: value` pair of a mapping. */
export interface LEntry {
  key: string;
  keyAt: number;
  value: LNode;
}

/** Plain JS value of a located node (maps become objects, sequences arrays). */
export function plain(n: LNode): unknown {
  if (n.kind === "scalar") return n.value;
  if (n.kind === "seq") return n.items.map(plain);
  const o: Record<string, unknown> = {};
  for (const e of n.entries) o[e.key] = plain(e.value);
  return o;
}

/** Looks up `key` in a mapping node. */
export function entry(n: LNode, key: string): LEntry | undefined {
  return n.kind === "map" ? n.entries.find((e) => e.key === key) : undefined;
}
