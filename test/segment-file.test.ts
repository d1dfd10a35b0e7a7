import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t, { type Test } from 'tap';
import { bruteForceTopK, goldenSegments, type GoldenQuery } from '../scripts/make-segment-goldens.js';
import { buildSeismicIndex } from '../src/index/seismic/build.js';
import type { SeismicIndexData } from '../src/index/seismic/index-data.js';
import { EXACT_QUERY_PARAMS, type SeismicBuildParams } from '../src/index/seismic/params.js';
import { TsSeismicSearcher } from '../src/index/seismic/query-ts.js';
import type { SparseMatrix } from '../src/index/sparse-matrix.js';
import { SegmentFormatError } from '../src/index/segment/errors.js';
import {
  decodeSegment,
  encodeSegment,
  readSegmentFile,
  readSegmentFileSync,
  readSegmentLayout,
  removeStaleSegmentTempFiles,
  writeSegmentFile,
  SEGMENT_FORMAT_VERSION,
  SEGMENT_SECTIONS,
  READABLE_SEGMENT_VERSIONS,
  type SegmentContents,
} from '../src/index/segment/segment-file.js';
import { repoRoot } from './support/paths.js';
import { tempDir } from './support/tmp.js';


/** The goldens of every released version are read forever; the current version's are also written. */
const goldenDirOf = (version: number): string => path.join(repoRoot, 'index-format', `v${version}`);
const goldenDir = goldenDirOf(SEGMENT_FORMAT_VERSION);
const segmentModuleUrl = new URL('../src/index/segment/segment-file.js', import.meta.url).href;
const FOOTER = 48;

// ------------------------------------------------------------------------------------------------
// Fixtures

/** A deterministic random matrix (xorshift), sparse rows with strictly increasing term ids. */
function randomMatrix(rows: number, dim: number, seed: number, maxTerms = 12): SparseMatrix {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const indptr = new Uint32Array(rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    const terms = new Set<number>();
    const length = 1 + Math.floor(next() * Math.min(maxTerms, dim));
    while (terms.size < length) terms.add(Math.floor(next() * dim));
    for (const term of [...terms].sort((a, b) => a - b)) {
      indices.push(term);
      values.push(0.01 + next() * 3);
    }
    indptr[r + 1] = indices.length;
  }
  return { rows, dim, indptr, indices: Uint32Array.from(indices), values: Float32Array.from(values) };
}

function segmentOf(rows: number, dim: number, params: Partial<SeismicBuildParams>, seed = 11): SegmentContents {
  const index = buildSeismicIndex(randomMatrix(rows, dim, seed), { blockFraction: 0.3, minBlockSize: 1, ...params });
  const docNumbers = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) docNumbers[r] = 5 + r * 7 + (r % 3);
  return {
    index,
    docNumbers,
    metadata: { segmentId: `seg-${seed}`, createdAt: '2025-02-03T04:05:06.000Z', scoringModel: 'bm25', bm25: { k1: 1.2, b: 0.75, avgFieldLength: { text: 17.25 } }, note: 'naïve ✓ "quoted"', tags: [1, 'two', null, true] },
  };
}

const ARRAY_NAMES = SEGMENT_SECTIONS.filter((spec) => spec.id >= 4 && spec.id <= 16).map((spec) => spec.name) as (keyof SeismicIndexData)[];

function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** Same element type and the very same bytes (so NaN payloads and -0 count too). */
function sameArrayBytes(actual: ArrayBufferView, expected: ArrayBufferView): boolean {
  return actual.constructor === expected.constructor && bytesOf(actual).equals(bytesOf(expected));
}

function sameContents(t: Test, actual: SegmentContents, expected: SegmentContents): void {
  const differing = ARRAY_NAMES.filter((name) => !sameArrayBytes(actual.index[name] as ArrayBufferView, expected.index[name] as ArrayBufferView));
  if (!sameArrayBytes(actual.docNumbers, expected.docNumbers)) differing.push('docNumbers' as keyof SeismicIndexData);
  t.same(differing, [], 'every array has the same element type and bytes');
  t.same(
    { formatVersion: actual.index.formatVersion, docCount: actual.index.docCount, dim: actual.index.dim },
    { formatVersion: expected.index.formatVersion, docCount: expected.index.docCount, dim: expected.index.dim },
    'scalars',
  );
  t.strictSame(actual.index.params, { ...expected.index.params }, 'params');
  t.same(Object.keys(actual.index).sort(), Object.keys(expected.index).sort(), 'no field more or less');
  t.strictSame(actual.metadata, expected.metadata, 'metadata');
  t.same(actual.knnNeighbors ? [...actual.knnNeighbors] : [], expected.knnNeighbors ? [...expected.knnNeighbors] : [], 'kNN graph');
}

function errorOf(action: () => unknown): SegmentFormatError | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof SegmentFormatError) return error;
    throw error;
  }
  return undefined;
}

// Patching helpers written from the specification (index-format/README.md), not from the reader.
function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function directoryOffset(bytes: Uint8Array): number {
  return Number(view(bytes).getBigUint64(bytes.byteLength - FOOTER, true));
}

function idOf(name: string): number {
  return SEGMENT_SECTIONS.find((spec) => spec.name === name)!.id;
}

function entryAt(bytes: Uint8Array, name: string): number {
  const dv = view(bytes);
  const start = directoryOffset(bytes);
  const count = dv.getUint32(start, true);
  const id = SEGMENT_SECTIONS.find((spec) => spec.name === name)!.id;
  for (let i = 0; i < count; i++) if (dv.getUint32(start + 8 + 32 * i, true) === id) return start + 8 + 32 * i;
  throw new Error(`no section ${name}`);
}

function sectionRange(bytes: Uint8Array, name: string): [number, number] {
  const at = entryAt(bytes, name);
  const offset = Number(view(bytes).getBigUint64(at + 8, true));
  return [offset, offset + Number(view(bytes).getBigUint64(at + 16, true))];
}

