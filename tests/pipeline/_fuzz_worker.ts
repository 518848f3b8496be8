/// <reference lib="deno.worker" />
// Parses mutated pipeline files; posts a report per batch. Runs in a Worker so a hang can be
// detected and stopped by the test.
import { builtinRegistry, parsePipeline, SpecErrors } from "../../src/pipeline/mod.ts";

const registry = builtinRegistry();

function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

const SNIPPETS = [
  ":",
  " ",
  "\n",
  "  ",
  "-",
  "[",
  "]",
  "{",
  "}",
  "${",
  "}",
  "${vars.",
  "${stages.",
  "${item}",
  "${outs.",
  "*",
  "&a ",
  "*a",
  "!!str ",
  '"',
  "'",
  "#",
  "\t",
  "\0",
  "é",
  "\u2028",
  "---\n",
  "? ",
  "|\n",
  ">-\n",
  "@",
  "%",
  "\\",
  "0x1F",
  "1e309",
  "null",
  "~",
  "true",
  "<<: *a",
];

function mutate(text: string, r: () => number): string {
  const lines = text.split("\n");
  const n = 1 + Math.floor(r() * 4);
  let t = text;
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(r() * (t.length + 1));
    switch (Math.floor(r() * 8)) {
      case 0: // flip a byte
        t = t.slice(0, pos) + String.fromCharCode(Math.floor(r() * 128)) + t.slice(pos + 1);
        break;
      case 1: // insert a snippet
        t = t.slice(0, pos) + SNIPPETS[Math.floor(r() * SNIPPETS.length)] + t.slice(pos);
        break;
      case 2: // delete a range
        t = t.slice(0, pos) + t.slice(pos + Math.floor(r() * 20));
        break;
      case 3: { // duplicate a line
        const ls = t.split("\n");
        const k = Math.floor(r() * ls.length);
        ls.splice(k, 0, ls[k]);
        t = ls.join("\n");
        break;
      }
      case 4: { // swap two lines
        const ls = t.split("\n");
        const a = Math.floor(r() * ls.length), b = Math.floor(r() * ls.length);
        [ls[a], ls[b]] = [ls[b], ls[a]];
        t = ls.join("\n");
        break;
      }
      case 5: { // re-indent a line
        const ls = t.split("\n");
        const k = Math.floor(r() * ls.length);
        ls[k] = r() < 0.5 ? "  " + ls[k] : ls[k].replace(/^ {1,2}/, "");
        t = ls.join("\n");
        break;
      }
      case 6: // truncate
        t = t.slice(0, pos);
        break;
      default: // a line from the original somewhere else
        t = t.slice(0, pos) + "\n" + lines[Math.floor(r() * lines.length)] + "\n" + t.slice(pos);
    }
  }
  return t;
}

self.onmessage = (
  ev: MessageEvent<{ texts: string[]; count: number; seed: number; root: string }>,
) => {
  const { texts, count, seed, root } = ev.data;
  const r = rng(seed);
  // Input paths are checked for the seeds whose inputs the fuzz root has; the real pipeline
  // files name data the root lacks, so every mutation of theirs would fail on that alone.
  const checkInputs = texts.map((t) => {
    try {
      parsePipeline(t, { file: "fuzz.yaml", registry, root, checkInputs: true });
      return true;
    } catch {
      return false;
    }
  });
  let valid = 0, invalid = 0;
  for (let i = 0; i < count; i++) {
    const k = i % texts.length;
    const text = mutate(texts[k], r);
    try {
      parsePipeline(text, { file: "fuzz.yaml", registry, root, checkInputs: checkInputs[k] });
      valid++;
    } catch (e) {
      if (!(e instanceof SpecErrors)) {
        self.postMessage({ crash: `${(e as Error).stack}\n--- input ---\n${text}` });
        return;
      }
      for (const se of e.errors) {
        if (!(se.pos.line >= 1 && se.pos.col >= 1 && se.message.startsWith("fuzz.yaml:"))) {
          self.postMessage({
            crash: `error without a position: ${se.message}\n--- input ---\n${text}`,
          });
          return;
        }
      }
      if (e.errors.length === 0) {
        self.postMessage({ crash: `SpecErrors with no errors\n--- input ---\n${text}` });
        return;
      }
      invalid++;
    }
    if (i % 100 === 99) self.postMessage({ progress: i + 1 });
  }
  self.postMessage({ done: true, valid, invalid });
};
