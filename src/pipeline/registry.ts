import type { StageKind } from "./kind.ts";

/** Named stage kinds available to `uses:`; third-party kinds register the same way. */
export class KindRegistry {
  readonly #kinds = new Map<string, StageKind<unknown>>();

  /** Adds a kind; a second kind with the same name is an error. */
  register<P>(kind: StageKind<P>): this {
    if (this.#kinds.has(kind.name)) {
      throw new Error(`Stage kind "${kind.name}" is already registered`);
    }
    if (kind.name === "run") throw new Error(`"run" is reserved for shell-command stages`);
    this.#kinds.set(kind.name, kind as StageKind<unknown>);
    return this;
  }

  /** The kind named `name`, if registered. */
  get(name: string): StageKind<unknown> | undefined {
    return this.#kinds.get(name);
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.#kinds.keys()].sort();
  }

  /** All kinds, sorted by name. */
  all(): StageKind<unknown>[] {
    return this.names().map((n) => this.#kinds.get(n)!);
  }
}
