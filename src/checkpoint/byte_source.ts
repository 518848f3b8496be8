/**
 * Random access to the bytes of a checkpoint, so readers take only the parts they need
 * (directory, pickle, one tensor at a time) instead of holding a whole multi-GB file in memory.
 */
import { CheckpointError } from "./errors.ts";

/** Random-access bytes with a known size; a file or an in-memory buffer. */
export interface ByteSource {
  /** The file name used in error messages. */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Exactly `length` bytes at `offset`.
   *
   * @throws {CheckpointError} when the range runs past the end (`what` says what was read).
   */
  read(offset: number, length: number, what: string): Promise<Uint8Array>;
  /** Releases the file handle, if any. */
  close(): void;
}

function checkRange(src: ByteSource, offset: number, length: number, what: string): void {
  if (
    !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
    offset + length > src.size
  ) {
    throw new CheckpointError(
      `File is truncated or corrupt: ${what} needs bytes ${offset}..${offset + length} but the ` +
        `file has ${src.size} bytes; download or save it again`,
      { file: src.name, offset },
    );
  }
}

/** A {@link ByteSource} over an in-memory buffer (tests, small files); reads are zero-copy. */
export class MemorySource implements ByteSource {
  readonly size: number;
  constructor(readonly bytes: Uint8Array, readonly name = "<memory>") {
    this.size = bytes.byteLength;
  }
  read(offset: number, length: number, what: string): Promise<Uint8Array> {
    checkRange(this, offset, length, what);
    return Promise.resolve(this.bytes.subarray(offset, offset + length));
  }
  close(): void {}
}

/** A {@link ByteSource} over an open file, read with seek + read (no mmap). */
export class FileSource implements ByteSource {
  private constructor(
    private readonly file: Deno.FsFile,
    readonly name: string,
    readonly size: number,
  ) {}

  /** Opens `path` for reading. */
  static async open(path: string): Promise<FileSource> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new CheckpointError(`Checkpoint not found: check the path`, { file: path });
      }
      throw new CheckpointError(`Cannot open checkpoint: ${(e as Error).message}`, {
        file: path,
      }, { cause: e });
    }
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      throw new CheckpointError(`Not a file`, { file: path });
    }
    return new FileSource(file, path, info.size);
  }

  /** Reads are chained: a seek and its read must not interleave with another read's. */
  private queue: Promise<unknown> = Promise.resolve();

  read(offset: number, length: number, what: string): Promise<Uint8Array> {
    checkRange(this, offset, length, what);
    const next = this.queue.then(() => this.readNow(offset, length, what));
    this.queue = next.catch(() => {});
    return next;
  }

  private async readNow(offset: number, length: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.file.seek(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < length) {
      const n = await this.file.read(out.subarray(got));
      if (n === null) {
        throw new CheckpointError(`File ended early while reading ${what}`, {
          file: this.name,
          offset: offset + got,
        });
      }
      got += n;
    }
    return out;
  }

  close(): void {
    try {
      this.file.close();
    } catch {
      // already closed
    }
  }
}
