import t, { type Test } from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { buildSeismicIndex } from '../src/index/seismic/build.js';
import { SeismicError } from '../src/index/seismic/errors.js';
import type { SeismicIndexData } from '../src/index/seismic/index-data.js';
import type { SeismicBuildParams } from '../src/index/seismic/params.js';
import { TsSeismicSearcher } from '../src/index/seismic/query-ts.js';
import { WasmSeismicSearcher } from '../src/index/seismic/query-wasm.js';
import { SeededRandom } from '../src/common/random.js';
import type { SearchOptions, SearchResult } from '../src/index/seismic/search-api.js';
import { matrixFromRows, rowOf, type SparseMatrix, type SparseVector } from '../src/index/sparse-matrix.js';
import { ScoringCore, ScoringCoreError } from '../src/scoring/wasm-core.js';

const { docs, queries } = generateSynthetic({ docs: 800, queries: 60, seed: 41 });

function sameBits(a: SearchResult, b: SearchResult): boolean {
  if (a.docs.length !== b.docs.length) return false;
  for (let i = 0; i < a.docs.length; i++) {
    if (a.docs[i] !== b.docs[i] || !Object.is(a.scores[i], b.scores[i])) return false;
  }
  return true;
}

function randomOptions(random: SeededRandom, docCount: number): SearchOptions {
  const options: { k: number; queryCut: number; heapFactor: number; excluded?: Uint32Array } = {
    k: [1, 5, 10, 37, 200][random.nextInt(5)]!,
    queryCut: [1, 2, 3, 5, 8, 13, Infinity][random.nextInt(7)]!,
    heapFactor: [0, 0.3, 0.7, 0.9, 1, 1.3][random.nextInt(6)]!,
  };
  if (random.nextFloat() < 0.3) {
    const excluded = new Uint32Array(Math.ceil(docCount / 32));
    for (let d = 0; d < docCount; d++) if (random.nextFloat() < 0.2) excluded[d >>> 5]! |= 1 << (d & 31);
    options.excluded = excluded;
  }
  return options;
}

/** Runs both scorers on every query with random parameters; returns how many results differed. */
function compareScorers(t: Test, index: SeismicIndexData, querySet: SparseMatrix, seed: number, rounds: number): number {
  const wasm = new WasmSeismicSearcher(index);
  const ts = new TsSeismicSearcher(index);
  const random = new SeededRandom(seed);
  let differences = 0;
  for (let round = 0; round < rounds; round++) {
    for (let q = 0; q < querySet.rows; q++) {
      const query = rowOf(querySet, q);
      const options = randomOptions(random, index.docCount);
      const fromWasm = wasm.search(query, options);
      const fromTs = ts.search(query, options);
      if (!sameBits(fromWasm, fromTs) || JSON.stringify(wasm.lastStats()) !== JSON.stringify(ts.lastStats())) {
        differences++;
        if (differences <= 3) t.comment(`differs: query ${q} options ${JSON.stringify({ ...options, excluded: options.excluded !== undefined })}`);
      }
    }
  }
  return differences;
}

t.test('wasm and TypeScript scorers return bit-identical results', (t) => {
  for (const forwardValues of ['f32', 'f16', 'u8'] as const) {
    for (const build of [{ postingCap: 40 }, { pruning: 'fixed', postingCap: 25, summaryEnergy: 0.2, blockFraction: 0.3 }] as Partial<SeismicBuildParams>[]) {
      const index = buildSeismicIndex(docs, { ...build, forwardValues });
      const differences = compareScorers(t, index, queries, 100, 2);
      t.equal(differences, 0, `${forwardValues} ${JSON.stringify(build)}: ${2 * queries.rows} random queries agree, work counters too`);
    }
  }
  t.end();
});

t.test('32-bit term ids (vocabulary past 65536) agree as well', (t) => {
  const random = new SeededRandom(3);
  const dim = 70_000;
  const row = (length: number): SparseVector => {
    const terms = new Set<number>();
    while (terms.size < length) terms.add(random.nextFloat() < 0.5 ? random.nextInt(300) : 65000 + random.nextInt(5000));
    const indices = Uint32Array.from([...terms].sort((a, b) => a - b));
    return { indices, values: Float32Array.from(indices, () => Math.fround(0.05 + 2 * random.nextFloat() ** 3)) };
  };
  const wideDocs = matrixFromRows(Array.from({ length: 600 }, () => row(40 + random.nextInt(60))), dim);
  const wideQueries = matrixFromRows(Array.from({ length: 40 }, () => row(5 + random.nextInt(20))), dim);
  for (const forwardValues of ['f32', 'f16', 'u8'] as const) {
    const index = buildSeismicIndex(wideDocs, { postingCap: 60, forwardValues });
    t.ok(index.forwardTerms instanceof Uint32Array);
    t.equal(compareScorers(t, index, wideQueries, 7, 3), 0, `${forwardValues}: wide-term index agrees`);
  }
  t.end();
});

