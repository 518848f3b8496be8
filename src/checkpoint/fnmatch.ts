/**
 * Python's `fnmatch` (as the reference's checkpoint kernels use it on state-dict keys): `*`
 * matches anything including dots, `?` one character, `[seq]` / `[!seq]` a set; the whole
 * key must match and case matters.
 */

const cache = new Map<string, RegExp>();

/** The RegExp Python's `fnmatch.translate` would build for `pattern`. */
export function globToRegExp(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let re = "";
  let i = 0;
  const n = pattern.length;
  while (i < n) {
    const c = pattern[i++];
    if (c === "*") {
      re += "[\\s\\S]*";
      while (pattern[i] === "*") i++;
    } else if (c === "?") {
      re += "[\\s\\S]";
    } else if (c === "[") {
      let j = i;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++;
      while (j < n && pattern[j] !== "]") j++;
      if (j >= n) {
        re += "\\[";
      } else {
        let body = pattern.slice(i, j).replace(/\\/g, "\\\\");
        i = j + 1;
        if (body.startsWith("!")) body = "^" + body.slice(1);
        else if (body.startsWith("^")) body = "\\" + body;
        re += body === "" ? "(?!)" : `[${body}]`;
      }
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
  }
  const out = new RegExp(`^(?:${re})$`);
  cache.set(pattern, out);
  return out;
}

/** True when `name` matches the glob `pattern` (Python `fnmatch.fnmatchcase`). */
export function fnmatch(name: string, pattern: string): boolean {
  return globToRegExp(pattern).test(name);
}
