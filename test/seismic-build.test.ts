import t, { type Test } from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { buildPostingLists, buildSeismicIndex, BUILD_POSTINGS_DONE, BUILD_POSTINGS_TOTAL, postingListsByFullInversion } from '../src/index/seismic/build.js';
import { buildKernelModule } from '../src/index/seismic/build-kernels.js';
import { buildSeismicIndexParallel, splitByPostings, splitDocuments } from '../src/index/seismic/build-parallel.js';
import { SeismicError } from '../src/index/seismic/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../src/index/seismic/f16.js';
import { indexByteSize, validateIndexData, type SeismicIndexData } from '../src/index/seismic/index-data.js';
import { DEFAULT_BUILD_PARAMS, EXACT_BUILD_PARAMS, resolveBuildParams, resolveQueryParams, UNCAPPED, type SeismicBuildParams } from '../src/index/seismic/params.js';
import { SeededRandom } from '../src/common/random.js';
import { energyThreshold, exactEnergyThreshold, kthLargest, kthLargestUnordered, type EnergyCut } from '../src/index/seismic/select.js';
import { matrixFromRows, type SparseMatrix } from '../src/index/sparse-matrix.js';

const collection = generateSynthetic({ docs: 1500, queries: 0, seed: 21 }).docs;
/** Built once, shared by the tests that only read it. */
const shared = buildSeismicIndex(collection, { postingCap: 30, seed: 5 });

function throwsCode(t: Test, run: () => unknown, code: string, message: string): void {
  try {
    run();
    t.fail(`${message}: expected ${code}, nothing was thrown`);
  } catch (error) {
    t.ok(error instanceof SeismicError && error.code === code, `${message}: ${code}`);
  }
}

/** Posting list of term t in the original matrix: doc -> weight. */
function fullList(docs: SparseMatrix, term: number): Map<number, number> {
  const list = new Map<number, number>();
  for (let d = 0; d < docs.rows; d++) {
    for (let i = docs.indptr[d]!; i < docs.indptr[d + 1]!; i++) if (docs.indices[i] === term) list.set(d, docs.values[i]!);
  }
  return list;
}

function listDocs(index: SeismicIndexData, term: number): number[] {
  const docs: number[] = [];
  for (let b = index.listBlockStart[term]!; b < index.listBlockStart[term + 1]!; b++) {
    for (let p = index.blockDocStart[b]!; p < index.blockDocStart[b + 1]!; p++) docs.push(index.postingDocs[p]!);
  }
  return docs;
}

t.test('build params: defaults, Infinity and coded errors', (t) => {
  const resolved = resolveBuildParams();
  t.same(resolved, { ...DEFAULT_BUILD_PARAMS });
  t.equal(resolveBuildParams({ postingCap: Infinity }).postingCap, UNCAPPED, 'Infinity is stored as a JSON-safe number');
  t.equal(JSON.parse(JSON.stringify(resolveBuildParams(EXACT_BUILD_PARAMS))).postingCap, UNCAPPED);
  const bad: Partial<Record<string, unknown>>[] = [
    { postingCap: 0 },
    { postingCap: 1.5 },
    { blockFraction: 0 },
    { blockFraction: 1.5 },
    { summaryEnergy: 0 },
    { summaryEnergy: 1.01 },
    { minBlockSize: 0 },
    { clusterDocCut: -1 },
    { globalListCapFactor: 0.5 },
    { pruning: 'other' },
    { forwardValues: 'f64' },
    { seed: 0.5 },
  ];
  for (const params of bad) throwsCode(t, () => resolveBuildParams(params as never), 'SEISMIC_BAD_PARAMS', JSON.stringify(params));
  t.end();
});

t.test('query params: defaults and coded errors', (t) => {
  t.same(resolveQueryParams({ queryCut: Infinity, heapFactor: 0.1 }), { k: 10, queryCut: UNCAPPED, heapFactor: Math.fround(0.1) });
  for (const params of [{ k: -1 }, { k: 2.5 }, { queryCut: 0 }, { heapFactor: -0.1 }, { heapFactor: NaN }, { heapFactor: Infinity }]) {
    throwsCode(t, () => resolveQueryParams(params), 'SEISMIC_BAD_SEARCH_PARAMS', JSON.stringify(params));
  }
  t.end();
});

