/**
 * Content hashing: BLAKE3 (strong, recorded as "blake3" with every entry). Inputs up to
 * `JS_HASH_MAX` bytes (small files, folder listings, keys) are hashed in TypeScript
 * (`blake3_js.ts`): for them a call across Node-API costs more than the hashing, and loading
 * an npm module starts Deno's Node layer (tens of ms per process and per Worker). Larger ones
 * go to the native addon (`@napi-rs/blake-hash`, SIMD, ~3.6 GB/s here), loaded on first use
 * only; WASM BLAKE3 (`hash-wasm`) gives the same digests where the native addon cannot load.
 * `SAM2_HASH_IMPL=wasm` or `=js` forces one implementation for everything (tests compare
 * them).
 */
import { blake3Hex } from "./blake3_js.ts";
import { importLazily } from "./lazy_import.ts";

/** Inputs up to this many bytes are hashed in TypeScript rather than by the native addon. */
export const JS_HASH_MAX = 4096;

/** `SAM2_HASH_IMPL`: "wasm" or "js" forces that implementation for every input. */
const forced = Deno.env.get("SAM2_HASH_IMPL");

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
let nativeLoaded = false;

/** Loads the fastest available BLAKE3 once per process. */
export function hasherFactory(): Promise<HasherFactory> {
  factory ??= (async (): Promise<HasherFactory> => {
    if (forced !== "wasm") {
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
  })().then((f) => {
    nativeLoaded = true;
    return f;
  });
  return factory;
}

/**
 * The hex digest of one buffer whose hashing may need the native addon loaded first: small
 * inputs are hashed at once, in TypeScript.
 */
export function hashSmall(data: Uint8Array, jsMax = JS_HASH_MAX): string | Promise<string> {
  if (forced === "js" || (data.length <= jsMax && forced !== "wasm")) return blake3Hex(data);
  return hasherFactory().then((f) => f.oneShot(data));
}

/** Until the native addon is loaded, buffers up to this size are hashed in TypeScript. */
const JS_UNLOADED_MAX = 1 << 20;

/**
 * BLAKE3 of bytes or a UTF-8 string, hex. A folder listing of a few hundred KiB is hashed in
 * TypeScript (a few ms) rather than loading the native addon just for it.
 */
export async function hashBytes(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return await hashSmall(bytes, nativeLoaded ? JS_HASH_MAX : JS_UNLOADED_MAX);
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