/** Recomputes the CRCs of one section, then of header, directory and footer, as a careful forger would. */
function refreshChecksums(bytes: Uint8Array, sectionName?: string): void {
  const dv = view(bytes);
  if (sectionName !== undefined) {
    const [start, end] = sectionRange(bytes, sectionName);
    dv.setUint32(entryAt(bytes, sectionName) + 24, zlib.crc32(bytes.subarray(start, end)), true);
  }
  const footer = bytes.byteLength - FOOTER;
  dv.setUint32(footer + 24, zlib.crc32(bytes.subarray(0, 32)), true);
  dv.setUint32(footer + 28, zlib.crc32(bytes.subarray(directoryOffset(bytes), footer)), true);
  dv.setUint32(footer + 36, zlib.crc32(bytes.subarray(footer, footer + 36)), true);
}

/**
 * Lays the file out again with some sections' bytes replaced (lengths may change): sections in
 * directory order with zero padding to 8, then the directory, then the footer, every CRC fresh.
 */
function relayout(bytes: Uint8Array, replacements: Record<string, Uint8Array>): Uint8Array {
  const dv = view(bytes);
  const start = directoryOffset(bytes);
  const count = dv.getUint32(start, true);
  const align = (n: number): number => Math.ceil(n / 8) * 8;
  const entries: { id: number; type: number; payload: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    const at = start + 8 + 32 * i;
    const id = dv.getUint32(at, true);
    const name = SEGMENT_SECTIONS.find((spec) => spec.id === id)!.name;
    const offset = Number(dv.getBigUint64(at + 8, true));
    const payload = replacements[name] ?? bytes.subarray(offset, offset + Number(dv.getBigUint64(at + 16, true)));
    entries.push({ id, type: dv.getUint8(at + 4), payload });
  }
  let length = 32;
  for (const entry of entries) length = align(length + entry.payload.byteLength);
  const newDirectoryOffset = length;
  const out = new Uint8Array(newDirectoryOffset + 8 + 32 * count + FOOTER);
  const ov = view(out);
  out.set(bytes.subarray(0, 32));
  let offset = 32;
  ov.setUint32(newDirectoryOffset, count, true);
  ov.setUint32(newDirectoryOffset + 4, 32, true);
  entries.forEach((entry, i) => {
    out.set(entry.payload, offset);
    const at = newDirectoryOffset + 8 + 32 * i;
    ov.setUint32(at, entry.id, true);
    ov.setUint8(at + 4, entry.type);
    ov.setBigUint64(at + 8, BigInt(offset), true);
    ov.setBigUint64(at + 16, BigInt(entry.payload.byteLength), true);
    ov.setUint32(at + 24, zlib.crc32(entry.payload), true);
    offset = align(offset + entry.payload.byteLength);
  });
  const footer = out.byteLength - FOOTER;
  ov.setBigUint64(footer, BigInt(newDirectoryOffset), true);
  ov.setBigUint64(footer + 8, BigInt(8 + 32 * count), true);
  ov.setBigUint64(footer + 16, BigInt(out.byteLength), true);
  out.set(bytes.subarray(bytes.byteLength - FOOTER + 32, bytes.byteLength - FOOTER + 36), footer + 32);
  out.set(bytes.subarray(bytes.byteLength - 8), out.byteLength - 8);
  refreshChecksums(out);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Round trips

const ROUND_TRIPS: [string, () => SegmentContents][] = [
  ['f32 forward values', () => segmentOf(60, 50, { forwardValues: 'f32' })],
  ['f16 forward values, global pruning', () => segmentOf(60, 50, { forwardValues: 'f16', pruning: 'global', postingCap: 5, summaryEnergy: 0.5 })],
  ['u8 forward values', () => segmentOf(60, 50, { forwardValues: 'u8' })],
  ['32-bit term ids (dim > 65536)', () => segmentOf(30, 70_000, { forwardValues: 'f32' })],
  ['no documents', () => segmentOf(0, 20, {})],
  ['no terms at all (dim 0)', () => segmentOf(0, 0, {})],
];

t.test('encode/decode round trip keeps every array, scalar and the metadata', async (t) => {
  for (const [label, make] of ROUND_TRIPS) {
    await t.test(label, async (t) => {
      const segment = make();
      const bytes = encodeSegment(segment);
      t.equal(bytes.byteLength % 8, 0, 'file length is a multiple of 8');
      const decoded = decodeSegment(bytes);
      sameContents(t, decoded, segment);
      // A fresh buffer is aligned, so every array is a view of it.
      t.ok(ARRAY_NAMES.every((name) => (decoded.index[name] as ArrayBufferView).buffer === bytes.buffer), 'no array was copied');
      t.ok(bytesOf(encodeSegment(decoded)).equals(bytesOf(bytes)), 're-encoding the decoded segment gives the same bytes');

      // At an odd address the arrays must be copied, and still be right.
      const shifted = new Uint8Array(bytes.byteLength + 1).subarray(1);
      shifted.set(bytes);
      sameContents(t, decodeSegment(shifted), segment);
    });
  }
});

t.test('writeSegmentFile and both readers agree with the in-memory encoding', async (t) => {
  const dir = tempDir(t);
  const segment = segmentOf(40, 30, { forwardValues: 'u8' });
  const file = path.join(dir, 'seg-1.seg');
  const info = await writeSegmentFile(file, segment);
  const bytes = encodeSegment(segment);
  t.ok(fs.readFileSync(file).equals(bytesOf(bytes)), 'the file holds exactly the encoded bytes');
  t.equal(info.path, file);
  t.equal(info.byteLength, fs.statSync(file).size);
  t.strictSame({ ...info, path: undefined }, { ...readSegmentLayout(bytes), path: undefined });
  t.same(info.sections.map((s) => s.name), SEGMENT_SECTIONS.map((s) => s.name));
  sameContents(t, await readSegmentFile(file), segment);
  sameContents(t, readSegmentFileSync(file), segment);
  t.same(fs.readdirSync(dir), ['seg-1.seg'], 'no temporary file is left');
});

t.test('the specification lists exactly the sections, with their ids and element types', async (t) => {
  const spec = fs.readFileSync(path.join(repoRoot, 'index-format', 'README.md'), 'utf8');
  const tableStart = spec.indexOf('| Id | Name | Type |');
  t.ok(tableStart >= 0, 'the section table is there');
  const table = spec.slice(tableStart, spec.indexOf('\n\n', tableStart));
  const rows = [...table.matchAll(/^\| (\d+) \| `(\w+)` \| ([^|]+) \|/gm)].map((m) => ({ id: Number(m[1]), name: m[2]!, types: m[3]! }));
  t.same(rows.map((row) => [row.id, row.name]), SEGMENT_SECTIONS.map((section) => [section.id, section.name]), 'ids and names, in order');
  for (const section of SEGMENT_SECTIONS) {
    const row = rows.find((r) => r.id === section.id);
    const named = [...(row?.types.matchAll(/\b(u8|u16|u32|f16|f32|json)\b/g) ?? [])].map((m) => m[1]).sort();
    t.same(named, [...section.elementTypes].sort(), `element types of ${section.name}`);
  }
  t.match(spec, new RegExp(`Version ${SEGMENT_FORMAT_VERSION} has exactly these ${SEGMENT_SECTIONS.length} sections`), 'the section count');

  // The example of the index section is the tiny-f32 golden's.
  const example = /### The `index` section[\s\S]*?```json\n(.*)\n```/.exec(spec)?.[1];
  const golden = new Uint8Array(fs.readFileSync(path.join(goldenDir, 'tiny-f32.seg')));
  const [start, end] = sectionRange(golden, 'index');
  t.equal(example, new TextDecoder().decode(golden.subarray(start, end)), 'the index section example');
});

// ------------------------------------------------------------------------------------------------
// Goldens: files written once must read forever

interface GoldenArray {
  type: 'u8' | 'u16' | 'u32' | 'f32';
  values: number[];
}

interface GoldenDescription {
  file: string;
  formatVersion: number;
  byteLength: number;
  sha256: string;
  sections: { id: number; name: string; elementType: string; offset: number; byteLength: number; crc32: number }[];
  metadata: Record<string, unknown>;
  docNumbers: number[];
  knnNeighbors?: number[];
  index: { formatVersion: 1; docCount: number; dim: number; params: SeismicBuildParams; arrays: Record<string, GoldenArray> };
  queries: (GoldenQuery & { expected: { rows: number[]; docNumbers: number[]; scores: number[] } })[];
}

const ARRAY_TYPES = { u8: Uint8Array, u16: Uint16Array, u32: Uint32Array, f32: Float32Array } as const;

function contentsFromDescription(description: GoldenDescription): SegmentContents {
  const arrays: Record<string, ArrayBufferView> = {};
  for (const [name, array] of Object.entries(description.index.arrays)) arrays[name] = ARRAY_TYPES[array.type].from(array.values);
  const { formatVersion, docCount, dim, params } = description.index;
  const index = { formatVersion, params, docCount, dim, ...arrays } as unknown as SeismicIndexData;
  return {
    index,
    docNumbers: Uint32Array.from(description.docNumbers),
    metadata: description.metadata as SegmentContents['metadata'],
    ...(description.knnNeighbors ? { knnNeighbors: Uint32Array.from(description.knnNeighbors) } : {}),
  };
}

const namesIn = (dir: string): string[] => fs.readdirSync(dir).filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -'.json'.length)).sort();
const goldenNames = namesIn(goldenDir);