t.test('memory growth: views are rebuilt and results stay right', (t) => {
  const index = buildSeismicIndex(docs, { postingCap: 40 });
  const wasm = new WasmSeismicSearcher(index);
  const ts = new TsSeismicSearcher(index);
  const query = rowOf(queries, 3);
  const before = wasm.memoryBytes;
  t.ok(sameBits(wasm.search(query, { k: 1 }), ts.search(query, { k: 1 })));
  // A far larger k makes the core allocate a bigger result heap, growing linear memory mid-search.
  const all = { k: docs.rows, queryCut: Infinity, heapFactor: 0 };
  t.ok(sameBits(wasm.search(query, all), ts.search(query, all)), 'results after growth inside search');
  t.ok(wasm.memoryBytes > before, `memory grew (${before} -> ${wasm.memoryBytes} bytes)`);
  // A query longer than any before grows the query buffers (host side copies after growth).
  const long = { indices: Uint32Array.from({ length: 5000 }, (_, i) => i * 6), values: new Float32Array(5000).fill(0.5) };
  t.ok(sameBits(wasm.search(long, { k: 20 }), ts.search(long, { k: 20 })), 'results after growing the query buffers');
  t.ok(sameBits(wasm.search(query, { k: 10 }), ts.search(query, { k: 10 })), 'and later queries still agree');
  t.end();
});

t.test('ScoringCore rebuilds its typed-array views when memory grows', (t) => {
  const core = new ScoringCore();
  const first = core.allocate(64);
  const oldViews = core.views();
  oldViews.u32[first >>> 2] = 0xdeadbeef;
  const oldBuffer = oldViews.buffer;
  const oldLength = oldBuffer.byteLength;
  t.ok((oldBuffer as unknown) instanceof SharedArrayBuffer, 'the memory is shared (search threads attach to it)');
  // Ask for more than the current memory holds so the core has to grow.
  const big = core.allocate(oldLength + 65536);
  const newViews = core.views();
  t.not(newViews.buffer, oldBuffer, 'a new buffer object after growth');
  t.equal(oldViews.u8.length, oldLength, 'old views keep their old length: they must not be used past it');
  t.equal(newViews.u32[first >>> 2], 0xdeadbeef, 'data survives growth');
  t.ok(newViews.u8.length >= big + oldLength, 'views cover the grown memory');
  t.equal(newViews.u8[big + 100], 0, 'fresh memory is zeroed');
  t.end();
});

t.test('instances sharing one memory allocate disjoint ranges', (t) => {
  const owner = new ScoringCore();
  const other = new ScoringCore({ memory: owner.memory });
  const ranges: [number, number][] = [];
  for (let i = 0; i < 50; i++) {
    const core = i % 2 === 0 ? owner : other;
    const bytes = 16 + ((i * 7919) % 5000);
    ranges.push([core.allocate(bytes), bytes]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  let overlaps = 0;
  for (let i = 1; i < ranges.length; i++) if (ranges[i - 1]![0] + ranges[i - 1]![1] > ranges[i]![0]) overlaps++;
  t.equal(overlaps, 0, 'no two allocations overlap');
  t.equal(owner.usedBytes, other.usedBytes, 'both see the same heap top');
  t.end();
});

function throwsCoreCode(t: Test, run: () => unknown, code: string, message: string): void {
  try {
    run();
    t.fail(`${message}: expected ${code}, nothing was thrown`);
  } catch (error) {
    t.ok(error instanceof ScoringCoreError && error.code === code, `${message}: ${code} (${String(error)})`);
  }
}

t.test('coded errors from the core', (t) => {
  const index = buildSeismicIndex(docs, { postingCap: 20 });
  throwsCoreCode(t, () => new WasmSeismicSearcher(index, {}, { memoryLimitBytes: 1 << 20 }), 'CORE_INDEX_TOO_LARGE', 'an index over the per-instance limit is refused up front');
  const core = new ScoringCore();
  throwsCoreCode(t, () => core.allocate(0xfff00000), 'CORE_INDEX_TOO_LARGE', 'allocation past the instance limit');
  const unlimited = new ScoringCore({ limitBytes: 2 ** 33 });
  throwsCoreCode(t, () => unlimited.allocate(0xffffff00), 'CORE_OUT_OF_MEMORY', 'allocation past the 4 GiB wasm32 address space');
  throwsCoreCode(t, () => core.check(-1, 'test'), 'CORE_OUT_OF_MEMORY', 'status -1');
  throwsCoreCode(t, () => core.check(-2, 'test'), 'CORE_BAD_QUERY', 'status -2');
  throwsCoreCode(t, () => core.check(-3, 'test'), 'CORE_NOT_CONFIGURED', 'status -3');
  throwsCoreCode(t, () => core.check(-99, 'test'), 'CORE_UNKNOWN_STATUS', 'unknown status');
  t.equal(core.check(7, 'test'), 7, 'non-negative results pass through');
  // The core refuses out-of-range terms on its own, even if the host skipped validation.
  const raw = new ScoringCore();
  t.equal(raw.exports.search(1, 10, 1, 0.5, 0, 0), -3, 'search before configure reports CORE_NOT_CONFIGURED');
  const wasm = new WasmSeismicSearcher(index);
  const coreOf = (wasm as unknown as { core: ScoringCore }).core;
  coreOf.check(coreOf.exports.reserveQuery(1), 'reserve');
  coreOf.views().u32[coreOf.exports.queryTermsAt() >>> 2] = docs.dim + 5;
  coreOf.views().f32[coreOf.exports.queryValuesAt() >>> 2] = 1;
  throwsCoreCode(t, () => coreOf.check(coreOf.exports.search(1, 10, 1, 0.5, 0, 0), 'search'), 'CORE_BAD_QUERY', 'term >= dim inside the core');
  wasm.dispose();
  try {
    wasm.search(rowOf(queries, 0));
    t.fail('search after dispose');
  } catch (error) {
    t.ok(error instanceof SeismicError && error.code === 'SEISMIC_DISPOSED', 'search after dispose is a coded error');
  }
  t.end();
});
