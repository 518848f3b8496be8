/**
 * WGSL helper functions that elementwise expressions may call, by name. Each is written to be
 * safe for large |x| (no overflow to inf/NaN where the mathematical value is finite).
 */
export const WGSL_HELPERS: Record<string, string> = {
  // Abramowitz-Stegun 7.1.26 is too coarse (1.5e-7 abs, fine) but its relative error near 0 is
  // poor; use the erf from Numerical Recipes erfc (Chebyshev, |rel err| < 1.2e-7).
  erf: `fn erf_(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return select(r - 1.0, 1.0 - r, x >= 0.0);
}`,
  tanh: `fn tanh_(x: f32) -> f32 {
  let e = exp(-2.0 * abs(clamp(x, -20.0, 20.0)));
  return sign(x) * (1.0 - e) / (1.0 + e);
}`,
  sigmoid: `fn sigmoid_(x: f32) -> f32 {
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}`,
  softplus: `fn softplus_(x: f32) -> f32 {
  return select(max(x, 0.0) + log(1.0 + exp(-abs(x))), x, x > 20.0);
}`,
  gelu: `fn gelu_(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_(x * 0.7071067811865476));
}
fn gelu_grad_(x: f32) -> f32 {
  return 0.5 * (1.0 + erf_(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x);
}`,
  gelu_tanh: `fn gelu_tanh_(x: f32) -> f32 {
  return 0.5 * x * (1.0 + tanh_(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
fn gelu_tanh_grad_(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  let e = exp(-2.0 * abs(clamp(u, -40.0, 40.0)));
  let sech2 = 4.0 * e / ((1.0 + e) * (1.0 + e)); // 1 - tanh(u)^2 without cancellation
  return 0.5 * (1.0 + tanh_(u)) + 0.5 * x * sech2 * 0.7978845608028654 * (1.0 + 0.134145 * x * x);
}`,
  pow: `fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (b == round(b)) {
    let r = pow(abs(a), b);
    return select(r, -r, a < 0.0 && abs(b % 2.0) == 1.0);
  }
  return pow(a, b);
}`,
};

/** Helpers each helper calls. */
const DEPENDS: Record<string, string[]> = { gelu: ["erf"], gelu_tanh: ["tanh"] };

/** The WGSL text of the named helpers, each once. */
export function helperCode(names: readonly string[] = []): string {
  const all: string[] = [];
  const add = (n: string) => {
    for (const d of DEPENDS[n] ?? []) add(d);
    if (!all.includes(n)) all.push(n);
  };
  names.forEach(add);
  return all.map((n) => {
    const h = WGSL_HELPERS[n];
    if (!h) {
      throw new Error(`Unknown WGSL helper "${n}": known ${Object.keys(WGSL_HELPERS).join(", ")}`);
    }
    return h;
  }).join("\n");
}
