/**
 * BLAKE3 (hash mode, 32-byte output) in plain TypeScript, for small inputs: file contents of
 * a few KiB, folder listings, stage keys. Loading it costs nothing, whereas the native addon
 * and the WASM package are npm modules whose first import starts Deno's Node compatibility
 * layer (tens of milliseconds, in every process and every Worker); and for inputs this small
 * a call here is as fast as a call across Node-API. Large inputs go to the native addon.
 *
 * Follows the BLAKE3 specification (github.com/BLAKE3-team/BLAKE3-specs): 1 KiB chunks of
 * 64-byte blocks, each compressed with 7 rounds of the G function; chunk chaining values
 * merged in a binary tree; the root node compressed with the ROOT flag. Tests check it
 * against the native implementation on many lengths.
 */

const IV = new Uint32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);
const CHUNK_START = 1;
const CHUNK_END = 2;
const PARENT = 4;
const ROOT = 8;
const CHUNK_LEN = 1024;
const BLOCK_LEN = 64;

/** Message word order of each of the 7 rounds (the permutation applied round after round). */
const SCHEDULE: Uint8Array = (() => {
  const perm = [2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8];
  const out = new Uint8Array(7 * 16);
  let cur = Array.from({ length: 16 }, (_, i) => i);
  for (let r = 0; r < 7; r++) {
    out.set(cur, r * 16);
    cur = perm.map((p) => cur[p]);
  }
  return out;
})();

const state = new Uint32Array(16);
const m = new Uint32Array(16);

/**
 * Compresses one block (`m`, already loaded) into `out[0..8)` (the chaining value) from the
 * input chaining value `cv` (8 words, may alias `out`).
 */
