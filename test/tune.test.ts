import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { Engine } from '../src/engine/engine.js';
import { paretoMarked, tuneRecall, writeTuneReport } from '../src/eval/recall-tune.js';
import { SeededRandom } from '../src/common/random.js';
import { rowOf } from '../src/index/sparse-matrix.js';
import { buildApp } from '../src/server/app.js';
import { runCli } from './support/cli.js';
import { tempDir } from './support/tmp.js';

const synthetic = generateSynthetic({ docs: 3000, queries: 30, seed: 12 });

function vectorLine(row: number, prefix: string, matrix = synthetic.docs): string {
  const { indices, values } = rowOf(matrix, row);
  const vector: Record<string, number> = {};
  for (let i = 0; i < indices.length; i++) vector[`t${indices[i]}`] = values[i]!;
  return JSON.stringify({ id: `${prefix}${row}`, vector });
}

async function indexedCollection(t: Test): Promise<string> {
  const dataDir = tempDir(t);
  const file = path.join(dataDir, 'docs.jsonl');
  fs.writeFileSync(file, Array.from({ length: synthetic.docs.rows }, (_, row) => vectorLine(row, 'd')).join('\n') + '\n');
  const indexed = await runCli(['index', 'c', '--vectors', file, '--build-segments', '--data-dir', dataDir]);
  t.equal(indexed.code, 0, indexed.stderr);
  return dataDir;
}

t.test('paretoMarked keeps exactly the settings nothing beats on both recall and latency', (t) => {
  const points = [
    { recall: 0.9, p50Ms: 1 },
    { recall: 0.95, p50Ms: 2 },
    { recall: 0.93, p50Ms: 2.5 },
    { recall: 0.95, p50Ms: 2 },
    { recall: 0.99, p50Ms: 4 },
  ];
  t.same(paretoMarked(points).map((p) => p.pareto), [true, true, false, true, true], 'ties on both stay on the front; a slower, worse one does not');
  t.end();
});

t.test('sparrow tune picks the fastest setting reaching the target, stores it, and reports the Pareto front', async (t) => {
  const dataDir = await indexedCollection(t);
  const out = path.join(dataDir, 'report');
  const dry = await runCli(['tune', 'c', '--target-recall', '0.9', '--sample', '60', '--dry-run', '--json', '--out', out, '--data-dir', dataDir]);
  t.equal(dry.code, 0, dry.stderr);
  let engine = Engine.open(dataDir);
  t.notOk(engine.collection('c').record.indexSettings['tuned'], '--dry-run stores nothing');
  engine.close();

  const tuned = await runCli(['tune', 'c', '--target-recall', '0.9', '--sample', '60', '--seed', '3', '--json', '--out', out, '--data-dir', dataDir]);
  t.equal(tuned.code, 0, tuned.stderr);
  const result = JSON.parse(tuned.stdout);
  t.equal(result.queries, 60);
  t.equal(result.points.length, 13 * 8, 'every setting of the grid is measured');
  const reaching = result.points.filter((p: { recall: number }) => p.recall >= 0.9);
  t.ok(result.chosen.recall >= 0.9, `chosen recall ${result.chosen.recall}`);
  t.equal(result.chosen.p50Ms, Math.min(...reaching.map((p: { p50Ms: number }) => p.p50Ms)), 'the fastest of the settings reaching the target');
  t.ok(result.chosen.pareto, 'the choice is on the Pareto front');
  t.match(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), /## Pareto front[\s\S]*\| queryCut \| heapFactor \| recall@10 \| p50 ms \| p99 ms \|/);
  t.same([...fs.readFileSync(path.join(out, 'report.png')).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'report.png is a PNG');

  engine = Engine.open(dataDir);
  t.teardown(() => engine.close());
  const collection = engine.collection('c');
  t.same(collection.segmentSettings.query, { queryCut: result.chosen.queryCut, heapFactor: result.chosen.heapFactor }, 'the choice is the collection default');
  t.match(collection.record.indexSettings['tuned'], { targetRecall: 0.9, k: 10, queries: 60, source: 'sample', recall: Math.round(result.chosen.recall * 1e4) / 1e4 }, 'with how it was chosen');
  // Measured again here, independently: the same sampled queries under the stored default.
  let found = 0;
  let wanted = 0;
  for (const { query } of collection.sampleDocumentQueries(60, 3, 32)) {
    const exact = new Set(collection.search({ query, k: 10, mode: 'exact' }).hits.map((h) => h.id));
    const approximate = collection.search({ query, k: 10, mode: 'approximate' }).hits.map((h) => h.id);
    found += approximate.filter((id) => exact.has(id)).length;
    wanted += exact.size;
  }
  t.equal(found / wanted, result.chosen.recall, 'searches with no parameters now get exactly the recall reported');
});

t.test('sparrow tune: bad targets, no segments, empty collections, BM25 without queries, queries that match nothing', async (t) => {
  const dataDir = await indexedCollection(t);
  for (const target of ['0', '1.5', '-0.2', 'high']) {
    const run = await runCli(['tune', 'c', `--target-recall=${target}`, '--data-dir', dataDir]);
    t.equal(run.code, 2, `--target-recall ${target}: usage error`);
    t.match(run.stderr, /--target-recall must be in \(0, 1\]/);
  }
  t.match((await runCli(['tune', 'c', '--data-dir', dataDir])).stderr, /--target-recall is required/);
  t.match((await runCli(['tune', 'c', '--target-recall', '0.9', '--queries', 'q.jsonl', '--sample', '5', '--data-dir', dataDir])).stderr, /not both/);

  const queryFile = path.join(dataDir, 'nothing.jsonl');
  fs.writeFileSync(queryFile, JSON.stringify({ id: 'q1', vector: { unseen_token: 1 } }) + '\n');
  const nothing = await runCli(['tune', 'c', '--target-recall', '0.9', '--queries', queryFile, '--data-dir', dataDir]);
  t.equal(nothing.code, 1);
  t.match(nothing.stderr, /\[TUNE_NO_RESULTS\]/, 'queries without exact results are a coded error');

  // A grid that cannot reach the target: said so, nothing stored.
  {
    const engine = Engine.open(dataDir);
    const collection = engine.collection('c');
    const result = await tuneRecall(collection, { targetRecall: 1, sample: 40, queryCuts: [1], heapFactors: [0.5] });
    t.equal(result.chosen, undefined, `queryCut 1 reaches recall ${result.points[0]!.recall.toFixed(3)}, not 1`);
    t.notOk(result.applied);
    t.notOk(collection.record.indexSettings['tuned'], 'nothing is stored');
    const report = writeTuneReport(result, path.join(dataDir, 'unreachable'));
    t.match(fs.readFileSync(report.markdown, 'utf8'), /No setting on the grid reaches 1/);
    engine.close();
  }

  const engine = Engine.open(dataDir);
  engine.createCollection('empty', { encoder: { type: 'precomputed' } });
  engine.createCollection('unbuilt', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 100000 } }).upsert([{ id: 'a', fields: { vector: { t1: 1 } } }]);
  engine.createCollection('text').upsert([{ id: 'a', fields: { text: 'white matter' } }]);
  await engine.collection('text').buildSegments({ force: true });
  engine.close();
  t.match((await runCli(['tune', 'empty', '--target-recall', '0.9', '--data-dir', dataDir])).stderr, /\[EMPTY_COLLECTION\]/);
  t.match((await runCli(['tune', 'unbuilt', '--target-recall', '0.9', '--data-dir', dataDir])).stderr, /\[NO_SEGMENTS\] .*build them first/);
  t.match((await runCli(['tune', 'text', '--target-recall', '0.9', '--data-dir', dataDir])).stderr, /\[TUNE_NEEDS_QUERIES\]/);
  t.match((await runCli(['tune', 'missing', '--target-recall', '0.9', '--data-dir', dataDir])).stderr, /\[COLLECTION_NOT_FOUND\]/);
});

