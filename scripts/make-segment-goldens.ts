/**
 * Writes the golden segment files of the current format version (index-format/v2/) and a JSON
 * description of each.
 *
 *   npx tsc -p tsconfig.json && node dist/scripts/make-segment-goldens.js [--force] [--out DIR]
 *
 * Deterministic: fixed matrix, seed, metadata and creation time, so a rerun gives identical bytes.
 * Committed goldens are frozen (old files must read forever); the script refuses to replace a
 * golden whose bytes differ unless given --force. A new format version gets a new folder instead.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildSeismicIndex } from '../src/index/seismic/build.js';
import { buildKnnGraphSync } from '../src/index/seismic/knn-graph.js';
import { f16BitsToF32 } from '../src/index/seismic/f16.js';
import { indexArrays, type SeismicIndexData } from '../src/index/seismic/index-data.js';
import type { SeismicBuildParams } from '../src/index/seismic/params.js';
import type { SparseMatrix } from '../src/index/sparse-matrix.js';
import { encodeSegment, readSegmentLayout, writeSegmentFile, SEGMENT_FORMAT_VERSION, type JsonValue, type SegmentContents } from '../src/index/segment/segment-file.js';

export interface GoldenQuery {
  readonly indices: readonly number[];
  readonly values: readonly number[];
  readonly k: number;
}

export interface GoldenSegment {
  /** File name without extension. */
  readonly name: string;
  readonly description: string;
  readonly contents: SegmentContents;
  readonly queries: readonly GoldenQuery[];
}

export interface TopK {
  readonly rows: number[];
  readonly scores: number[];
}

const CREATED_AT = '2025-01-01T00:00:00.000Z';
const DOCUMENTS = 16;
const DIM = 40;

/** A small SPLADE-like matrix from a fixed linear congruential sequence (no Math.random). */
function goldenMatrix(rows: number): SparseMatrix {
  let state = 20250101;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 0x1_0000_0000;
  };
  const indptr = new Uint32Array(rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    const terms = new Set<number>();
    const length = 3 + Math.floor(next() * 6);
    // Low term ids are drawn more often, like frequent vocabulary, so lists get several blocks.
    while (terms.size < length) terms.add(Math.floor(next() * next() * DIM));
    for (const term of [...terms].sort((a, b) => a - b)) {
      indices.push(term);
      values.push(Math.fround(0.05 + next() * 2.5));
    }
    indptr[r + 1] = indices.length;
  }
  return { rows, dim: DIM, indptr, indices: Uint32Array.from(indices), values: Float32Array.from(values) };
}

/** Global doc numbers with gaps, as a segment of a collection with deletions would have. */
function goldenDocNumbers(rows: number): Uint32Array {
  const docNumbers = new Uint32Array(rows);
  let next = 1000;
  for (let r = 0; r < rows; r++) {
    next += 1 + (r % 3) * 2;
    docNumbers[r] = next;
  }
  return docNumbers;
}

const QUERIES: readonly GoldenQuery[] = [
  { indices: [0, 1, 2, 5], values: [1, 0.5, 0.25, 2], k: 5 },
  { indices: [3, 8, 13, 21, 34], values: [0.75, 1.5, 0.125, 3, 1], k: 4 },
  { indices: [7], values: [1], k: 10 },
];

function golden(name: string, description: string, rows: number, params: Partial<SeismicBuildParams>, metadata: Record<string, JsonValue>): GoldenSegment {
  const index = buildSeismicIndex(goldenMatrix(rows), params);
  const knnNeighbors = index.params.knnNeighbors > 0 ? buildKnnGraphSync(index, index.params.knnNeighbors) : undefined;
  return {
    name,
    description,
    contents: { index, docNumbers: goldenDocNumbers(rows), metadata: { segmentId: name, createdAt: CREATED_AT, ...metadata }, ...(knnNeighbors ? { knnNeighbors } : {}) },
    queries: QUERIES,
  };
}

// Posting lists are never capped, so exact search over each golden equals brute force.
const UNPRUNED: Partial<SeismicBuildParams> = { pruning: 'fixed', postingCap: Infinity, blockFraction: 0.5, minBlockSize: 1, seed: 7 };

/** The golden segments, built in memory; the test compares their encoding with the committed files. */
export function goldenSegments(): GoldenSegment[] {
  return [
    golden('tiny-f32', '16 documents, dim 40, f32 forward values, learned-sparse (dot) metadata', DOCUMENTS, { ...UNPRUNED, forwardValues: 'f32', summaryEnergy: 1 }, {
      scoringModel: 'dot',
      encoder: { name: 'golden-splade', version: 1 },
      termDictionarySize: DIM,
    }),
    golden('tiny-f16', '16 documents, dim 40, f16 forward values, summaries keeping 60% of their mass', DOCUMENTS, { ...UNPRUNED, forwardValues: 'f16', summaryEnergy: 0.6 }, {
      scoringModel: 'dot',
      termDictionarySize: DIM,
    }),
    golden('tiny-u8', '16 documents, dim 40, u8 forward values with per-document scale/offset, BM25 metadata', DOCUMENTS, { ...UNPRUNED, forwardValues: 'u8', summaryEnergy: 0.8 }, {
      scoringModel: 'bm25',
      bm25: { k1: 0.9, b: 0.4, avgFieldLength: { title: 9.5, text: 121.25 }, documentCount: DOCUMENTS },
      termDictionarySize: DIM,
    }),
    golden('empty', 'no documents (dim 40): every array is empty or all zeros', 0, { ...UNPRUNED, forwardValues: 'f32' }, {
      scoringModel: 'dot',
      termDictionarySize: DIM,
    }),
    golden('tiny-knn', '16 documents, dim 40, f32 forward values, a kNN graph of 3 neighbours per document', DOCUMENTS, { ...UNPRUNED, forwardValues: 'f32', summaryEnergy: 1, knnNeighbors: 3 }, {
      scoringModel: 'dot',
      termDictionarySize: DIM,
    }),
  ];
}