function compress(
  cv: Uint32Array,
  counter: number,
  blockLen: number,
  flags: number,
  out: Uint32Array,
  outOffset: number,
): void {
  const s = state;
  s[0] = cv[0], s[1] = cv[1], s[2] = cv[2], s[3] = cv[3];
  s[4] = cv[4], s[5] = cv[5], s[6] = cv[6], s[7] = cv[7];
  s[8] = IV[0], s[9] = IV[1], s[10] = IV[2], s[11] = IV[3];
  s[12] = counter >>> 0;
  s[13] = Math.floor(counter / 0x100000000) >>> 0;
  s[14] = blockLen, s[15] = flags;
  let s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], s4 = s[4], s5 = s[5], s6 = s[6], s7 = s[7];
  let s8 = s[8], s9 = s[9], s10 = s[10], s11 = s[11], s12 = s[12], s13 = s[13], s14 = s[14];
  let s15 = s[15];
  for (let r = 0; r < 7; r++) {
    const o = r * 16;
    // columns
    s0 = (s0 + s4 + m[SCHEDULE[o]]) | 0;
    s12 ^= s0, s12 = (s12 >>> 16) | (s12 << 16);
    s8 = (s8 + s12) | 0;
    s4 ^= s8, s4 = (s4 >>> 12) | (s4 << 20);
    s0 = (s0 + s4 + m[SCHEDULE[o + 1]]) | 0;
    s12 ^= s0, s12 = (s12 >>> 8) | (s12 << 24);
    s8 = (s8 + s12) | 0;
    s4 ^= s8, s4 = (s4 >>> 7) | (s4 << 25);

    s1 = (s1 + s5 + m[SCHEDULE[o + 2]]) | 0;
    s13 ^= s1, s13 = (s13 >>> 16) | (s13 << 16);
    s9 = (s9 + s13) | 0;
    s5 ^= s9, s5 = (s5 >>> 12) | (s5 << 20);
    s1 = (s1 + s5 + m[SCHEDULE[o + 3]]) | 0;
    s13 ^= s1, s13 = (s13 >>> 8) | (s13 << 24);
    s9 = (s9 + s13) | 0;
    s5 ^= s9, s5 = (s5 >>> 7) | (s5 << 25);

    s2 = (s2 + s6 + m[SCHEDULE[o + 4]]) | 0;
    s14 ^= s2, s14 = (s14 >>> 16) | (s14 << 16);
    s10 = (s10 + s14) | 0;
    s6 ^= s10, s6 = (s6 >>> 12) | (s6 << 20);
    s2 = (s2 + s6 + m[SCHEDULE[o + 5]]) | 0;
    s14 ^= s2, s14 = (s14 >>> 8) | (s14 << 24);
    s10 = (s10 + s14) | 0;
    s6 ^= s10, s6 = (s6 >>> 7) | (s6 << 25);

    s3 = (s3 + s7 + m[SCHEDULE[o + 6]]) | 0;
    s15 ^= s3, s15 = (s15 >>> 16) | (s15 << 16);
    s11 = (s11 + s15) | 0;
    s7 ^= s11, s7 = (s7 >>> 12) | (s7 << 20);
    s3 = (s3 + s7 + m[SCHEDULE[o + 7]]) | 0;
    s15 ^= s3, s15 = (s15 >>> 8) | (s15 << 24);
    s11 = (s11 + s15) | 0;
    s7 ^= s11, s7 = (s7 >>> 7) | (s7 << 25);

    // diagonals
    s0 = (s0 + s5 + m[SCHEDULE[o + 8]]) | 0;
    s15 ^= s0, s15 = (s15 >>> 16) | (s15 << 16);
    s10 = (s10 + s15) | 0;
    s5 ^= s10, s5 = (s5 >>> 12) | (s5 << 20);
    s0 = (s0 + s5 + m[SCHEDULE[o + 9]]) | 0;
    s15 ^= s0, s15 = (s15 >>> 8) | (s15 << 24);
    s10 = (s10 + s15) | 0;
    s5 ^= s10, s5 = (s5 >>> 7) | (s5 << 25);

    s1 = (s1 + s6 + m[SCHEDULE[o + 10]]) | 0;
    s12 ^= s1, s12 = (s12 >>> 16) | (s12 << 16);
    s11 = (s11 + s12) | 0;
    s6 ^= s11, s6 = (s6 >>> 12) | (s6 << 20);
    s1 = (s1 + s6 + m[SCHEDULE[o + 11]]) | 0;
    s12 ^= s1, s12 = (s12 >>> 8) | (s12 << 24);
    s11 = (s11 + s12) | 0;
    s6 ^= s11, s6 = (s6 >>> 7) | (s6 << 25);

    s2 = (s2 + s7 + m[SCHEDULE[o + 12]]) | 0;
    s13 ^= s2, s13 = (s13 >>> 16) | (s13 << 16);
    s8 = (s8 + s13) | 0;
    s7 ^= s8, s7 = (s7 >>> 12) | (s7 << 20);
    s2 = (s2 + s7 + m[SCHEDULE[o + 13]]) | 0;
    s13 ^= s2, s13 = (s13 >>> 8) | (s13 << 24);
    s8 = (s8 + s13) | 0;
    s7 ^= s8, s7 = (s7 >>> 7) | (s7 << 25);

    s3 = (s3 + s4 + m[SCHEDULE[o + 14]]) | 0;
    s14 ^= s3, s14 = (s14 >>> 16) | (s14 << 16);
    s9 = (s9 + s14) | 0;
    s4 ^= s9, s4 = (s4 >>> 12) | (s4 << 20);
    s3 = (s3 + s4 + m[SCHEDULE[o + 15]]) | 0;
    s14 ^= s3, s14 = (s14 >>> 8) | (s14 << 24);
    s9 = (s9 + s14) | 0;
    s4 ^= s9, s4 = (s4 >>> 7) | (s4 << 25);
  }
  out[outOffset] = s0 ^ s8;
  out[outOffset + 1] = s1 ^ s9;
  out[outOffset + 2] = s2 ^ s10;
  out[outOffset + 3] = s3 ^ s11;
  out[outOffset + 4] = s4 ^ s12;
  out[outOffset + 5] = s5 ^ s13;
  out[outOffset + 6] = s6 ^ s14;
  out[outOffset + 7] = s7 ^ s15;
}

