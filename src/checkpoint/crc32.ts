import { createCRC32 } from "hash-wasm";

/**
 * CRC-32 (the zip polynomial), slicing-by-8: zip entries carry one, and checking it is how a
 * flipped byte in a tensor record is caught instead of silently loaded.
 */

const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  const tables = [t0];
  for (let k = 1; k < 8; k++) {
    const prev = tables[k - 1];
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) t[n] = (prev[n] >>> 8) ^ t0[prev[n] & 0xff];
    tables.push(t);
  }
  return tables;
})();

/** Continues a CRC-32 over `data`; start with `crc = 0`. */
export function crc32(data: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ c;
    const b = data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24);
    c = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24] ^
      t3[b & 0xff] ^ t2[(b >>> 8) & 0xff] ^ t1[(b >>> 16) & 0xff] ^ t0[b >>> 24];
    i += 8;
  }
  for (; i < n; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

type Hasher = Awaited<ReturnType<typeof createCRC32>>;
let hasher: Promise<Hasher> | undefined;

/**
 * CRC-32 of the concatenated chunks through hash-wasm's WebAssembly CRC (about twice the
 * speed of {@link crc32} here), falling back to {@link crc32} if WebAssembly is unavailable.
 */
export async function crc32Chunks(chunks: Uint8Array[]): Promise<number> {
  let h: Hasher | undefined;
  try {
    h = await (hasher ??= createCRC32());
  } catch {
    h = undefined;
  }
  if (!h) {
    let c = 0;
    for (const x of chunks) c = crc32(x, c);
    return c;
  }
  // No await between init and digest: the shared instance is never used by two callers.
  h.init();
  for (const x of chunks) h.update(x);
  return parseInt(h.digest("hex"), 16) >>> 0;
}
