/**
 * J&F result files: the reference's `results.csv` (same layout, so existing tooling reads
 * it), a per-video CSV, the full JSON, and a Markdown and an HTML report with an SVG bar
 * chart. Every file is written to a temporary name and renamed, so a crash never leaves a
 * half-written report.
 */
import type { JFResult } from "./evaluate.ts";
import { atomicWrite } from "../util/atomic_write.ts";

/** Python's `format(x, ".1f")`: exact decimal of the double, ties to even. */
export function pyFixed1(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? "inf" : x < 0 ? "-inf" : "nan";
  const exact = Math.abs(x).toFixed(40);
  const [int, frac] = exact.split(".");
  const tail = frac.slice(1);
  if (/^50*$/.test(tail)) {
    const digit = Number(frac[0]);
    const up = digit % 2 === 1; // round half to even on the tenths digit
    const base = Number(`${int}.${frac[0]}`);
    const v = up ? base + 0.1 : base;
    return `${x < 0 ? "-" : ""}${v.toFixed(1)}`;
  }
  return x.toFixed(1);
}

function pad(s: string, width: number, left = true): string {
  return left ? s.padEnd(width) : s.padStart(width);
}

/** The reference's `results.csv` text (global line, then one line per object). */
export function formatReferenceCsv(result: JFResult): string {
  const ml = Math.max(...result.videos.map((v) => v.video.length), "Global score".length);
  const f1 = (x: number, w = 4) => pad(pyFixed1(x), w, false);
  let out = `${pad("sequence", ml)},${pad("obj", 3, false)}, ${pad("J&F", 4, false)}, ${
    pad("J", 4, false)
  }, ${pad("F", 4, false)}\n`;
  out += `${pad("Global score", ml)},${pad("", 3, false)}, ${pyFixed1(result.jf)}, ${
    pyFixed1(result.j)
  }, ${pyFixed1(result.f)}\n`;
  for (const o of result.objects) {
    // `{object_idx:03}`: an int id (DAVIS) is zero-padded, a folder name (SA-V) zero-filled right.
    const id = result.layout === "sav" ? o.object.padEnd(3, "0") : o.object.padStart(3, "0");
    out += `${pad(o.video, ml)},${id}, ${f1(o.jf)}, ${f1(o.j)}, ${f1(o.f)}\n`;
  }
  return out;
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Per-video table as CSV (`video,objects,J,F,J&F`), then a `Global` row. */
export function formatVideoCsv(result: JFResult): string {
  const n = (x: number) => x.toFixed(4);
  const rows = ["video,objects,J,F,J&F"];
  for (const v of result.videos) {
    rows.push(`${csvField(v.video)},${v.objects},${n(v.j)},${n(v.f)},${n(v.jf)}`);
  }
  rows.push(`Global,${result.objects.length},${n(result.j)},${n(result.f)},${n(result.jf)}`);
  return rows.join("\n") + "\n";
}

function xml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** A grouped bar chart (J, F, J&F per video, then the global scores) as SVG text. */
export function jfBarChartSvg(result: JFResult): string {
  const groups = [
    ...result.videos.map((v) => ({ name: v.video, vals: [v.j, v.f, v.jf] })),
    { name: "Global", vals: [result.j, result.f, result.jf] },
  ];
  const colors = ["#4e79a7", "#f28e2b", "#59a14f"];
  const bar = 14, gap = 18, left = 44, top = 28, plotH = 200, bottom = 90;
  const groupW = bar * 3 + gap;
  const width = left + groups.length * groupW + 20;
  const height = top + plotH + bottom;
  const y = (v: number) => top + plotH - (Math.max(0, Math.min(100, v)) / 100) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<text x="${left}" y="16" font-size="13">J, F and J&amp;F (%)</text>`,
  ];
  for (const t of [0, 25, 50, 75, 100]) {
    parts.push(
      `<line x1="${left}" x2="${width - 10}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`,
    );
  }
  groups.forEach((g, gi) => {
    const x0 = left + gap / 2 + gi * groupW;
    g.vals.forEach((v, k) => {
      const h = Number.isFinite(v) ? top + plotH - y(v) : 0;
      parts.push(
        `<rect x="${x0 + k * bar}" y="${top + plotH - h}" width="${bar - 2}" height="${h}" ` +
          `fill="${colors[k]}"><title>${xml(g.name)} ${["J", "F", "J&amp;F"][k]} ` +
          `${Number.isFinite(v) ? v.toFixed(1) : "n/a"}</title></rect>`,
      );
    });
    const lx = x0 + bar * 1.5, ly = top + plotH + 10;
    parts.push(
      `<text x="${lx}" y="${ly}" transform="rotate(45 ${lx} ${ly})">${xml(g.name)}</text>`,
    );
  });
  ["J", "F", "J&amp;F"].forEach((name, k) => {
    const lx = width - 150 + k * 45;
    parts.push(
      `<rect x="${lx}" y="6" width="10" height="10" fill="${colors[k]}"/>`,
      `<text x="${lx + 13}" y="15">${name}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

function settings(result: JFResult): string {
  return `GT: \`${result.gtRoot}\`, predictions: \`${result.predRoot}\`, layout: ${result.layout}, ` +
    `first/last frames ${result.skipFirstAndLast ? "skipped" : "kept"}, ` +
    `bound_th ${result.boundTh}, ${result.objects.length} objects in ${result.videos.length} videos.`;
}

/** The Markdown report (global scores, per-video table, chart image). */
export function formatMarkdownReport(result: JFResult, title = "J&F evaluation"): string {
  const n = (x: number) => pyFixed1(x);
  const lines = [
    `# ${title}`,
    "",
    settings(result),
    "",
    `**J&F ${n(result.jf)}** (J ${n(result.j)}, F ${
      n(result.f)
    }); global scores are means over objects.`,
    "",
    "![J, F and J&F per video](jf.svg)",
    "",
    "| video | objects | J | F | J&F |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...result.videos.map((v) =>
      `| ${v.video.replace(/\|/g, "\\|")} | ${v.objects} | ${n(v.j)} | ${n(v.f)} | ${n(v.jf)} |`
    ),
    `| **Global** | ${result.objects.length} | ${n(result.j)} | ${n(result.f)} | ${n(result.jf)} |`,
    "",
  ];
  return lines.join("\n");
}

/** The HTML report (same content as the Markdown one, chart inline). */
export function formatHtmlReport(result: JFResult, title = "J&F evaluation"): string {
  const n = (x: number) => pyFixed1(x);
  const row = (cells: string[], tag = "td") =>
    `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join("")}</tr>`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${xml(title)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}</style>
</head><body>
<h1>${xml(title)}</h1>
<p>${xml(settings(result)).replace(/`([^`]*)`/g, "<code>$1</code>")}</p>
<p><b>J&amp;F ${n(result.jf)}</b> (J ${n(result.j)}, F ${n(result.f)})</p>
${jfBarChartSvg(result)}
<table>
${row(["video", "objects", "J", "F", "J&amp;F"], "th")}
${
    result.videos.map((v) => row([xml(v.video), String(v.objects), n(v.j), n(v.f), n(v.jf)])).join(
      "\n",
    )
  }
${row(["<b>Global</b>", String(result.objects.length), n(result.j), n(result.f), n(result.jf)])}
</table>
</body></html>
`;
}

/** Options for {@link writeJFReport}. */
export interface ReportOptions {
  /** Report title. @default "J&F evaluation" */
  title?: string;
}

/** Paths of the files {@link writeJFReport} wrote. */
export interface ReportFiles {
  referenceCsv: string;
  videoCsv: string;
  json: string;
  markdown: string;
  html: string;
  svg: string;
}

/**
 * Writes `results.csv` (reference layout), `jf.csv`, `jf.json`, `report.md`, `report.html`
 * and `jf.svg` into `outDir` (created if needed).
 */
export async function writeJFReport(
  result: JFResult,
  outDir: string,
  options: ReportOptions = {},
): Promise<ReportFiles> {
  await Deno.mkdir(outDir, { recursive: true });
  const files: ReportFiles = {
    referenceCsv: `${outDir}/results.csv`,
    videoCsv: `${outDir}/jf.csv`,
    json: `${outDir}/jf.json`,
    markdown: `${outDir}/report.md`,
    html: `${outDir}/report.html`,
    svg: `${outDir}/jf.svg`,
  };
  await atomicWrite(files.referenceCsv, formatReferenceCsv(result));
  await atomicWrite(files.videoCsv, formatVideoCsv(result));
  await atomicWrite(files.json, JSON.stringify(result, null, 2) + "\n");
  await atomicWrite(files.svg, jfBarChartSvg(result));
  await atomicWrite(files.markdown, formatMarkdownReport(result, options.title));
  await atomicWrite(files.html, formatHtmlReport(result, options.title));
  return files;
}
