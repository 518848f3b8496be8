/**
 * The one error class of the checkpoint layer: every broken, truncated, unsafe or mismatched
 * checkpoint ends in a `CheckpointError` that names the file and, where it is known, the byte
 * offset, so a user can tell a corrupt download from a wrong key.
 */

/** Details carried by a {@link CheckpointError}. */
export interface CheckpointErrorInfo {
  /** The file (or a label for an in-memory buffer) the problem is in. */
  file?: string;
  /** Byte offset in the file (or in the named record) where the problem was found. */
  offset?: number;
  /** Which part of the file: "zip central directory", "data.pkl", "record model/data/3", ... */
  part?: string;
}

/** A checkpoint could not be read, written or applied; the message says what, where and why. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
  /** The file the problem is in, when known. */
  readonly file?: string;
  /** Byte offset of the problem, when known. */
  readonly offset?: number;
  /** Which part of the file, when known. */
  readonly part?: string;

  constructor(message: string, info: CheckpointErrorInfo = {}, options?: ErrorOptions) {
    const where = [
      info.file,
      info.part,
      info.offset !== undefined ? `byte ${info.offset}` : undefined,
    ].filter((x) => x !== undefined).join(", ");
    super(where ? `${where}: ${message}` : message, options);
    this.file = info.file;
    this.offset = info.offset;
    this.part = info.part;
  }
}

/** A pickle asked for a global that is not on the allow-list; the file would have run code. */
export class UnsafePickleError extends CheckpointError {
  override name = "UnsafePickleError";
  /** The refused global, as "module.name". */
  readonly global: string;

  constructor(global: string, info: CheckpointErrorInfo = {}) {
    super(
      `Refusing to load global '${global}': only the tensor and container types a ` +
        `checkpoint needs are allowed, so a checkpoint cannot run code`,
      info,
    );
    this.global = global;
  }
}
