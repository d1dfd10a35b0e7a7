import t, { type Test } from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import type { SparseMatrix } from '../src/index/sparse-matrix.js';

function checkMatrix(t: Test, matrix: SparseMatrix, minLength: number, maxLength: number): void {
  let badOrder = 0;
  let badLength = 0;
  let badValue = 0;
  for (let r = 0; r < matrix.rows; r++) {
    const start = matrix.indptr[r]!;
    const end = matrix.indptr[r + 1]!;
    if (end - start < minLength || end - start > maxLength) badLength++;
    for (let i = start; i < end; i++) {
      if (i > start && matrix.indices[i]! <= matrix.indices[i - 1]!) badOrder++;
      if (matrix.indices[i]! >= matrix.dim) badOrder++;
      const value = matrix.values[i]!;
      if (!(value > 0 && value <= 4)) badValue++;
    }
  }
  t.equal(badOrder, 0, 'term ids strictly increasing and < dim');
  t.equal(badLength, 0, `row lengths within [${minLength}, ${maxLength}]`);
  t.equal(badValue, 0, 'weights positive and bounded');
}

t.test('shapes follow the SPLADE-like profile', (t) => {
  const { docs, queries } = generateSynthetic({ docs: 2000, queries: 200, seed: 7 });
  t.equal(docs.rows, 2000);
  t.equal(queries.rows, 200);
  t.equal(docs.dim, 30522);
  t.equal(docs.indptr.length, 2001);
  checkMatrix(t, docs, 120, 200);
  checkMatrix(t, queries, 20, 40);
  t.end();
});

t.test('same seed, same collection; another seed, another collection', (t) => {
  const a = generateSynthetic({ docs: 300, queries: 30, seed: 11 });
  const b = generateSynthetic({ docs: 300, queries: 30, seed: 11 });
  const c = generateSynthetic({ docs: 300, queries: 30, seed: 12 });
  const bytes = (array: ArrayBufferView): Buffer => Buffer.from(array.buffer, array.byteOffset, array.byteLength);
  t.equal(Buffer.compare(bytes(a.docs.indptr), bytes(b.docs.indptr)), 0, 'same row lengths');
  t.equal(Buffer.compare(bytes(a.docs.indices), bytes(b.docs.indices)), 0, 'same terms');
  t.equal(Buffer.compare(bytes(a.docs.values), bytes(b.docs.values)), 0, 'same weights');
  t.equal(Buffer.compare(bytes(a.queries.values), bytes(b.queries.values)), 0, 'same queries');
  t.not(Buffer.compare(bytes(a.docs.indices), bytes(c.docs.indices)), 0, 'another seed differs');
  t.end();
});

t.test('weights are heavy-tailed: a tenth of a vector holds a large share of its mass', (t) => {
  const { docs } = generateSynthetic({ docs: 500, queries: 0, seed: 3 });
  let share = 0;
  for (let r = 0; r < docs.rows; r++) {
    const values = Array.from(docs.values.subarray(docs.indptr[r]!, docs.indptr[r + 1]!)).sort((x, y) => y - x);
    const total = values.reduce((sum, v) => sum + v, 0);
    const top = values.slice(0, Math.ceil(values.length / 10)).reduce((sum, v) => sum + v, 0);
    share += top / total;
  }
  share /= docs.rows;
  t.ok(share > 0.3 && share < 0.6, `top 10% of entries hold ${share.toFixed(2)} of the L1 mass`);
  t.end();
});

t.test('term popularity is skewed (Zipf-like document frequencies)', (t) => {
  const { docs } = generateSynthetic({ docs: 3000, queries: 0, seed: 5 });
  const df = new Uint32Array(docs.dim);
  for (const term of docs.indices) df[term]!++;
  const sorted = Array.from(df).sort((x, y) => y - x);
  t.ok(sorted[0]! > 0.2 * docs.rows, `most common term in ${sorted[0]} of ${docs.rows} documents`);
  t.ok(sorted[0]! > 20 * sorted[3000]!, `head (${sorted[0]}) far above rank 3000 (${sorted[3000]})`);
  t.end();
});

t.test('topical structure: queries overlap their best documents far more than random ones', (t) => {
  const { docs, queries } = generateSynthetic({ docs: 3000, queries: 40, seed: 9 });
  const dot = (q: number, d: number): number => {
    let score = 0;
    let i = queries.indptr[q]!;
    let j = docs.indptr[d]!;
    while (i < queries.indptr[q + 1]! && j < docs.indptr[d + 1]!) {
      const a = queries.indices[i]!;
      const b = docs.indices[j]!;
      if (a === b) score += queries.values[i++]! * docs.values[j++]!;
      else if (a < b) i++;
      else j++;
    }
    return score;
  };
  let ratio = 0;
  for (let q = 0; q < queries.rows; q++) {
    const scores = Array.from({ length: docs.rows }, (_, d) => dot(q, d)).sort((x, y) => y - x);
    const median = scores[Math.floor(scores.length / 2)]!;
    ratio += scores[9]! / Math.max(median, 1e-6);
  }
  ratio /= queries.rows;
  t.ok(ratio > 5, `10th best score is ${ratio.toFixed(1)}x the median score`);
  t.end();
});

t.test('small vocabularies shorten rows instead of looping', (t) => {
  const { docs } = generateSynthetic({ docs: 20, queries: 0, dim: 50, topics: 3, topicSize: 10, seed: 1 });
  t.equal(docs.rows, 20);
  t.equal(docs.indptr[20], docs.indices.length);
  for (let r = 0; r < docs.rows; r++) t.ok(docs.indptr[r + 1]! - docs.indptr[r]! <= 50);
  t.end();
});
