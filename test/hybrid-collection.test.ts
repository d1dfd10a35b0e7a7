import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { toIngestDocument } from '../src/engine/documents.js';
import { Engine } from '../src/engine/engine.js';
import { createEncoder } from '../src/encoders/registry.js';
import type { SpladeEncoder } from '../src/encoders/splade.js';
import { ingestFile } from '../src/jobs/ingest.js';
import { buildApp } from '../src/server/app.js';
import { SeededRandom } from '../src/common/random.js';
import { tinyModelFolder } from './support/tiny-model.js';
import { tempDir } from './support/tmp.js';
import { runCli } from './support/cli.js';

const texts = [
  'White matter microstructure in newborn infants measured by diffusion imaging.',
  'Vitamin D deficiency and bone fractures in older adults.',
  'Learned sparse retrieval expands documents with related vocabulary terms.',
  'Gene expression of tumour cells under hypoxia.',
  'Dense retrieval encodes queries and documents as vectors.',
  'Neural ranking models for passage search.',
  'Randomised trial of statins and heart disease.',
  'Protein folding predicted from sequence alone.',
];
const corpus = texts.map((text, i) => ({ id: `d${i}`, title: `Document ${i}`, text, year: 2015 + i }));

/** Sparse dot product of two term maps, the way an independent reader would compute it. */
function dot(a: Map<string, number>, b: Map<string, number>): number {
  let sum = 0;
  for (const [term, weight] of a) sum += weight * (b.get(term) ?? 0);
  return sum;
}

t.test('a SPLADE collection indexes and searches through the model, in this thread, in the bulk pool and over HTTP', async (t) => {
  const model = tinyModelFolder(t);
  const dataDir = tempDir(t);
  const engine = Engine.open(dataDir);
  t.teardown(() => engine.close());
  const config = { type: 'splade', model, maxLength: 32 };
  const direct = createEncoder(config) as SpladeEncoder;
  t.teardown(() => direct.dispose());

  const here = engine.createCollection('here', { encoder: config });
  t.throws(() => here.upsert([toIngestDocument(corpus[0])]), { code: 'ENCODER_NEEDS_ASYNC' }, 'the synchronous write says which path to take');
  const written = await here.upsertAsync(corpus.map((d) => toIngestDocument(d)));
  t.same(written, { inserted: corpus.length, updated: 0, rejected: [] });

  // The expected ranking, computed from the encoder's own vectors with a plain dot product.
  const documentVectors = await direct.encodeDocumentsAsync(corpus.map(({ id: _id, ...fields }) => fields));
  const query = 'sparse retrieval of documents';
  const queryVector = (await direct.encodeQueryAsync(query)).terms[0]!;
  const expected = corpus
    .map((d, i) => ({ id: d.id, score: dot(queryVector, documentVectors[i]!.terms[0]!) }))
    .filter((h) => h.score > 0)
    .sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : -1))
    .slice(0, 5);
  const response = await here.searchAsync({ query, k: 5, explain: true });
  t.equal(response.retrieval, 'sparse');
  t.same(
    response.hits.map((h) => h.id),
    expected.map((h) => h.id),
    'the same documents in the same order as the plain dot product',
  );
  response.hits.forEach((hit, i) => t.ok(Math.abs(hit.score - expected[i]!.score) <= 1e-4 * Math.max(1, expected[i]!.score), `${hit.id}: score ${hit.score} vs ${expected[i]!.score}`));
  t.ok(response.hits[0]!.explain!.length > 0, 'explain lists the expansion terms that matched');

  // The bulk job runner, encoding in two worker threads, stores the same vectors.
  const file = path.join(tempDir(t), 'corpus.jsonl');
  fs.writeFileSync(file, corpus.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const pooled = engine.createCollection('pooled', { encoder: config });
  const summary = await ingestFile(pooled, file, { workers: 2, batchSize: 3 });
  t.equal(summary.indexed, corpus.length);
  const pooledHits = (await pooled.searchAsync({ query, k: 5 })).hits;
  t.same(
    pooledHits.map((h) => h.id),
    response.hits.map((h) => h.id),
    'worker-encoded documents rank as the thread-encoded ones',
  );
  pooledHits.forEach((hit, i) => t.ok(Math.abs(hit.score - response.hits[i]!.score) <= 1e-5, `${hit.id} scores alike`));

  // Over HTTP: a document PUT, then a text search that runs the query model.
  const app = buildApp({ engine });
  t.teardown(() => app.close());
  const put = await app.inject({ method: 'PUT', url: '/collections/here/documents/extra', payload: { title: 'Sparse', text: 'Sparse retrieval of documents with learned weights.' } });
  t.equal(put.statusCode, 201, put.body);
  const search = await app.inject({ method: 'POST', url: '/collections/here/search', payload: { query, k: 3 } });
  t.equal(search.statusCode, 200, search.body);
  t.ok(search.json().hits.some((h: { id: string }) => h.id === 'extra'), 'the new document is found through the model');

  t.throws(
    () => engine.createCollection('missing-model', { encoder: { type: 'splade', model: path.join(dataDir, 'no-such-model') } }),
    { code: 'MODEL_NOT_FOUND' },
    'a missing model folder fails the creation, not the first write',
  );
  t.notOk(engine.findCollection('missing-model'), 'and leaves no collection behind');
  const moved = path.join(dataDir, 'moved-model');
  fs.cpSync(model, moved, { recursive: true });
  const gone = engine.createCollection('gone', { encoder: { type: 'splade', model: moved } });
  fs.rmSync(path.join(moved, 'onnx', 'model.onnx'));
  await t.rejects(gone.upsertAsync([toIngestDocument(corpus[0])]), { code: 'MODEL_FILES_MISSING' }, 'a model file gone later fails the write with a plain code');
});

