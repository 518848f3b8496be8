import { type SourcePosition, SpecError } from "./errors.ts";

/** A pipeline file's text with a line index, to turn offsets into positions and snippets. */
export class SourceText {
  readonly #lineStarts: number[] = [0];
  constructor(readonly file: string, readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 10) this.#lineStarts.push(i + 1);
    }
  }

  /** The 1-based line and column of a 0-based offset (clamped into the text). */
  position(offset: number): SourcePosition {
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0, hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#lineStarts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, col: o - this.#lineStarts[lo] + 1, offset: o };
  }

  /** The line holding `offset`, prefixed by its number, and a caret under the column. */
  snippet(offset: number): string {
    const p = this.position(offset);
    const start = this.#lineStarts[p.line - 1];
    let end = this.text.indexOf("\n", start);
    if (end < 0) end = this.text.length;
    let line = this.text.slice(start, end).replace(/\r$/, "");
    let col = p.col - 1;
    if (line.length > 160) { // keep long lines readable around the column
      const from = Math.max(0, col - 80);
      line = (from > 0 ? "…" : "") + line.slice(from, from + 160);
      col = col - from + (from > 0 ? 1 : 0);
    }
    // deno-lint-ignore no-control-regex
    line = line.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "?");
    const gutter = `${p.line} | `;
    return `${gutter}${line}\n${" ".repeat(gutter.length - 2)}| ${" ".repeat(Math.max(0, col))}^`;
  }

  /** A positioned error at `offset`. */
  error(offset: number, reason: string): SpecError {
    return new SpecError(reason, this.position(offset), this.snippet(offset));
  }
}
