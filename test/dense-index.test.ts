import t from 'tap';
import { ExactDenseIndex, type DenseMetric } from '../src/index/dense/exact.js';
import { HnswDenseIndex, hnswAvailable } from '../src/index/dense/hnsw.js';
import { quantizeInt8 } from '../src/scoring/dense/kernels.js';
import { SeededRandom } from '../src/common/random.js';
import { DENSE_KERNEL_WASM_BASE64 } from '../src/scoring/dense/dense-kernel-wasm.js';
import { compileDenseKernel } from '../scripts/build-dense-wasm.js';

function randomVectors(random: SeededRandom, count: number, dimension: number): Float32Array[] {
  return Array.from({ length: count }, () => Float32Array.from({ length: dimension }, () => random.nextGaussian()));
}

/** The slow independent top-k: float64 scores of every vector, sorted. */
function referenceTopK(vectors: Float32Array[], query: Float32Array, k: number, metric: DenseMetric): { doc: number; score: number }[] {
  const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  const scored = vectors.map((v, doc) => {
    let dot = 0;
    for (let i = 0; i < v.length; i++) dot += v[i]! * query[i]!;
    return { doc, score: metric === 'cosine' ? dot / (norm(v) * norm(query)) : dot };
  });
  return scored.sort((a, b) => b.score - a.score || b.doc - a.doc).slice(0, k);
}

t.test('exact f32 scan equals a float64 reference, both metrics', async (t) => {
  const random = new SeededRandom(11);
  const vectors = randomVectors(random, 500, 37);
  for (const metric of ['dot', 'cosine'] as const) {
    const index = new ExactDenseIndex(37, { metric, kernel: 'typescript' });
    vectors.forEach((v, doc) => index.add(doc, v));
    t.equal(index.size, 500);
    let worst = 0;
    for (let q = 0; q < 20; q++) {
      const query = randomVectors(random, 1, 37)[0]!;
      const found = index.search(query, 10);
      const expected = referenceTopK(vectors, query, 10, metric);
      t.same([...found.docNumbers], expected.map((e) => e.doc), `${metric} query ${q}: same documents in the same order`);
      for (let i = 0; i < 10; i++) worst = Math.max(worst, Math.abs(found.scores[i]! - expected[i]!.score));
    }
    // Cosine normalizes float32 copies, so its scores differ from the float64 reference by float32 rounding.
    const tolerance = metric === 'dot' ? 1e-9 : 1e-6;
    t.ok(worst <= tolerance, `${metric}: largest score difference ${worst.toExponential(2)} <= ${tolerance}`);
  }
});

t.test('int8 storage: a quarter of the bytes, scores within the quantization bound', async (t) => {
  const random = new SeededRandom(12);
  const vectors = randomVectors(random, 400, 64);
  const f32 = new ExactDenseIndex(64, { metric: 'dot' });
  const int8 = new ExactDenseIndex(64, { metric: 'dot', storage: 'int8' });
  vectors.forEach((v, doc) => {
    f32.add(doc, v);
    int8.add(doc, v);
  });
  t.ok(int8.vectorBytes * 3.5 < f32.vectorBytes, `int8 ${int8.vectorBytes} bytes vs f32 ${f32.vectorBytes}`);
  let overlap = 0;
  for (let q = 0; q < 20; q++) {
    const query = randomVectors(random, 1, 64)[0]!;
    const exact = f32.scoreAll(query);
    const approx = int8.scoreAll(query);
    const l1 = query.reduce((s, x) => s + Math.abs(x), 0);
    for (let doc = 0; doc < vectors.length; doc++) {
      // Each component is off by at most scale / 2, scale = max|x| / 127.
      const scale = vectors[doc]!.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 127;
      const bound = (scale / 2) * l1 + 1e-9;
      if (Math.abs(exact.scores[doc]! - approx.scores[doc]!) > bound) t.fail(`query ${q} doc ${doc} exceeds the quantization bound`);
    }
    const a = new Set(f32.search(query, 10).docNumbers);
    overlap += [...int8.search(query, 10).docNumbers].filter((d) => a.has(d)).length;
  }
  t.ok(overlap / 200 >= 0.9, `int8 top-10 keeps ${((100 * overlap) / 200).toFixed(0)}% of the f32 top-10`);

  const into = new Int8Array(3);
  const scale = quantizeInt8(Float32Array.of(0.5, -1.27, 0), into, 0);
  t.ok(Math.abs(scale - 0.01) < 1e-8, `scale ${scale} = 1.27 / 127`);
  t.same([...into], [50, -127, 0], 'hand-computed quantization');
});

