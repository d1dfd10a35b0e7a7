import t from 'tap';
import { Bm25Encoder, bm25Config } from '../src/encoders/bm25.js';
import type { EncodedDocument } from '../src/encoders/encoder.js';
import { createEncoder } from '../src/encoders/registry.js';
import type { SpladeEncoder } from '../src/encoders/splade.js';
import { EncoderPool } from '../src/jobs/encoder-pool.js';
import { toIngestDocument } from '../src/engine/documents.js';
import { encodeDocuments, encodeQuery } from '../src/encoders/encode.js';
import { tinyModelFolder } from './support/tiny-model.js';
import path from 'node:path';
import { tempDir } from './support/tmp.js';

const documents = Array.from({ length: 23 }, (_, i) => ({
  title: `Document ${i}`,
  text: `White matter ${'diffusion '.repeat(i % 5)}imaging in newborn number ${i * 7} of the cohort.`,
}));

const ingest = documents.map((d, i) => toIngestDocument({ id: `d${i}`, ...d }));

t.test('the bulk encoder pool encodes SPLADE documents as the encoder does in this thread', async (t) => {
  const model = tinyModelFolder(t);
  const config = { type: 'splade', model, maxLength: 32, batchSize: 4 };
  const local = createEncoder(config) as SpladeEncoder;
  const expected = await local.encodeDocumentsAsync(documents);
  const pool = new EncoderPool(2);
  // Three tasks at once, so both workers run the model.
  const parts = await Promise.all([ingest.slice(0, 8), ingest.slice(8, 16), ingest.slice(16)].map((part) => pool.encode(local, undefined, part)));
  const results = parts.flat();
  t.equal(results.length, documents.length);
  let worst = 0;
  results.forEach((result, i) => {
    if ('error' in result) return t.fail(`document ${i}: ${result.error.message}`);
    const want = expected[i]!.terms[0]!;
    const got = (result as EncodedDocument).terms[0]!;
    if (got.size !== want.size) t.fail(`document ${i}: ${got.size} terms, expected ${want.size}`);
    for (const [term, weight] of want) worst = Math.max(worst, Math.abs((got.get(term) ?? 0) - weight));
  });
  t.ok(worst <= 1e-5, `in input order, weights within 1e-5 (${worst.toExponential(2)})`);
  await pool.close();
  await t.rejects(pool.encode(local, undefined, ingest), { code: 'POOL_CLOSED' });
  await local.dispose();
});

t.test('the pool serves any encoder; a model that cannot load fails the batch, not each document', async (t) => {
  const pool = new EncoderPool(2);
  const bm25 = new Bm25Encoder(bm25Config());
  const results = await pool.encode(bm25, undefined, ingest);
  t.same(results, documents.map((d) => bm25.encodeDocument(d)), 'BM25 through workers equals BM25 here');
  const missing = createEncoder({ type: 'splade', model: path.join(tempDir(t), 'missing') });
  await t.rejects(pool.encode(missing, undefined, ingest), { code: 'MODEL_NOT_FOUND' });
  await pool.close();
});

t.test('encodeDocuments / encodeQuery take the path each encoder offers', async (t) => {
  const bm25 = new Bm25Encoder(bm25Config());
  t.same(await encodeDocuments(bm25, documents.slice(0, 3)), documents.slice(0, 3).map((d) => bm25.encodeDocument(d)), 'BM25: the synchronous path');
  t.same(await encodeQuery(bm25, 'white matter'), bm25.encodeQuery('white matter'));
  const splade = createEncoder({ type: 'splade', model: tinyModelFolder(t), maxLength: 32 }) as SpladeEncoder;
  const viaHelper = await encodeDocuments(splade, documents.slice(0, 3));
  t.same(viaHelper, await splade.encodeDocumentsAsync(documents.slice(0, 3)), 'SPLADE: the model path, loading first');
  t.same(await encodeQuery(splade, 'white matter'), await splade.encodeQueryAsync('white matter'));
  await splade.dispose();
});
