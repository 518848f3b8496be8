/**
 * Writes a zip archive the way torch's PyTorchStreamWriter does: every member STORED, each
 * member's data aligned to 64 bytes with an "FB" padding extra field, zip64 records when
 * sizes or offsets pass 4 GiB. Members are streamed to the file one by one.
 */
import { crc32Chunks } from "./crc32.ts";

const ALIGN = 64;
const U32_MAX = 0xffffffff;

interface Written {
  name: Uint8Array;
  crc: number;
  size: number;
  offset: number;
}

/** Options for {@link ZipWriter}. */
export interface ZipWriterOptions {
  /** Write zip64 records even for small archives (used by tests). @default false */
  forceZip64?: boolean;
}

/** Streams STORED members into an open file. */
export class ZipWriter {
  private offset = 0;
  private readonly entries: Written[] = [];
  private readonly force64: boolean;

  /** `sink` receives the archive's bytes in order (a file writer, or a memory buffer). */
  constructor(
    private readonly sink: (bytes: Uint8Array) => Promise<void>,
    options: ZipWriterOptions = {},
  ) {
    this.force64 = options.forceZip64 === true;
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.offset;
  }

  private async put(bytes: Uint8Array): Promise<void> {
    await this.sink(bytes);
    this.offset += bytes.byteLength;
  }

  /** Appends one member; `data` may be given in chunks. */
  async add(name: string, data: Uint8Array | Uint8Array[]): Promise<void> {
    const chunks = Array.isArray(data) ? data : [data];
    const crc = await crc32Chunks(chunks);
    let size = 0;
    for (const c of chunks) size += c.byteLength;
    const nameBytes = new TextEncoder().encode(name);
    const zip64 = this.force64 || size >= U32_MAX || this.offset >= U32_MAX;
    const z64Len = zip64 ? 4 + 16 : 0;
    const start = this.offset + 30 + nameBytes.length + z64Len + 4;
    const pad = (ALIGN - (start % ALIGN)) % ALIGN;
    const extraLen = z64Len + 4 + pad;
    const header = new Uint8Array(30 + nameBytes.length + extraLen);
    const v = new DataView(header.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(4, zip64 ? 45 : 20, true);
    v.setUint16(6, 0, true); // flags
    v.setUint16(8, 0, true); // stored
    v.setUint16(10, 0, true); // time
    v.setUint16(12, 0x21, true); // date 1980-01-01
    v.setUint32(14, crc, true);
    v.setUint32(18, zip64 ? U32_MAX : size, true);
    v.setUint32(22, zip64 ? U32_MAX : size, true);
    v.setUint16(26, nameBytes.length, true);
    v.setUint16(28, extraLen, true);
    header.set(nameBytes, 30);
    let e = 30 + nameBytes.length;
    if (zip64) {
      v.setUint16(e, 0x0001, true);
      v.setUint16(e + 2, 16, true);
      v.setBigUint64(e + 4, BigInt(size), true);
      v.setBigUint64(e + 12, BigInt(size), true);
      e += 20;
    }
    v.setUint16(e, 0x4246, true); // "FB": torch's padding field
    v.setUint16(e + 2, pad, true);
    header.fill(0x5a, e + 4); // 'Z'
    const offset = this.offset;
    await this.put(header);
    for (const c of chunks) await this.put(c);
    this.entries.push({ name: nameBytes, crc, size, offset });
  }

  /** Writes the central directory and the end records. */
  async finish(): Promise<void> {
    const cdStart = this.offset;
    const parts: Uint8Array[] = [];
    let any64 = this.force64 || this.entries.length >= 0xffff;
    for (const en of this.entries) {
      const needSize = this.force64 || en.size >= U32_MAX;
      const needOff = this.force64 || en.offset >= U32_MAX;
      const z64 = (needSize ? 16 : 0) + (needOff ? 8 : 0);
      any64 ||= z64 > 0;
      const rec = new Uint8Array(46 + en.name.length + (z64 ? 4 + z64 : 0));
      const v = new DataView(rec.buffer);
      v.setUint32(0, 0x02014b50, true);
      v.setUint16(4, z64 ? 45 : 20, true);
      v.setUint16(6, z64 ? 45 : 20, true);
      v.setUint16(8, 0, true);
      v.setUint16(10, 0, true);
      v.setUint16(12, 0, true);
      v.setUint16(14, 0x21, true);
      v.setUint32(16, en.crc, true);
      v.setUint32(20, needSize ? U32_MAX : en.size, true);
      v.setUint32(24, needSize ? U32_MAX : en.size, true);
      v.setUint16(28, en.name.length, true);
      v.setUint16(30, z64 ? 4 + z64 : 0, true);
      v.setUint32(42, needOff ? U32_MAX : en.offset, true);
      rec.set(en.name, 46);
      if (z64) {
        let q = 46 + en.name.length;
        v.setUint16(q, 0x0001, true);
        v.setUint16(q + 2, z64, true);
        q += 4;
        if (needSize) {
          v.setBigUint64(q, BigInt(en.size), true);
          v.setBigUint64(q + 8, BigInt(en.size), true);
          q += 16;
        }
        if (needOff) v.setBigUint64(q, BigInt(en.offset), true);
      }
      parts.push(rec);
    }
    for (const p of parts) await this.put(p);
    const cdSize = this.offset - cdStart;
    any64 ||= cdStart >= U32_MAX || cdSize >= U32_MAX;
    const count = this.entries.length;
    if (any64) {
      const z = new Uint8Array(56 + 20);
      const v = new DataView(z.buffer);
      const at = this.offset;
      v.setUint32(0, 0x06064b50, true);
      v.setBigUint64(4, 44n, true);
      v.setUint16(12, 45, true);
      v.setUint16(14, 45, true);
      v.setBigUint64(24, BigInt(count), true);
      v.setBigUint64(32, BigInt(count), true);
      v.setBigUint64(40, BigInt(cdSize), true);
      v.setBigUint64(48, BigInt(cdStart), true);
      v.setUint32(56, 0x07064b50, true);
      v.setBigUint64(64, BigInt(at), true);
      v.setUint32(72, 1, true);
      await this.put(z);
    }
    const end = new Uint8Array(22);
    const v = new DataView(end.buffer);
    v.setUint32(0, 0x06054b50, true);
    v.setUint16(8, any64 ? 0xffff : count, true);
    v.setUint16(10, any64 ? 0xffff : count, true);
    v.setUint32(12, any64 ? U32_MAX : cdSize, true);
    v.setUint32(16, any64 ? U32_MAX : cdStart, true);
    await this.put(end);
  }
}