t.test('f16 conversion', (t) => {
  t.equal(f16BitsToF32(f32ToF16Bits(1)), 1);
  t.equal(f16BitsToF32(f32ToF16Bits(-2.5)), -2.5);
  t.equal(f16BitsToF32(f32ToF16Bits(65504)), 65504);
  t.equal(f16BitsToF32(f32ToF16Bits(1e6)), 65504, 'saturates instead of overflowing');
  t.equal(f16BitsToF32(f32ToF16Bits(2 ** -24)), 2 ** -24, 'smallest subnormal');
  t.equal(f16BitsToF32(f32ToF16Bits(2 ** -26)), 0, 'below half the smallest subnormal');
  t.equal(f32ToF16Bits(1 + 2 ** -11), f32ToF16Bits(1), 'tie rounds to even (down)');
  t.equal(f16BitsToF32(f32ToF16Bits(1 + 3 * 2 ** -11)), 1 + 2 ** -9, 'tie rounds to even (up)');
  let roundTripFailures = 0;
  for (let half = 0; half < 65536; half++) {
    if ((half & 0x7c00) === 0x7c00) continue;
    if (f32ToF16Bits(f16BitsToF32(half)) !== half) roundTripFailures++;
  }
  t.equal(roundTripFailures, 0, 'every finite half survives decode + encode');
  const random = new SeededRandom(1);
  let worst = 0;
  for (let i = 0; i < 10000; i++) {
    const value = Math.fround(random.nextFloat() * 4);
    if (value < 1e-3) continue;
    worst = Math.max(worst, Math.abs(f16BitsToF32(f32ToF16Bits(value)) - value) / value);
  }
  t.ok(worst <= 2 ** -11, `relative error ${worst} <= 2^-11`);
  t.end();
});

t.test('selection helpers agree with sorting', (t) => {
  const random = new SeededRandom(2);
  const cut: EnergyCut = { threshold: 0, tiesKept: 0 };
  for (let round = 0; round < 300; round++) {
    const length = 1 + random.nextInt(300);
    const values = new Float32Array(length);
    // Few distinct values in some rounds, to exercise ties.
    const levels = round % 3 === 0 ? 5 : 1e6;
    for (let i = 0; i < length; i++) values[i] = Math.floor(random.nextFloat() * levels) / levels + (round % 3 === 0 ? 0.1 : 0);
    const sorted = Array.from(values).sort((a, b) => b - a);
    const k = 1 + random.nextInt(length);
    t.equal(kthLargest(new Float32Array(values), length, k), sorted[k - 1], `kthLargest round ${round}`);
    const before = new Float32Array(values);
    if (kthLargestUnordered(values, length, k) !== sorted[k - 1]) t.fail(`kthLargestUnordered round ${round}`);
    if (!Buffer.from(before.buffer).equals(Buffer.from(values.buffer))) t.fail(`kthLargestUnordered round ${round} changed its input`);
    const total = sorted.reduce((sum, v) => sum + v, 0);
    const energy = 0.05 + 0.9 * random.nextFloat();
    // Shortest prefix reaching energy × total, by brute force.
    let prefix = 0;
    let mass = 0;
    while (mass < energy * total) mass += sorted[prefix++]!;
    for (const select of [energyThreshold, exactEnergyThreshold]) {
      select(new Float32Array(values), length, energy * total, cut);
      const kept = sorted.filter((v) => v > cut.threshold).length + cut.tiesKept;
      if (kept !== prefix) t.fail(`${select.name} round ${round}: kept ${kept}, expected ${prefix}`);
    }
  }
  t.end();
});

t.test('kthLargestUnordered: negative weights, zeros of both signs, one bucket shared by many values', (t) => {
  const random = new SeededRandom(8);
  for (let round = 0; round < 200; round++) {
    const length = 1 + random.nextInt(500);
    const values = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      const pick = random.nextInt(6);
      // Values 1 + tiny steps share their top 16 bits: the second pass has to tell them apart.
      values[i] = pick === 0 ? 0 : pick === 1 ? -0 : pick === 2 ? -random.nextFloat() * 10 : pick === 3 ? 1 + random.nextInt(50) * 2 ** -20 : random.nextFloat();
    }
    const sorted = Array.from(values).sort((a, b) => b - a);
    const k = 1 + random.nextInt(length);
    const found = kthLargestUnordered(values, length, k);
    if (found !== sorted[k - 1]) t.fail(`round ${round}: k=${k} gave ${found}, sorting gives ${sorted[k - 1]}`);
  }
  t.equal(kthLargestUnordered(Float32Array.of(3, -2, 7, 7, 0.5), 5, 3), 3, 'a small case by hand');
  t.equal(kthLargestUnordered(Float32Array.of(-1, -3, -2), 3, 3), -3, 'all negative: the smallest is the last');
  t.end();
});