/** 4-d vectors: documents 0-3 point one way, 4-7 another, with a seeded jitter. */
function vectors(seed: number): number[][] {
  const random = new SeededRandom(seed);
  return corpus.map((_, i) => {
    const base = i < 4 ? [1, 0.2, 0, 0] : [0, 0.1, 1, 0.3];
    return base.map((x) => x + (random.nextFloat() - 0.5) * 0.2);
  });
}

function cosine(a: readonly number[], b: readonly number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

t.test('client dense vectors: dense, hybrid (RRF and convex, explained), filters, deletes, reopening', async (t) => {
  const dataDir = tempDir(t);
  let engine = Engine.open(dataDir);
  t.teardown(() => engine.close());
  const dense = vectors(7);
  const collection = engine.createCollection('hybrid', { dense: { encoder: { type: 'client', dimension: 4 } } });
  t.same(collection.record.dense, { encoder: { type: 'client', dimension: 4, field: 'dense_vector' }, metric: 'cosine', storage: 'f32', index: 'exact' }, 'settings stored complete');
  const documents = corpus.map((d, i) => toIngestDocument({ ...d, dense_vector: dense[i] }));
  const bad = [
    toIngestDocument({ id: 'no-vector', text: 'has no dense vector' }),
    toIngestDocument({ id: 'short', text: 'wrong length', dense_vector: [1, 2, 3] }),
    toIngestDocument({ id: 'nan', text: 'not numbers', dense_vector: [1, 'x', 0, 0] }),
  ];
  const written = await collection.upsertAsync([...documents, ...bad]);
  t.equal(written.inserted, corpus.length);
  t.same(
    written.rejected.map((r) => [r.id, r.code]),
    [
      ['no-vector', 'VECTOR_MISSING'],
      ['short', 'VECTOR_DIMENSION_MISMATCH'],
      ['nan', 'INVALID_VECTOR'],
    ],
    'bad vectors are rejected one by one, the rest written',
  );
  t.notOk('dense_vector' in collection.get('d0')!.fields, 'the vector is not kept among the stored fields');

  const queryVector = [0.1, 0.1, 1, 0.2];
  const expectedDense = corpus
    .map((d, i) => ({ id: d.id, score: cosine(queryVector, dense[i]!) }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : -1));
  const denseOnly = await collection.searchAsync({ denseVector: queryVector, k: 8 });
  t.equal(denseOnly.retrieval, 'dense');
  t.same(denseOnly.hits.map((h) => h.id), expectedDense.map((h) => h.id), 'dense ranking = brute-force cosine');
  denseOnly.hits.forEach((h, i) => t.ok(Math.abs(h.score - expectedDense[i]!.score) < 1e-5));

  const sparseOnly = await collection.searchAsync({ query: 'retrieval vectors', k: 8 });
  t.equal(sparseOnly.retrieval, 'sparse', 'text alone, with client vectors, is sparse search');
  await t.rejects(collection.searchAsync({ query: 'retrieval', retrieval: 'hybrid' }), { code: 'QUERY_VECTOR_REQUIRED' });

  const hybrid = await collection.searchAsync({ query: 'retrieval vectors', denseVector: queryVector, k: 8, explain: true });
  t.equal(hybrid.retrieval, 'hybrid');
  // RRF by hand: 1 / (60 + rank) from each list that holds the document.
  const rrf = new Map<string, number>();
  for (const list of [sparseOnly.hits, denseOnly.hits]) list.forEach((h, r) => rrf.set(h.id, (rrf.get(h.id) ?? 0) + 1 / (60 + r + 1)));
  const expectedHybrid = [...rrf].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1)).slice(0, 8);
  t.same(hybrid.hits.map((h) => h.id), expectedHybrid.map(([id]) => id), 'hybrid = RRF of the two lists');
  hybrid.hits.forEach((h, i) => t.ok(Math.abs(h.score - expectedHybrid[i]![1]) < 1e-12));
  const top = hybrid.hits[0]!;
  t.same(top.fusion!.map((c) => c.list), ['sparse', 'dense'], 'explain shows each list');
  t.ok(Math.abs(top.fusion!.reduce((s, c) => s + c.contribution, 0) - top.score) < 1e-12, 'components add up to the fused score');

  const convex = await collection.searchAsync({ query: 'retrieval vectors', denseVector: queryVector, k: 8, fusion: { method: 'convex', weights: [0, 1] } });
  t.same(convex.hits.slice(0, 4).map((h) => h.id), expectedDense.slice(0, 4).map((h) => h.id), 'convex with all weight on dense follows the dense ranking');
  await t.rejects(collection.searchAsync({ query: 'x', denseVector: queryVector, fusion: { method: 'convex' } }), { code: 'INVALID_FUSION' });
  await t.rejects(collection.searchAsync({ denseVector: [1, 2] }), { code: 'VECTOR_DIMENSION_MISMATCH' });

  const filtered = await collection.searchAsync({ denseVector: queryVector, k: 8, filter: { year: { lte: 2018 } } });
  t.same(filtered.hits.map((h) => h.id).sort(), ['d0', 'd1', 'd2', 'd3'], 'the filter applies to the dense side');
  const excluded = await collection.searchAsync({ denseVector: queryVector, k: 3, excludeIds: [expectedDense[0]!.id] });
  t.notOk(excluded.hits.some((h) => h.id === expectedDense[0]!.id));

  t.equal(collection.delete([expectedDense[0]!.id]), 1);
  const afterDelete = await collection.searchAsync({ denseVector: queryVector, k: 8 });
  t.same(afterDelete.hits.map((h) => h.id), expectedDense.slice(1).map((h) => h.id), 'a deleted document leaves the dense side at once');
  await collection.upsertAsync([toIngestDocument({ id: 'd1', text: 'replaced', dense_vector: queryVector })]);
  t.equal((await collection.searchAsync({ denseVector: queryVector, k: 1 })).hits[0]!.id, 'd1', 'a replaced vector takes effect');

  const beforeClose = await collection.searchAsync({ denseVector: queryVector, k: 8 });
  engine.close();
  engine = Engine.open(dataDir);
  const reopened = await engine.collection('hybrid').searchAsync({ denseVector: queryVector, k: 8 });
  t.same(reopened.hits, beforeClose.hits, 'reopened: the dense index is rebuilt from the store');

  const sparse = engine.createCollection('sparse-only');
  await t.rejects(sparse.searchAsync({ denseVector: queryVector }), { code: 'NO_DENSE_SIDE' });
  t.throws(() => engine.createCollection('bad', { dense: { encoder: { type: 'client', dimension: 4 }, metric: 'l1' } }), { code: 'INVALID_DENSE_SETTINGS' });
  t.throws(() => engine.createCollection('bad2', { dense: { encoder: { type: 'client' } } }), { code: 'INVALID_ENCODER_CONFIG' });
});

