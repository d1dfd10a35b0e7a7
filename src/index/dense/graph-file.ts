import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

/**
 * The dense HNSW graph saved next to a collection's segments, so that opening a collection loads
 * the graph instead of inserting every vector again (index-format/README.md, "Dense graph file").
 *
 *   | usearch serialization (payloadLength bytes) | footer (48 bytes) |
 *
 * The payload is whatever usearch's save() writes (it reads its own header and ignores what
 * follows); the footer says what the graph was built with and which documents it covers, and
 * checksums both parts. The file is a cache of what SQLite holds: one that is missing, damaged or
 * built with other settings is rebuilt, never trusted.
 */
export const GRAPH_MAGIC = Buffer.from([0x89, 0x53, 0x50, 0x52, 0x57, 0x48, 0x4e, 0x53]); // "\x89SPRWHNS"
export const GRAPH_FORMAT_VERSION = 1;
export const GRAPH_FOOTER_BYTES = 48;

/** What the graph was built with: a file whose settings differ from the collection's is stale. */
export interface GraphSettings {
  readonly dimension: number;
  readonly metric: 'cosine' | 'dot';
  readonly quantization: 'f32' | 'f16' | 'i8';
  readonly connectivity: number;
}

export interface GraphFooter extends GraphSettings {
  /**
   * Which collection the graph belongs to (a checksum of its id, name and creation time; 0 when
   * not given): a file left by a deleted collection whose id was reused is not taken for its own.
   */
  readonly owner: number;
  readonly payloadLength: number;
  /** Vectors in the graph when it was saved. */
  readonly size: number;
  /** Every live document numbered below this was in the graph when it was saved. */
  readonly coversBelow: number;
}

export type GraphFileProblem = 'missing' | 'truncated' | 'bad-magic' | 'unknown-version' | 'checksum' | 'settings' | 'owner';

export class GraphFileError extends Error {
  constructor(
    readonly problem: GraphFileProblem,
    message: string,
  ) {
    super(message);
  }
}

const METRIC_CODES = { cosine: 1, dot: 2 } as const;
const QUANTIZATION_CODES = { f32: 1, f16: 2, i8: 3 } as const;

function encodeFooter(footer: GraphFooter, payloadCrc: number): Buffer {
  const bytes = Buffer.alloc(GRAPH_FOOTER_BYTES);
  GRAPH_MAGIC.copy(bytes, 0);
  bytes.writeUInt32LE(GRAPH_FORMAT_VERSION, 8);
  bytes.writeUInt32LE(footer.dimension, 12);
  bytes.writeBigUInt64LE(BigInt(footer.payloadLength), 16);
  bytes.writeUInt32LE(footer.size, 24);
  bytes.writeUInt32LE(footer.coversBelow, 28);
  bytes.writeUInt8(METRIC_CODES[footer.metric], 32);
  bytes.writeUInt8(QUANTIZATION_CODES[footer.quantization], 33);
  bytes.writeUInt16LE(footer.connectivity, 34);
  bytes.writeUInt32LE(payloadCrc, 36);
  bytes.writeUInt32LE(footer.owner >>> 0, 40);
  bytes.writeUInt32LE(crc32(bytes.subarray(0, 44)), 44);
  return bytes;
}

function decodeFooter(bytes: Buffer, file: string): { footer: GraphFooter; payloadCrc: number } {
  if (!bytes.subarray(0, 8).equals(GRAPH_MAGIC)) throw new GraphFileError('bad-magic', `${file} does not end in a dense graph footer`);
  if (crc32(bytes.subarray(0, 44)) !== bytes.readUInt32LE(44)) throw new GraphFileError('checksum', `${file}: the footer's checksum does not match`);
  const version = bytes.readUInt32LE(8);
  if (version !== GRAPH_FORMAT_VERSION) throw new GraphFileError('unknown-version', `${file} has format version ${version}; this sparrow reads ${GRAPH_FORMAT_VERSION}`);
  const metric = (Object.keys(METRIC_CODES) as (keyof typeof METRIC_CODES)[]).find((name) => METRIC_CODES[name] === bytes.readUInt8(32));
  const quantization = (Object.keys(QUANTIZATION_CODES) as (keyof typeof QUANTIZATION_CODES)[]).find((name) => QUANTIZATION_CODES[name] === bytes.readUInt8(33));
  if (!metric || !quantization) throw new GraphFileError('unknown-version', `${file} has settings codes this sparrow does not know`);
  return {
    footer: {
      dimension: bytes.readUInt32LE(12),
      payloadLength: Number(bytes.readBigUInt64LE(16)),
      size: bytes.readUInt32LE(24),
      coversBelow: bytes.readUInt32LE(28),
      metric,
      quantization,
      connectivity: bytes.readUInt16LE(34),
      owner: bytes.readUInt32LE(40),
    },
    payloadCrc: bytes.readUInt32LE(36),
  };
}