t.test('posting lists pruned before inversion equal full inversion then pruning, ties included', (t) => {
  const random = new SeededRandom(13);
  const differing: string[] = [];
  let postings = 0;
  for (let round = 0; round < 40; round++) {
    const rows = 50 + random.nextInt(400);
    const dim = 20 + random.nextInt(200);
    // Few weight levels in half the rounds, so the global threshold falls among many equal weights.
    const levels = round % 2 === 0 ? 4 : 1 << 20;
    const docs = matrixFromRows(
      Array.from({ length: rows }, () => {
        const terms = new Set<number>();
        const length = random.nextInt(30);
        while (terms.size < Math.min(length, dim)) terms.add(random.nextInt(dim));
        const indices = Uint32Array.from([...terms].sort((a, b) => a - b));
        return { indices, values: Float32Array.from(indices, () => (1 + random.nextInt(levels)) / levels) };
      }),
      dim,
    );
    for (const pruning of ['global', 'fixed'] as const) {
      const params = resolveBuildParams({ pruning, postingCap: 1 + random.nextInt(12), globalListCapFactor: 1 + random.nextFloat() });
      const fast = buildPostingLists(docs, params);
      const slow = postingListsByFullInversion(docs, params);
      const kept = slow.start[dim]!;
      const same =
        Buffer.from(fast.start.buffer, 0, fast.start.byteLength).equals(Buffer.from(slow.start.buffer, 0, slow.start.byteLength)) &&
        fast.docs.subarray(0, kept).every((d, i) => d === slow.docs[i]) &&
        fast.values.subarray(0, kept).every((v, i) => v === slow.values[i]);
      postings += kept;
      if (!same) differing.push(`round ${round} (${pruning}, cap ${params.postingCap}): lists differ`);
    }
  }
  t.same(differing, [], `40 seeded collections, both pruning modes, ${postings} postings kept alike`);
  t.ok(postings > 1000, 'the rounds kept enough postings to mean something');
  t.end();
});

t.test('matrix contract violations are coded errors', (t) => {
  const good = matrixFromRows([{ indices: Uint32Array.of(1, 3), values: Float32Array.of(1, 2) }], 5);
  // The well-formed matrix builds: each of its two terms lists the one document.
  const built = buildSeismicIndex(good);
  t.same([built.docCount, built.postingDocs.length, [...built.forwardTerms]], [1, 2, [1, 3]], 'the well-formed matrix builds');
  const cases: [string, SparseMatrix][] = [
    ['unsorted row', { ...good, indices: Uint32Array.of(3, 1) }],
    ['duplicate term', { ...good, indices: Uint32Array.of(3, 3) }],
    ['term >= dim', { ...good, indices: Uint32Array.of(1, 5) }],
    ['NaN weight', { ...good, values: Float32Array.of(1, NaN) }],
    ['indptr length', { ...good, indptr: Uint32Array.of(0) }],
    ['indptr end', { ...good, indptr: Uint32Array.of(0, 1) }],
  ];
  for (const [name, matrix] of cases) throwsCode(t, () => buildSeismicIndex(matrix), 'SEISMIC_BAD_MATRIX', name);
  t.end();
});