/** A document weight as stored, widened to f32 the way the scorers widen it. */
function forwardWeight(index: SeismicIndexData, doc: number, i: number): number {
  const value = index.forwardValues[i]!;
  switch (index.params.forwardValues) {
    case 'f32':
      return value;
    case 'f16':
      return f16BitsToF32(value);
    case 'u8':
      return Math.fround(index.forwardOffsets[doc]! + Math.fround(index.forwardScales[doc]! * value));
  }
}

/**
 * Exact top-k over the forward index: score = Σ query weight × stored weight, summed in f64 and
 * rounded to f32; order by score descending, then row ascending; documents sharing no term with
 * the query are not results.
 */
export function bruteForceTopK(index: SeismicIndexData, query: GoldenQuery): TopK {
  const dense = new Float64Array(index.dim);
  const inQuery = new Uint8Array(index.dim);
  query.indices.forEach((term, j) => {
    dense[term] = Math.fround(query.values[j]!);
    inQuery[term] = 1;
  });
  const hits: { row: number; score: number }[] = [];
  for (let doc = 0; doc < index.docCount; doc++) {
    let score = 0;
    let matched = false;
    for (let i = index.forwardIndptr[doc]!; i < index.forwardIndptr[doc + 1]!; i++) {
      const term = index.forwardTerms[i]!;
      if (inQuery[term] === 0) continue;
      matched = true;
      score += dense[term]! * forwardWeight(index, doc, i);
    }
    if (matched) hits.push({ row: doc, score: Math.fround(score) });
  }
  hits.sort((a, b) => b.score - a.score || a.row - b.row);
  const top = hits.slice(0, query.k);
  return { rows: top.map((hit) => hit.row), scores: top.map((hit) => hit.score) };
}

const ELEMENT_NAMES = new Map<unknown, string>([
  [Uint8Array, 'u8'],
  [Uint16Array, 'u16'],
  [Uint32Array, 'u32'],
  [Float32Array, 'f32'],
]);

/** Everything a golden file must decode to, as JSON (numbers of f32 arrays are exact doubles). */
export function describeGolden(segment: GoldenSegment, bytes: Uint8Array): JsonValue {
  const { index, docNumbers, metadata } = segment.contents;
  const arrays: Record<string, JsonValue> = {};
  for (const [name, array] of Object.entries(indexArrays(index))) {
    arrays[name] = { type: ELEMENT_NAMES.get(array.constructor)!, values: Array.from(array as unknown as ArrayLike<number>) };
  }
  const layout = readSegmentLayout(bytes);
  return {
    file: `${segment.name}.seg`,
    description: segment.description,
    formatVersion: SEGMENT_FORMAT_VERSION,
    byteLength: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    sections: layout.sections.map((s) => ({ id: s.id, name: s.name, elementType: s.elementType, offset: s.offset, byteLength: s.byteLength, crc32: s.crc32 })),
    metadata,
    docNumbers: Array.from(docNumbers),
    ...(segment.contents.knnNeighbors ? { knnNeighbors: Array.from(segment.contents.knnNeighbors) } : {}),
    index: {
      formatVersion: index.formatVersion,
      docCount: index.docCount,
      dim: index.dim,
      params: { ...index.params },
      arrays,
    },
    queries: segment.queries.map((query) => {
      const top = bruteForceTopK(index, query);
      return {
        indices: [...query.indices],
        values: [...query.values],
        k: query.k,
        expected: { rows: top.rows, docNumbers: top.rows.map((row) => docNumbers[row]!), scores: top.scores },
      };
    }),
  };
}

/** Indented JSON with arrays of plain values kept on one line, so array contents stay readable. */
function formatJson(value: JsonValue, indent: string): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.every((item) => item === null || typeof item !== 'object')) return JSON.stringify(value);
    return `[\n${value.map((item) => inner + formatJson(item, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([key, item]) => `${inner}${JSON.stringify(key)}: ${formatJson(item, inner)}`).join(',\n')}\n${indent}}`;
}

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the script');
    dir = parent;
  }
  return dir;
}

async function main(argv: readonly string[]): Promise<number> {
  const force = argv.includes('--force');
  const outFlag = argv.indexOf('--out');
  const outDir = outFlag >= 0 && argv[outFlag + 1] !== undefined ? path.resolve(argv[outFlag + 1]!) : path.join(findRepoRoot(), 'index-format', `v${SEGMENT_FORMAT_VERSION}`);
  fs.mkdirSync(outDir, { recursive: true });
  let refused = 0;
  for (const segment of goldenSegments()) {
    const bytes = encodeSegment(segment.contents);
    const segmentPath = path.join(outDir, `${segment.name}.seg`);
    if (fs.existsSync(segmentPath) && !force && !Buffer.from(bytes).equals(fs.readFileSync(segmentPath))) {
      console.error(`${segmentPath} exists with different bytes; committed goldens are frozen (use --force only before they are released)`);
      refused++;
      continue;
    }
    await writeSegmentFile(segmentPath, segment.contents);
    fs.writeFileSync(path.join(outDir, `${segment.name}.json`), `${formatJson(describeGolden(segment, bytes), '')}\n`);
    console.log(`${segmentPath}: ${bytes.byteLength} bytes`);
  }
  return refused === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