t.test('the golden folder of the current version holds a .seg for every description and the script makes exactly these', async (t) => {
  t.same(goldenNames, goldenSegments().map((g) => g.name).sort());
  for (const name of goldenNames) t.ok(fs.existsSync(path.join(goldenDir, `${name}.seg`)), `${name}.seg exists`);
  t.ok(goldenNames.includes('empty'), 'an empty segment is among the goldens');
  t.ok(goldenNames.includes('tiny-knn'), 'a segment with a kNN graph is among the goldens');
  t.same(READABLE_SEGMENT_VERSIONS.filter((v) => fs.existsSync(goldenDirOf(v))), READABLE_SEGMENT_VERSIONS, 'every readable version has goldens');
});

for (const version of READABLE_SEGMENT_VERSIONS) {
  const dir = goldenDirOf(version);
  for (const name of namesIn(dir)) {
    t.test(`golden v${version}/${name} decodes to its description`, async (t) => {
      const description = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) as GoldenDescription;
      const bytes = new Uint8Array(fs.readFileSync(path.join(dir, `${name}.seg`)));
      t.equal(bytes.byteLength, description.byteLength);
      t.equal(createHash('sha256').update(bytes).digest('hex'), description.sha256, 'the file is unchanged');
      t.equal(readSegmentLayout(bytes).formatVersion, version, `a version ${version} file`);
      t.strictSame(readSegmentLayout(bytes).sections.map((s) => ({ ...s })), description.sections);

      const decoded = decodeSegment(bytes);
      const expected = contentsFromDescription(description);
      sameContents(t, decoded, expected);
      t.equal(decoded.index.params.forwardValues, description.index.params.forwardValues);

      for (const query of description.queries) {
        const top = bruteForceTopK(decoded.index, query);
        t.strictSame(top.rows, query.expected.rows, `brute-force rows of query ${query.indices.join(',')}`);
        t.strictSame(top.scores, query.expected.scores, 'brute-force scores');
        t.strictSame(top.rows.map((row) => decoded.docNumbers[row]), query.expected.docNumbers, 'global doc numbers');

        // The decoded index is usable by the scorer: with every approximation off it finds the same.
        const searcher = new TsSeismicSearcher(decoded.index, EXACT_QUERY_PARAMS, decoded.knnNeighbors ? { knnNeighbors: decoded.knnNeighbors } : {});
        const found = searcher.search({ indices: Uint32Array.from(query.indices), values: Float32Array.from(query.values) }, { k: query.k });
        t.strictSame([...found.docs], query.expected.rows, 'exact search over the decoded index');
        found.scores.forEach((score, i) => t.ok(Math.abs(score - query.expected.scores[i]!) <= 1e-5 * Math.max(1, Math.abs(score)), `score ${i} matches`));
      }
    });
  }
}