t.test('fixed pruning keeps each list\'s largest weights; blocks partition the pruned list', (t) => {
  const cap = 40;
  const index = buildSeismicIndex(collection, { pruning: 'fixed', postingCap: cap, blockFraction: 0.2, minBlockSize: 3 });
  validateIndexData(index);
  let checkedLists = 0;
  for (let term = 0; term < collection.dim && checkedLists < 40; term++) {
    const full = fullList(collection, term);
    if (full.size === 0) continue;
    checkedLists++;
    const docs = listDocs(index, term);
    t.equal(docs.length, Math.min(cap, full.size), `term ${term}: ${docs.length} kept of ${full.size}`);
    t.equal(new Set(docs).size, docs.length, 'no document twice in a list');
    const kept = new Set(docs);
    const keptMin = Math.min(...docs.map((d) => full.get(d)!));
    let droppedMax = -Infinity;
    for (const [doc, value] of full) if (!kept.has(doc)) droppedMax = Math.max(droppedMax, value);
    t.ok(droppedMax <= keptMin, `term ${term}: dropped weights (max ${droppedMax}) never exceed kept ones (min ${keptMin})`);
    const blocks = index.listBlockStart[term + 1]! - index.listBlockStart[term]!;
    t.ok(blocks >= 1 && blocks <= Math.ceil(0.2 * docs.length), `term ${term}: ${blocks} blocks`);
    for (let b = index.listBlockStart[term]!; b < index.listBlockStart[term + 1]!; b++) {
      const size = index.blockDocStart[b + 1]! - index.blockDocStart[b]!;
      if (blocks > 1 && size < 3) t.fail(`block ${b} of term ${term} has ${size} < minBlockSize documents`);
      for (let p = index.blockDocStart[b]! + 1; p < index.blockDocStart[b + 1]!; p++) {
        if (index.postingDocs[p]! <= index.postingDocs[p - 1]!) t.fail(`block ${b} is not in document order`);
      }
    }
  }
  t.end();
});

t.test('global pruning: one threshold for the collection, then a per-list ceiling', (t) => {
  const postingCap = 8;
  const factor = 1.5;
  const index = buildSeismicIndex(collection, { pruning: 'global', postingCap, globalListCapFactor: factor });
  validateIndexData(index);
  let nonEmpty = 0;
  const df = new Uint32Array(collection.dim);
  for (const term of collection.indices) df[term]!++;
  for (const count of df) if (count > 0) nonEmpty++;
  t.ok(index.postingDocs.length <= postingCap * nonEmpty, `kept ${index.postingDocs.length} <= budget ${postingCap * nonEmpty}`);
  const listCap = Math.ceil(factor * postingCap);
  let longest = 0;
  let shorterThanDf = 0;
  for (let term = 0; term < collection.dim; term++) {
    const length = index.blockDocStart[index.listBlockStart[term + 1]!]! - index.blockDocStart[index.listBlockStart[term]!]!;
    longest = Math.max(longest, length);
    if (length < Math.min(df[term]!, listCap)) shorterThanDf++;
  }
  t.ok(longest <= listCap, `longest list ${longest} <= ${listCap}`);
  t.ok(longest === listCap, 'popular lists reach the per-list ceiling');
  t.ok(shorterThanDf > 0, 'the global threshold also trims lists below the ceiling');
  t.end();
});

t.test('summaries: energy 1 bounds every document of the block; lower energy keeps the mass prefix', (t) => {
  const decodeBlock = (index: SeismicIndexData, block: number): Map<number, number> => {
    const summary = new Map<number, number>();
    for (let i = index.summaryStart[block]!; i < index.summaryStart[block + 1]!; i++) {
      summary.set(index.summaryTerms[i]!, Math.fround(index.summaryOffset[block]! + Math.fround(index.summaryScale[block]! * index.summaryValues[i]!)));
    }
    return summary;
  };
  const trueMax = (index: SeismicIndexData, block: number): Map<number, number> => {
    const max = new Map<number, number>();
    for (let p = index.blockDocStart[block]!; p < index.blockDocStart[block + 1]!; p++) {
      const d = index.postingDocs[p]!;
      for (let i = collection.indptr[d]!; i < collection.indptr[d + 1]!; i++) {
        const term = collection.indices[i]!;
        max.set(term, Math.max(max.get(term) ?? -Infinity, collection.values[i]!));
      }
    }
    return max;
  };
  const full = buildSeismicIndex(collection, { postingCap: 30, summaryEnergy: 1, summaryDocCut: Infinity });
  const blocks = full.blockDocStart.length - 1;
  let violations = 0;
  for (let b = 0; b < blocks; b += 5) {
    const summary = decodeBlock(full, b);
    for (const [term, value] of trueMax(full, b)) if (!(summary.get(term)! >= value)) violations++;
  }
  t.equal(violations, 0, 'decoded summary >= every document weight in its block');

  const energy = 0.4;
  const pruned = buildSeismicIndex(collection, { postingCap: 30, summaryEnergy: energy, summaryDocCut: Infinity });
  let badPrefix = 0;
  for (let b = 0; b < pruned.blockDocStart.length - 1; b += 23) {
    const max = trueMax(pruned, b);
    const total = [...max.values()].reduce((sum, v) => sum + v, 0);
    const keptTerms = new Set(decodeBlock(pruned, b).keys());
    const keptValues = [...keptTerms].map((term) => max.get(term)!).sort((x, y) => x - y);
    const keptMass = keptValues.reduce((sum, v) => sum + v, 0);
    let droppedMax = -Infinity;
    for (const [term, value] of max) if (!keptTerms.has(term)) droppedMax = Math.max(droppedMax, value);
    if (keptMass < energy * total * (1 - 1e-6)) badPrefix++;
    else if (keptMass - keptValues[0]! >= energy * total * (1 + 1e-6)) badPrefix++;
    else if (droppedMax > keptValues[0]!) badPrefix++;
  }
  t.equal(badPrefix, 0, 'each summary is the shortest descending prefix holding the energy');
  t.ok(indexByteSize(pruned) < indexByteSize(full), 'energy pruning shrinks the index');
  t.end();
});

