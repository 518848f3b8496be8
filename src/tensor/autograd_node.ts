import type { OpContext, OpDef } from "./op.ts";
import type { Tensor } from "./tensor.ts";

/** One tape entry: the op that produced a tensor, its inputs and what its backward saved. */
export interface Node {
  // deno-lint-ignore no-explicit-any
  op: OpDef<any>;
  inputs: readonly Tensor[];
  ctx: OpContext;
  attrs: unknown;
}
