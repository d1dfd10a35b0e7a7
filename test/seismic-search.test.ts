import t, { type Test } from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { buildSeismicIndex } from '../src/index/seismic/build.js';
import { SeismicError } from '../src/index/seismic/errors.js';
import { ExhaustiveSearcher } from '../src/index/seismic/exhaustive.js';

import { EXACT_BUILD_PARAMS, EXACT_QUERY_PARAMS } from '../src/index/seismic/params.js';
import type { SearchResult } from '../src/index/seismic/search-api.js';
import { openSeismicSearcher } from '../src/index/seismic/searcher.js';
import { SeededRandom } from '../src/common/random.js';
import { matrixFromRows, rowOf, type SparseMatrix, type SparseVector } from '../src/index/sparse-matrix.js';

const KINDS = ['wasm', 'ts'] as const;
const { docs, queries } = generateSynthetic({ docs: 1500, queries: 60, seed: 31 });
const exhaustive = new ExhaustiveSearcher(docs);
const exactIndex = buildSeismicIndex(docs, EXACT_BUILD_PARAMS);
const approximateIndex = buildSeismicIndex(docs, { postingCap: 40 });

/** Plain dot product of a query and a document of the matrix (reference for score checks). */
function dot(matrix: SparseMatrix, doc: number, query: SparseVector): number {
  let score = 0;
  let i = 0;
  let j = matrix.indptr[doc]!;
  const end = matrix.indptr[doc + 1]!;
  while (i < query.indices.length && j < end) {
    const a = query.indices[i]!;
    const b = matrix.indices[j]!;
    if (a === b) score += query.values[i++]! * matrix.values[j++]!;
    else if (a < b) i++;
    else j++;
  }
  return score;
}

const RELATIVE_TOLERANCE = 1e-5;
const close = (a: number, b: number): boolean => Math.abs(a - b) <= RELATIVE_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * Same documents in the same order with scores equal within f32 rounding; a swap is tolerated
 * only between documents whose exact scores tie within that rounding.
 */
function checkSameRanking(t: Test, actual: SearchResult, expected: SearchResult, query: SparseVector, label: string): void {
  if (actual.docs.length !== expected.docs.length) {
    t.fail(`${label}: ${actual.docs.length} results, expected ${expected.docs.length}`);
    return;
  }
  for (let i = 0; i < expected.docs.length; i++) {
    if (!close(actual.scores[i]!, expected.scores[i]!)) {
      t.fail(`${label}: rank ${i} score ${actual.scores[i]} vs ${expected.scores[i]}`);
      return;
    }
    if (actual.docs[i] !== expected.docs[i] && !close(dot(docs, actual.docs[i]!, query), expected.scores[i]!)) {
      t.fail(`${label}: rank ${i} has document ${actual.docs[i]}, expected ${expected.docs[i]}`);
      return;
    }
  }
}

function checkOrdered(t: Test, result: SearchResult, label: string): void {
  for (let i = 1; i < result.docs.length; i++) {
    const previous = result.scores[i - 1]!;
    const current = result.scores[i]!;
    if (previous < current || (previous === current && result.docs[i - 1]! >= result.docs[i]!)) {
      t.fail(`${label}: results out of order at ${i}`);
      return;
    }
  }
}

function throwsCode(t: Test, run: () => unknown, code: string, message: string): void {
  try {
    run();
    t.fail(`${message}: expected ${code}, nothing was thrown`);
  } catch (error) {
    t.ok(error instanceof SeismicError && error.code === code, `${message}: ${code} (${String(error)})`);
  }
}

t.test('with pruning and skipping off, results equal exhaustive exact search', (t) => {
  for (const kind of KINDS) {
    const searcher = openSeismicSearcher(exactIndex, { kind });
    for (const k of [1, 10, 100]) {
      for (let q = 0; q < queries.rows; q++) {
        const query = rowOf(queries, q);
        const actual = searcher.search(query, { k, ...EXACT_QUERY_PARAMS });
        checkSameRanking(t, actual, exhaustive.search(query, { k }), query, `${kind} k=${k} query ${q}`);
        checkOrdered(t, actual, `${kind} k=${k} query ${q}`);
      }
    }
    t.pass(`${kind}: ${queries.rows} queries x 3 values of k`);
  }
  t.end();
});