for (const name of goldenNames) {
  t.test(`golden ${name}: the writer still produces it byte for byte`, async (t) => {
    const description = JSON.parse(fs.readFileSync(path.join(goldenDir, `${name}.json`), 'utf8')) as GoldenDescription;
    const bytes = fs.readFileSync(path.join(goldenDir, `${name}.seg`));
    t.ok(bytesOf(encodeSegment(contentsFromDescription(description))).equals(bytes), 'encoding the description gives the committed file');

    const built = goldenSegments().find((g) => g.name === name)!;
    const regenerated = bytesOf(encodeSegment(built.contents));
    t.ok(regenerated.equals(bytesOf(encodeSegment(goldenSegments().find((g) => g.name === name)!.contents))), 'the script is deterministic');
    // A build parameter added since the golden was made changes the header, not what readers read.
    const sameParams = JSON.stringify(built.contents.index.params) === JSON.stringify(description.index.params);
    const builderUnchanged = sameParams && ARRAY_NAMES.every((array) => sameArrayBytes(built.contents.index[array] as ArrayBufferView, expectedArray(description, array)));
    if (builderUnchanged) {
      t.ok(regenerated.equals(bytes), 'the script regenerates the committed file');
    } else {
      // The frozen file stays the reference; the check above already pins the writer.
      t.comment(`buildSeismicIndex now builds a different ${name}; the committed golden stays as it is`);
    }
  });
}

function expectedArray(description: GoldenDescription, name: string): ArrayBufferView {
  const array = description.index.arrays[name]!;
  return ARRAY_TYPES[array.type].from(array.values);
}

// ------------------------------------------------------------------------------------------------
// Rejection of damaged files

let referenceBytes: Uint8Array | undefined;
/** A fresh copy of one small valid segment, to damage. */
function reference(): Uint8Array {
  referenceBytes ??= encodeSegment(segmentOf(40, 30, { forwardValues: 'f32' }));
  return referenceBytes.slice();
}

t.test('truncated files are refused as SEGMENT_TRUNCATED', async (t) => {
  const bytes = reference();
  const cuts = new Set<number>([0, 1, 7, 8, 12, 16, 40, 87, 88]);
  for (let i = 1; i < 20; i++) cuts.add(Math.floor((bytes.byteLength * i) / 20));
  for (let i = 1; i <= 40; i++) cuts.add(bytes.byteLength - i);
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const error = errorOf(() => decodeSegment(bytes.slice(0, cut)));
    t.equal(error?.code, 'SEGMENT_TRUNCATED', `cut at ${cut} of ${bytes.byteLength}`);
  }
  t.equal(errorOf(() => decodeSegment(new Uint8Array(0)))?.code, 'SEGMENT_TRUNCATED', 'zero-length file');
  const appended = new Uint8Array(bytes.byteLength + 5);
  appended.set(bytes);
  t.equal(errorOf(() => decodeSegment(appended))?.code, 'SEGMENT_TRUNCATED', 'bytes appended after the footer');
});

t.test('zero-length and truncated files on disk are refused by both readers', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'empty.seg');
  fs.writeFileSync(file, new Uint8Array(0));
  t.throws(() => readSegmentFileSync(file), { code: 'SEGMENT_TRUNCATED' });
  await t.rejects(readSegmentFile(file), { code: 'SEGMENT_TRUNCATED' });
  fs.writeFileSync(file, reference().subarray(0, 500));
  await t.rejects(readSegmentFile(file), { code: 'SEGMENT_TRUNCATED' });
});

t.test('one flipped bit anywhere is detected, and a flip inside a section names it', async (t) => {
  const bytes = reference();
  const layout = readSegmentLayout(bytes);
  const sectionAt = (position: number): string | undefined =>
    layout.sections.find((s) => position >= s.offset && position < s.offset + s.byteLength)?.name;
  const footer = layout.footerOffset;
  let failures = 0;
  const flipped = new Set<string>();
  for (let position = 0; position < bytes.byteLength; position++) {
    const damaged = bytes.slice();
    damaged[position]! ^= 1 << position % 8;
    const error = errorOf(() => decodeSegment(damaged));
    const section = sectionAt(position);
    let expected: [string, string | undefined];
    if (position < 8) expected = ['SEGMENT_BAD_MAGIC', 'header'];
    else if (position < 12) expected = ['SEGMENT_UNSUPPORTED_VERSION', 'header'];
    else if (position < 32) expected = ['SEGMENT_CHECKSUM_MISMATCH', 'header'];
    else if (section !== undefined) expected = ['SEGMENT_CHECKSUM_MISMATCH', section];
    else if (position < layout.directoryOffset) expected = ['SEGMENT_CORRUPT', undefined]; // padding
    else if (position < footer) expected = ['SEGMENT_CHECKSUM_MISMATCH', 'directory'];
    else if (position < footer + 40) expected = ['SEGMENT_CHECKSUM_MISMATCH', 'footer'];
    else expected = ['SEGMENT_TRUNCATED', undefined];
    const matches = error !== undefined && error.code === expected[0] && (expected[1] === undefined || error.section === expected[1]);
    if (!matches) {
      failures++;
      if (failures <= 5) t.fail(`flip at ${position}: expected ${expected.join('/')}, got ${error === undefined ? 'no error' : `${error.code}/${error.section}`}`);
    }
    if (section !== undefined) flipped.add(section);
  }
  t.equal(failures, 0, `all ${bytes.byteLength} single-bit flips are refused with the right code`);
  t.same(
    [...flipped].sort(),
    layout.sections.filter((s) => s.byteLength > 0).map((s) => s.name).sort(),
    'every non-empty section was damaged once per byte',
  );
  const checksumError = errorOf(() => {
    const damaged = bytes.slice();
    damaged[sectionRange(damaged, 'postingDocs')[0]]! ^= 0x80;
    decodeSegment(damaged);
  });
  t.match(checksumError?.message ?? '', /postingDocs is damaged/, 'the message names the section');
});

