/**
 * Counter-based Philox4x32-10 (Salmon et al. 2011), the same function as the WGSL in
 * `src/kernels/random.ts`: bitwise identical numbers on CPU and GPU for a given (seed, offset).
 *
 * Stream layout: draw element i of a call keyed by (seed, offset) uses block counter
 * `offset + floor(i / 4)` (uniform) or `offset + floor(i / 2)` (normal), counter vector
 * (c_lo, c_hi, 0, 0) and key (seed_lo, seed_hi).
 */
const M0 = 0xd2511f53, M1 = 0xcd9e8d57, W0 = 0x9e3779b9, W1 = 0xbb67ae85;

function mulhi(a: number, b: number): number {
  // High 32 bits of a 32x32 product, exact (16-bit limbs).
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const lo = a0 * b0;
  const mid1 = a1 * b0 + (lo >>> 16);
  const mid2 = a0 * b1 + (mid1 & 0xffff);
  return (a1 * b1 + (mid1 >>> 16) + (mid2 >>> 16)) >>> 0;
}

/** The 4 output words of Philox4x32-10 for counter c and key k. */
export function philox4x32(
  c: readonly [number, number, number, number],
  k: readonly [number, number],
): [number, number, number, number] {
  let c0 = c[0] >>> 0, c1 = c[1] >>> 0, c2 = c[2] >>> 0, c3 = c[3] >>> 0;
  let k0 = k[0] >>> 0, k1 = k[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

function block(seed: number, counter: number): [number, number, number, number] {
  return philox4x32(
    [counter >>> 0, Math.floor(counter / 2 ** 32) >>> 0, 0, 0],
    [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0],
  );
}

/** u32 word -> float in [0, 1) with 24 random bits. */
export function wordToUniform(w: number): number {
  return (w >>> 8) * 2 ** -24;
}

/** n uniforms in [0, 1) keyed by (seed, offset) (as f32 values). */
export function philoxUniform(n: number, seed: number, offset = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 4) {
    const w = block(seed, offset + i / 4);
    for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = wordToUniform(w[j]);
  }
  return out;
}

/** n standard normals keyed by (seed, offset) (Box-Muller on word pairs), as f32 values. */
export function philoxNormal(n: number, seed: number, offset = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const w = block(seed, offset + i / 2);
    for (let j = 0; j < 2 && i + j < n; j++) {
      const u1 = Math.fround(((w[2 * j] >>> 8) + 1) * 2 ** -24);
      const u2 = Math.fround((w[2 * j + 1] >>> 8) * 2 ** -24);
      const r = Math.fround(Math.sqrt(Math.fround(-2 * Math.fround(Math.log(u1)))));
      out[i + j] = Math.fround(r * Math.fround(Math.cos(Math.fround(6.283185307179586 * u2))));
    }
  }
  return out;
}

let globalSeed = 0;
let globalOffset = 0;

/** Sets the process's default random stream (like `torch.manual_seed`). */
export function manualSeed(seed: number): void {
  globalSeed = seed;
  globalOffset = 0;
}

/**
 * Reserves `blocks` Philox blocks of the default stream and returns the (seed, offset) to use:
 * successive draws never overlap, and the same seed replays the same sequence.
 */
export function nextRandomKey(blocks: number): { seed: number; offset: number } {
  const key = { seed: globalSeed, offset: globalOffset };
  globalOffset += Math.max(1, Math.ceil(blocks));
  return key;
}