t.test('summaryDocCut: summaries are the maxima of each document\'s heaviest components; lists keep their documents', (t) => {
  const cut = 6;
  const whole = buildSeismicIndex(collection, { postingCap: 30, summaryEnergy: 1, summaryDocCut: Infinity });
  const partial = buildSeismicIndex(collection, { postingCap: 30, summaryEnergy: 1, summaryDocCut: cut });
  // Centroids are compared through the same components, so blocks may differ; lists may not.
  const listSet = (index: SeismicIndexData, term: number) => listDocs(index, term).sort((a, b) => a - b).join(',');
  let sameLists = true;
  for (let term = 0; term < collection.dim; term++) if (listSet(partial, term) !== listSet(whole, term)) sameLists = false;
  t.ok(sameLists, 'every list holds the same documents');
  // A document's `cut` heaviest components, ties to the lower term, computed here the slow way.
  const heaviest = (d: number): [number, number][] => {
    const entries: [number, number][] = [];
    for (let i = collection.indptr[d]!; i < collection.indptr[d + 1]!; i++) entries.push([collection.indices[i]!, collection.values[i]!]);
    return entries.sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, cut);
  };
  let wrong = 0;
  let checked = 0;
  for (let b = 0; b < partial.blockDocStart.length - 1; b += 7) {
    const expected = new Map<number, number>();
    for (let p = partial.blockDocStart[b]!; p < partial.blockDocStart[b + 1]!; p++) {
      for (const [term, value] of heaviest(partial.postingDocs[p]!)) expected.set(term, Math.max(expected.get(term) ?? -Infinity, value));
    }
    const got = new Map<number, number>();
    for (let i = partial.summaryStart[b]!; i < partial.summaryStart[b + 1]!; i++) {
      got.set(partial.summaryTerms[i]!, Math.fround(partial.summaryOffset[b]! + Math.fround(partial.summaryScale[b]! * partial.summaryValues[i]!)));
    }
    if (got.size !== expected.size) wrong++;
    for (const [term, value] of expected) {
      const decoded = got.get(term);
      // 8-bit levels rounded up: at most one level above the true maximum.
      if (decoded === undefined || decoded < value || decoded - value > partial.summaryScale[b]! * 1.01 + 1e-6) wrong++;
    }
    checked++;
  }
  t.ok(checked > 10, `${checked} blocks checked`);
  t.equal(wrong, 0, 'each summary holds exactly the terms of its documents\' heaviest components, bounded from above');
  t.ok(indexByteSize(partial) < indexByteSize(whole), 'summaries from fewer components are smaller');
  t.end();
});

