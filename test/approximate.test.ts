import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { Engine } from '../src/engine/engine.js';
import { buildApp } from '../src/server/app.js';
import type { Collection } from '../src/engine/collection.js';
import { UNCAPPED } from '../src/index/seismic/params.js';
import { rowOf, type SparseMatrix } from '../src/index/sparse-matrix.js';
import { tempDir } from './support/tmp.js';

const DOCS = 3000;
const synthetic = generateSynthetic({ docs: DOCS, queries: 40, seed: 7 });

function vectorObject(matrix: SparseMatrix, row: number): Record<string, number> {
  const { indices, values } = rowOf(matrix, row);
  const vector: Record<string, number> = {};
  for (let i = 0; i < indices.length; i++) vector[`t${indices[i]}`] = values[i]!;
  return vector;
}

function fill(collection: Collection, count = DOCS, batchSize = 1000): void {
  for (let start = 0; start < count; start += batchSize) {
    const batch = [];
    for (let row = start; row < Math.min(count, start + batchSize); row++) {
      batch.push({ id: `d${row}`, fields: { vector: vectorObject(synthetic.docs, row), group: row % 10, even: row % 2 === 0 } });
    }
    collection.upsert(batch);
  }
}

function recallAt10(exact: string[], approximate: string[]): number {
  const truth = new Set(exact);
  return approximate.filter((id) => truth.has(id)).length / Math.max(1, exact.length);
}

t.test('segments are built in the background and searched with the unbuilt tail', async (t) => {
  const dir = tempDir(t);
  let engine = Engine.open(dir);
  const collection = engine.createCollection('vectors', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 600, mergeFactor: 3 } });
  collection.search({ query: { t1: 1 }, mode: 'approximate' }); // opens the approximate side before the writes
  fill(collection);
  await collection.idle();
  const stats = collection.segmentStatistics();
  t.ok(stats.segments.length >= 1 && stats.segments.length <= 3, `${stats.segments.length} segments (merge factor 3)`);
  t.equal(stats.segments.reduce((s, x) => s + x.documents, 0) + stats.tail, DOCS, 'every document is in a segment or the tail');

  let recall = 0;
  const queries = Array.from({ length: 40 }, (_, q) => vectorObject(synthetic.queries, q));
  const exactAnswers = queries.map((query) => collection.search({ query, k: 10, mode: 'exact' }).hits.map((h) => h.id));
  queries.forEach((query, q) => {
    const response = collection.search({ query, k: 10 });
    t.equal(response.mode, 'approximate');
    recall += recallAt10(exactAnswers[q]!, response.hits.map((h) => h.id));
  });
  t.ok(recall / 40 >= 0.9, `recall@10 ${(recall / 40).toFixed(3)} with default parameters`);

  // Deletes and replacements are tombstoned at once.
  const victim = exactAnswers[0]![0]!;
  collection.delete([victim]);
  t.notOk(collection.search({ query: queries[0]!, k: 10 }).hits.some((h) => h.id === victim), 'a deleted document never comes back');
  const replaced = exactAnswers[1]![0]!;
  collection.upsert([{ id: replaced, fields: { vector: { t999999: 1 }, group: -1 } }]);
  t.notOk(collection.search({ query: queries[1]!, k: 10 }).hits.some((h) => h.id === replaced), 'the old version of a replaced document is gone');
  t.same(collection.search({ query: { t999999: 1 }, k: 3 }).hits.map((h) => h.id), [replaced], 'the new version is found');

  // Reopening reads the segments back instead of rebuilding them.
  const before = queries.map((query) => collection.search({ query, k: 10 }).hits.map((h) => `${h.id}:${h.score.toFixed(5)}`));
  const files = fs.readdirSync(path.join(dir, 'segments', '1')).sort();
  engine.close();
  engine = Engine.open(dir);
  const reopened = engine.collection('vectors');
  const after = queries.map((query) => reopened.search({ query, k: 10 }).hits.map((h) => `${h.id}:${h.score.toFixed(5)}`));
  t.same(after, before, 'same answers after a restart');
  t.same(fs.readdirSync(path.join(dir, 'segments', '1')).sort(), files, 'no segment was rebuilt');
  engine.close();
});

