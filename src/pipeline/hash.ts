/**
 * Content hashing: BLAKE3 (strong, recorded as "blake3" with every entry). The native addon
 * (`@napi-rs/blake-hash`, SIMD, ~3 GB/s here) is loaded on first use only, so a no-op run that
 * hashes nothing never pays for it; WASM BLAKE3 (`hash-wasm`) gives the same digests where the
 * native addon cannot load.
 */
import { importLazily } from "./lazy_import.ts";

/** The content hash algorithm recorded with lock entries, store entries and the stat cache. */
export const HASH_ALGO = "blake3";

/** An incremental hasher. */
export interface Hasher {
  update(data: Uint8Array): void;
  digest(): string;
}

/** A loaded BLAKE3 implementation. */
export interface HasherFactory {
  /** A new incremental hasher. */
  create: () => Promise<Hasher>;
  /** The hex digest of one buffer, synchronously (small files, strings). */
  oneShot: (data: Uint8Array) => string;
  impl: "native" | "wasm";
}

let factory: Promise<HasherFactory> | undefined;

/** Loads the fastest available BLAKE3 once per process. */
export function hasherFactory(): Promise<HasherFactory> {
  factory ??= (async () => {
    if (Deno.env.get("SAM2_HASH_IMPL") !== "wasm") {
      try {
        const native = await importLazily<typeof import("@napi-rs/blake-hash")>(
          "@napi-rs/blake-hash",
          import.meta.url,
        );
        const { Buffer } = await importLazily<typeof import("node:buffer")>(
          "node:buffer",
          import.meta.url,
        );
        return {
          impl: "native" as const,
          oneShot: (d: Uint8Array) =>
            native.blake3(Buffer.from(d.buffer, d.byteOffset, d.byteLength)).toString("hex"),
          create: () => {
            const h = new native.Blake3Hasher();
            return Promise.resolve({
              update: (d: Uint8Array) =>
                void h.update(Buffer.from(d.buffer, d.byteOffset, d.byteLength)),
              digest: () => h.digest("hex"),
            });
          },
        };
      } catch { /* fall back to WASM */ }
    }
    const { createBLAKE3 } = await importLazily<typeof import("hash-wasm")>(
      "hash-wasm",
      import.meta.url,
    );
    const shared = await createBLAKE3();
    return {
      impl: "wasm" as const,
      oneShot: (d: Uint8Array) => {
        shared.init();
        shared.update(d);
        return shared.digest("hex");
      },
      create: async () => {
        const h = await createBLAKE3();
        h.init();
        return { update: (d: Uint8Array) => void h.update(d), digest: () => h.digest("hex") };
      },
    };
  })();
  return factory;
}

/** BLAKE3 of bytes or a UTF-8 string, hex. */
export async function hashBytes(data: Uint8Array | string): Promise<string> {
  return (await hasherFactory()).oneShot(
    typeof data === "string" ? new TextEncoder().encode(data) : data,
  );
}

const CHUNK = 4 << 20;

/** BLAKE3 of a file's content, streamed in 4 MiB chunks. */
export async function hashFile(path: string): Promise<{ hash: string; size: number }> {
  const h = await (await hasherFactory()).create();
  using f = await Deno.open(path);
  const size = (await f.stat()).size;
  const buf = new Uint8Array(Math.max(1, Math.min(CHUNK, size + 1)));
  let total = 0;
  for (;;) {
    const n = await f.read(buf);
    if (n === null) break;
    total += n;
    h.update(n === buf.length ? buf : buf.subarray(0, n));
  }
  return { hash: h.digest(), size: total };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
