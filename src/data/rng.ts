/**
 * The one seeded generator that every random choice of the data layer draws from, so a
 * sample, a synthetic video or an augmentation is reproducible from its seed.
 *
 * xoshiro128** seeded through splitmix32; `state()`/`fromState()` let a Worker continue a
 * stream exactly.
 *
 * @module
 */

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A seeded pseudo-random generator with the helpers Python's `random` offers. */
export class Rng {
  #s: Uint32Array;

  /** @param seed any integer (or float, hashed by its integer part) */
  constructor(seed = 0) {
    const sm = splitmix32(Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32));
    this.#s = new Uint32Array([sm(), sm(), sm(), sm()]);
    if ((this.#s[0] | this.#s[1] | this.#s[2] | this.#s[3]) === 0) this.#s[0] = 1;
  }

  /** Restores a generator from `state()`. */
  static fromState(state: number[]): Rng {
    const r = new Rng(0);
    r.#s.set(state);
    return r;
  }

  /** The four 32-bit state words (to hand a stream to a Worker). */
  state(): number[] {
    return Array.from(this.#s);
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextU32() >>> 5, lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform float in [a, b). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.random();
  }

  /** Uniform integer in [start, stop) (Python `randrange`). */
  randrange(start: number, stop?: number): number {
    if (stop === undefined) [start, stop] = [0, start];
    const n = stop - start;
    if (!(n > 0)) throw new RangeError(`Cannot draw from empty range [${start}, ${stop})`);
    return start + Math.floor(this.random() * n);
  }

  /** Uniform integer in [a, b], both ends included (Python `randint`). */
  randint(a: number, b: number): number {
    return this.randrange(a, b + 1);
  }

  /** One element of a non-empty array. */
  choice<T>(items: readonly T[]): T {
    return items[this.randrange(items.length)];
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.randrange(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** `k` distinct elements in random order (Python `random.sample`). */
  sample<T>(items: readonly T[], k: number): T[] {
    if (k > items.length) throw new RangeError(`Sample of ${k} is larger than ${items.length}`);
    const pool = items.slice();
    for (let i = 0; i < k; i++) {
      const j = i + this.randrange(pool.length - i);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, k);
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** A new independent generator seeded from this one (for per-item streams). */
  fork(): Rng {
    return new Rng(this.nextU32() * 4096 + (this.nextU32() >>> 20));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
