/**
 * Minimal assertions for the test suites (JSR's `@std/assert` is not reachable from our
 * machines). Failures name both sides.
 */

export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Fails unless `cond` is truthy. */
export function assert(cond: unknown, msg = "Assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/** Structural deep equality, for plain data (objects, arrays, typed arrays, primitives). */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}values are not equal:\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/** Fails when the two values are deeply equal. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (deepEqual(actual, expected)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}values are equal: ${show(actual)}`);
  }
}

/** Fails unless |actual - expected| <= tol. */
export function assertAlmostEquals(actual: number, expected: number, tol = 1e-7, msg?: string) {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}${actual} is not within ${tol} of ${expected}`,
    );
  }
}

/** Fails unless `s` contains `part`. */
export function assertStringIncludes(s: string, part: string, msg?: string): void {
  if (!s.includes(part)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}expected ${show(s)} to include ${show(part)}`,
    );
  }
}

/** Fails unless `s` matches `re`. */
export function assertMatch(s: string, re: RegExp, msg?: string): void {
  if (!re.test(s)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}expected ${show(s)} to match ${re}`);
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

/** Runs `fn`, expects it to throw (an instance of `cls`, with `includes` in its message). */
export function assertThrows(fn: () => unknown, cls?: ErrorClass, includes?: string): Error {
  try {
    fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new AssertionError("Expected function to throw");
}

/** Awaits `fn`, expects it to reject (an instance of `cls`, with `includes` in its message). */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new AssertionError("Expected promise to reject");
}

function checkError(e: unknown, cls?: ErrorClass, includes?: string): Error {
  if (!(e instanceof Error)) throw new AssertionError(`Thrown value is not an Error: ${show(e)}`);
  const got = `${e.name}: ${e.message}`;
  if (cls && !(e instanceof cls)) {
    throw new AssertionError(`Expected error of class ${cls.name}, got ${got}`);
  }
  if (includes !== undefined && !e.message.includes(includes)) {
    throw new AssertionError(`Expected error message to include ${show(includes)}: ${e.message}`);
  }
  return e;
}

/**
 * Elementwise closeness for numeric arrays: |a-b| <= atol + rtol*|b|. On failure names the
 * worst index and both values.
 */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-5, rtol = 1e-5, msg = "" }: { atol?: number; rtol?: number; msg?: string } = {},
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError(
      `${msg} length mismatch: ours=${actual.length} | ref=${expected.length}`,
    );
  }
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], b = expected[i];
    const excess = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (Number.isNaN(a) !== Number.isNaN(b) || excess > worstExcess) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
      if (!Number.isFinite(worstExcess)) break;
    }
  }
  if (worst >= 0) {
    throw new AssertionError(
      `${msg} not close at index ${worst}: ours=${actual[worst]} | ref=${
        expected[worst]
      } (atol ${atol}, rtol ${rtol})`,
    );
  }
}

function show(v: unknown): string {
  try {
    return Deno.inspect(v, { depth: 4, iterableLimit: 20 });
  } catch {
    return String(v);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (a.constructor !== b.constructor || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const v of a) if (!b.has(v)) return false;
    return true;
  }
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false;
    }
  }
  return true;
}
