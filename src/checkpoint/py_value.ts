/**
 * The decoded object tree of a checkpoint: the Python values a state-dict pickle can hold,
 * mapped onto JavaScript so the tree can be walked, edited and written back.
 *
 * | Python | here |
 * |---|---|
 * | None, bool, str | null, boolean, string |
 * | int | number (bigint when beyond 2^53) |
 * | float | number (write {@link PyFloat} to force a float for an integral value) |
 * | bytes | Uint8Array |
 * | list | Array |
 * | tuple, torch.Size | {@link PyTuple} (an Array subclass) |
 * | dict, OrderedDict | {@link PyDict} (a Map subclass; `ordered` marks OrderedDict) |
 * | torch.Tensor / Parameter | {@link HostTensor} |
 */
import type { HostTensor } from "./host_tensor.ts";

/** A dict key: Python str, int, bool, None or float keys. */
export type PyKey = string | number | bigint | boolean | null;

/**
 * A decoded tree whose tensor leaves are `T`: {@link HostTensor} once loaded
 * ({@link PyValue}), `LazyTensor` while a `.pt` file is open but not yet read.
 */
export type PyTree<T> =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyFloat
  | T
  | PyTree<T>[]
  | Map<PyKey, PyTree<T>>
  | { [key: string]: PyTree<T> };

/** Any value in a decoded checkpoint tree, with tensors loaded. */
export type PyValue = PyTree<HostTensor>;

/** A Python tuple: an Array that writes back as a tuple rather than a list. */
export class PyTuple<T = unknown> extends Array<T> {
  /** A tuple holding `items`, in order. */
  static override of<T>(...items: T[]): PyTuple<T> {
    const t = new PyTuple<T>();
    for (let i = 0; i < items.length; i++) t.push(items[i]);
    return t;
  }
}

/** A Python dict read from a checkpoint; `ordered` is true for `collections.OrderedDict`. */
export class PyDict<V = PyValue> extends Map<PyKey, V> {
  /** True for `collections.OrderedDict` (what `state_dict()` returns). */
  ordered = false;
  /**
   * Instance attributes set by the pickle's BUILD, e.g. the `_metadata` (module versions)
   * that torch attaches to every `state_dict()`; written back as they were.
   */
  attrs?: Map<string, V>;
}

/** Marks a number to be written as a Python float even when it is integral (e.g. `lr: 1.0`). */
export class PyFloat {
  constructor(readonly value: number) {}
}