t.test('sparrow tune on a BM25 collection with a file of text queries', async (t) => {
  const dataDir = tempDir(t);
  const words = ['white', 'matter', 'diffusion', 'infant', 'vitamin', 'bone', 'fracture', 'gene', 'tumour', 'hypoxia', 'statin', 'heart', 'protein', 'folding', 'sparse', 'retrieval'];
  const random = new SeededRandom(5);
  const text = (n: number) => Array.from({ length: n }, () => words[random.nextInt(words.length)]!).join(' ');
  const corpus = path.join(dataDir, 'corpus.jsonl');
  fs.writeFileSync(corpus, Array.from({ length: 1500 }, (_, i) => JSON.stringify({ _id: `p${i}`, title: text(4), text: text(30) })).join('\n') + '\n');
  t.equal((await runCli(['index', 'papers', corpus, '--build-segments', '--data-dir', dataDir])).code, 0);
  const queries = path.join(dataDir, 'queries.jsonl');
  fs.writeFileSync(queries, Array.from({ length: 20 }, (_, i) => JSON.stringify({ _id: `q${i}`, text: text(3) })).join('\n') + '\n');
  const run = await runCli(['tune', 'papers', '--target-recall', '0.8', '--queries', queries, '--json', '--out', path.join(dataDir, 'out'), '--data-dir', dataDir]);
  t.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  t.equal(result.source, 'file');
  t.equal(result.queries, 20, 'every text query matched');
  t.ok(result.chosen.recall >= 0.8, `chosen recall ${result.chosen.recall}`);
});

