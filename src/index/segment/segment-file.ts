import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { validateIndexData, indexArrays, type SeismicIndexData } from '../seismic/index-data.js';
import type { SeismicBuildParams } from '../seismic/params.js';
import { SegmentFormatError } from './errors.js';

/*
 * Segment file format, versions 1 and 2 (2 is written). index-format/README.md is the specification; the constants and
 * the section table below must stay in step with it, and files once written must read forever.
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type SegmentMetadata = { readonly [key: string]: JsonValue };

/** Everything one segment file holds. */
export interface SegmentContents {
  readonly index: SeismicIndexData;
  /** Segment row (the index's document number) -> the collection's global doc number, strictly ascending. */
  readonly docNumbers: Uint32Array;
  /** Small JSON object: segment id, creation time, scoring model and its frozen statistics, ... */
  readonly metadata: SegmentMetadata;
  /**
   * The kNN graph (format version 2): row d's nearest rows by dot product are entries
   * d × κ .. (d + 1) × κ, best first, κ = length / docCount; NO_NEIGHBOR pads a row with fewer.
   * Absent or empty: no graph.
   */
  readonly knnNeighbors?: Uint32Array;
}

/** Padding of a kNN row with fewer than κ neighbours. */
export const NO_NEIGHBOR = 0xffffffff;

/** 'f16' is half-precision bits read as a Uint16Array; 'json' is UTF-8 text. */
export type SegmentElementType = 'u8' | 'u16' | 'u32' | 'f32' | 'f16' | 'json';

export interface SegmentSectionInfo {
  readonly id: number;
  readonly name: string;
  readonly elementType: SegmentElementType;
  /** From the start of the file; always a multiple of 8. */
  readonly offset: number;
  readonly byteLength: number;
  readonly crc32: number;
}

/** Where everything lies in a segment file, as its footer and directory describe it. */
export interface SegmentLayout {
  readonly formatVersion: number;
  readonly byteLength: number;
  readonly headerCrc32: number;
  readonly directoryOffset: number;
  readonly directoryByteLength: number;
  readonly directoryCrc32: number;
  readonly footerOffset: number;
  /** In file order. */
  readonly sections: readonly SegmentSectionInfo[];
}

export interface SegmentFileInfo extends SegmentLayout {
  /** Absolute path of the file now in place. */
  readonly path: string;
}

/** The version this code writes. */
export const SEGMENT_FORMAT_VERSION = 2;
/** Every version this code reads: a version once released stays readable. */
export const READABLE_SEGMENT_VERSIONS: readonly number[] = Object.freeze([1, 2]);

const SEGMENT_HEADER_MAGIC = Uint8Array.of(0x89, 0x53, 0x50, 0x52, 0x57, 0x53, 0x45, 0x47); // "\x89SPRWSEG"
const SEGMENT_FOOTER_MAGIC = Uint8Array.of(0x53, 0x50, 0x52, 0x57, 0x45, 0x4e, 0x44, 0x0a); // "SPRWEND\n"
const ENDIANNESS_MARKER = 0x01020304;
const BYTE_SWAPPED_MARKER = 0x04030201;
export const SEGMENT_HEADER_BYTES = 32;
export const SEGMENT_FOOTER_BYTES = 48;
const DIRECTORY_PREFIX_BYTES = 8;
const DIRECTORY_ENTRY_BYTES = 32;
const ALIGNMENT = 8;
const MIN_FILE_BYTES = SEGMENT_HEADER_BYTES + DIRECTORY_PREFIX_BYTES + SEGMENT_FOOTER_BYTES;
/** Single read/write/crc calls stay well under the 2 GiB limit of one I/O call. */
const MAX_IO_BYTES = 1 << 30;

const ELEMENT_TYPE_CODES: Readonly<Record<SegmentElementType, number>> = { u8: 1, u16: 2, u32: 3, f32: 4, f16: 5, json: 6 };
const ELEMENT_TYPES_BY_CODE: readonly (SegmentElementType | undefined)[] = [undefined, 'u8', 'u16', 'u32', 'f32', 'f16', 'json'];
const ELEMENT_BYTES: Readonly<Record<SegmentElementType, number>> = { u8: 1, u16: 2, u32: 4, f32: 4, f16: 2, json: 1 };

type IndexArrayName =
  | 'forwardIndptr'
  | 'forwardTerms'
  | 'forwardValues'
  | 'forwardScales'
  | 'forwardOffsets'
  | 'listBlockStart'
  | 'blockDocStart'
  | 'postingDocs'
  | 'summaryStart'
  | 'summaryTerms'
  | 'summaryValues'
  | 'summaryScale'
  | 'summaryOffset';