t.test('approximate search returns true dot products in order', (t) => {
  for (const kind of KINDS) {
    const searcher = openSeismicSearcher(approximateIndex, { kind });
    let wrongScores = 0;
    for (let q = 0; q < queries.rows; q++) {
      const query = rowOf(queries, q);
      const result = searcher.search(query, { k: 10, queryCut: 5, heapFactor: 0.9 });
      checkOrdered(t, result, `${kind} query ${q}`);
      // Default forward values are f16: scores match the f32 dot product to ~2^-11.
      for (let i = 0; i < result.docs.length; i++) {
        const exact = dot(docs, result.docs[i]!, query);
        if (Math.abs(result.scores[i]! - exact) > 2e-3 * Math.max(1, exact)) wrongScores++;
      }
    }
    t.equal(wrongScores, 0, `${kind}: every score is the document's dot product`);
  }
  t.end();
});

t.test('deleted documents never appear', (t) => {
  const random = new SeededRandom(8);
  const excluded = new Uint32Array(Math.ceil(docs.rows / 32));
  for (let d = 0; d < docs.rows; d++) if (random.nextFloat() < 0.3) excluded[d >>> 5]! |= 1 << (d & 31);
  const isExcluded = (d: number): boolean => ((excluded[d >>> 5]! >>> (d & 31)) & 1) === 1;
  for (const kind of KINDS) {
    const exact = openSeismicSearcher(exactIndex, { kind });
    const approximate = openSeismicSearcher(approximateIndex, { kind });
    let leaked = 0;
    for (let q = 0; q < queries.rows; q++) {
      const query = rowOf(queries, q);
      const filtered = exact.search(query, { k: 20, ...EXACT_QUERY_PARAMS, excluded });
      checkSameRanking(t, filtered, exhaustive.search(query, { k: 20, excluded }), query, `${kind} exact query ${q}`);
      for (const doc of filtered.docs) if (isExcluded(doc)) leaked++;
      for (const doc of approximate.search(query, { k: 20, excluded }).docs) if (isExcluded(doc)) leaked++;
      // The deletion set of one query must not leak into the next.
      const unfiltered = exact.search(query, { k: 20, ...EXACT_QUERY_PARAMS });
      checkSameRanking(t, unfiltered, exhaustive.search(query, { k: 20 }), query, `${kind} after a filtered query ${q}`);
    }
    t.equal(leaked, 0, `${kind}: no deleted document returned`);
    const everything = new Uint32Array(excluded.length).fill(0xffffffff);
    t.equal(exact.search(rowOf(queries, 0), { excluded: everything }).docs.length, 0, `${kind}: all deleted, nothing found`);
    // A short bitset covers only its first words; later documents count as live.
    const short = Uint32Array.of(0xffffffff);
    const result = exact.search(rowOf(queries, 0), { k: 50, ...EXACT_QUERY_PARAMS, excluded: short });
    t.ok(result.docs.length > 0 && result.docs.every((d) => d >= 32), `${kind}: short bitset excludes documents 0-31 only`);
  }
  t.end();
});

t.test('degenerate queries and parameters', (t) => {
  for (const kind of KINDS) {
    const searcher = openSeismicSearcher(approximateIndex, { kind });
    const empty = { indices: new Uint32Array(0), values: new Float32Array(0) };
    t.equal(searcher.search(empty).docs.length, 0, `${kind}: empty query`);
    t.equal(searcher.search(rowOf(queries, 0), { k: 0 }).docs.length, 0, `${kind}: k = 0`);
    throwsCode(t, () => searcher.search({ indices: Uint32Array.of(5, docs.dim), values: Float32Array.of(1, 1) }), 'SEISMIC_QUERY_TERM_OUT_OF_RANGE', `${kind}: term = dim`);
    throwsCode(t, () => searcher.search({ indices: Uint32Array.of(0xffffffff), values: Float32Array.of(1) }), 'SEISMIC_QUERY_TERM_OUT_OF_RANGE', `${kind}: huge term`);
    throwsCode(t, () => searcher.search({ indices: Uint32Array.of(9, 3), values: Float32Array.of(1, 1) }), 'SEISMIC_BAD_QUERY', `${kind}: unsorted terms`);
    throwsCode(t, () => searcher.search({ indices: Uint32Array.of(3), values: Float32Array.of(NaN) }), 'SEISMIC_BAD_QUERY', `${kind}: NaN weight`);
    throwsCode(t, () => searcher.search({ indices: Uint32Array.of(3, 4), values: Float32Array.of(1) }), 'SEISMIC_BAD_QUERY', `${kind}: length mismatch`);
    throwsCode(t, () => searcher.search(rowOf(queries, 0), { k: -1 }), 'SEISMIC_BAD_SEARCH_PARAMS', `${kind}: negative k`);
    throwsCode(t, () => searcher.search(rowOf(queries, 0), { heapFactor: -1 }), 'SEISMIC_BAD_SEARCH_PARAMS', `${kind}: negative heapFactor`);
    throwsCode(t, () => searcher.search(rowOf(queries, 0), { queryCut: 0 }), 'SEISMIC_BAD_SEARCH_PARAMS', `${kind}: queryCut 0`);

    // k larger than the collection: every document sharing a term, once.
    const exact = openSeismicSearcher(exactIndex, { kind });
    const query = rowOf(queries, 1);
    const all = exact.search(query, { k: docs.rows * 10, ...EXACT_QUERY_PARAMS });
    const sharing = exhaustive.search(query, { k: docs.rows * 10 });
    t.equal(all.docs.length, sharing.docs.length, `${kind}: k > n returns every matching document`);
    t.equal(new Set(all.docs).size, all.docs.length, `${kind}: no document twice`);
    checkOrdered(t, all, `${kind} k > n`);
  }
  t.end();
});