async function waitForJob(app: ReturnType<typeof buildApp>, id: string): Promise<Record<string, any>> {
  for (let i = 0; i < 600; i++) {
    const job = (await app.inject({ method: 'GET', url: `/jobs/${id}` })).json();
    if (['completed', 'failed', 'cancelled'].includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

/** An indexed collection behind an app (closed with the test). */
async function servedCollection(t: Test): Promise<{ engine: Engine; app: ReturnType<typeof buildApp> }> {
  const engine = Engine.open(await indexedCollection(t));
  const app = buildApp({ engine });
  t.teardown(async () => {
    await app.close();
    engine.close();
  });
  return { engine, app };
}

t.test('POST /collections/NAME/_tune runs the tuning as a job: progress, result, stored default, report files', async (t) => {
  const { engine, app } = await servedCollection(t);
  const started = await app.inject({
    method: 'POST',
    url: '/collections/c/_tune',
    payload: { target_recall: 0.9, sample: 40, seed: 5, query_cuts: [1, 3, 8], heap_factors: [0.7, 1] },
  });
  t.equal(started.statusCode, 202, started.body);
  t.match(started.headers.location, /^\/jobs\/job_/);
  t.equal(started.json().source.type, 'tune');
  t.equal(started.json().progress.total_bytes, 2 + 3 * 2, 'progress counts the settings to measure');
  const job = await waitForJob(app, started.json().id);
  t.equal(job.status, 'completed', JSON.stringify(job.error));
  t.equal(job.progress.fraction, 1);
  const result = job.result;
  t.equal(result.points.length, 6, 'the grid asked for');
  t.equal(result.target_recall, 0.9);
  t.ok(result.chosen.recall >= 0.9, `chosen recall ${result.chosen.recall}`);
  const reaching = result.points.filter((p: { recall: number }) => p.recall >= 0.9);
  t.equal(result.chosen.p50_ms, Math.min(...reaching.map((p: { p50_ms: number }) => p.p50_ms)), 'the fastest setting that reaches the target');
  t.equal(result.applied, true);
  const stats = (await app.inject({ method: 'GET', url: '/collections/c' })).json();
  t.match(JSON.stringify(stats), new RegExp(`"tuned":\\{[^}]*"targetRecall":0\\.9`), 'the tuned default is recorded with its target in the statistics');
  t.same(engine.collection('c').segmentSettings.query, { queryCut: result.chosen.query_cut, heapFactor: result.chosen.heap_factor }, 'searches use it from now on');

  const png = await app.inject({ method: 'GET', url: result.report.png });
  t.equal(png.statusCode, 200);
  t.equal(png.headers['content-type'], 'image/png');
  t.same([...png.rawPayload.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
  const markdown = await app.inject({ method: 'GET', url: result.report.markdown });
  t.match(markdown.body, /\| queryCut \| heapFactor \| recall@10 \| p50 ms \| p99 ms \|/);
});

t.test('_tune bad input: target outside (0, 1], bad grid, no segments, empty collection, no queries, queries matching nothing', async (t) => {
  const { engine, app } = await servedCollection(t);
  const tune = (name: string, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: `/collections/${name}/_tune`, payload });
  for (const target of [0, -0.5, 1.01, 7]) {
    const response = await tune('c', { target_recall: target });
    t.equal(response.statusCode, 400, `target ${target}`);
    t.equal(response.json().error.code, 'INVALID_TARGET_RECALL');
  }
  t.equal((await tune('c', { target_recall: 0.9, heap_factors: [0, 1] })).json().error.code, 'INVALID_TUNE_GRID');
  t.equal((await tune('c', { target_recall: 0.9, query_cuts: [] })).json().error.code, 'INVALID_TUNE_GRID');
  t.equal((await tune('c', { target_recall: 0.9, queries: [] })).json().error.code, 'TUNE_NO_QUERIES');
  t.equal((await tune('missing', { target_recall: 0.9 })).json().error.code, 'COLLECTION_NOT_FOUND');
  engine.createCollection('empty', { encoder: { type: 'precomputed' } });
  const empty = await tune('empty', { target_recall: 0.9 });
  t.equal(empty.statusCode, 409);
  t.equal(empty.json().error.code, 'EMPTY_COLLECTION');
  const unbuilt = engine.createCollection('unbuilt', { encoder: { type: 'precomputed' } });
  unbuilt.upsert([{ id: 'a', fields: { vector: { t1: 1 } } }]);
  const noSegments = await tune('unbuilt', { target_recall: 0.9 });
  t.equal(noSegments.statusCode, 409);
  t.equal(noSegments.json().error.code, 'NO_SEGMENTS');
  t.equal((await app.inject({ method: 'GET', url: '/jobs' })).json().jobs.length, 0, 'no refused request left a job behind');

  const nothing = await tune('c', { target_recall: 0.9, queries: [{ query: { t99999999: 1 } }] });
  t.equal(nothing.statusCode, 202, 'a query that matches nothing is found out when the job runs');
  const failed = await waitForJob(app, nothing.json().id);
  t.equal(failed.status, 'failed');
  t.equal(failed.error.code, 'TUNE_NO_RESULTS');
  t.notOk(engine.collection('c').record.indexSettings['tuned'], 'nothing was applied');
  const report = await app.inject({ method: 'GET', url: `/jobs/${failed.id}/report.png` });
  t.equal(report.statusCode, 404);
  t.equal(report.json().error.code, 'REPORT_NOT_FOUND');
});