t.test('a bulk load is packed from the store into segments; learned-sparse queries then need no exact index', async (t) => {
  const dir = tempDir(t);
  let engine = Engine.open(dir);
  fill(engine.createCollection('bulk', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 500 } }));
  engine.close();

  // Reopened with 3000 documents in no segment: they go straight into segments, not into the tail.
  engine = Engine.open(dir);
  let collection = engine.collection('bulk');
  const queries = Array.from({ length: 20 }, (_, q) => vectorObject(synthetic.queries, q));
  const during = collection.search({ query: queries[0]!, k: 10, mode: 'approximate' });
  t.equal(during.mode, 'exact', 'answered exactly while the documents are being packed');
  t.match(during.warnings?.join(' ') ?? '', /3000 documents are being built into segments/);
  await collection.idle();
  const stats = collection.segmentStatistics();
  t.equal(stats.tail, 0, 'nothing went to the tail');
  t.equal(stats.segments.reduce((sum, s) => sum + s.documents, 0), DOCS, 'every document is in a segment');
  const exactAnswers = queries.map((query) => collection.search({ query, k: 10, mode: 'exact' }).hits.map((h) => h.id));
  engine.close();

  engine = Engine.open(dir);
  collection = engine.collection('bulk');
  collection.warm();
  t.notOk(collection.exactIndexLoaded, 'warming a learned-sparse collection with segments opens only the segments');
  let recall = 0;
  for (const [q, query] of queries.entries()) {
    const response = collection.search({ query, k: 10 });
    t.equal(response.mode, 'approximate');
    recall += recallAt10(exactAnswers[q]!, response.hits.map((h) => h.id));
  }
  t.ok(recall / queries.length >= 0.9, `recall@10 ${(recall / queries.length).toFixed(3)}`);
  t.notOk(collection.exactIndexLoaded, 'approximate queries did not load the exact index');

  // Writes keep the store's view in step: a delete is gone at once, a new document is found in the tail.
  const victim = exactAnswers[0]![0]!;
  collection.delete([victim]);
  t.notOk(collection.search({ query: queries[0]!, k: 10 }).hits.some((h) => h.id === victim), 'a deleted document never comes back');
  collection.upsert([{ id: 'fresh', fields: { vector: { t999999: 1 } } }]);
  t.same(collection.search({ query: { t999999: 1 }, k: 3 }).hits.map((h) => h.id), ['fresh'], 'a new document is searchable at once');
  t.notOk(collection.exactIndexLoaded, 'still no exact index');
  const explained = collection.search({ query: queries[1]!, k: 3, explain: true });
  t.ok(explained.hits[0]!.explain!.length > 0, 'explain loads the exact index when asked');
  t.ok(collection.exactIndexLoaded);
  engine.close();
});

t.test('filters: small allowed sets are searched exactly, large ones approximately, both respected', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const collection = engine.createCollection('vectors', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 1500, filterExactBelow: 500 } });
  fill(collection);
  await collection.buildSegments({ force: true });
  const query = vectorObject(synthetic.queries, 3);
  const small = collection.search({ query, k: 10, filter: { group: 3 } });
  t.equal(small.mode, 'exact', '300 allowed documents: exact');
  const smallExact = collection.search({ query, k: 10, filter: { group: 3 }, mode: 'exact' });
  t.same(small.hits.map((h) => h.id), smallExact.hits.map((h) => h.id));
  t.ok(small.hits.every((h) => Number(h.id.slice(1)) % 10 === 3));
  const large = collection.search({ query, k: 10, filter: { group: { gte: 1 } }, fields: ['group'] });
  t.equal(large.mode, 'approximate', '2700 allowed documents: approximate');
  t.ok(large.hits.length === 10 && large.hits.every((h) => (h.fields!['group'] as number) >= 1));
  const largeExact = collection.search({ query, k: 10, filter: { group: { gte: 1 } }, mode: 'exact' });
  t.ok(recallAt10(largeExact.hits.map((h) => h.id), large.hits.map((h) => h.id)) >= 0.7, 'filtered recall does not collapse');
  const combined = collection.search({ query, k: 50, filter: { and: [{ even: true }, { not: { group: { in: [0, 2] } } }] }, mode: 'exact' });
  t.ok(combined.hits.every((h) => [4, 6, 8].includes(Number(h.id.slice(1)) % 10)));
  t.throws(() => collection.search({ query, filter: { group: { near: 3 } } }), { code: 'INVALID_FILTER' });
  t.throws(() => collection.search({ query, filter: { "a'b": 1 } }), { code: 'INVALID_FILTER' });
  const deep = { not: { not: { not: { not: { not: { not: { not: { not: { not: { group: 1 } } } } } } } } } };
  t.throws(() => collection.search({ query, filter: deep }), { code: 'FILTER_TOO_COMPLEX' });
});

