/**
 * Reads the zip container of a `torch.save` file: the central directory first, then single
 * records on demand, so a large checkpoint is never held twice in memory. Every size and offset
 * is checked against the file before anything is allocated.
 */
import { inflateSync } from "fflate";
import type { ByteSource } from "./byte_source.ts";
import { crc32Chunks } from "./crc32.ts";
import { CheckpointError } from "./errors.ts";

/** One member of a zip archive, as the central directory describes it. */
export interface ZipEntry {
  /** Full name inside the archive, e.g. "model/data/12". */
  name: string;
  /** 0 = stored (what torch writes), 8 = deflate. */
  method: number;
  /** CRC-32 of the uncompressed bytes. */
  crc: number;
  /** Bytes stored in the file. */
  compressedSize: number;
  /** Bytes after decompression. */
  size: number;
  /** Offset of the entry's local header. */
  localHeaderOffset: number;
}

/** The central directory of an archive. */
export interface ZipDirectory {
  /** Entries by name. */
  entries: Map<string, ZipEntry>;
  /** Entry names in directory order. */
  names: string[];
  /** Where the central directory starts; member data must end before it. */
  cdStart: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;

function u64(v: DataView, at: number, src: ByteSource, what: string, base: number): number {
  const x = v.getBigUint64(at, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CheckpointError(`${what} is impossibly large (${x})`, {
      file: src.name,
      offset: base + at,
      part: "zip directory",
    });
  }
  return Number(x);
}

/**
 * Reads and checks the central directory.
 *
 * @throws {CheckpointError} when the file is not a zip archive or its directory is damaged.
 */
export async function readZipDirectory(src: ByteSource): Promise<ZipDirectory> {
  const fail = (msg: string, offset?: number): never => {
    throw new CheckpointError(msg, { file: src.name, offset, part: "zip directory" });
  };
  if (src.size < 22) fail(`File is too small (${src.size} bytes) to be a zip archive`);
  const tailLen = Math.min(src.size, 22 + 65535 + 20);
  const tailStart = src.size - tailLen;
  const tail = await src.read(tailStart, tailLen, "zip end-of-directory record");
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    fail(
      "No zip end-of-directory record: the file is truncated, or not a torch.save zip archive",
    );
  }
  const eocdAbs = tailStart + eocd;
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdStart = tv.getUint32(eocd + 16, true);
  let cdLimit = eocdAbs; // the directory must end before this
  if (eocd >= 20 && tv.getUint32(eocd - 20, true) === SIG_ZIP64_LOCATOR) {
    const z64 = u64(tv, eocd - 12, src, "zip64 record offset", tailStart);
    if (z64 + 56 > eocdAbs - 20) fail(`zip64 end record offset ${z64} is out of range`, eocdAbs);
    const rec = await src.read(z64, 56, "zip64 end-of-directory record");
    const rv = new DataView(rec.buffer, rec.byteOffset, 56);
    if (rv.getUint32(0, true) !== SIG_ZIP64_EOCD) fail("Bad zip64 end-of-directory record", z64);
    count = u64(rv, 32, src, "zip64 entry count", z64);
    cdSize = u64(rv, 40, src, "zip64 directory size", z64);
    cdStart = u64(rv, 48, src, "zip64 directory offset", z64);
    cdLimit = z64;
  }
  if (cdStart + cdSize > cdLimit) {
    fail(
      `Central directory (offset ${cdStart}, ${cdSize} bytes) runs past its end record at ` +
        `${cdLimit}: the file is truncated or corrupt`,
      eocdAbs,
    );
  }
  if (count * 46 > cdSize) fail(`Directory claims ${count} entries in ${cdSize} bytes`, eocdAbs);
  const cd = await src.read(cdStart, cdSize, "zip central directory");
  const v = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries = new Map<string, ZipEntry>();
  const names: string[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let p = 0;
  for (let k = 0; k < count; k++) {
    const at = cdStart + p;
    if (p + 46 > cdSize || v.getUint32(p, true) !== SIG_CENTRAL) {
      fail(`Bad central directory entry ${k} of ${count}`, at);
    }
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    let compressedSize = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    let localHeaderOffset = v.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > cdSize) {
      fail(`Central directory entry ${k} runs past the directory`, at);
    }
    const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = v.getUint16(e, true);
      const len = v.getUint16(e + 2, true);
      if (e + 4 + len > extraEnd) fail(`Bad extra field in entry "${name}"`, cdStart + e);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + len) fail(`Short zip64 field for ${what} of "${name}"`, cdStart + q);
          const x = u64(v, q, src, `${what} of "${name}"`, cdStart);
          q += 8;
          return x;
        };
        if (size === 0xffffffff) size = take("size");
        if (compressedSize === 0xffffffff) compressedSize = take("compressed size");
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take("offset");
      }
      e += 4 + len;
    }
    if (flags & 1) fail(`Entry "${name}" is encrypted, which torch never writes`, at);
    if (method !== 0 && method !== 8) {
      fail(`Entry "${name}" uses compression method ${method}; only stored and deflate`, at);
    }
    if (method === 0 && compressedSize !== size) {
      fail(`Stored entry "${name}" has size ${size} but ${compressedSize} stored bytes`, at);
    }
    if (localHeaderOffset + 30 + compressedSize > cdStart) {
      fail(`Entry "${name}" (offset ${localHeaderOffset}) overlaps the central directory`, at);
    }
    if (entries.has(name)) fail(`Entry "${name}" appears twice`, at);
    entries.set(name, { name, method, crc, compressedSize, size, localHeaderOffset });
    names.push(name);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return { entries, names, cdStart };
}

