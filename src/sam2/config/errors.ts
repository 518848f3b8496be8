/**
 * Errors for configuration files. They carry the file, line and column of the offending
 * node so that a user can jump straight to it, and a caret snippet of that line.
 */

/** Where a node of a configuration file was written (1-based line and column). */
export interface SourcePos {
  /** The file the node was read from (as given to the parser). */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  col: number;
}

/** Formats a position as `file:line:col`, the form editors and terminals link. */
export function formatPos(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

/**
 * A configuration file that is well-formed YAML but not a valid configuration (or not valid
 * YAML at all). `message` starts with `file:line:col:`; `snippet` shows the line with a caret.
 */
export class ConfigError extends SyntaxError {
  override name = "ConfigError";
  /** The file the error is in. */
  readonly file: string;
  /** 1-based line of the offending node. */
  readonly line: number;
  /** 1-based column of the offending node. */
  readonly column: number;
  /** The offending source line with a caret under the column ("" when the text is unknown). */
  readonly snippet: string;

  constructor(pos: SourcePos, message: string, source?: string) {
    const snippet = source === undefined ? "" : caretSnippet(source, pos.line, pos.col);
    super(`${formatPos(pos)}: ${message}${snippet ? "\n" + snippet : ""}`);
    this.file = pos.file;
    this.line = pos.line;
    this.column = pos.col;
    this.snippet = snippet;
  }
}

function caretSnippet(source: string, line: number, col: number): string {
  const text = source.split(/\r?\n/)[line - 1];
  if (text === undefined) return "";
  const gutter = `${line} | `;
  return `${gutter}${text}\n${" ".repeat(gutter.length + Math.max(0, col - 1))}^`;
}

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = next;
    }
  }
  return row[b.length];
}

/**
 * The candidate closest to `name` when it is plausibly a typo (distance at most a third of
 * the name, or one candidate ends with the same last dotted part), else undefined.
 */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  const tail = (s: string) => s.slice(s.lastIndexOf(".") + 1).toLowerCase();
  for (const c of candidates) {
    const d = Math.min(editDistance(name, c), tail(name) === tail(c) ? 1 : Infinity);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return bestDist <= Math.max(2, Math.ceil(name.length / 3)) ? best : undefined;
}

/** ` Did you mean "x"?` or "" — appended to messages about unknown names. */
export function suggestion(name: string, candidates: Iterable<string>): string {
  const s = didYouMean(name, candidates);
  return s === undefined ? "" : ` Did you mean "${s}"?`;
}
