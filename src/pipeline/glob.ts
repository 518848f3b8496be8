/** Minimal globbing for `foreach:` (`*`, `?`, `[abc]`, `**`), relative to a root folder. */

function segmentRegExp(seg: string): RegExp {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = seg.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        let body = seg.slice(i + 1, end);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += "[" + body.replace(/\\/g, "\\\\") + "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** True when `p` has glob characters. */
export function isGlob(p: string): boolean {
  return /[*?[]/.test(p);
}

/** Files matching `pattern` (relative to `root`, or absolute), sorted; hidden files skipped. */
export function glob(root: string, pattern: string): string[] {
  const abs = pattern.startsWith("/");
  const segs = pattern.split("/").filter((x) => x !== "" && x !== ".");
  const out: string[] = [];
  const walk = (dir: string, rel: string, i: number) => {
    if (i === segs.length) return;
    const seg = segs[i];
    const last = i === segs.length - 1;
    if (seg === "**") {
      walk(dir, rel, i + 1);
      for (const e of readDir(dir)) {
        if (e.isDirectory && !e.name.startsWith(".")) {
          walk(`${dir}/${e.name}`, rel ? `${rel}/${e.name}` : e.name, i);
        }
      }
      return;
    }
    if (!isGlob(seg)) {
      const p = `${dir}/${seg}`;
      const r = rel ? `${rel}/${seg}` : seg;
      try {
        const st = Deno.statSync(p);
        if (last) {
          if (st.isFile) out.push(r);
        } else if (st.isDirectory) walk(p, r, i + 1);
      } catch { /* missing: no match */ }
      return;
    }
    const re = segmentRegExp(seg);
    for (const e of readDir(dir)) {
      if (e.name.startsWith(".") || !re.test(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (last) {
        if (e.isFile || (e.isSymlink && isFile(`${dir}/${e.name}`))) out.push(r);
      } else if (e.isDirectory) walk(`${dir}/${e.name}`, r, i + 1);
    }
  };
  walk(abs ? "" : root, abs ? "" : "", 0);
  return [...new Set(out.map((r) => (abs ? "/" + r : r)))].sort();
}

function readDir(dir: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(dir || "/")];
  } catch {
    return [];
  }
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}