t.test('with pruning and skipping turned off, approximate equals exact', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const collection = engine.createCollection('vectors', {
    encoder: { type: 'precomputed' },
    index: {
      segmentMinDocs: 400,
      build: { pruning: 'fixed', postingCap: UNCAPPED, summaryEnergy: 1, forwardValues: 'f32' },
      query: { queryCut: UNCAPPED, heapFactor: 0 },
    },
  });
  // Several segments plus a tail: the merge of their candidates must be exact too.
  collection.search({ query: { t1: 1 }, mode: 'approximate' });
  fill(collection, 1000, 250);
  await collection.idle();
  collection.upsert([{ id: 'tail-only', fields: { vector: { t5: 1 } } }]);
  t.ok(collection.segmentStatistics().segments.length >= 2, 'more than one segment');
  t.ok(collection.segmentStatistics().tail >= 1, 'and a tail');
  for (let q = 0; q < 20; q++) {
    const query = vectorObject(synthetic.queries, q);
    const exact = collection.search({ query, k: 10, mode: 'exact' }).hits;
    const approximate = collection.search({ query, k: 10, mode: 'approximate' }).hits;
    t.same(approximate.map((h) => h.id), exact.map((h) => h.id), `query ${q}: same documents`);
    const worst = Math.max(...approximate.map((h, i) => Math.abs(h.score - exact[i]!.score)));
    t.ok(worst < 1e-4, `query ${q}: scores within 1e-4 (${worst})`);
  }
});

t.test('a stray or damaged segment file is handled on open', async (t) => {
  const dir = tempDir(t);
  let engine = Engine.open(dir);
  const collection = engine.createCollection('vectors', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 1000 } });
  fill(collection);
  await collection.buildSegments({ force: true });
  engine.close();
  const segmentDir = path.join(dir, 'segments', '1');
  fs.writeFileSync(path.join(segmentDir, 'seg-999999.seg'), 'left over by a crash before the database recorded it');
  const [first] = fs.readdirSync(segmentDir).filter((f) => f !== 'seg-999999.seg').sort();
  const damaged = path.join(segmentDir, first!);
  const bytes = fs.readFileSync(damaged);
  bytes[100] = bytes[100]! ^ 0xff;
  fs.writeFileSync(damaged, bytes);
  engine = Engine.open(dir);
  t.teardown(() => engine.close());
  const reopened = engine.collection('vectors');
  const query = vectorObject(synthetic.queries, 0);
  const exact = reopened.search({ query, k: 10, mode: 'exact' }).hits.map((h) => h.id);
  const approximate = reopened.search({ query, k: 10, mode: 'approximate' }).hits.map((h) => h.id);
  t.ok(recallAt10(exact, approximate) >= 0.8, 'documents of the damaged segment are still found');
  t.notOk(fs.existsSync(path.join(segmentDir, 'seg-999999.seg')), 'the unrecorded file was removed');
  await reopened.idle();
  const stats = reopened.segmentStatistics();
  t.equal(stats.segments.reduce((n, s) => n + s.documents - s.deleted, 0) + stats.tail, DOCS, 'every document is searchable again');
  t.notOk(fs.existsSync(damaged), 'the damaged file is no longer a segment');
  t.ok(fs.existsSync(`${damaged}.corrupt`), 'it is kept aside for inspection');
  t.match(reopened.segmentStatistics(), {}, 'statistics still answer');
});

t.test('bad build parameters are refused when the collection is created, not in a build worker later', (t) => {
  const engine = Engine.open(tempDir(t));
  for (const build of [{ summaryEnergy: 5 }, { summaryDocCut: 0 }, { postingCap: -1 }, { forwardValues: 'f8' }]) {
    t.throws(() => engine.createCollection('bad', { encoder: { type: 'precomputed' }, index: { build } }), { code: 'INVALID_INDEX_SETTINGS' }, JSON.stringify(build));
  }
  t.equal(engine.listCollections().length, 0, 'nothing was created');
  const ok = engine.createCollection('good', { encoder: { type: 'precomputed' }, index: { build: { summaryDocCut: 32 } } });
  t.equal(ok.name, 'good', 'a valid summaryDocCut is accepted');
  engine.close();
  t.end();
});

t.test('a bulk load packs committed vectors straight into segments; deletes during it are honoured', async (t) => {
  const engine = Engine.open(tempDir(t));
  const collection = engine.createCollection('bulk', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 500, maxSegmentDocs: 2000 } });
  t.ok(collection.beginBulkLoad(), 'a learned-sparse collection packs its bulk load');
  fill(collection);
  const during = collection.search({ query: vectorObject(synthetic.queries, 0), k: 10, mode: 'approximate' });
  t.equal(during.mode, 'exact', 'answered exactly while packed documents wait for their segment');
  collection.delete(['d5']);
  collection.upsert([{ id: 'd6', fields: { vector: { t999999: 1 } } }]);
  const built = await collection.buildSegments();
  t.notOk(built.error);
  t.equal(built.tail, 0, 'nothing in the tail');
  const stats = collection.segmentStatistics();
  t.ok(stats.segments.length >= 2, `${stats.segments.length} segments (a full pack of 2000 was built while loading)`);
  t.equal(collection.statistics().documents, DOCS - 1, 'd5 deleted, d6 replaced');
  t.equal(stats.segments.reduce((sum, s) => sum + s.documents - s.deleted, 0), DOCS - 1, 'every live document once: the deleted one and the old d6 are tombstoned');
  const after = collection.search({ query: vectorObject(synthetic.queries, 0), k: 10, mode: 'approximate' });
  t.equal(after.mode, 'approximate');
  t.notOk(collection.search({ query: vectorObject(synthetic.docs, 5), k: 20 }).hits.some((h) => h.id === 'd5'), 'the deleted document is gone');
  t.same(collection.search({ query: { t999999: 1 }, k: 1 }).hits.map((h) => h.id), ['d6'], 'the replacement is found');

  const text = engine.createCollection('text', { encoder: { type: 'bm25' } });
  t.notOk(text.beginBulkLoad(), 'BM25 weights need the final statistics: read back after the load instead');
  engine.close();
});