t.test('replace, remove, filter and bad input', async (t) => {
  const index = new ExactDenseIndex(2, { metric: 'dot', tieKey: (doc) => ['a', 'b', 'c', 'd'][doc]! });
  index.add(0, Float32Array.of(1, 0));
  index.add(1, Float32Array.of(0, 1));
  index.add(2, Float32Array.of(1, 1));
  index.add(3, Float32Array.of(1, 1));
  const query = Float32Array.of(1, 1);
  t.same([...index.search(query, 4).docNumbers], [3, 2, 1, 0], 'ties fall to the larger id');
  index.add(3, Float32Array.of(0, 0));
  t.same([...index.search(query, 1).docNumbers], [2], 'a re-added document is replaced');
  t.equal(index.remove(2), true);
  t.equal(index.remove(2), false);
  t.equal(index.size, 3);
  t.same([...index.search(query, 4).docNumbers], [1, 0, 3], 'removed documents are gone; the moved one still scores');
  t.same([...index.search(query, 4, { accept: (doc) => doc !== 1 }).docNumbers], [0, 3]);
  t.throws(() => index.add(9, Float32Array.of(1)), { code: 'VECTOR_DIMENSION_MISMATCH' });
  t.throws(() => index.add(9, Float32Array.of(1, Number.NaN)), { code: 'INVALID_VECTOR' });
  t.throws(() => index.search(query, 0), { code: 'INVALID_K' });
  t.throws(() => new ExactDenseIndex(0), { code: 'INVALID_DIMENSION' });
});

t.test('HNSW (usearch) finds what the exact scan finds', { skip: hnswAvailable() ? false : 'usearch is not installed' }, async (t) => {
  const random = new SeededRandom(13);
  const dimension = 32;
  const vectors = randomVectors(random, 3000, dimension);
  const exact = new ExactDenseIndex(dimension, { metric: 'cosine' });
  const hnsw = new HnswDenseIndex(dimension, { metric: 'cosine', expansionSearch: 128 });
  vectors.forEach((v, doc) => {
    exact.add(doc, v);
    hnsw.add(doc, v);
  });
  t.equal(hnsw.size, 3000);
  let found = 0;
  let worst = 0;
  for (let q = 0; q < 50; q++) {
    const query = randomVectors(random, 1, dimension)[0]!;
    const truth = exact.search(query, 10);
    const approx = hnsw.search(query, 10);
    const truthScores = new Map([...truth.docNumbers].map((d, i) => [d, truth.scores[i]!]));
    for (let i = 0; i < approx.docNumbers.length; i++) {
      const doc = approx.docNumbers[i]!;
      if (truthScores.has(doc)) {
        found++;
        worst = Math.max(worst, Math.abs(truthScores.get(doc)! - approx.scores[i]!));
      }
    }
  }
  t.ok(found / 500 >= 0.95, `recall@10 against the exact scan: ${(found / 500).toFixed(3)}`);
  t.ok(worst <= 1e-5, `scores agree within 1e-5 (${worst.toExponential(2)})`);
  const query = vectors[7]!;
  t.equal(hnsw.search(query, 1).docNumbers[0], 7, 'a stored vector finds itself');
  t.equal(hnsw.remove(7), true);
  t.not(hnsw.search(query, 1).docNumbers[0], 7, 'and not once removed');
  const filtered = hnsw.search(query, 5, { accept: (doc) => doc % 2 === 0 });
  t.equal(filtered.docNumbers.length, 5);
  t.ok([...filtered.docNumbers].every((d) => d % 2 === 0), 'the filter applies');
});

t.test('the WebAssembly kernel scores as the TypeScript one, through adds, replacements and removals', async (t) => {
  const random = new SeededRandom(14);
  for (const storage of ['f32', 'int8'] as const) {
    for (const dimension of [1, 7, 64]) {
      const wasm = new ExactDenseIndex(dimension, { metric: 'dot', storage, kernel: 'wasm' });
      const ts = new ExactDenseIndex(dimension, { metric: 'dot', storage, kernel: 'typescript' });
      let worst = 0;
      let next = 0;
      for (let step = 0; step < 60; step++) {
        // Interleave changes with searches so the kernel's copy of the rows must follow every kind of change.
        const action = random.nextInt(4);
        const batch = 1 + random.nextInt(action === 0 ? 40 : 3);
        for (let i = 0; i < batch; i++) {
          const doc = action === 1 && next > 0 ? random.nextInt(next) : next++;
          if (action === 2 && next > 0) {
            const victim = random.nextInt(next);
            wasm.remove(victim);
            ts.remove(victim);
            continue;
          }
          const vector = Float32Array.from({ length: dimension }, () => random.nextGaussian());
          wasm.add(doc, vector);
          ts.add(doc, vector);
        }
        const query = Float32Array.from({ length: dimension }, () => random.nextGaussian());
        const a = wasm.scoreAll(query);
        const b = ts.scoreAll(query);
        if (a.docNumbers.length !== b.docNumbers.length) t.fail(`${storage} d=${dimension} step ${step}: sizes differ`);
        for (let i = 0; i < a.scores.length; i++) {
          if (a.docNumbers[i] !== b.docNumbers[i]) t.fail('slot order differs');
          worst = Math.max(worst, Math.abs(a.scores[i]! - b.scores[i]!) / Math.max(1, Math.abs(b.scores[i]!)));
        }
      }
      t.ok(worst <= 1e-5, `${storage}, ${dimension} dimensions: largest relative difference ${worst.toExponential(2)} <= 1e-5 (float32 sums)`);
    }
  }
});

t.test('the embedded wasm is the compiled dense-kernel.wat', async (t) => {
  const bytes = await compileDenseKernel();
  t.ok(Buffer.from(bytes).equals(Buffer.from(DENSE_KERNEL_WASM_BASE64, 'base64')), 'run node dist/scripts/build-dense-wasm.js after editing the .wat');
});