/** CRC-32 of bytes [0, length) of an open file, read in 8 MiB pieces. */
function fileCrc(fd: number, length: number): number {
  const piece = Buffer.allocUnsafe(Math.min(length, 8 << 20));
  let crc = 0;
  for (let at = 0; at < length; ) {
    const read = fs.readSync(fd, piece, 0, Math.min(piece.length, length - at), at);
    if (read === 0) throw new GraphFileError('truncated', 'the file ended early');
    crc = crc32(piece.subarray(0, read), crc);
    at += read;
  }
  return crc;
}

/**
 * Writes a graph file atomically: savePayload writes usearch's bytes to a temporary file, the
 * footer is appended, the file is fsynced and renamed over `file`.
 */
export function writeGraphFile(file: string, footer: Omit<GraphFooter, 'payloadLength'>, savePayload: (temporary: string) => void): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  removeDeadTemporaries(file);
  try {
    savePayload(temporary);
    const fd = fs.openSync(temporary, 'r+');
    try {
      const payloadLength = fs.fstatSync(fd).size;
      const bytes = encodeFooter({ ...footer, payloadLength }, fileCrc(fd, payloadLength));
      fs.writeSync(fd, bytes, 0, bytes.length, payloadLength);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * Checks a graph file (footer, both checksums, settings) and returns its footer; the caller then
 * hands the file to usearch's load(). Throws GraphFileError saying what is wrong.
 */
export function checkGraphFile(file: string, expected: GraphSettings, owner = 0): GraphFooter {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    throw new GraphFileError('missing', `${file} does not exist`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < GRAPH_FOOTER_BYTES) throw new GraphFileError('truncated', `${file} is ${size} bytes, shorter than a footer`);
    const bytes = Buffer.alloc(GRAPH_FOOTER_BYTES);
    fs.readSync(fd, bytes, 0, GRAPH_FOOTER_BYTES, size - GRAPH_FOOTER_BYTES);
    const { footer, payloadCrc } = decodeFooter(bytes, file);
    if (footer.payloadLength !== size - GRAPH_FOOTER_BYTES) throw new GraphFileError('truncated', `${file}: the footer names ${footer.payloadLength} payload bytes, the file holds ${size - GRAPH_FOOTER_BYTES}`);
    for (const key of ['dimension', 'metric', 'quantization', 'connectivity'] as const) {
      if (footer[key] !== expected[key]) throw new GraphFileError('settings', `${file} was built with ${key} ${footer[key]}, the collection has ${expected[key]}`);
    }
    if (footer.owner !== owner >>> 0) throw new GraphFileError('owner', `${file} belongs to another collection (owner ${footer.owner}, this one is ${owner >>> 0})`);
    if (fileCrc(fd, footer.payloadLength) !== payloadCrc) throw new GraphFileError('checksum', `${file}: the graph's checksum does not match`);
    return footer;
  } finally {
    fs.closeSync(fd);
  }
}

/** The dimension a graph file's footer records, without checking the rest (undefined if unreadable). */
export function graphFileDimension(file: string): number | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size < GRAPH_FOOTER_BYTES) return undefined;
      const bytes = Buffer.alloc(GRAPH_FOOTER_BYTES);
      fs.readSync(fd, bytes, 0, GRAPH_FOOTER_BYTES, size - GRAPH_FOOTER_BYTES);
      return decodeFooter(bytes, file).footer.dimension;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** Temporary files of `file` left by processes that died while saving (a live one's is kept). */
function removeDeadTemporaries(file: string): void {
  const prefix = `.${path.basename(file)}.`;
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    const match = name.startsWith(prefix) ? /^(\d+)\.tmp$/.exec(name.slice(prefix.length)) : null;
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid !== process.pid && processAlive(pid)) continue;
    fs.rmSync(path.join(path.dirname(file), name), { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}
