/** Anything with a `dispose()`; tensors register themselves in the innermost open scope. */
export interface Disposable_ {
  dispose(): void;
}

const stack: Set<Disposable_>[] = [];
const kept = new WeakSet<Disposable_>();
/** The open `tidyAsync` scope, if any (JS gives no per-async-task context, so only one). */
let asyncScope: Set<Disposable_> | null = null;
/** With `releaseTape`: every tensor made while the async scope is open, inner scopes included. */
let asyncMade: Disposable_[] | null = null;

/** Registers a new tensor with the innermost `tidy` scope (internal). */
export function track(t: Disposable_): void {
  asyncMade?.push(t);
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

/** Options of {@link tidyAsync}. */
export interface TidyAsyncOptions {
  /**
   * Also drop the autograd tape of every tensor created while the scope was open, including
   * those inner `tidy` scopes already disposed (what their ops saved for backward is released
   * now instead of whenever the garbage collector gets to them; a tape branch the loss does
   * not use is never released by backward). Only for scopes that ran `backward` inside, or
   * never will: a later `backward` through this scope's tensors would then fail. The scope
   * holds those tensor objects (not their buffers) until it ends. @default false
   */
  releaseTape?: boolean;
}

/** Whether a {@link tidyAsync} scope is open (e.g. a training step is running). */
export function inAsyncScope(): boolean {
  return asyncScope !== null;
}

/**
 * `tidy` for an async `fn` (a training step awaits GPU read backs): every tensor created while
 * it is open and no inner `tidy` is, whichever code creates it, is disposed when `fn` settles,
 * except what it resolves to (as `tidy` finds them; they then belong to the caller, as tensors
 * made outside any scope) and tensors marked with `keep`.
 *
 * JS has no async context isolation, so the scope cannot tell which async task made a tensor:
 * only one `tidyAsync` may be open at a time (a second, nested or concurrent, throws), and
 * nothing that creates tensors may run concurrently with it (each such tensor would be freed
 * with it). Synchronous `tidy` scopes inside it work as usual; it cannot start inside one.
 *
 * @throws {Error} when another `tidyAsync` scope is open, when called inside a synchronous
 * `tidy`, or when `fn` left a synchronous scope open (a bug: `tidy` cannot span awaits).
 *
 * @example
 * ```ts
 * const lossValue = await tidyAsync(async () => {
 *   const loss = await model.forward(batch); // awaits read backs
 *   backward(loss);
 *   optimizer.step();
 *   return await loss.item();
 * }, { releaseTape: true });
 * ```
 */
export async function tidyAsync<T>(fn: () => Promise<T>, opts: TidyAsyncOptions = {}): Promise<T> {
  if (asyncScope !== null) {
    throw new Error(
      "tidyAsync(): another async scope is already open; only one may be open at a time (JS " +
        "cannot tell concurrent async tasks apart): await the first before starting another",
    );
  }
  if (stack.length > 0) {
    // A synchronous tidy cannot span the awaits: its end would pop this scope instead.
    throw new Error(
      "tidyAsync(): called inside a synchronous tidy(); start the async scope outside it",
    );
  }
  const scope = new Set<Disposable_>();
  stack.push(scope);
  asyncScope = scope;
  const made = opts.releaseTape ? [] as Disposable_[] : null;
  asyncMade = made;
  const close = () => {
    asyncMade = null;
    const ok = stack.length === 1 && stack[0] === scope;
    stack.length = 0;
    asyncScope = null;
    if (!ok) {
      throw new Error(
        "tidyAsync(): a scope opened inside it was still open when it ended (tidy() around " +
          "an await?); the tensors of this async scope were freed",
      );
    }
  };
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    try {
      close();
    } finally {
      disposeAll(scope, new Set(), made);
    }
    throw e;
  }
  const keepSet = new Set<unknown>();
  collect(result, keepSet);
  try {
    close();
  } finally {
    disposeAll(scope, keepSet, made);
  }
  return result;
}

/** A tensor's tape entry as far as the scope needs it (avoids importing the tensor layer). */
interface WithTape {
  node?: { ctx: { release(): void } } | null;
}

function disposeAll(
  scope: Set<Disposable_>,
  keepSet: Set<unknown>,
  made: Disposable_[] | null,
): void {
  for (const t of scope) if (!keepSet.has(t)) t.dispose();
  if (!made) return;
  for (const t of made) {
    const w = t as WithTape;
    if (keepSet.has(t) || kept.has(t) || !w.node) continue;
    w.node.ctx.release();
    w.node = null;
  }
}

/** Undoes `keep`: the tensor belongs to the innermost scope again (internal to autograd). */
export function adopt<T extends Disposable_>(t: T): T {
  kept.delete(t);
  track(t);
  return t;
}