t.test('a file that is not a segment is SEGMENT_BAD_MAGIC', async (t) => {
  const bytes = reference();
  bytes[3] = 0x58;
  t.equal(errorOf(() => decodeSegment(bytes))?.code, 'SEGMENT_BAD_MAGIC');
  t.equal(errorOf(() => decodeSegment(new TextEncoder().encode('{"not": "a segment"}')))?.code, 'SEGMENT_BAD_MAGIC');
  t.equal(errorOf(() => decodeSegment(zlib.gzipSync(reference())))?.code, 'SEGMENT_BAD_MAGIC');
});

t.test('a future version is refused by name, even with valid checksums', async (t) => {
  const bytes = reference();
  view(bytes).setUint32(8, 3, true);
  view(bytes).setUint32(bytes.byteLength - FOOTER + 32, 3, true);
  refreshChecksums(bytes);
  const error = errorOf(() => decodeSegment(bytes));
  t.equal(error?.code, 'SEGMENT_UNSUPPORTED_VERSION');
  t.match(error?.message ?? '', /version 3; this reader reads versions 1, 2/);
  t.equal(errorOf(() => decodeSegment(bytes.subarray(0, 100)))?.code, 'SEGMENT_UNSUPPORTED_VERSION', 'also when cut short');

  const zero = reference();
  view(zero).setUint32(8, 0, true);
  t.equal(errorOf(() => decodeSegment(zero))?.code, 'SEGMENT_UNSUPPORTED_VERSION', 'version 0 was never written');

  const mismatched = reference();
  view(mismatched).setUint32(mismatched.byteLength - FOOTER + 32, 1, true);
  refreshChecksums(mismatched);
  t.equal(errorOf(() => decodeSegment(mismatched))?.code, 'SEGMENT_CORRUPT', 'header and footer versions disagree');

  // A version 1 file holds no section 17: one that claims version 1 but has it is refused.
  const claimsOne = reference();
  view(claimsOne).setUint32(8, 1, true);
  view(claimsOne).setUint32(claimsOne.byteLength - FOOTER + 32, 1, true);
  refreshChecksums(claimsOne);
  t.equal(errorOf(() => decodeSegment(claimsOne))?.code, 'SEGMENT_CORRUPT', 'section 17 in a version 1 file');
});

t.test('a big-endian file is SEGMENT_WRONG_ENDIANNESS', async (t) => {
  const bytes = reference();
  view(bytes).setUint32(12, 0x01020304, false);
  refreshChecksums(bytes);
  t.equal(errorOf(() => decodeSegment(bytes))?.code, 'SEGMENT_WRONG_ENDIANNESS');
});

t.test('inconsistent directories are SEGMENT_CORRUPT even with valid checksums', async (t) => {
  const patched = (patch: (bytes: Uint8Array, dv: DataView) => void): SegmentFormatError | undefined => {
    const bytes = reference();
    patch(bytes, view(bytes));
    refreshChecksums(bytes);
    return errorOf(() => decodeSegment(bytes));
  };
  const outOfBounds = patched((bytes, dv) => dv.setBigUint64(entryAt(bytes, 'postingDocs') + 8, BigInt(bytes.byteLength + 1000), true));
  t.equal(outOfBounds?.code, 'SEGMENT_CORRUPT', 'offset beyond the end of the file');
  t.equal(outOfBounds?.section, 'postingDocs');
  t.match(outOfBounds?.message ?? '', /runs past the directory/);
  t.equal(patched((bytes, dv) => dv.setBigUint64(entryAt(bytes, 'forwardValues') + 16, 1n << 40n, true))?.code, 'SEGMENT_CORRUPT', 'length beyond the end');
  t.equal(patched((bytes, dv) => dv.setBigUint64(entryAt(bytes, 'forwardValues') + 16, 1n << 60n, true))?.code, 'SEGMENT_CORRUPT', 'length beyond 2^53');
  t.equal(patched((bytes, dv) => dv.setBigUint64(entryAt(bytes, 'summaryScale') + 8, BigInt(sectionRange(bytes, 'summaryScale')[0] - 8), true))?.code, 'SEGMENT_CORRUPT', 'overlapping sections');
  t.equal(patched((bytes, dv) => dv.setUint32(entryAt(bytes, 'summaryScale'), 99, true))?.code, 'SEGMENT_CORRUPT', 'unknown section id');
  t.equal(patched((bytes, dv) => dv.setUint32(entryAt(bytes, 'summaryScale'), idOf('summaryOffset'), true))?.code, 'SEGMENT_CORRUPT', 'a section twice, another missing');
  t.equal(patched((bytes, dv) => dv.setUint8(entryAt(bytes, 'postingDocs') + 4, 4))?.code, 'SEGMENT_CORRUPT', 'element type not allowed for the section');
  t.equal(patched((bytes, dv) => dv.setUint32(directoryOffset(bytes), SEGMENT_SECTIONS.length - 1, true))?.code, 'SEGMENT_CORRUPT', 'entry count disagrees with the directory length');
  t.equal(patched((bytes, dv) => dv.setBigUint64(bytes.byteLength - FOOTER, BigInt(directoryOffset(bytes) + 8), true))?.code, 'SEGMENT_CORRUPT', 'directory offset moved');
  t.equal(patched((bytes, dv) => dv.setBigUint64(bytes.byteLength - FOOTER + 16, BigInt(bytes.byteLength + 8), true))?.code, 'SEGMENT_CORRUPT', 'recorded file length');
  t.equal(patched((bytes, dv) => dv.setUint32(28, 1, true))?.code, 'SEGMENT_CORRUPT', 'reserved header field');
  t.equal(patched((bytes, dv) => dv.setUint32(20, 4, true))?.code, 'SEGMENT_CORRUPT', 'section alignment');
});

