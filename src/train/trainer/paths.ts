/** Paths in a training config are relative to where the user started the command. */
import { isAbsolute, resolve } from "node:path";

/** `p` made absolute against `cwd` (default: the process's working folder). */
export function resolvePath(p: string, cwd?: string): string {
  return isAbsolute(p) ? p : resolve(cwd ?? Deno.cwd(), p);
}