t.test('empty collections and empty documents', (t) => {
  const emptyMatrix: SparseMatrix = { rows: 0, dim: 50, indptr: Uint32Array.of(0), indices: new Uint32Array(0), values: new Float32Array(0) };
  const withEmptyRows = matrixFromRows(
    [
      { indices: new Uint32Array(0), values: new Float32Array(0) },
      { indices: Uint32Array.of(2, 7), values: Float32Array.of(0.5, 1) },
      { indices: new Uint32Array(0), values: new Float32Array(0) },
      { indices: Uint32Array.of(7), values: Float32Array.of(3) },
    ],
    10,
  );
  for (const kind of KINDS) {
    const none = openSeismicSearcher(buildSeismicIndex(emptyMatrix), { kind });
    t.equal(none.search({ indices: Uint32Array.of(3), values: Float32Array.of(1) }).docs.length, 0, `${kind}: empty collection`);
    throwsCode(t, () => none.search({ indices: Uint32Array.of(50), values: Float32Array.of(1) }), 'SEISMIC_QUERY_TERM_OUT_OF_RANGE', `${kind}: still checks terms`);
    const sparse = openSeismicSearcher(buildSeismicIndex(withEmptyRows), { kind });
    const result = sparse.search({ indices: Uint32Array.of(2, 7, 9), values: Float32Array.of(1, 1, 1) }, { k: 10 });
    t.same(Array.from(result.docs), [3, 1], `${kind}: empty documents never match`);
    t.same(Array.from(result.scores), [3, 1.5]);
    t.equal(sparse.search({ indices: Uint32Array.of(9), values: Float32Array.of(1) }).docs.length, 0, `${kind}: term without postings`);
  }
  t.end();
});

t.test('equal scores are ordered by document number', (t) => {
  // Five copies of each of three vectors: every query ties in groups of five.
  const base = [
    { indices: Uint32Array.of(1, 4, 9), values: Float32Array.of(1, 2, 3) },
    { indices: Uint32Array.of(4, 9), values: Float32Array.of(0.5, 0.25) },
    { indices: Uint32Array.of(1, 2), values: Float32Array.of(2, 2) },
  ];
  const rows = Array.from({ length: 15 }, (_, i) => base[(i * 7) % 3]!);
  const index = buildSeismicIndex(matrixFromRows(rows, 12), { pruning: 'fixed', postingCap: Infinity, summaryEnergy: 1 });
  for (const kind of KINDS) {
    const searcher = openSeismicSearcher(index, { kind });
    const result = searcher.search({ indices: Uint32Array.of(1, 4, 9), values: Float32Array.of(1, 1, 1) }, { k: 7, ...EXACT_QUERY_PARAMS });
    const expected = rows
      .map((row, doc) => ({ doc, score: row.indices.reduce((sum, term, i) => sum + ([1, 4, 9].includes(term) ? row.values[i]! : 0), 0) }))
      .sort((a, b) => b.score - a.score || a.doc - b.doc)
      .slice(0, 7);
    t.same(Array.from(result.docs), expected.map((e) => e.doc), `${kind}: ties by ascending document`);
  }
  t.end();
});

t.test('searcher defaults apply when a query leaves parameters out', (t) => {
  for (const kind of KINDS) {
    const narrow = openSeismicSearcher(exactIndex, { kind, defaults: { k: 3, queryCut: Infinity, heapFactor: 0 } });
    const query = rowOf(queries, 2);
    checkSameRanking(t, narrow.search(query), exhaustive.search(query, { k: 3 }), query, `${kind} defaults`);
    t.equal(narrow.search(query, { k: 5 }).docs.length, 5, `${kind}: per-query k overrides the default`);
  }
  t.end();
});