t.test('a segment build that fails is a coded error: searches go on, nothing is lost, the next build succeeds', async (t) => {
  const dir = tempDir(t);
  const engine = Engine.open(dir);
  t.teardown(() => engine.close());
  const collection = engine.createCollection('vectors', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 500 } });
  collection.search({ query: { t1: 1 }, mode: 'approximate' });
  // The segment directory replaced by a file: the build cannot write its segment (ENOTDIR).
  const segmentDir = path.join(dir, 'segments', String(collection.record.id));
  fs.rmSync(segmentDir, { recursive: true, force: true });
  fs.writeFileSync(segmentDir, 'not a directory');
  fill(collection, 1200, 600);
  await collection.idle();
  const failed = collection.segmentStatistics();
  t.equal(failed.error?.code, 'SEGMENT_BUILD_FAILED', `the failure is kept with a stable code: ${failed.error?.message}`);
  t.equal(failed.segments.length, 0, 'no segment was recorded');
  t.equal(failed.tail, 1200, 'every document stays in the tail');
  const query = vectorObject(synthetic.queries, 0);
  const exact = collection.search({ query, k: 10, mode: 'exact' }).hits.map((h) => h.id);
  t.same(collection.search({ query, k: 10 }).hits.map((h) => h.id), exact, 'searches are answered (exactly, from the tail)');
  fs.rmSync(segmentDir);
  fs.mkdirSync(segmentDir);
  const built = await collection.buildSegments({ force: true });
  t.ok(built.segments >= 1 && built.error === undefined, `once the directory is back, the build succeeds (${built.segments} segments)`);
  t.equal(collection.segmentStatistics().error, undefined, 'and the old failure is cleared');
  t.same(collection.search({ query, k: 10, mode: 'approximate', approximate: { queryCut: 1000, heapFactor: 1 } }).hits.map((h) => h.id).slice(0, 3), exact.slice(0, 3), 'the new segment answers');
});

t.test('a running segment build shows its progress in /metrics, and disappears from it when done', async (t) => {
  const dir = tempDir(t);
  const engine = Engine.open(dir);
  t.teardown(() => engine.close());
  const app = buildApp({ engine });
  t.teardown(() => app.close());
  const many = generateSynthetic({ docs: 30000, queries: 1, seed: 8 }).docs;
  const collection = engine.createCollection('big', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 1_000_000 } });
  for (let start = 0; start < many.rows; start += 5000) {
    collection.upsert(Array.from({ length: 5000 }, (_, i) => ({ id: `d${start + i}`, fields: { vector: vectorObject(many, start + i) } })));
  }
  const build = collection.buildSegments({ force: true });
  let finished = false;
  void build.then(() => (finished = true));
  const seen: { done: number; total: number }[] = [];
  while (!finished) {
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const done = /sparrow_segment_build_postings_done\{collection="big",kind="[a-z]+"\} (\d+)/.exec(metrics);
    const total = /sparrow_segment_build_postings_total\{collection="big",kind="[a-z]+"\} (\d+)/.exec(metrics);
    if (done && total) seen.push({ done: Number(done[1]), total: Number(total[1]) });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await build;
  t.ok(seen.length > 0, `${seen.length} scrapes saw the build running`);
  t.ok(seen.every(({ done, total }) => total === 0 || done <= total), 'postings done never exceed the total');
  t.ok(seen.some(({ total }) => total > 0), 'the total is known once the lists are pruned');
  for (let i = 1; i < seen.length; i++) if (seen[i]!.done < seen[i - 1]!.done) t.fail('progress went backwards');
  const after = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.notMatch(after, /sparrow_segment_build_postings_done\{collection="big"/, 'no running build once it is done');
  t.equal(collection.segmentStatistics().tail, 0, 'every document is in a segment');
});