t.test('a static dense side (word vectors) makes a text query hybrid; HTTP create, bulk and search', async (t) => {
  const dir = tempDir(t);
  const words: Record<string, number[]> = {
    sparse: [1, 0, 0], retrieval: [0.8, 0.2, 0], search: [0.7, 0.3, 0], vectors: [0.6, 0.4, 0], dense: [0.5, 0.5, 0],
    bone: [0, 0, 1], vitamin: [0, 0.1, 0.9], fractures: [0, 0.2, 0.8], heart: [0.1, 0, 0.9], skeleton: [0, 0.05, 1],
  };
  const list = Object.keys(words);
  const table: Record<string, number[]> = {};
  list.forEach((w, i) => (table[w] = [...words[w]!, Math.hypot(...words[w]!), i]));
  const embeddings = path.join(dir, 'vectors.json');
  fs.writeFileSync(embeddings, JSON.stringify({ dimensions: 3, words: list, vectors: table }));

  const engine = Engine.open(path.join(dir, 'data'));
  const app = buildApp({ engine });
  t.teardown(async () => {
    await app.close();
    engine.close();
  });
  const created = await app.inject({ method: 'POST', url: '/collections', payload: { name: 'hybrid', dense: { encoder: { type: 'static', embeddings } } } });
  t.equal(created.statusCode, 201, created.body);
  t.equal(created.json().dense.encoder.type, 'static');
  const ndjson = corpus.map((d) => JSON.stringify(d)).join('\n') + '\n';
  const bulk = await app.inject({ method: 'POST', url: '/collections/hybrid/documents/_bulk', headers: { 'content-type': 'application/x-ndjson' }, payload: ndjson });
  t.equal(bulk.statusCode, 200, bulk.body);
  t.equal(bulk.json().indexed, corpus.length);

  // "skeleton" is in no document: BM25 finds nothing, the word vectors find the bone paper.
  const search = await app.inject({ method: 'POST', url: '/collections/hybrid/search', payload: { query: 'skeleton', k: 3, explain: true } });
  t.equal(search.statusCode, 200, search.body);
  const body = search.json();
  t.equal(body.retrieval, 'hybrid');
  t.equal(body.hits[0].id, 'd1', 'the dense side finds a synonym BM25 cannot');
  t.same(body.hits[0].fusion.map((c: { list: string; rank: number | null }) => [c.list, c.rank]), [['sparse', null], ['dense', 1]]);
  const sparseOnly = await app.inject({ method: 'POST', url: '/collections/hybrid/search', payload: { query: 'skeleton', retrieval: 'sparse' } });
  t.same(sparseOnly.json().hits, [], 'retrieval: sparse keeps to BM25');

  for (const [payload, code] of [
    [{ query: 'x', fusion: { method: 'borda' } }, 'VALIDATION_FAILED'],
    [{ query: 'x', fusion: { method: 'convex' } }, 'INVALID_FUSION'],
    [{ dense_vector: [1, 2] }, 'VECTOR_DIMENSION_MISMATCH'],
    [{ dense_vector: ['a'] }, 'VALIDATION_FAILED'],
    [{ k: 3 }, 'VALIDATION_FAILED'],
    [{ query: 'x', retrieval: 'both' }, 'VALIDATION_FAILED'],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/collections/hybrid/search', payload });
    t.equal(res.statusCode, 400, `${JSON.stringify(payload)} -> 400`);
    t.equal(res.json().error.code, code, `${JSON.stringify(payload)} -> ${code}`);
  }
  const noSide = await app.inject({ method: 'POST', url: '/collections', payload: { name: 'plain' } });
  t.equal(noSide.statusCode, 201);
  const vectorOnPlain = await app.inject({ method: 'POST', url: '/collections/plain/search', payload: { dense_vector: [1, 0, 0] } });
  t.equal(vectorOnPlain.json().error.code, 'NO_DENSE_SIDE');
  const badSettings = await app.inject({ method: 'POST', url: '/collections', payload: { name: 'bad', dense: { encoder: { type: 'static' }, storage: 'f16' } } });
  t.equal(badSettings.statusCode, 400);
  t.equal(badSettings.json().error.code, 'INVALID_DENSE_SETTINGS');
});

t.test('inference-free SPLADE from the command line: idf, index, search', async (t) => {
  const run = runCli;
  const dir = tempDir(t);
  const model = tinyModelFolder(t);
  const file = path.join(dir, 'corpus.jsonl');
  fs.writeFileSync(file, corpus.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const idfFile = path.join(dir, 'idf.json');
  const data = path.join(dir, 'data');

  const idf = await run(['idf', file, '--model', model, '--out', idfFile]);
  t.equal(idf.code, 0, idf.stderr);
  const table = JSON.parse(fs.readFileSync(idfFile, 'utf8')) as Record<string, number>;
  // "retrieval" is in 2 of the 8 documents: ln(1 + (8 - 2 + 0.5) / (2 + 0.5)).
  t.ok(Math.abs(table['retrieval']! - Math.log(1 + 6.5 / 2.5)) < 1e-6, `idf of "retrieval" ${table['retrieval']}`);

  const usage = await run(['index', 'c', file, '--encoder', 'splade', '--model', model, '--query-mode', 'inference-free', '--data-dir', data]);
  t.equal(usage.code, 2, 'inference-free without --idf is a usage error');
  t.match(usage.stderr, /--idf FILE/);
  const indexed = await run(['index', 'c', file, '--encoder', 'splade', '--model', model, '--query-mode', 'inference-free', '--idf', idfFile, '--workers', '1', '--data-dir', data, '--json']);
  t.equal(indexed.code, 0, indexed.stderr);
  t.equal(JSON.parse(indexed.stdout).indexed, corpus.length);

  const searched = await run(['search', 'c', 'sparse retrieval', '--explain', '--json', '--data-dir', data]);
  t.equal(searched.code, 0, searched.stderr);
  const response = JSON.parse(searched.stdout) as { hits: { id: string; explain: { term: string; queryWeight: number }[] }[] };
  t.ok(response.hits.length > 0);
  for (const hit of response.hits) {
    for (const term of hit.explain) t.ok(Math.abs(term.queryWeight - table[term.term]!) < 1e-6, `${hit.id}: query weight of ${term.term} is its idf`);
  }
  const matched = new Set(response.hits.flatMap((h) => h.explain.map((e) => e.term)));
  t.ok(matched.size > 0 && [...matched].every((term) => term === 'sparse' || term === 'retrieval'), `only the query's own tokens match, no expansion at query time (${[...matched].join(', ')})`);
});

t.test('precomputed sparse and client dense vectors from the command line: index, then a hybrid query file', async (t) => {
  const { readRun } = await import('../src/eval/trec-files.js');
  const run = runCli;
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const dense = vectors(3);
  const docs = path.join(dir, 'docs.jsonl');
  fs.writeFileSync(docs, corpus.map((d, i) => JSON.stringify({ id: d.id, vector: { [`t${i % 3}`]: 1 + i, shared: 0.5 }, dense_vector: dense[i] })).join('\n') + '\n');
  const queries = path.join(dir, 'queries.jsonl');
  fs.writeFileSync(
    queries,
    [
      { id: 'q1', vector: { t1: 1 }, dense_vector: [1, 0.2, 0, 0] },
      { id: 'q2', dense_vector: [0, 0.1, 1, 0.3] },
    ]
      .map((q) => JSON.stringify(q))
      .join('\n') + '\n',
  );
  const indexed = await run(['index', 'v', '--vectors', docs, '--dense', '{"encoder": {"type": "client", "dimension": 4}}', '--data-dir', data]);
  t.equal(indexed.code, 0, indexed.stderr);
  const out = path.join(dir, 'run.trec');
  const searched = await run(['search', 'v', '--vectors', queries, '-k', '8', '--out', out, '--data-dir', data]);
  t.equal(searched.code, 0, searched.stderr);
  t.match(searched.stdout, /1 hybrid, 1 dense/);
  const written = await readRun(out);

  const engine = Engine.open(data);
  t.teardown(() => engine.close());
  const collection = engine.collection('v');
  const hybrid = await collection.searchAsync({ query: { t1: 1 }, denseVector: [1, 0.2, 0, 0], k: 8 });
  t.same(written.get('q1')!.map((d) => d.docId), hybrid.hits.map((h) => h.id), 'q1: the run file holds the hybrid ranking');
  const denseOnly = await collection.searchAsync({ denseVector: [0, 0.1, 1, 0.3], k: 8 });
  t.same(written.get('q2')!.map((d) => d.docId), denseOnly.hits.map((h) => h.id), 'q2: a dense-only query');
  t.equal(denseOnly.hits[0]!.id.startsWith('d'), true);
  t.ok(['d4', 'd5', 'd6', 'd7'].includes(denseOnly.hits[0]!.id), 'the dense query finds the documents pointing its way');
});

t.test('an HNSW dense side agrees with the exact one, before and after reopening (graph built in one call)', async (t) => {
  const dataDir = tempDir(t);
  let engine = Engine.open(dataDir);
  t.teardown(() => engine.close());
  const random = new SeededRandom(11);
  const dimension = 16;
  const documents = Array.from({ length: 300 }, (_, i) =>
    toIngestDocument({ id: `v${i}`, text: `vector ${i}`, dense_vector: Array.from({ length: dimension }, () => random.nextGaussian()) }),
  );
  const settings = (index: string) => ({ dense: { encoder: { type: 'client', dimension }, index } });
  await engine.createCollection('exact', settings('exact')).upsertAsync(documents);
  await engine.createCollection('graph', settings('hnsw')).upsertAsync(documents);
  const queries = Array.from({ length: 20 }, () => Array.from({ length: dimension }, () => random.nextGaussian()));
  const answer = async (name: string) => Promise.all(queries.map(async (q) => (await engine.collection(name).searchAsync({ denseVector: q, k: 10 })).hits.map((h) => h.id)));
  const exact = await answer('exact');
  const before = await answer('graph');
  let found = 0;
  exact.forEach((ids, i) => (found += ids.filter((id) => before[i]!.includes(id)).length));
  t.ok(found / (10 * queries.length) >= 0.95, `recall@10 of the graph against the exact scan: ${(found / (10 * queries.length)).toFixed(3)}`);
  engine.close();
  engine = Engine.open(dataDir);
  const after = await answer('graph');
  let again = 0;
  exact.forEach((ids, i) => (again += ids.filter((id) => after[i]!.includes(id)).length));
  t.ok(again / (10 * queries.length) >= 0.95, `after reopening, the graph rebuilt from the store: ${(again / (10 * queries.length)).toFixed(3)}`);
});