type SectionName = 'metadata' | 'index' | 'docNumbers' | IndexArrayName | 'knnNeighbors';

export interface SegmentSectionSpec {
  readonly id: number;
  readonly name: SectionName;
  readonly elementTypes: readonly SegmentElementType[];
  /** The first format version with this section (1 when absent). */
  readonly since?: number;
}

/**
 * Every section of the current version. Ids are permanent; a file of version v holds exactly the
 * sections with since <= v, each once.
 */
export const SEGMENT_SECTIONS: readonly SegmentSectionSpec[] = Object.freeze(([
  { id: 1, name: 'metadata', elementTypes: ['json'] },
  { id: 2, name: 'index', elementTypes: ['json'] },
  { id: 3, name: 'docNumbers', elementTypes: ['u32'] },
  { id: 4, name: 'forwardIndptr', elementTypes: ['u32'] },
  { id: 5, name: 'forwardTerms', elementTypes: ['u16', 'u32'] },
  { id: 6, name: 'forwardValues', elementTypes: ['f32', 'f16', 'u8'] },
  { id: 7, name: 'forwardScales', elementTypes: ['f32'] },
  { id: 8, name: 'forwardOffsets', elementTypes: ['f32'] },
  { id: 9, name: 'listBlockStart', elementTypes: ['u32'] },
  { id: 10, name: 'blockDocStart', elementTypes: ['u32'] },
  { id: 11, name: 'postingDocs', elementTypes: ['u32'] },
  { id: 12, name: 'summaryStart', elementTypes: ['u32'] },
  { id: 13, name: 'summaryTerms', elementTypes: ['u16', 'u32'] },
  { id: 14, name: 'summaryValues', elementTypes: ['u8'] },
  { id: 15, name: 'summaryScale', elementTypes: ['f32'] },
  { id: 16, name: 'summaryOffset', elementTypes: ['f32'] },
  { id: 17, name: 'knnNeighbors', elementTypes: ['u32'], since: 2 },
] satisfies SegmentSectionSpec[]).map((spec) => Object.freeze({ ...spec, elementTypes: Object.freeze(spec.elementTypes) })));

const SECTIONS_BY_ID = new Map(SEGMENT_SECTIONS.map((spec) => [spec.id, spec]));
const INDEX_ARRAY_NAMES = SEGMENT_SECTIONS.filter((spec) => spec.id >= 4 && spec.id <= 16).map((spec) => spec.name as IndexArrayName);

/** The sections a file of this format version holds. */
export function sectionsOfVersion(version: number): readonly SegmentSectionSpec[] {
  return SEGMENT_SECTIONS.filter((spec) => (spec.since ?? 1) <= version);
}

/** The scalar fields of SeismicIndexData: the keys of the `index` JSON section, in this order. */
const INDEX_SCALAR_NAMES = ['formatVersion', 'docCount', 'dim', 'params'] as const;
type IndexScalarName = (typeof INDEX_SCALAR_NAMES)[number];

/**
 * Every field of SeismicIndexData has its place in the file (a section or a key of `index`), and
 * nothing else does: this stops compiling when the interface gains, loses or renames a field.
 */
type SameKeys<A extends PropertyKey, B extends PropertyKey> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies SameKeys<IndexArrayName | IndexScalarName, keyof SeismicIndexData>;

const hostIsLittleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const zeroPadding = new Uint8Array(ALIGNMENT);

function alignUp(offset: number): number {
  return Math.ceil(offset / ALIGNMENT) * ALIGNMENT;
}

