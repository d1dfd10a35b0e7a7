import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { bm25NormInverseTable, bm25TermScore, bm25DocumentWeight, lengthToNormByte, normByteToLength, bm25Idf } from '../src/scoring/lucene-bm25.js';
import { repoRoot } from './support/paths.js';

interface Golden {
  lengthToByte: [number, number][];
  byteToLength: number[];
  normInverse: { k1: number; b: number; avgdl: number; table: number[] }[];
}
const golden = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/fixtures/bm25/lucene-norms.json'), 'utf8')) as Golden;

t.test('length norms encode exactly as Lucene SmallFloat.intToByte4', async (t) => {
  const wrong = golden.lengthToByte.filter(([length, byte]) => lengthToNormByte(length) !== byte);
  t.same(wrong, [], `${golden.lengthToByte.length} lengths checked`);
});

t.test('norm bytes decode exactly as Lucene SmallFloat.byte4ToInt', async (t) => {
  const decoded = Array.from({ length: 256 }, (_, i) => normByteToLength(i));
  t.same(decoded, golden.byteToLength);
});

t.test('BM25 norm factors equal Lucene float bits', async (t) => {
  const bits = new Int32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  for (const setting of golden.normInverse) {
    const table = bm25NormInverseTable({ k1: setting.k1, b: setting.b }, setting.avgdl);
    const mismatches: number[] = [];
    for (let i = 0; i < 256; i++) {
      bits[0] = setting.table[i]!;
      if (table[i] !== asFloat[0]) mismatches.push(i);
    }
    t.same(mismatches, [], `k1=${setting.k1} b=${setting.b} avgdl=${setting.avgdl}`);
  }
});

t.test('term score is BM25 without the (k1 + 1) factor', async (t) => {
  const idf = bm25Idf(3, 100);
  t.ok(Math.abs(idf - Math.log(1 + 97.5 / 3.5)) < 1e-6);
  const k1 = 0.9;
  const b = 0.4;
  const avgdl = 20;
  const table = bm25NormInverseTable({ k1, b }, avgdl);
  const length = 10; // stored exactly (below 24)
  const freq = 2;
  const expected = (idf * freq) / (freq + k1 * (1 - b + (b * length) / avgdl));
  const score = bm25TermScore(idf, freq, table[lengthToNormByte(length)]!);
  t.ok(Math.abs(score - expected) < 1e-5, `${score} vs ${expected}`);
  t.ok(Math.abs(idf * bm25DocumentWeight(freq, table[lengthToNormByte(length)]!) - expected) < 1e-5);
});

t.test('negative or fractional lengths are refused', async (t) => {
  t.throws(() => lengthToNormByte(-1));
  t.throws(() => lengthToNormByte(1.5));
  t.equal(normByteToLength(lengthToNormByte(2 ** 31 - 1)), golden.byteToLength[255]);
});
