import t from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { Engine } from '../src/engine/engine.js';
import { buildApp } from '../src/server/app.js';
import { buildSeismicIndex } from '../src/index/seismic/build.js';
import { f16DecodeTable } from '../src/index/seismic/f16.js';
import type { SeismicIndexData } from '../src/index/seismic/index-data.js';
import { WasmSeismicSearcher } from '../src/index/seismic/query-wasm.js';
import { SeededRandom } from '../src/common/random.js';
import { buildSafeBounds } from '../src/index/seismic/safe-bounds.js';
import { rowOf, type SparseMatrix, type SparseVector } from '../src/index/sparse-matrix.js';
import { tempDir } from './support/tmp.js';

/**
 * The oracle: every document holding a query term, scored with the exact engine's arithmetic
 * (f32 products summed in f64 in ascending term order, rounded once), best first, ties by row.
 */
function bruteForce(index: SeismicIndexData, query: SparseVector, k: number, excluded?: Uint32Array): { docs: number[]; scores: number[] } {
  const weights = new Map<number, number>();
  for (let j = 0; j < query.indices.length; j++) weights.set(query.indices[j]!, query.values[j]!);
  const half = f16DecodeTable();
  const scored: [number, number][] = [];
  for (let d = 0; d < index.docCount; d++) {
    if (excluded && (excluded[d >>> 5]! & (1 << (d & 31))) !== 0) continue;
    let sum = 0;
    let matched = false;
    for (let i = index.forwardIndptr[d]!; i < index.forwardIndptr[d + 1]!; i++) {
      const q = weights.get(index.forwardTerms[i]!);
      if (q === undefined || q === 0) continue;
      const raw = index.forwardValues[i]!;
      const w =
        index.params.forwardValues === 'f32'
          ? raw
          : index.params.forwardValues === 'f16'
            ? half[raw]!
            : Math.fround(index.forwardOffsets[d]! + Math.fround(index.forwardScales[d]! * raw));
      matched = true;
      sum += Math.fround(q * w);
    }
    if (matched) scored.push([Math.fround(sum), d]);
  }
  scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const top = scored.slice(0, k);
  return { docs: top.map((s) => s[1]), scores: top.map((s) => s[0]) };
}