t.test('summary maxima: the branch-free path for non-negative weights equals the general one', (t) => {
  // One negative weight anywhere sends the build down the general path; elsewhere the matrix is the same.
  const withLast = (value: (old: number) => number): SparseMatrix => {
    const values = Float32Array.from(collection.values);
    values[values.length - 1] = value(values[values.length - 1]!);
    return { ...collection, values };
  };
  const general = buildSeismicIndex(withLast((v) => -v), { postingCap: 30 });
  const fast = buildSeismicIndex(withLast(() => 0), { postingCap: 30 });
  // The negated and the zeroed entry are both below every positive weight: same pruning, same summaries.
  const bytes = (array: ArrayBufferView): Buffer => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
  t.ok(fast.summaryTerms.length > 1000, `${fast.summaryTerms.length} summary entries`);
  t.ok(bytes(fast.summaryTerms).equals(bytes(general.summaryTerms)), 'same summary terms');
  t.ok(bytes(fast.summaryValues).equals(bytes(general.summaryValues)), 'same summary levels');
  t.ok(bytes(fast.summaryScale).equals(bytes(general.summaryScale)), 'same scales');
  t.end();
});

t.test('forward index formats', (t) => {
  const f32 = buildSeismicIndex(collection, { postingCap: 10, forwardValues: 'f32' });
  t.ok(f32.forwardValues instanceof Float32Array);
  t.equal(Buffer.compare(Buffer.from((f32.forwardValues as Float32Array).buffer), Buffer.from(collection.values.buffer)), 0, 'f32 is a copy');
  t.ok(f32.forwardTerms instanceof Uint16Array, '16-bit term ids for a BERT vocabulary');
  const f16 = shared;
  const u8 = buildSeismicIndex(collection, { postingCap: 10, forwardValues: 'u8' });
  let f16Worst = 0;
  let u8Worst = 0;
  for (let d = 0; d < collection.rows; d += 13) {
    for (let i = collection.indptr[d]!; i < collection.indptr[d + 1]!; i++) {
      const value = collection.values[i]!;
      f16Worst = Math.max(f16Worst, Math.abs(f16BitsToF32((f16.forwardValues as Uint16Array)[i]!) - value) / value);
      const decoded = u8.forwardOffsets[d]! + u8.forwardScales[d]! * (u8.forwardValues as Uint8Array)[i]!;
      u8Worst = Math.max(u8Worst, Math.abs(decoded - value) / (u8.forwardScales[d]! || 1));
    }
  }
  t.ok(f16Worst <= 2 ** -11, `f16 relative error ${f16Worst}`);
  t.ok(u8Worst <= 0.5 + 1e-3, `u8 error ${u8Worst} <= half a step`);
  t.end();
});

t.test('deterministic for a seed', (t) => {
  const a = shared;
  const b = buildSeismicIndex(collection, { postingCap: 30, seed: 5 });
  const c = buildSeismicIndex(collection, { postingCap: 30, seed: 6 });
  const bytes = (array: ArrayBufferView): Buffer => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
  t.equal(Buffer.compare(bytes(a.postingDocs), bytes(b.postingDocs)), 0);
  t.equal(Buffer.compare(bytes(a.summaryTerms), bytes(b.summaryTerms)), 0);
  t.not(Buffer.compare(bytes(a.postingDocs), bytes(c.postingDocs)), 0, 'another seed clusters differently');
  t.end();
});

t.test('degenerate collections', (t) => {
  const empty = buildSeismicIndex({ rows: 0, dim: 100, indptr: Uint32Array.of(0), indices: new Uint32Array(0), values: new Float32Array(0) });
  validateIndexData(empty);
  t.equal(empty.docCount, 0);
  t.equal(empty.blockDocStart.length, 1);
  const withEmptyRows = matrixFromRows(
    [
      { indices: new Uint32Array(0), values: new Float32Array(0) },
      { indices: Uint32Array.of(2, 7), values: Float32Array.of(0.5, 1) },
      { indices: new Uint32Array(0), values: new Float32Array(0) },
    ],
    10,
  );
  const index = buildSeismicIndex(withEmptyRows);
  validateIndexData(index);
  t.same(Array.from(index.postingDocs), [1, 1], 'only the non-empty document is posted');
  const wide = buildSeismicIndex(matrixFromRows([{ indices: Uint32Array.of(5, 70000), values: Float32Array.of(1, 2) }], 70001));
  validateIndexData(wide);
  t.ok(wide.forwardTerms instanceof Uint32Array && wide.summaryTerms instanceof Uint32Array, '32-bit term ids past 65536 terms');
  t.end();
});

