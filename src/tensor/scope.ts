/** Anything with a `dispose()`; tensors register themselves in the innermost open scope. */
export interface Disposable_ {
  dispose(): void;
}

const stack: Set<Disposable_>[] = [];
const kept = new WeakSet<Disposable_>();

/** Registers a new tensor with the innermost `tidy` scope (internal). */
export function track(t: Disposable_): void {
  if (stack.length > 0 && !kept.has(t)) stack[stack.length - 1].add(t);
}

/** Exempts a tensor from every enclosing `tidy` scope (parameters, optimiser state, caches). */
export function keep<T extends Disposable_>(t: T): T {
  kept.add(t);
  for (const s of stack) s.delete(t);
  return t;
}

function collect(v: unknown, out: Set<unknown>, depth = 0): void {
  if (v === null || typeof v !== "object" || depth > 4) return;
  if (typeof (v as Disposable_).dispose === "function") {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) { for (const x of v) collect(x, out, depth + 1); }
  else if (v instanceof Map) { for (const x of v.values()) collect(x, out, depth + 1); }
  else if (Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) collect(x, out, depth + 1);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it except those it returns (found in arrays,
 * plain objects and Maps up to depth 4) and those marked with `keep`. Returned tensors move to
 * the enclosing scope. `fn` must be synchronous (tensor ops are; only read backs are async).
 *
 * @example
 * ```ts
 * const loss = tidy(() => model.forward(x).sub(y).square().mean());
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable_>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    throw new TypeError("tidy() got an async function: only synchronous functions can be scoped");
  }
  const keepSet = new Set<unknown>();
  collect(result, keepSet);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (keepSet.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Undoes `keep`: the tensor belongs to the innermost scope again (internal to autograd). */
export function adopt<T extends Disposable_>(t: T): T {
  kept.delete(t);
  track(t);
  return t;
}