t.test('intact bytes holding a damaged index are SEGMENT_INVALID_INDEX or SEGMENT_CORRUPT', async (t) => {
  const patchedSection = (name: string, patch: (bytes: Uint8Array, dv: DataView, start: number, end: number) => void): SegmentFormatError | undefined => {
    const bytes = reference();
    const [start, end] = sectionRange(bytes, name);
    patch(bytes, view(bytes), start, end);
    refreshChecksums(bytes, name);
    return errorOf(() => decodeSegment(bytes));
  };
  const badPosting = patchedSection('postingDocs', (_b, dv, start) => dv.setUint32(start, 50, true));
  t.equal(badPosting?.code, 'SEGMENT_INVALID_INDEX', 'posting document >= docCount');
  t.match(badPosting?.message ?? '', /posting document 50 >= docCount/);
  t.equal(patchedSection('forwardIndptr', (_b, dv, start) => dv.setUint32(start + 8, 0xffff, true))?.code, 'SEGMENT_INVALID_INDEX', 'forward offsets out of order');
  const badSummaryTerm = patchedSection('summaryTerms', (_b, dv, start) => dv.setUint16(start, 0xffff, true));
  t.equal(badSummaryTerm?.code, 'SEGMENT_INVALID_INDEX', 'summary term out of range');
  t.match(badSummaryTerm?.message ?? '', /summary term 65535 >= dim/);
  // Summary terms within a block carry no order requirement (the scorers scan them all), so only their range is checked.
  t.equal(patchedSection('summaryStart', (_b, dv, start) => dv.setUint32(start + 4, 0xffffff, true))?.code, 'SEGMENT_INVALID_INDEX', 'summary offsets out of order');
  t.equal(patchedSection('summaryStart', (_b, dv, start, end) => dv.setUint32(end - 4, dv.getUint32(end - 4, true) - 1, true))?.code, 'SEGMENT_INVALID_INDEX', 'summary offsets end before summaryTerms');
  t.equal(patchedSection('listBlockStart', (_b, dv, start, end) => dv.setUint32(end - 4, dv.getUint32(end - 4, true) + 1, true))?.code, 'SEGMENT_INVALID_INDEX', 'list offsets end past the blocks');
  t.equal(patchedSection('blockDocStart', (_b, dv, start) => dv.setUint32(start, 1, true))?.code, 'SEGMENT_INVALID_INDEX', 'block offsets do not start at 0');
  t.equal(patchedSection('forwardTerms', (_b, dv, start) => dv.setUint16(start, 30, true))?.code, 'SEGMENT_INVALID_INDEX', 'forward term >= dim');
  t.equal(patchedSection('docNumbers', (_b, dv, start) => dv.setUint32(start + 4, 0, true))?.code, 'SEGMENT_INVALID_INDEX', 'docNumbers not ascending');
  t.equal(patchedSection('metadata', (bytes, _dv, start) => (bytes[start] = 0x5b))?.code, 'SEGMENT_CORRUPT', 'metadata is not JSON');
  t.equal(patchedSection('metadata', (bytes, _dv, start, end) => bytes.fill(0x20, start, end).set([0x5b, 0x5d], start))?.code, 'SEGMENT_CORRUPT', 'metadata is not an object');
  t.equal(patchedSection('metadata', (bytes, _dv, start) => (bytes[start + 2] = 0xff))?.code, 'SEGMENT_CORRUPT', 'metadata is not UTF-8');

  // The `index` section, rewritten at another length.
  const reference0 = reference();
  const [indexStart, indexEnd] = sectionRange(reference0, 'index');
  const header = JSON.parse(new TextDecoder().decode(reference0.subarray(indexStart, indexEnd))) as Record<string, unknown>;
  t.same(Object.keys(header), ['formatVersion', 'docCount', 'dim', 'params'], 'the index section holds exactly the scalar fields');
  t.ok(bytesOf(relayout(reference0, {})).equals(bytesOf(reference0)), 'the test relayout reproduces a file unchanged');
  const withIndex = (value: unknown): SegmentFormatError | undefined => {
    const bytes = relayout(reference(), { index: new TextEncoder().encode(JSON.stringify(value)) });
    return errorOf(() => decodeSegment(bytes));
  };
  t.equal(withIndex({ ...header, formatVersion: 1 }), undefined, 'an equivalent index section reads');
  const unknownKey = withIndex({ ...header, maxBlocksPerList: 3 });
  t.equal(unknownKey?.code, 'SEGMENT_CORRUPT', 'an unknown key in the index section');
  t.equal(unknownKey?.section, 'index');
  t.equal(withIndex({ ...header, dim: undefined })?.code, 'SEGMENT_CORRUPT', 'dim missing');
  t.equal(withIndex({ ...header, docCount: '40' })?.code, 'SEGMENT_CORRUPT', 'docCount not a number');
  t.equal(withIndex({ ...header, params: { ...(header['params'] as object), forwardValues: undefined } })?.code, 'SEGMENT_CORRUPT', 'params.forwardValues missing');
  t.equal(withIndex([header])?.code, 'SEGMENT_CORRUPT', 'the index section is not an object');
  t.equal(withIndex({ ...header, formatVersion: 2 })?.code, 'SEGMENT_INVALID_INDEX', 'an index formatVersion other than 1');
  t.equal(withIndex({ ...header, docCount: 41 })?.code, 'SEGMENT_INVALID_INDEX', 'docCount disagrees with the arrays');
  t.equal(withIndex({ ...header, dim: 31 })?.code, 'SEGMENT_INVALID_INDEX', 'dim disagrees with listBlockStart');
  t.equal(withIndex({ ...header, params: { ...(header['params'] as object), forwardValues: 'u8' } })?.code, 'SEGMENT_INVALID_INDEX', 'params.forwardValues disagrees with the stored type');
  const noSummaryValue = relayout(reference(), { summaryValues: reference().subarray(...sectionRange(reference(), 'summaryValues')).subarray(1) });
  t.equal(errorOf(() => decodeSegment(noSummaryValue))?.code, 'SEGMENT_INVALID_INDEX', 'summaryValues shorter than summaryTerms');
  const noSummaryScale = relayout(reference(), { summaryScale: reference().subarray(...sectionRange(reference(), 'summaryScale')).subarray(4) });
  t.equal(errorOf(() => decodeSegment(noSummaryScale))?.code, 'SEGMENT_INVALID_INDEX', 'summaryScale without one value per block');

  const retyped = reference();
  view(retyped).setUint8(entryAt(retyped, 'forwardValues') + 4, 1);
  view(retyped).setBigUint64(entryAt(retyped, 'forwardValues') + 16, BigInt(sectionRange(retyped, 'forwardValues')[1] - sectionRange(retyped, 'forwardValues')[0]), true);
  refreshChecksums(retyped);
  t.equal(errorOf(() => decodeSegment(retyped))?.code, 'SEGMENT_INVALID_INDEX', 'forwardValues stored as u8 while params say f32');
});

