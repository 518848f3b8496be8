/**
 * Which form the row-wise normalisation and reduction kernels (layer norm, LayerNorm2d, softmax,
 * reductions) take on an adapter.
 *
 * - "workgroup": many invocations share a row and combine their partial results in workgroup
 *   memory with barriers; right for real GPUs (thousands of lanes, cheap shared memory).
 * - "lane": 8-invocation workgroups (one SIMD-8 batch on llvmpipe) where each invocation owns a
 *   whole row, keeps its partial sums in registers and loads vec4s where the layout allows; no
 *   workgroup memory or barriers. On lavapipe every buffer load is a per-lane scalar loop and
 *   barriers are costly, so this form wins there.
 */
export type ReduceForm = "workgroup" | "lane";

let forced: ReduceForm | null = null;

/**
 * The form for an adapter (`cpuAdapter` = a CPU implementation such as lavapipe), unless a test
 * forced one with `forceReduceForm` (so both forms run on whatever adapter the suite has).
 */
export function reduceFormFor(cpuAdapter: boolean): ReduceForm {
  return forced ?? (cpuAdapter ? "lane" : "workgroup");
}

/** Forces every later launch to `form` (null: back to the per-adapter choice). For tests. */
export function forceReduceForm(form: ReduceForm | null): void {
  forced = form;
}

/** Invocations per workgroup of the lane form. */
export const LANE_WG = 8;

/** Workgroups of a lane-form launch over `items` (2-D when above 65535 workgroups). */
export function laneWorkgroups(items: number): [number, number] {
  const groups = Math.max(1, Math.ceil(items / LANE_WG));
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

/** Longest loop one lavapipe invocation runs (llvmpipe stops loops after 65,535 iterations). */
export const LANE_MAX_LOOP = 65535;