/** CRC-32/ISO-HDLC (zlib's), fed in slices so multi-gigabyte sections stay within one call's limit. */
function crc32Of(bytes: Uint8Array): number {
  let crc = 0;
  for (let start = 0; start < bytes.byteLength; start += MAX_IO_BYTES) {
    crc = zlib.crc32(bytes.subarray(start, Math.min(bytes.byteLength, start + MAX_IO_BYTES)), crc);
  }
  return crc >>> 0;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function requireLittleEndianHost(): void {
  if (!hostIsLittleEndian) {
    throw new SegmentFormatError('SEGMENT_UNSUPPORTED_PLATFORM', 'segment files are little-endian and are mapped without byte swapping; this host is big-endian');
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

function invalid(message: string, cause?: unknown): never {
  throw new SegmentFormatError('SEGMENT_INVALID_CONTENTS', message, { cause });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** JSON.stringify silently drops or rewrites what JSON cannot hold; refuse it instead. */
function checkJsonSafe(value: unknown, where: string): void {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) invalid(`${where} is ${value}, which JSON cannot hold`);
    return;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJsonSafe(value[i], `${where}[${i}]`);
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) checkJsonSafe(item, `${where}.${key}`);
    return;
  }
  invalid(`${where} is a ${typeof value === 'object' ? (value as object).constructor?.name ?? 'object' : typeof value}, which JSON cannot hold`);
}

function elementTypeOf(name: IndexArrayName, array: ArrayBufferView, params: SeismicBuildParams): SegmentElementType {
  if (name === 'forwardValues' && params.forwardValues === 'f16' && array instanceof Uint16Array) return 'f16';
  if (array instanceof Uint8Array) return 'u8';
  if (array instanceof Uint16Array) return 'u16';
  if (array instanceof Uint32Array) return 'u32';
  if (array instanceof Float32Array) return 'f32';
  return invalid(`index.${name} is a ${array.constructor.name}, which no section holds`);
}

function checkContents(segment: SegmentContents): void {
  if (typeof segment !== 'object' || segment === null) invalid('segment must be an object');
  const { index, docNumbers, metadata } = segment;
  if (typeof index !== 'object' || index === null) invalid('segment.index must be a SeismicIndexData');
  try {
    validateIndexData(index);
  } catch (error) {
    invalid(`segment.index fails validation: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  const arrayNames = Object.keys(indexArrays(index));
  const unknown = arrayNames.filter((name) => !INDEX_ARRAY_NAMES.includes(name as IndexArrayName));
  // A new index array needs a new section and therefore a new format version.
  if (unknown.length > 0 || arrayNames.length !== INDEX_ARRAY_NAMES.length) {
    invalid(`format version ${SEGMENT_FORMAT_VERSION} has no section for index arrays ${unknown.join(', ') || '(missing arrays)'}`);
  }
  // A field the file has no place for would be silently lost.
  const stored = new Set<string>([...INDEX_SCALAR_NAMES, ...INDEX_ARRAY_NAMES]);
  const unstored = Object.keys(index).filter((name) => !stored.has(name));
  if (unstored.length > 0) invalid(`format version ${SEGMENT_FORMAT_VERSION} cannot store index fields ${unstored.join(', ')}`);
  if (!isPlainObject(index.params)) invalid('segment.index.params must be a plain object');
  checkJsonSafe(index.params, 'index.params');
  if (!(docNumbers instanceof Uint32Array)) invalid('segment.docNumbers must be a Uint32Array');
  if (docNumbers.length !== index.docCount) invalid(`segment.docNumbers has ${docNumbers.length} entries for ${index.docCount} documents`);
  for (let i = 1; i < docNumbers.length; i++) {
    if (docNumbers[i]! <= docNumbers[i - 1]!) invalid(`segment.docNumbers is not strictly ascending at row ${i}`);
  }
  if (!isPlainObject(metadata)) invalid('segment.metadata must be a plain JSON object');
  checkJsonSafe(metadata, 'metadata');
  const knn = segment.knnNeighbors;
  if (knn !== undefined) {
    if (!(knn instanceof Uint32Array)) invalid('segment.knnNeighbors must be a Uint32Array');
    const problem = knnProblem(knn, index.docCount);
    if (problem) invalid(`segment.knnNeighbors ${problem}`);
  }
}

/** What is wrong with a kNN graph for docCount rows, or undefined. */
function knnProblem(knn: Uint32Array, docCount: number): string | undefined {
  if (knn.length === 0) return undefined;
  if (docCount === 0 || knn.length % docCount !== 0) return `has ${knn.length} entries, not a multiple of the ${docCount} documents`;
  const k = knn.length / docCount;
  for (let row = 0; row < docCount; row++) {
    for (let i = row * k; i < (row + 1) * k; i++) {
      const neighbor = knn[i]!;
      if (neighbor === NO_NEIGHBOR) continue;
      if (neighbor >= docCount) return `row ${row} names neighbour ${neighbor}, not a row of the segment`;
      if (neighbor === row) return `row ${row} names itself as a neighbour`;
    }
  }
  return undefined;
}

interface PlannedSegment {
  /** The file's bytes in order; concatenated they are the file. */
  readonly chunks: readonly Uint8Array[];
  readonly layout: SegmentLayout;
}

/** Lays out the file without copying any array: sections are byte views of the index's own memory. */
function planSegment(segment: SegmentContents): PlannedSegment {
  requireLittleEndianHost();
  checkContents(segment);
  const { index, docNumbers, metadata } = segment;
  const indexHeader = { formatVersion: index.formatVersion, docCount: index.docCount, dim: index.dim, params: index.params };
  const payloads: { spec: SegmentSectionSpec; elementType: SegmentElementType; bytes: Uint8Array }[] = [];
  for (const spec of SEGMENT_SECTIONS) {
    if (spec.name === 'metadata') payloads.push({ spec, elementType: 'json', bytes: utf8Encoder.encode(JSON.stringify(metadata)) });
    else if (spec.name === 'index') payloads.push({ spec, elementType: 'json', bytes: utf8Encoder.encode(JSON.stringify(indexHeader)) });
    else if (spec.name === 'docNumbers') payloads.push({ spec, elementType: 'u32', bytes: bytesOf(docNumbers) });
    else if (spec.name === 'knnNeighbors') payloads.push({ spec, elementType: 'u32', bytes: bytesOf(segment.knnNeighbors ?? new Uint32Array(0)) });
    else {
      const array = index[spec.name];
      const elementType = elementTypeOf(spec.name, array, index.params);
      if (!spec.elementTypes.includes(elementType)) invalid(`index.${spec.name} cannot be stored as ${elementType}`);
      payloads.push({ spec, elementType, bytes: bytesOf(array) });
    }
  }

  const chunks: Uint8Array[] = [];
  const header = new Uint8Array(SEGMENT_HEADER_BYTES);
  chunks.push(header);
  const sections: SegmentSectionInfo[] = [];
  let offset = SEGMENT_HEADER_BYTES;
  for (const { spec, elementType, bytes } of payloads) {
    sections.push({ id: spec.id, name: spec.name, elementType, offset, byteLength: bytes.byteLength, crc32: crc32Of(bytes) });
    if (bytes.byteLength > 0) chunks.push(bytes);
    offset += bytes.byteLength;
    const padding = alignUp(offset) - offset;
    if (padding > 0) chunks.push(zeroPadding.subarray(0, padding));
    offset += padding;
  }

  const directoryOffset = offset;
  const directoryByteLength = DIRECTORY_PREFIX_BYTES + DIRECTORY_ENTRY_BYTES * sections.length;
  const directory = new Uint8Array(directoryByteLength);
  const directoryView = new DataView(directory.buffer);
  directoryView.setUint32(0, sections.length, true);
  directoryView.setUint32(4, DIRECTORY_ENTRY_BYTES, true);
  sections.forEach((section, i) => {
    const at = DIRECTORY_PREFIX_BYTES + i * DIRECTORY_ENTRY_BYTES;
    directoryView.setUint32(at, section.id, true);
    directoryView.setUint8(at + 4, ELEMENT_TYPE_CODES[section.elementType]);
    directoryView.setBigUint64(at + 8, BigInt(section.offset), true);
    directoryView.setBigUint64(at + 16, BigInt(section.byteLength), true);
    directoryView.setUint32(at + 24, section.crc32, true);
  });
  chunks.push(directory);

  const headerView = new DataView(header.buffer);
  header.set(SEGMENT_HEADER_MAGIC, 0);
  headerView.setUint32(8, SEGMENT_FORMAT_VERSION, true);
  headerView.setUint32(12, ENDIANNESS_MARKER, true);
  headerView.setUint32(16, SEGMENT_HEADER_BYTES, true);
  headerView.setUint32(20, ALIGNMENT, true);

  const footerOffset = directoryOffset + directoryByteLength;
  const byteLength = footerOffset + SEGMENT_FOOTER_BYTES;
  const headerCrc32 = crc32Of(header);
  const directoryCrc32 = crc32Of(directory);
  const footer = new Uint8Array(SEGMENT_FOOTER_BYTES);
  const footerView = new DataView(footer.buffer);
  footerView.setBigUint64(0, BigInt(directoryOffset), true);
  footerView.setBigUint64(8, BigInt(directoryByteLength), true);
  footerView.setBigUint64(16, BigInt(byteLength), true);
  footerView.setUint32(24, headerCrc32, true);
  footerView.setUint32(28, directoryCrc32, true);
  footerView.setUint32(32, SEGMENT_FORMAT_VERSION, true);
  footerView.setUint32(36, crc32Of(footer.subarray(0, 36)), true);
  footer.set(SEGMENT_FOOTER_MAGIC, 40);
  chunks.push(footer);

  return {
    chunks,
    layout: { formatVersion: SEGMENT_FORMAT_VERSION, byteLength, headerCrc32, directoryOffset, directoryByteLength, directoryCrc32, footerOffset, sections },
  };
}

/** The whole file in memory (for tests, goldens and callers that ship bytes elsewhere). */
export function encodeSegment(segment: SegmentContents): Uint8Array {
  const { chunks, layout } = planSegment(segment);
  const bytes = new Uint8Array(layout.byteLength);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

async function writeFully(handle: fsp.FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    // A short write (disk full, file size limit) is reported by the next call as the real error.
    const { bytesWritten } = await handle.write(bytes, done, Math.min(bytes.byteLength - done, MAX_IO_BYTES), position + done);
    if (bytesWritten === 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    done += bytesWritten;
  }
}

async function syncDirectory(directory: string): Promise<void> {
  // Windows cannot open a directory for fsync, and its rename is already durable in the journal.
  if (process.platform === 'win32') return;
  const handle = await fsp.open(directory, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems (network, FUSE) cannot fsync a directory; there is nothing more to do there.
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL' && (error as NodeJS.ErrnoException).code !== 'ENOTSUP') throw error;
  } finally {
    await handle.close();
  }
}

/** Temporary files are `.<final name>.<pid>-<16 hex digits>.tmp` beside the final file. */
const TEMP_FILE_PATTERN = /^\..+\.\d+-[0-9a-f]{16}\.tmp$/;

function tempPathFor(finalPath: string): string {
  return path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
}

/**
 * Writes the segment atomically: a temporary file in the same folder is written and fsynced, then
 * renamed over `filePath`, then the folder is fsynced. After a crash the final name holds either
 * what it held before (or nothing) or the complete new file. The contents are checked first, so
 * nothing touches the disk for a segment that would not read back. I/O failures are Node's own
 * errors; the temporary file is removed on any failure this process survives.
 */
export async function writeSegmentFile(filePath: string, segment: SegmentContents): Promise<SegmentFileInfo> {
  const { chunks, layout } = planSegment(segment);
  const finalPath = path.resolve(filePath);
  const tempPath = tempPathFor(finalPath);
  let handle: fsp.FileHandle | undefined;
  let created = false;
  try {
    handle = await fsp.open(tempPath, 'wx');
    created = true;
    let position = 0;
    for (const chunk of chunks) {
      await writeFully(handle, chunk, position);
      position += chunk.byteLength;
    }
    await handle.sync();
    const closing = handle;
    handle = undefined;
    await closing.close();
    await fsp.rename(tempPath, finalPath);
  } catch (error) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    if (created) await fsp.rm(tempPath, { force: true }).catch(() => undefined);
    throw error;
  }
  // The rename is done; if this fsync fails the file is in place but may not survive a power loss.
  await syncDirectory(path.dirname(finalPath));
  return { path: finalPath, ...layout };
}

/**
 * Removes temporary files left in `directory` by writers that were killed mid-write; returns their
 * names. Call it only while no other process or task can be writing segments into that folder.
 */
export async function removeStaleSegmentTempFiles(directory: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fsp.readdir(directory)) {
    if (!TEMP_FILE_PATTERN.test(name)) continue;
    await fsp.rm(path.join(directory, name), { force: true });
    removed.push(name);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// Reading

function corrupt(message: string, section?: string): never {
  throw new SegmentFormatError('SEGMENT_CORRUPT', message, { section });
}

function truncated(message: string): never {
  throw new SegmentFormatError('SEGMENT_TRUNCATED', message);
}

function checksumMismatch(section: string, stored: number, actual: number): never {
  throw new SegmentFormatError(
    'SEGMENT_CHECKSUM_MISMATCH',
    `${section} is damaged: stored CRC-32 ${hex32(stored)}, computed ${hex32(actual)}`,
    { section },
  );
}

function hex32(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

function readSafeU64(view: DataView, at: number, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) corrupt(`${what} ${value} is out of range`);
  return Number(value);
}

function startsWith(bytes: Uint8Array, at: number, magic: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (bytes[at + i] !== magic[i]) return false;
  return true;
}

/**
 * Checks the header, footer and directory (their checksums, bounds and the canonical layout) and
 * returns where the sections lie. Section contents are not checksummed here; decodeSegment does.
 */
export function readSegmentLayout(bytes: Uint8Array): SegmentLayout {
  const byteLength = bytes.byteLength;
  if (!startsWith(bytes, 0, SEGMENT_HEADER_MAGIC, Math.min(byteLength, SEGMENT_HEADER_MAGIC.length))) {
    throw new SegmentFormatError('SEGMENT_BAD_MAGIC', 'not a sparrow segment file (the header magic is missing)', { section: 'header' });
  }
  if (byteLength < 16) truncated(`the file has ${byteLength} bytes, fewer than a segment header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, byteLength);
  // Before the version: a byte-swapped file would otherwise be reported as an unknown version.
  if (view.getUint32(12, true) === BYTE_SWAPPED_MARKER) {
    throw new SegmentFormatError('SEGMENT_WRONG_ENDIANNESS', 'the file was written big-endian; segment files are little-endian', { section: 'header' });
  }
  const formatVersion = view.getUint32(8, true);
  if (!READABLE_SEGMENT_VERSIONS.includes(formatVersion)) {
    throw new SegmentFormatError(
      'SEGMENT_UNSUPPORTED_VERSION',
      `the file has segment format version ${formatVersion}; this reader reads versions ${READABLE_SEGMENT_VERSIONS.join(', ')}`,
      { section: 'header' },
    );
  }
  if (byteLength < MIN_FILE_BYTES) truncated(`the file has ${byteLength} bytes, fewer than the smallest segment (${MIN_FILE_BYTES})`);
  const footerOffset = byteLength - SEGMENT_FOOTER_BYTES;
  if (!startsWith(bytes, byteLength - SEGMENT_FOOTER_MAGIC.length, SEGMENT_FOOTER_MAGIC, SEGMENT_FOOTER_MAGIC.length)) {
    truncated('the file does not end with a segment footer (cut short, not completely written, or with bytes appended)');
  }

  const storedFooterCrc = view.getUint32(footerOffset + 36, true);
  const footerCrc = crc32Of(bytes.subarray(footerOffset, footerOffset + 36));
  if (storedFooterCrc !== footerCrc) checksumMismatch('footer', storedFooterCrc, footerCrc);
  const footerVersion = view.getUint32(footerOffset + 32, true);
  if (footerVersion !== formatVersion) corrupt(`the header says format version ${formatVersion}, the footer ${footerVersion}`, 'footer');
  const recordedLength = readSafeU64(view, footerOffset + 16, 'file length');
  if (recordedLength !== byteLength) corrupt(`the footer records a file of ${recordedLength} bytes; the file has ${byteLength}`, 'footer');

  const headerCrc32 = view.getUint32(footerOffset + 24, true);
  const headerCrc = crc32Of(bytes.subarray(0, SEGMENT_HEADER_BYTES));
  if (headerCrc32 !== headerCrc) checksumMismatch('header', headerCrc32, headerCrc);
  if (view.getUint32(12, true) !== ENDIANNESS_MARKER) corrupt('bad endianness marker', 'header');
  if (view.getUint32(16, true) !== SEGMENT_HEADER_BYTES) corrupt(`header length ${view.getUint32(16, true)}, expected ${SEGMENT_HEADER_BYTES}`, 'header');
  if (view.getUint32(20, true) !== ALIGNMENT) corrupt(`section alignment ${view.getUint32(20, true)}, expected ${ALIGNMENT}`, 'header');
  if (view.getUint32(24, true) !== 0 || view.getUint32(28, true) !== 0) corrupt('reserved header fields are not zero', 'header');

  const directoryOffset = readSafeU64(view, footerOffset, 'directory offset');
  const directoryByteLength = readSafeU64(view, footerOffset + 8, 'directory length');
  if (directoryOffset < SEGMENT_HEADER_BYTES || directoryOffset % ALIGNMENT !== 0 || directoryOffset + directoryByteLength !== footerOffset) {
    corrupt(`the directory (${directoryByteLength} bytes at ${directoryOffset}) does not end where the footer begins (${footerOffset})`, 'directory');
  }
  const directoryCrc32 = view.getUint32(footerOffset + 28, true);
  const directoryCrc = crc32Of(bytes.subarray(directoryOffset, footerOffset));
  if (directoryCrc32 !== directoryCrc) checksumMismatch('directory', directoryCrc32, directoryCrc);

  if (directoryByteLength < DIRECTORY_PREFIX_BYTES) corrupt('the directory is shorter than its own prefix', 'directory');
  const entryCount = view.getUint32(directoryOffset, true);
  const entryBytes = view.getUint32(directoryOffset + 4, true);
  if (entryBytes !== DIRECTORY_ENTRY_BYTES || directoryByteLength !== DIRECTORY_PREFIX_BYTES + entryCount * DIRECTORY_ENTRY_BYTES) {
    corrupt(`directory of ${directoryByteLength} bytes cannot hold ${entryCount} entries of ${entryBytes} bytes`, 'directory');
  }

  const sections: SegmentSectionInfo[] = [];
  const seen = new Set<number>();
  let expectedOffset = SEGMENT_HEADER_BYTES;
  for (let i = 0; i < entryCount; i++) {
    const at = directoryOffset + DIRECTORY_PREFIX_BYTES + i * DIRECTORY_ENTRY_BYTES;
    const id = view.getUint32(at, true);
    const spec = SECTIONS_BY_ID.get(id);
    if (spec === undefined || (spec.since ?? 1) > formatVersion) corrupt(`directory entry ${i} names section id ${id}, unknown in format version ${formatVersion}`, 'directory');
    if (seen.has(id)) corrupt(`section ${spec.name} appears twice`, 'directory');
    seen.add(id);
    const elementType = ELEMENT_TYPES_BY_CODE[view.getUint8(at + 4)];
    if (elementType === undefined || !spec.elementTypes.includes(elementType)) {
      corrupt(`section ${spec.name} has element type code ${view.getUint8(at + 4)}`, spec.name);
    }
    if (view.getUint8(at + 5) !== 0 || view.getUint16(at + 6, true) !== 0 || view.getUint32(at + 28, true) !== 0) {
      corrupt(`reserved bytes of the directory entry of ${spec.name} are not zero`, 'directory');
    }
    const offset = readSafeU64(view, at + 8, `offset of ${spec.name}`);
    const sectionBytes = readSafeU64(view, at + 16, `length of ${spec.name}`);
    if (offset + sectionBytes > directoryOffset) {
      corrupt(`section ${spec.name} (${sectionBytes} bytes at ${offset}) runs past the directory at ${directoryOffset}`, spec.name);
    }
    if (offset !== expectedOffset) corrupt(`section ${spec.name} starts at ${offset}, expected ${expectedOffset}`, spec.name);
    if (sectionBytes % ELEMENT_BYTES[elementType] !== 0) corrupt(`section ${spec.name} has ${sectionBytes} bytes, not a whole number of ${elementType}`, spec.name);
    // Padding belongs to no checksum; requiring zeros still catches a flipped bit there.
    const end = offset + sectionBytes;
    expectedOffset = alignUp(end);
    for (let p = end; p < expectedOffset; p++) if (bytes[p] !== 0) corrupt(`padding after section ${spec.name} is not zero`, spec.name);
    sections.push({ id, name: spec.name, elementType, offset, byteLength: sectionBytes, crc32: view.getUint32(at + 24, true) });
  }
  if (expectedOffset !== directoryOffset) corrupt(`the sections end at ${expectedOffset} but the directory starts at ${directoryOffset}`, 'directory');
  for (const spec of sectionsOfVersion(formatVersion)) if (!seen.has(spec.id)) corrupt(`section ${spec.name} is missing`, 'directory');

  return { formatVersion, byteLength, headerCrc32, directoryOffset, directoryByteLength, directoryCrc32, footerOffset, sections };
}

interface ArrayKind<T> {
  readonly BYTES_PER_ELEMENT: number;
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
}

/** A view of the file's own memory when aligned (no copy); a copy only for a misaligned buffer. */
function arrayOf<T extends ArrayBufferView>(kind: ArrayKind<T>, bytes: Uint8Array, section: SegmentSectionInfo): T {
  const length = section.byteLength / kind.BYTES_PER_ELEMENT;
  const absolute = bytes.byteOffset + section.offset;
  if (absolute % kind.BYTES_PER_ELEMENT === 0) return new kind(bytes.buffer, absolute, length);
  const copy = new kind(length);
  bytesOf(copy).set(bytes.subarray(section.offset, section.offset + section.byteLength));
  return copy;
}

function typedArrayOf(bytes: Uint8Array, section: SegmentSectionInfo): Uint8Array | Uint16Array | Uint32Array | Float32Array {
  switch (section.elementType) {
    case 'u8':
      return arrayOf(Uint8Array, bytes, section);
    case 'u16':
    case 'f16':
      return arrayOf(Uint16Array, bytes, section);
    case 'u32':
      return arrayOf(Uint32Array, bytes, section);
    case 'f32':
      return arrayOf(Float32Array, bytes, section);
    case 'json':
      return corrupt(`section ${section.name} holds JSON, not numbers`, section.name);
  }
}

function jsonOf(bytes: Uint8Array, section: SegmentSectionInfo): unknown {
  try {
    return JSON.parse(utf8Decoder.decode(bytes.subarray(section.offset, section.offset + section.byteLength)));
  } catch {
    return corrupt(`section ${section.name} is not valid UTF-8 JSON`, section.name);
  }
}

function invalidIndex(message: string, cause?: unknown): never {
  throw new SegmentFormatError('SEGMENT_INVALID_INDEX', message, { cause });
}

/**
 * Decodes a whole segment file held in memory. Every checksum is verified and the index passes
 * validateIndexData before it is returned, so scorers may trust it. When `bytes` is 8-byte aligned
 * (as readSegmentFile's buffers are) the typed arrays are views of `bytes`: nothing is copied, and
 * `bytes` must not be modified afterwards.
 */
export function decodeSegment(bytes: Uint8Array): SegmentContents {
  requireLittleEndianHost();
  const layout = readSegmentLayout(bytes);
  const byName = new Map<string, SegmentSectionInfo>();
  for (const section of layout.sections) {
    const actual = crc32Of(bytes.subarray(section.offset, section.offset + section.byteLength));
    if (actual !== section.crc32) checksumMismatch(section.name, section.crc32, actual);
    byName.set(section.name, section);
  }
  const sectionOf = (name: SectionName): SegmentSectionInfo => byName.get(name)!;

  const metadata = jsonOf(bytes, sectionOf('metadata'));
  if (!isPlainObject(metadata)) corrupt('section metadata is not a JSON object', 'metadata');
  const header = jsonOf(bytes, sectionOf('index'));
  if (!isPlainObject(header)) corrupt('section index is not a JSON object', 'index');
  for (const field of ['formatVersion', 'docCount', 'dim'] as const) {
    if (typeof header[field] !== 'number') corrupt(`section index lacks the number ${field}`, 'index');
  }
  const unknownKeys = Object.keys(header).filter((key) => !(INDEX_SCALAR_NAMES as readonly string[]).includes(key));
  if (unknownKeys.length > 0) corrupt(`section index has unknown keys ${unknownKeys.join(', ')}`, 'index');
  const params = header['params'];
  if (!isPlainObject(params) || typeof params['forwardValues'] !== 'string') corrupt('section index lacks params.forwardValues', 'index');
  const forwardValuesSection = sectionOf('forwardValues');
  if (forwardValuesSection.elementType !== params['forwardValues']) {
    invalidIndex(`params.forwardValues is ${String(params['forwardValues'])} but forwardValues is stored as ${forwardValuesSection.elementType}`);
  }

  const arrays: Record<string, ArrayBufferView> = {};
  for (const name of INDEX_ARRAY_NAMES) arrays[name] = typedArrayOf(bytes, sectionOf(name));
  const index = {
    formatVersion: header['formatVersion'],
    params,
    docCount: header['docCount'],
    dim: header['dim'],
    ...arrays,
  } as unknown as SeismicIndexData;
  try {
    validateIndexData(index);
  } catch (error) {
    invalidIndex(`the stored index fails validation: ${error instanceof Error ? error.message : String(error)}`, error);
  }

  const docNumbers = typedArrayOf(bytes, sectionOf('docNumbers')) as Uint32Array;
  if (docNumbers.length !== index.docCount) invalidIndex(`docNumbers has ${docNumbers.length} entries for ${index.docCount} documents`);
  for (let i = 1; i < docNumbers.length; i++) {
    if (docNumbers[i]! <= docNumbers[i - 1]!) invalidIndex(`docNumbers is not strictly ascending at row ${i}`);
  }
  const knnSection = byName.get('knnNeighbors');
  const knnNeighbors = knnSection ? (typedArrayOf(bytes, knnSection) as Uint32Array) : undefined;
  if (knnNeighbors) {
    // The searcher follows these numbers without bounds checks.
    const problem = knnProblem(knnNeighbors, index.docCount);
    if (problem) invalidIndex(`knnNeighbors ${problem}`);
  }
  return { index, docNumbers, metadata: metadata as SegmentMetadata, ...(knnNeighbors && knnNeighbors.length > 0 ? { knnNeighbors } : {}) };
}

/**
 * Reads into a fresh ArrayBuffer (or into the bytes `place` gives, 8-byte aligned), so decodeSegment
 * copies nothing.
 */
function readWholeFileSync(filePath: string, place: (size: number) => Uint8Array = (size) => new Uint8Array(size)): Uint8Array {
  const fd = fs.openSync(filePath, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const bytes = place(size);
    let done = 0;
    while (done < size) {
      const read = fs.readSync(fd, bytes, done, Math.min(size - done, MAX_IO_BYTES), done);
      if (read === 0) break;
      done += read;
    }
    return done === size ? bytes : bytes.subarray(0, done);
  } finally {
    fs.closeSync(fd);
  }
}

async function readWholeFile(filePath: string): Promise<Uint8Array> {
  const handle = await fsp.open(filePath, 'r');
  try {
    const size = (await handle.stat()).size;
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(bytes, done, Math.min(size - done, MAX_IO_BYTES), done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === size ? bytes : bytes.subarray(0, done);
  } finally {
    await handle.close();
  }
}

/** Reads and fully verifies a segment file (see decodeSegment). */
export async function readSegmentFile(filePath: string): Promise<SegmentContents> {
  return decodeSegment(await readWholeFile(filePath));
}

export function readSegmentFileSync(filePath: string): SegmentContents {
  return decodeSegment(readWholeFileSync(filePath));
}

/**
 * readSegmentFileSync into memory the caller provides (`place(size)` returns `size` bytes, 8-byte
 * aligned): a scorer's own linear memory, so the index is read once and never copied. The arrays
 * of the result are views of those bytes.
 */
export function readSegmentFileIntoSync(filePath: string, place: (size: number) => Uint8Array): SegmentContents {
  return decodeSegment(readWholeFileSync(filePath, place));
}