// ------------------------------------------------------------------------------------------------
// Writer input checks

t.test('the writer refuses contents that would not read back, before touching the disk', async (t) => {
  const dir = tempDir(t);
  const good = segmentOf(20, 15, {});
  const cases: [string, SegmentContents][] = [
    ['posting document out of range', { ...good, index: { ...good.index, postingDocs: good.index.postingDocs.map(() => 999) } }],
    ['docNumbers of the wrong length', { ...good, docNumbers: good.docNumbers.subarray(1) }],
    ['docNumbers not ascending', { ...good, docNumbers: good.docNumbers.slice().reverse() }],
    ['docNumbers not a Uint32Array', { ...good, docNumbers: Array.from(good.docNumbers) as unknown as Uint32Array }],
    ['metadata with NaN', { ...good, metadata: { avgdl: Number.NaN } }],
    ['metadata with undefined', { ...good, metadata: { missing: undefined } as unknown as SegmentContents['metadata'] }],
    ['metadata with a Date', { ...good, metadata: { when: new Date(0) } as unknown as SegmentContents['metadata'] }],
    ['metadata that is an array', { ...good, metadata: [1, 2] as unknown as SegmentContents['metadata'] }],
    ['params with Infinity', { ...good, index: { ...good.index, params: { ...good.index.params, postingCap: Infinity } } }],
    ['an index array of the wrong type', { ...good, index: { ...good.index, summaryScale: Float64Array.from(good.index.summaryScale) as unknown as Float32Array } }],
    ['summary values not one per summary term', { ...good, index: { ...good.index, summaryValues: good.index.summaryValues.subarray(1) } }],
    ['summary term ids of the wrong width', { ...good, index: { ...good.index, summaryTerms: Uint32Array.from(good.index.summaryTerms) } }],
    ['an index field the format has no place for', { ...good, index: { ...good.index, extra: 1 } as unknown as SeismicIndexData }],
  ];
  for (const [label, segment] of cases) {
    t.equal(errorOf(() => encodeSegment(segment))?.code, 'SEGMENT_INVALID_CONTENTS', label);
    await t.rejects(writeSegmentFile(path.join(dir, 'bad.seg'), segment), { code: 'SEGMENT_INVALID_CONTENTS' }, `${label} (file)`);
  }
  t.same(fs.readdirSync(dir), [], 'nothing was written');
});

// ------------------------------------------------------------------------------------------------
// Atomic writes

t.test('replacing a file leaves the new one, and failed writes leave the old one and no temporary', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'seg.seg');
  const first = segmentOf(20, 15, {}, 1);
  const second = segmentOf(25, 15, {}, 2);
  await writeSegmentFile(file, first);
  await writeSegmentFile(file, second);
  sameContents(t, readSegmentFileSync(file), second);
  t.same(fs.readdirSync(dir), ['seg.seg']);

  await t.rejects(writeSegmentFile(path.join(dir, 'missing-folder', 'x.seg'), first), { code: 'ENOENT' }, 'target folder missing');

  // The rename fails after the whole temporary file was written: a non-empty folder is in the way.
  const blocked = path.join(dir, 'blocked.seg');
  fs.mkdirSync(blocked);
  fs.writeFileSync(path.join(blocked, 'keep'), 'x');
  await t.rejects(writeSegmentFile(blocked, first), 'rename over a non-empty folder fails');
  t.same(fs.readdirSync(dir).sort(), ['blocked.seg', 'seg.seg'], 'no temporary file is left');
  sameContents(t, readSegmentFileSync(file), second);
});

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs an ES module given as text in a fresh node through /bin/sh, with an optional shell prelude
 * (ulimit). The shell drops NODE_OPTIONS: the test runner's per-process instrumentation would add
 * about a second to every child.
 */
