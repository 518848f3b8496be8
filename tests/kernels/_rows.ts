/**
 * Helpers of the row-kernel tests (layer norm, softmax, reductions): run a computation under
 * each kernel form (`forceReduceForm`), so both the CPU-adapter and the GPU form are checked on
 * whatever adapter runs the suite.
 */
import { forceReduceForm, type ReduceForm } from "../../src/kernels/reduce_form.ts";

/** Both forms, the GPU one first. */
export const FORMS: readonly ReduceForm[] = ["workgroup", "lane"];

/** Runs `fn` with every launch forced to `form`; the per-adapter choice is restored after. */
export async function withForm<T>(form: ReduceForm, fn: () => Promise<T>): Promise<T> {
  forceReduceForm(form);
  try {
    return await fn();
  } finally {
    forceReduceForm(null);
  }
}