/** Small random collections with many repeated vectors (ties) and a small vocabulary. */
function randomCollection(random: SeededRandom, rows: number, dim: number, negative: boolean): SparseMatrix {
  const indptr = new Uint32Array(rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  const distinct: { terms: number[]; weights: number[] }[] = [];
  for (let r = 0; r < rows; r++) {
    let doc: { terms: number[]; weights: number[] };
    if (distinct.length > 0 && random.nextFloat() < 0.2) doc = distinct[Math.floor(random.nextFloat() * distinct.length)]!;
    else {
      const terms = new Set<number>();
      const length = 1 + Math.floor(random.nextFloat() * 12);
      while (terms.size < length) terms.add(Math.floor(random.nextFloat() * dim));
      const sorted = [...terms].sort((a, b) => a - b);
      // Weights on a coarse grid make equal scores common.
      doc = { terms: sorted, weights: sorted.map(() => (negative && random.nextFloat() < 0.1 ? -1 : 1) * (1 + Math.floor(random.nextFloat() * 8)) / 4) };
      distinct.push(doc);
    }
    indices.push(...doc.terms);
    values.push(...doc.weights);
    indptr[r + 1] = indices.length;
  }
  return { rows, dim, indptr, indices: Uint32Array.from(indices), values: Float32Array.from(values) };
}

function randomQuery(random: SeededRandom, dim: number, negative: boolean): SparseVector {
  const terms = new Set<number>();
  const length = 1 + Math.floor(random.nextFloat() * 8);
  while (terms.size < length) terms.add(Math.floor(random.nextFloat() * dim));
  const sorted = [...terms].sort((a, b) => a - b);
  return {
    indices: Uint32Array.from(sorted),
    values: Float32Array.from(sorted.map(() => (negative && random.nextFloat() < 0.2 ? -0.5 : 1) * (1 + Math.floor(random.nextFloat() * 4)) / 2)),
  };
}

t.test('safe search equals brute force over the stored vectors: seeded trials, ties and deletions included', async (t) => {
  const random = new SeededRandom(20261204);
  let trials = 0;
  let compared = 0;
  for (const forwardValues of ['f32', 'f16', 'u8'] as const) {
    for (let round = 0; round < 6; round++) {
      const negative = round === 5;
      const rows = 20 + Math.floor(random.nextFloat() * 400);
      const dim = 8 + Math.floor(random.nextFloat() * 60);
      const docs = randomCollection(random, rows, dim, negative);
      const index = buildSeismicIndex(docs, { forwardValues, postingCap: 4, summaryEnergy: 0.3, seed: round });
      const searcher = new WasmSeismicSearcher(index, {}, { safeBlockSize: 1 + Math.floor(random.nextFloat() * 20) });
      for (let q = 0; q < 25; q++) {
        const query = randomQuery(random, dim, negative);
        const k = 1 + Math.floor(random.nextFloat() * 30);
        let excluded: Uint32Array | undefined;
        if (q % 3 === 0) {
          excluded = new Uint32Array((rows + 31) >>> 5);
          for (let d = 0; d < rows; d++) if (random.nextFloat() < 0.2) excluded[d >>> 5]! |= 1 << (d & 31);
        }
        const got = searcher.safeSearch(query, { k, ...(excluded ? { excluded } : {}) });
        const want = bruteForce(index, query, k, excluded);
        compared++;
        if (!sameResult(got, want)) {
          t.fail(`${forwardValues} round ${round} query ${q}: safe ${JSON.stringify([...got.docs])} vs brute force ${JSON.stringify(want.docs)}`);
          return;
        }
      }
      trials++;
      searcher.dispose();
    }
  }
  t.equal(trials, 18, 'every collection was tried');
  t.pass(`${compared} queries identical (documents and scores), f32 / f16 / u8, negative weights in one round per format`);
});

function sameResult(got: { docs: Uint32Array; scores: Float32Array }, want: { docs: number[]; scores: number[] }): boolean {
  if (got.docs.length !== want.docs.length) return false;
  for (let i = 0; i < want.docs.length; i++) if (got.docs[i] !== want.docs[i] || got.scores[i] !== want.scores[i]) return false;
  return true;
}

t.test('the scoring core builds the same bounds as the reference builder, and they bound every weight', async (t) => {
  const { docs } = generateSynthetic({ docs: 2000, queries: 1, seed: 3, dim: 3000, topics: 40, topicSize: 100 });
  for (const forwardValues of ['f32', 'f16', 'u8'] as const) {
    const index = buildSeismicIndex(docs, { forwardValues });
    const searcher = new WasmSeismicSearcher(index);
    const core = searcher.safeBoundsArrays();
    const reference = buildSafeBounds(index);
    t.same(core, reference, `${forwardValues}: identical arrays`);
    // Every stored weight is at most its block's bound (in the f32 arithmetic the core uses).
    const blockOf = new Uint32Array(index.docCount);
    reference.rowOrder.forEach((row, position) => (blockOf[row] = Math.floor(position / reference.blockSize)));
    const half = f16DecodeTable();
    let violations = 0;
    for (let d = 0; d < index.docCount; d++) {
      for (let i = index.forwardIndptr[d]!; i < index.forwardIndptr[d + 1]!; i++) {
        const term = index.forwardTerms[i]!;
        const raw = index.forwardValues[i]!;
        const w = forwardValues === 'f32' ? raw : forwardValues === 'f16' ? half[raw]! : Math.fround(index.forwardOffsets[d]! + Math.fround(index.forwardScales[d]! * raw));
        let level = -1;
        for (let e = reference.listStart[term]!; e < reference.listStart[term + 1]!; e++) if (reference.listBlocks[e] === blockOf[d]) level = reference.listLevels[e]!;
        if (level < 0 || Math.fround(reference.termScale[term]! * level) < w) violations++;
      }
    }
    t.equal(violations, 0, `${forwardValues}: every weight is listed in its block and bounded`);
    searcher.dispose();
  }
});

t.test('safe search skips most blocks on a SPLADE-like collection and finds the exact top 10', async (t) => {
  const { docs, queries } = generateSynthetic({ docs: 6000, queries: 30, seed: 11 });
  const index = buildSeismicIndex(docs, { forwardValues: 'f32' });
  const searcher = new WasmSeismicSearcher(index);
  let scoredDocs = 0;
  for (let q = 0; q < queries.rows; q++) {
    const query = rowOf(queries, q);
    const got = searcher.safeSearch(query, { k: 10 });
    scoredDocs += searcher.lastStats().docsScored;
    t.ok(sameResult(got, bruteForce(index, query, 10)), `query ${q}`);
  }
  const share = scoredDocs / queries.rows / index.docCount;
  t.ok(share < 0.25, `${(share * 100).toFixed(1)}% of the documents scored per query`);
  searcher.dispose();
});

t.test('mode "safe" on a collection answers what mode "exact" answers, ties, filters and deletions included; over HTTP too', async (t) => {
  const dir = tempDir(t);
  const engine = Engine.open(dir);
  t.teardown(() => engine.close());
  const collection = engine.createCollection('safe', {
    encoder: { type: 'precomputed' },
    index: { segmentMinDocs: 300, mergeFactor: 4, build: { forwardValues: 'f32' } },
  });
  const random = new SeededRandom(99);
  const docs = randomCollection(random, 1500, 40, false);
  const batch = [];
  for (let row = 0; row < docs.rows; row++) {
    const { indices, values } = rowOf(docs, row);
    const vector: Record<string, number> = {};
    for (let i = 0; i < indices.length; i++) vector[`t${indices[i]}`] = values[i]!;
    batch.push({ id: `d${String(row).padStart(4, '0')}`, fields: { vector, group: row % 3 } });
  }
  collection.upsert(batch);
  await collection.buildSegments({ force: true });
  t.ok(collection.segmentStatistics().segments.length >= 1, 'segments were built');
  collection.delete(['d0003', 'd0100', 'd0777']);
  let ties = 0;
  for (let q = 0; q < 40; q++) {
    const query = randomQuery(random, 40, false);
    const vector: Record<string, number> = {};
    for (let j = 0; j < query.indices.length; j++) vector[`t${query.indices[j]}`] = query.values[j]!;
    const filter = q % 4 === 0 ? { group: 1 } : undefined;
    const request = { query: vector, k: 20, fields: false, ...(filter ? { filter } : {}) };
    const exact = collection.search({ ...request, mode: 'exact' });
    const safe = collection.search({ ...request, mode: 'safe' });
    t.equal(safe.mode, 'safe');
    t.same(safe.hits, exact.hits, `query ${q}${filter ? ' (filtered)' : ''}`);
    for (let i = 1; i < exact.hits.length; i++) if (exact.hits[i]!.score === exact.hits[i - 1]!.score) ties++;
  }
  t.ok(ties > 20, `${ties} tied neighbours in the compared lists`);

  const app = buildApp({ engine });
  t.teardown(() => app.close());
  const query = { t1: 1, t2: 0.5, t3: 2 };
  const safe = await app.inject({ method: 'POST', url: '/collections/safe/search', payload: { query, k: 5, mode: 'safe' } });
  t.equal(safe.statusCode, 200);
  t.equal(safe.json().mode, 'safe');
  const exact = await app.inject({ method: 'POST', url: '/collections/safe/search', payload: { query, k: 5, mode: 'exact' } });
  t.same(safe.json().hits, exact.json().hits, 'the same hits over HTTP');
  const bad = await app.inject({ method: 'POST', url: '/collections/safe/search', payload: { query, mode: 'proven' } });
  t.equal(bad.statusCode, 400);
});
