/**
 * Deterministic sharding of a video list, as the reference does with `np.array_split`:
 * `count` contiguous chunks of the sorted list, the first `len % count` one video longer.
 * Shards are disjoint and together hold every video exactly once.
 *
 * @module
 */

/** Shard `index` (0-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/**
 * Parses `"i/n"` (0-based `i`, so SLURM's `$SLURM_ARRAY_TASK_ID` fits as is).
 *
 * @throws {RangeError} when the text is not `i/n` with `0 <= i < n`.
 */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new RangeError(`Shard must look like "i/n" (e.g. "0/8"): got "${text}"`);
  const index = Number(m[1]), count = Number(m[2]);
  if (count < 1 || index >= count) {
    throw new RangeError(
      `Shard "${text}" is out of range: the index is 0-based, so use 0/${count} .. ${
        Math.max(count - 1, 0)
      }/${count}`,
    );
  }
  return { index, count };
}

/** The `[start, end)` range of shard `s` over `length` items (np.array_split bounds). */
export function shardRange(length: number, s: Shard): [number, number] {
  const base = Math.floor(length / s.count), extra = length % s.count;
  const start = s.index * base + Math.min(s.index, extra);
  return [start, start + base + (s.index < extra ? 1 : 0)];
}

/** The items of shard `s` of `items` (which should already be sorted). */
export function shardList<T>(items: readonly T[], s: Shard): T[] {
  const [a, b] = shardRange(items.length, s);
  return items.slice(a, b);
}