t.test('validateIndexData refuses damaged indexes', (t) => {
  const index = shared;
  validateIndexData(index);
  const damaged: [string, SeismicIndexData][] = [
    ['posting past docCount', { ...index, postingDocs: Uint32Array.from(index.postingDocs, (d, i) => (i === 3 ? index.docCount : d)) }],
    ['summary term past dim', { ...index, summaryTerms: Uint16Array.from(index.summaryTerms, (v, i) => (i === 0 ? 65535 : v)) }],
    ['decreasing offsets', { ...index, blockDocStart: Uint32Array.from(index.blockDocStart, (v, i) => (i === 2 ? 0 : v)) }],
    ['wrong value format', { ...index, params: { ...index.params, forwardValues: index.params.forwardValues === 'f32' ? 'f16' : 'f32' } }],
    ['missing scale per block', { ...index, summaryScale: index.summaryScale.subarray(1) }],
  ];
  for (const [name, broken] of damaged) throwsCode(t, () => validateIndexData(broken), 'SEISMIC_BAD_INDEX', name);
  t.end();
});

t.test('the parallel build is byte-identical to the one-thread build', async (t) => {
  const docs = generateSynthetic({ docs: 6000, queries: 1, seed: 11 }).docs;
  const params = { postingCap: 200, forwardValues: 'f16' as const };
  const serial = buildSeismicIndex(docs, params);
  const progress = new Int32Array(new SharedArrayBuffer(8));
  const parallel = await buildSeismicIndexParallel(docs, params, 3, progress);
  t.equal(progress[BUILD_POSTINGS_TOTAL], parallel.postingDocs.length, 'progress: the total is the postings kept');
  t.equal(progress[BUILD_POSTINGS_DONE], parallel.postingDocs.length, 'progress: every thread counted every posting it blocked, once');
  for (const [name, value] of Object.entries(serial)) {
    const other = (parallel as unknown as Record<string, unknown>)[name];
    if (ArrayBuffer.isView(value)) t.ok(Buffer.from(value.buffer, value.byteOffset, value.byteLength).equals(Buffer.from((other as Uint8Array).buffer, (other as Uint8Array).byteOffset, (other as Uint8Array).byteLength)), name);
    else t.same(other, value, name);
  }
  const documentRanges = splitDocuments(Uint32Array.of(0, 10, 20, 30, 40, 50, 60), 6, 2);
  t.same(documentRanges, [[0, 2], [2, 6]], 'document ranges: the calling thread takes half a share');
  const ranges = splitByPostings(Uint32Array.of(0, 0, 5, 5, 9, 10), 5, 3);
  t.same(ranges, [[0, 2], [2, 4], [4, 5]], 'ranges of about equal postings, covering every term once');
});

t.test('the WebAssembly build kernels give byte for byte the index of the TypeScript loops', async (t) => {
  t.ok(buildKernelModule(), 'the kernels are built (npm run build), so the parallel builds below run them');
  const base = generateSynthetic({ docs: 5200, queries: 1, seed: 31 }).docs;
  // Some negative weights: the general block maximum (not the sign-bit shortcut) on both sides.
  const mixed = { ...base, values: Float32Array.from(base.values, (v, i) => (i % 7 === 0 ? v - 0.4 : v)) };
  const cases: [string, SparseMatrix, Partial<SeismicBuildParams>][] = [
    ['defaults', base, {}],
    ['whole documents in summaries, energy 1', base, { summaryDocCut: Infinity, summaryEnergy: 1 }],
    ['fixed pruning, small blocks', base, { pruning: 'fixed', postingCap: 120, blockFraction: 0.3, minBlockSize: 4 }],
    ['negative weights, coarse energy', mixed, { summaryEnergy: 0.25, clusterDocCut: 4 }],
  ];
  for (const [name, docs, params] of cases) {
    const typescript = buildSeismicIndex(docs, params);
    const kernels = await buildSeismicIndexParallel(docs, params, 2);
    const differing = Object.entries(typescript).filter(([key, value]) => {
      if (!ArrayBuffer.isView(value)) return false;
      const other = (kernels as unknown as Record<string, ArrayBufferView>)[key]!;
      return !Buffer.from(value.buffer, value.byteOffset, value.byteLength).equals(Buffer.from(other.buffer, other.byteOffset, other.byteLength));
    });
    t.same(differing.map(([key]) => key), [], `${name}: every array identical`);
  }
});
