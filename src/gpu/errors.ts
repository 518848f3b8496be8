/** Raised when no WebGPU adapter exists; the message names what to install. */
export class GpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GpuUnavailableError";
  }
}

/**
 * A validation, out-of-memory or internal error reported by the device, or device loss. `ops`
 * lists the kernel labels that were encoded in the failing submission (one label when
 * `setGpuDebug(true)` submits each op on its own).
 */
export class GpuError extends Error {
  /** Kernel labels of the submission that failed. */
  readonly ops: readonly string[];
  constructor(message: string, ops: readonly string[]) {
    const shown = ops.length <= 8 ? ops.join(", ") : `${ops.slice(0, 8).join(", ")}, ...`;
    super(`${message} (in ${ops.length === 1 ? "op" : "ops"}: ${shown || "none"})`);
    this.name = "GpuError";
    this.ops = ops;
  }
}
