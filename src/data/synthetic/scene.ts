/**
 * Synthetic scenes: textured ellipses and rectangles that move, rotate, bounce off the
 * borders, leave and re-enter the frame and occlude one another in a fixed depth order. The
 * label map of a frame is exact, so the masks are perfect ground truth for the video.
 *
 * @module
 */
import type { Rng } from "../rng.ts";

/** One moving shape; all motion is a pure function of the frame index. */
export interface ShapeSpec {
  kind: "ellipse" | "rect";
  /** Object id in masks (1-based, as DAVIS palettes). */
  id: number;
  /** Start centre and velocity, pixels / frame. */
  x0: number;
  y0: number;
  vx: number;
  vy: number;
  /** Half extents (pixels) and the relative amplitude of their slow pulsation. */
  rx: number;
  ry: number;
  pulse: number;
  angle0: number;
  spin: number;
  color: [number, number, number];
  stripe: number;
}

/** A full scene: frame size, background parameters and shapes in back-to-front order. */
export interface SceneSpec {
  width: number;
  height: number;
  background: { c0: [number, number, number]; c1: [number, number, number]; freq: number };
  shapes: ShapeSpec[];
}

/** Options for {@linkcode randomScene}. */
export interface RandomSceneOptions {
  width: number;
  height: number;
  /** Shapes per video, drawn uniformly in [min, max]. @default [2, 4] */
  objects?: [number, number];
}

function color(rng: Rng): [number, number, number] {
  return [rng.randint(30, 240), rng.randint(30, 240), rng.randint(30, 240)];
}

/** Draws a scene from the generator (deterministic for a given generator state). */
export function randomScene(rng: Rng, opts: RandomSceneOptions): SceneSpec {
  const { width: w, height: h } = opts;
  const [lo, hi] = opts.objects ?? [2, 4];
  const n = rng.randint(lo, hi);
  const s = Math.min(w, h);
  const shapes: ShapeSpec[] = [];
  for (let i = 0; i < n; i++) {
    const speed = rng.uniform(0.01, 0.035) * s;
    const dir = rng.uniform(0, 2 * Math.PI);
    shapes.push({
      kind: rng.random() < 0.5 ? "ellipse" : "rect",
      id: i + 1,
      x0: rng.uniform(0.2, 0.8) * w,
      y0: rng.uniform(0.2, 0.8) * h,
      vx: speed * Math.cos(dir),
      vy: speed * Math.sin(dir),
      rx: rng.uniform(0.08, 0.2) * s,
      ry: rng.uniform(0.08, 0.2) * s,
      pulse: rng.uniform(0, 0.2),
      angle0: rng.uniform(0, Math.PI),
      spin: rng.uniform(-0.05, 0.05),
      color: color(rng),
      stripe: rng.uniform(4, 12),
    });
  }
  return {
    width: w,
    height: h,
    background: { c0: color(rng), c1: color(rng), freq: rng.uniform(1, 4) },
    shapes,
  };
}

/** Position on a bouncing path: reflects in [-m, L + m] so shapes can partly leave. */
function bounce(p0: number, v: number, t: number, len: number, margin: number): number {
  const lo = -margin, span = len + 2 * margin;
  let p = ((p0 + v * t - lo) % (2 * span) + 2 * span) % (2 * span);
  if (p > span) p = 2 * span - p;
  return lo + p;
}

/** Geometry of a shape at frame t. */
export function shapeAt(sh: ShapeSpec, t: number, w: number, h: number) {
  const f = 1 + sh.pulse * Math.sin(t * 0.2 + sh.id);
  return {
    cx: bounce(sh.x0, sh.vx, t, w, sh.rx * 0.9),
    cy: bounce(sh.y0, sh.vy, t, h, sh.ry * 0.9),
    rx: sh.rx * f,
    ry: sh.ry * f,
    angle: sh.angle0 + sh.spin * t,
  };
}

/** A rendered frame: RGB bytes and the label map (0 = background, else shape id). */
export interface RenderedFrame {
  rgb: Uint8Array;
  labels: Uint8Array;
}

/** Renders frame `t` of a scene. */
export function renderFrame(scene: SceneSpec, t: number): RenderedFrame {
  const { width: w, height: h, background: bg } = scene;
  const rgb = new Uint8Array(w * h * 3);
  const labels = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const a = 0.5 + 0.5 * Math.sin((x / w) * bg.freq * 6.28 + (y / h) * 2.1) *
          Math.cos((y / h) * bg.freq * 3.14);
      const o = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) rgb[o + c] = bg.c0[c] * (1 - a) + bg.c1[c] * a;
    }
  }
  for (const sh of scene.shapes) {
    const g = shapeAt(sh, t, w, h);
    const cos = Math.cos(g.angle), sin = Math.sin(g.angle);
    const r = Math.hypot(g.rx, g.ry);
    const x0 = Math.max(0, Math.floor(g.cx - r)), x1 = Math.min(w - 1, Math.ceil(g.cx + r));
    const y0 = Math.max(0, Math.floor(g.cy - r)), y1 = Math.min(h - 1, Math.ceil(g.cy + r));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - g.cx, dy = y + 0.5 - g.cy;
        const u = (dx * cos + dy * sin) / g.rx, v = (-dx * sin + dy * cos) / g.ry;
        const inside = sh.kind === "ellipse"
          ? u * u + v * v <= 1
          : Math.abs(u) <= 1 && Math.abs(v) <= 1;
        if (!inside) continue;
        const p = y * w + x;
        labels[p] = sh.id;
        const shade = 0.8 + 0.2 * Math.sin(u * sh.stripe) * Math.cos(v * 3);
        for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.min(255, sh.color[c] * shade);
      }
    }
  }
  return { rgb, labels };
}