/** Options for {@link readZipEntry}. */
export interface ReadEntryOptions {
  /** Check the CRC-32 of the bytes against the directory. @default true */
  verifyCrc?: boolean;
}

/**
 * The bytes of one entry: its local header is read and checked, then its data.
 *
 * @throws {CheckpointError} on a damaged header, a truncated file or a CRC mismatch.
 */
export async function readZipEntry(
  src: ByteSource,
  dir: ZipDirectory,
  entry: ZipEntry,
  options: ReadEntryOptions = {},
): Promise<Uint8Array> {
  const part = `record "${entry.name}"`;
  const lh = await src.read(entry.localHeaderOffset, 30, `local header of ${part}`);
  const lv = new DataView(lh.buffer, lh.byteOffset, 30);
  if (lv.getUint32(0, true) !== SIG_LOCAL) {
    throw new CheckpointError(`Bad local header signature`, {
      file: src.name,
      offset: entry.localHeaderOffset,
      part,
    });
  }
  const dataStart = entry.localHeaderOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
  if (dataStart + entry.compressedSize > dir.cdStart) {
    throw new CheckpointError(`Data runs into the central directory`, {
      file: src.name,
      offset: dataStart,
      part,
    });
  }
  const raw = await src.read(dataStart, entry.compressedSize, part);
  let data = raw;
  if (entry.method === 8) {
    if (entry.size > 1100 * Math.max(1, entry.compressedSize)) {
      throw new CheckpointError(`Deflated size ${entry.size} is impossible for its input`, {
        file: src.name,
        offset: dataStart,
        part,
      });
    }
    try {
      // A RangeError here (the size cannot be allocated) is reported like a bad stream.
      data = inflateSync(raw, { out: new Uint8Array(entry.size) });
    } catch (e) {
      throw new CheckpointError(`Cannot inflate: ${(e as Error).message}`, {
        file: src.name,
        offset: dataStart,
        part,
      });
    }
    if (data.byteLength !== entry.size) {
      throw new CheckpointError(`Inflated to ${data.byteLength} bytes, expected ${entry.size}`, {
        file: src.name,
        offset: dataStart,
        part,
      });
    }
  }
  if (options.verifyCrc !== false) {
    const got = await crc32Chunks([data]);
    if (got !== entry.crc) {
      throw new CheckpointError(
        `CRC-32 mismatch (stored ${hex(entry.crc)}, computed ${hex(got)}): the data is ` +
          `corrupt; download or save the checkpoint again`,
        { file: src.name, offset: dataStart, part },
      );
    }
  }
  return data;
}

function hex(x: number): string {
  return "0x" + x.toString(16).padStart(8, "0");
}
