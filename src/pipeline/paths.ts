/** Path helpers: pipeline paths are POSIX, relative to the project root unless absolute. */

/** Normalizes `a/./b/../c` to `a/c`; keeps a leading "/" and leading "..". */
export function normalize(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (seg === ".." && abs) continue;
    else out.push(seg);
  }
  return (abs ? "/" : "") + out.join("/") || (abs ? "/" : ".");
}

/** `p` resolved against `root` when relative. */
export function resolve(root: string, p: string): string {
  return p.startsWith("/") ? normalize(p) : normalize(`${root}/${p}`);
}

/** True when `inner` is `outer` or inside it. */
export function within(inner: string, outer: string): boolean {
  return outer === "." || inner === outer ||
    inner.startsWith(outer.endsWith("/") ? outer : outer + "/");
}

/** The last segment of `p`. */
export function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? p : p.slice(i + 1);
}

/** Everything before the last segment of `p` ("." when none). */
export function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

/** Quotes `v` for `sh` when it has characters the shell would interpret. */
export function shellQuote(v: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}
