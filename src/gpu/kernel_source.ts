/** How a kernel binds one resource (group 0, binding = position in `KernelSource.bindings`). */
export type BindingKind = "read" | "write" | "uniform";

/**
 * What a kernel generator in `src/kernels` returns: WGSL text plus the facts the launcher needs.
 * It is plain data (a renderer never sees a Tensor), so the same source can be cached, logged and
 * compiled once per process.
 */
export interface KernelSource {
  /** Pipeline label, built from the family name and every spec field, so errors name the kernel. */
  label: string;
  /** Complete WGSL module with one `@compute` entry point named `main`. */
  code: string;
  /** Resource kinds in binding order: `read` = read-only storage, `write` = read_write storage. */
  bindings: readonly BindingKind[];
  /** Workgroup size that `code` declares; the host computes the dispatch from it. */
  workgroupSize: readonly [number, number, number];
}

/** Key under which a compiled pipeline is cached: the generated source and its layout. */
export function kernelCacheKey(k: KernelSource): string {
  return `${k.bindings.join(",")}\n${k.code}`;
}

const memo = new Map<string, KernelSource>();

/**
 * Returns the cached KernelSource for `key` or builds it once. Generators wrap their body in it
 * (key = every spec field), so a launch costs a map lookup instead of regenerating WGSL and
 * hashing it; the runtime then finds the pipeline by object identity.
 */
export function memoKernel(key: string, build: () => KernelSource): KernelSource {
  let k = memo.get(key);
  if (!k) memo.set(key, k = build());
  return k;
}