function runChild(source: string, options: { shellPrelude?: string; onLine?: (line: string, kill: () => void) => void } = {}): Promise<ChildResult> {
  const script = `unset NODE_OPTIONS; ${options.shellPrelude ?? ':'}; exec "$0" "$@"`;
  const child = spawn('/bin/sh', ['-c', script, process.execPath, '--input-type=module', '-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      options.onLine?.(line, () => child.kill('SIGKILL'));
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/**
 * Child program: builds a valid index of `docs` documents (about 30 bytes each, no posting lists,
 * so it is quick to make) and writes it to `file` with metadata.generation = `generation`.
 */
function largeSegmentWriter(file: string, docs: number, generation: number): string {
  return `
    import { writeSegmentFile } from ${JSON.stringify(segmentModuleUrl)};
    // Under a file size limit the kernel also sends SIGXFSZ; handling it lets the write fail with
    // EFBIG, as on a full disk, even where the test runner's instrumentation re-raises signals.
    process.on('SIGXFSZ', () => {});
    const docs = ${docs}, perDoc = 5, dim = 1000;
    const forwardIndptr = new Uint32Array(docs + 1);
    const forwardTerms = new Uint16Array(docs * perDoc);
    const forwardValues = new Float32Array(docs * perDoc);
    for (let d = 0; d < docs; d++) {
      forwardIndptr[d + 1] = (d + 1) * perDoc;
      for (let j = 0; j < perDoc; j++) {
        forwardTerms[d * perDoc + j] = (d % 100) + j * 150;
        forwardValues[d * perDoc + j] = ((d * 31 + j) % 97) / 10;
      }
    }
    const docNumbers = new Uint32Array(docs);
    for (let d = 0; d < docs; d++) docNumbers[d] = d * 2 + ${generation};
    const index = {
      formatVersion: 1,
      params: { pruning: 'fixed', postingCap: 4294967295, globalListCapFactor: 1.5, blockFraction: 0.1, minBlockSize: 2, clusterDocCut: 15, summaryEnergy: 1, forwardValues: 'f32', seed: 1 },
      docCount: docs, dim,
      forwardIndptr, forwardTerms, forwardValues,
      forwardScales: new Float32Array(0), forwardOffsets: new Float32Array(0),
      listBlockStart: new Uint32Array(dim + 1), blockDocStart: new Uint32Array(1), postingDocs: new Uint32Array(0),
      summaryStart: new Uint32Array(1), summaryTerms: new Uint16Array(0), summaryValues: new Uint8Array(0),
      summaryScale: new Float32Array(0), summaryOffset: new Float32Array(0),
    };
    const started = performance.now();
    process.stdout.write('writing\\n');
    try {
      const info = await writeSegmentFile(${JSON.stringify(file)}, { index, docNumbers, metadata: { generation: ${generation} } });
      process.stdout.write('done ' + info.byteLength + ' ' + (performance.now() - started).toFixed(1) + '\\n');
    } catch (error) {
      process.stdout.write('failed ' + error.code + '\\n');
    }
  `;
}

t.test('a write that fails half-way (file size limit) leaves the old file and no temporary', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'seg.seg');
  const old = segmentOf(10, 15, {}, 3);
  await writeSegmentFile(file, old);
  // A file size limit stands in for a full disk: the writes stop with EFBIG in the middle of a
  // segment of about 3 MB.
  const result = await runChild(largeSegmentWriter(file, 100_000, 1), { shellPrelude: 'ulimit -f 512' });
  t.match(result.stdout, /failed EFBIG/, `the child saw the write fail (${result.stdout.trim()} ${result.signal ?? ''} ${result.stderr.trim()})`);
  t.same(fs.readdirSync(dir), ['seg.seg'], 'only the old file remains');
  sameContents(t, readSegmentFileSync(file), old);
});

t.test('killing the writer at any moment never leaves a torn file', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'big.seg');
  const docs = 600_000; // about 23 MB
  const calibration = await runChild(largeSegmentWriter(file, docs, 0));
  const done = /done (\d+) ([\d.]+)/.exec(calibration.stdout);
  t.ok(done, `the uninterrupted write completes (${calibration.stdout.trim()} ${calibration.stderr.trim()})`);
  if (!done) return;
  t.ok(Number(done[1]) > 20_000_000, `the segment is large (${done[1]} bytes)`);
  const writeMs = Number(done[2]);
  t.equal(readSegmentFileSync(file).metadata['generation'], 0);

  const outcomes = { absent: 0, old: 0, new: 0 };
  const fractions = [0.1, 0.3, 0.5, 0.7, 0.9, 2];
  for (let round = 0; round < fractions.length; round++) {
    const generation = round + 1;
    const withOldFile = round % 2 === 0;
    if (!withOldFile) fs.rmSync(file, { force: true });
    else if (!fs.existsSync(file)) await writeSegmentFile(file, segmentOf(10, 15, {}, 0));
    const oldGeneration = withOldFile ? (readSegmentFileSync(file).metadata['generation'] ?? 'small') : undefined;
    const delay = fractions[round]! * writeMs;
    const result = await runChild(largeSegmentWriter(file, docs, generation), {
      onLine: (line, kill) => {
        if (line === 'writing') setTimeout(kill, delay);
      },
    });
    if (!fs.existsSync(file)) {
      t.notOk(withOldFile, `round ${generation}: the old file cannot vanish`);
      outcomes.absent++;
    } else {
      const contents = readSegmentFileSync(file); // throws on a torn file
      const found = contents.metadata['generation'] ?? 'small';
      t.ok(found === generation || found === oldGeneration, `round ${generation}: file holds generation ${String(found)}`);
      if (found === generation) {
        outcomes.new++;
        t.equal(contents.index.docCount, docs);
      } else outcomes.old++;
    }
    t.ok(result.signal === 'SIGKILL' || /done/.test(result.stdout), `round ${generation}: child killed or finished`);
    await removeStaleSegmentTempFiles(dir);
    t.same(fs.readdirSync(dir).filter((name) => name !== 'big.seg'), [], 'stale temporary files are removable');
  }
  t.comment(`kill outcomes after ${fractions.length} rounds (write took ${writeMs.toFixed(0)} ms): ${JSON.stringify(outcomes)}`);
});

t.test('removeStaleSegmentTempFiles removes only temporary files of the writer', async (t) => {
  const dir = tempDir(t);
  const names = ['.a.seg.123-0123456789abcdef.tmp', '.seg-9.seg.77-fedcba9876543210.tmp', 'a.seg', '.hidden', 'x.tmp', '.a.seg.12-short.tmp'];
  for (const name of names) fs.writeFileSync(path.join(dir, name), 'x');
  t.same((await removeStaleSegmentTempFiles(dir)).sort(), names.slice(0, 2).sort());
  t.same(fs.readdirSync(dir).sort(), names.slice(2).sort());
});