/** Loads block `[off, off + len)` of `data` (zero-padded to 64 bytes) into `m`. */
function loadBlock(data: Uint8Array, off: number, len: number): void {
  if (len === BLOCK_LEN) {
    for (let i = 0, p = off; i < 16; i++, p += 4) {
      m[i] = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16) | (data[p + 3] << 24);
    }
    return;
  }
  m.fill(0);
  for (let i = 0; i < len; i++) m[i >> 2] |= data[off + i] << ((i & 3) * 8);
}

/** Character codes of the two hex digits of each byte value. */
const HEX_HI = new Uint8Array(256).map((_, i) => "0123456789abcdef".charCodeAt(i >> 4));
const HEX_LO = new Uint8Array(256).map((_, i) => "0123456789abcdef".charCodeAt(i & 15));
const hexCodes = new Array<number>(64);

// Scratch state reused by every call (one hash at a time per thread: calls never interleave),
// so hashing ten thousand small files allocates nothing but the digests.
const CV = new Uint32Array(8);
const OUT = new Uint32Array(8);
const LAST_CV = new Uint32Array(8);
const LAST_BLOCK = new Uint32Array(16);

/** The BLAKE3 hash (32 bytes, hex) of `data`. */
export function blake3Hex(data: Uint8Array): string {
  const cv = CV;
  const out = OUT;
  // chaining values of completed subtrees, one per set bit of the number of chunks done
  const stack: Uint32Array[] = [];
  const chunks = Math.max(1, Math.ceil(data.length / CHUNK_LEN));
  // the last chunk's last block, and the flags it ends with, become the root (or a leaf)
  const lastCv = LAST_CV;
  let lastLen = 0, lastFlags = 0, lastCounter = 0;
  const lastBlock = LAST_BLOCK;
  for (let c = 0; c < chunks; c++) {
    const start = c * CHUNK_LEN;
    const end = Math.min(data.length, start + CHUNK_LEN);
    cv.set(IV);
    const blocks = Math.max(1, Math.ceil((end - start) / BLOCK_LEN));
    for (let b = 0; b < blocks; b++) {
      const off = start + b * BLOCK_LEN;
      const len = Math.min(BLOCK_LEN, end - off);
      loadBlock(data, off, Math.max(0, len));
      const flags = (b === 0 ? CHUNK_START : 0) | (b === blocks - 1 ? CHUNK_END : 0);
      if (b === blocks - 1 && c === chunks - 1) {
        lastCv.set(cv);
        lastBlock.set(m);
        lastLen = Math.max(0, len);
        lastFlags = flags;
        lastCounter = c;
      } else compress(cv, c, Math.max(0, len), flags, cv, 0);
    }
    if (c < chunks - 1) {
      // a finished chunk: merge it with completed subtrees of the same size
      let node = cv.slice();
      let total = c + 1;
      while ((total & 1) === 0) {
        const left = stack.pop()!;
        m.set(left, 0);
        m.set(node, 8);
        node = new Uint32Array(8);
        compress(IV, 0, BLOCK_LEN, PARENT, node, 0);
        total >>= 1;
      }
      stack.push(node);
    }
  }
  // fold the stack into the root, right to left
  m.set(lastBlock);
  if (stack.length === 0) {
    compress(lastCv, lastCounter, lastLen, lastFlags | ROOT, out, 0);
  } else {
    compress(lastCv, lastCounter, lastLen, lastFlags, out, 0);
    for (let i = stack.length - 1; i >= 0; i--) {
      m.set(stack[i], 0);
      m.set(out, 8);
      compress(IV, 0, BLOCK_LEN, PARENT | (i === 0 ? ROOT : 0), out, 0);
    }
  }
  // one string from 64 character codes (32 concatenations per digest cost more than hashing)
  for (let i = 0, k = 0; i < 8; i++) {
    const w = out[i];
    for (let sh = 0; sh < 32; sh += 8, k += 2) {
      const b = (w >>> sh) & 255;
      hexCodes[k] = HEX_HI[b];
      hexCodes[k + 1] = HEX_LO[b];
    }
  }
  return String.fromCharCode.apply(null, hexCodes);
}
