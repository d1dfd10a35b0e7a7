import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { Engine } from '../src/engine/engine.js';
import { EncoderPool } from '../src/jobs/encoder-pool.js';
import { JobManager } from '../src/jobs/manager.js';
import { runIngestion, type CommittedBatch } from '../src/jobs/runner.js';
import { buildApp, type AppOptions } from '../src/server/app.js';
import { runCli } from './support/cli.js';
import { call, startServer } from './support/server.js';
import { tempDir } from './support/tmp.js';

type Test = { teardown: (fn: () => unknown) => void };

function corpusLines(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ _id: `d${from + i}`, title: `Title ${from + i}`, text: `document ${from + i} about topic${(from + i) % 23}` }));
}

function writeFile(dir: string, name: string, lines: string[], gzip = false): string {
  const file = path.join(dir, name);
  const text = lines.join('\n') + '\n';
  fs.writeFileSync(file, gzip ? zlib.gzipSync(text) : text);
  return file;
}

function setup(t: Test, options: Partial<AppOptions> = {}) {
  const dir = tempDir(t);
  const importDir = path.join(dir, 'import');
  fs.mkdirSync(importDir);
  const engine = Engine.open(path.join(dir, 'data'));
  const app = buildApp({ engine, importDir, workers: 1, ...options });
  t.teardown(async () => {
    await app.close();
    engine.close();
  });
  return { app, engine, dir, importDir };
}

async function waitForJob(app: ReturnType<typeof buildApp>, id: string, until: (job: { status: string; progress: { processed: number } }) => boolean = (j) => ['completed', 'failed', 'cancelled'].includes(j.status)) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const job = (await app.inject({ method: 'GET', url: `/jobs/${id}` })).json();
    if (until(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function countRows(engine: Engine, collection: string): { rows: number; distinct: number } {
  const id = engine.collection(collection).record.id;
  const row = engine.store.db.prepare('SELECT count(*) AS rows, count(DISTINCT external_id) AS distinct_ids FROM documents WHERE collection_id = ?').get(id) as {
    rows: number;
    distinct_ids: number;
  };
  return { rows: row.rows, distinct: row.distinct_ids };
}

for (const gzip of [false, true]) {
  t.test(`an ingestion stopped after a checkpoint resumes exactly after it (${gzip ? 'gzip' : 'plain'})`, async (t) => {
    const dir = tempDir(t);
    const lines = corpusLines(1000);
    lines.splice(321, 0, '{not json');
    lines.splice(600, 0, '');
    const file = writeFile(dir, gzip ? 'c.jsonl.gz' : 'c.jsonl', lines, gzip);
    const engine = Engine.open(path.join(dir, 'data'));
    t.teardown(() => engine.close());
    const collection = engine.createCollection('c');
    const pool = new EncoderPool(1);
    t.teardown(() => pool.close());
    const checkpoints: CommittedBatch[] = [];
    const first = await runIngestion(collection, file, {
      batchSize: 100,
      pool,
      checkpoint: { transaction: (work) => engine.store.transaction(work), save: (batch) => checkpoints.push(batch) },
      shouldStop: () => checkpoints.length >= 4,
    });
    t.ok(first.interrupted);
    const last = checkpoints.at(-1)!;
    t.same(first.end, { line: last.line, byteOffset: last.byteOffset });
    t.equal(countRows(engine, 'c').rows, first.indexed, 'only committed batches are in the store');
    const second = await runIngestion(collection, file, { batchSize: 100, pool, resumeFrom: first.end, trackDuplicateIds: false });
    t.notOk(second.interrupted);
    t.equal(second.updated, 0, 'nothing committed before the stop is written again');
    t.equal(first.indexed + second.indexed, 1000);
    t.equal(first.processed + second.processed, 1001, 'every non-blank line is accounted for once');
    t.equal(first.rejected + second.rejected, 1);
    t.same(countRows(engine, 'c'), { rows: 1000, distinct: 1000 });
    t.same([...first.errors, ...second.errors].map((e) => [e.line, e.code]), [[322, 'INVALID_JSON']]);
  });
}

t.test('a job over a server-side file: progress, rate, rejected lines with their numbers', async (t) => {
  const { app, engine, importDir } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  const lines = corpusLines(2500);
  lines.splice(10, 0, '{"_id": "bad", ');
  lines.splice(20, 0, '{"title": "no id"}');
  writeFile(importDir, 'corpus.jsonl', lines);
  const created = await app.inject({ method: 'POST', url: '/jobs', payload: { collection: 'c', source: { path: 'corpus.jsonl' }, batch_size: 250 } });
  t.equal(created.statusCode, 202, created.body);
  const { id } = created.json();
  t.match(created.headers.location, `/jobs/${id}`);
  const job = await waitForJob(app, id);
  t.equal(job.status, 'completed');
  t.match(job.progress, { processed: 2502, indexed: 2500, updated: 0, failed: 2, line: 2502, fraction: 1, eta_seconds: 0 });
  t.ok(job.progress.docs_per_second > 0);
  t.same(job.errors.map((e: { line: number; code: string }) => [e.line, e.code]), [[11, 'INVALID_JSON'], [21, 'MISSING_ID']]);
  t.same(job.source, { type: 'path', path: 'corpus.jsonl', format: 'jsonl' });
  t.same(countRows(engine, 'c'), { rows: 2500, distinct: 2500 });
  const list = (await app.inject({ method: 'GET', url: '/jobs' })).json();
  t.equal(list.jobs[0].id, id);
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /sparrow_job_documents_total\{result="indexed"\} 2500/);
  t.match(metrics, /sparrow_jobs_finished_total\{status="completed"\} 1/);
});

t.test('job sources: BEIR folders, uploads (plain and gzip), and what is refused', async (t) => {
  const { app, engine, dir, importDir } = setup(t, { limits: { uploadBytes: 200_000 } });
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  fs.mkdirSync(path.join(importDir, 'beir'));
  writeFile(path.join(importDir, 'beir'), 'corpus.jsonl.gz', corpusLines(300), true);
  const beir = await app.inject({ method: 'POST', url: '/jobs', payload: { collection: 'c', source: { path: 'beir', format: 'beir' } } });
  t.equal(beir.statusCode, 202, beir.body);
  t.equal((await waitForJob(app, beir.json().id)).progress.indexed, 300);

  const upload = await app.inject({ method: 'POST', url: '/jobs?collection=c&batch_size=50', headers: { 'content-type': 'application/x-ndjson' }, payload: corpusLines(200, 300).join('\n') });
  t.equal(upload.statusCode, 202, upload.body);
  t.same(upload.json().source, { type: 'upload', format: 'jsonl' });
  t.equal((await waitForJob(app, upload.json().id)).progress.indexed, 200);
  const gz = await app.inject({
    method: 'POST',
    url: '/jobs?collection=c',
    headers: { 'content-type': 'application/gzip' },
    payload: zlib.gzipSync(corpusLines(100, 500).join('\n')),
  });
  t.equal(gz.statusCode, 202, gz.body);
  t.equal((await waitForJob(app, gz.json().id)).progress.indexed, 100);
  t.same(countRows(engine, 'c'), { rows: 600, distinct: 600 });
  t.same(fs.readdirSync(path.join(engine.dataDir, 'uploads')), [], 'spooled uploads are removed when their job finishes');

  fs.writeFileSync(path.join(dir, 'secret.jsonl'), '{"_id": "s", "text": "outside"}\n');
  fs.symlinkSync(path.join(dir, 'secret.jsonl'), path.join(importDir, 'link.jsonl'));
  writeFile(importDir, 'plain.jsonl', corpusLines(3));
  const refused: [string, unknown, number, string][] = [
    ['parent folder', { collection: 'c', source: { path: '../secret.jsonl' } }, 403, 'SOURCE_NOT_ALLOWED'],
    ['absolute path outside', { collection: 'c', source: { path: path.join(dir, 'secret.jsonl') } }, 403, 'SOURCE_NOT_ALLOWED'],
    ['symbolic link out', { collection: 'c', source: { path: 'link.jsonl' } }, 403, 'SOURCE_NOT_ALLOWED'],
    ['missing file', { collection: 'c', source: { path: 'nope.jsonl' } }, 400, 'SOURCE_NOT_FOUND'],
    ['file given as beir', { collection: 'c', source: { path: 'plain.jsonl', format: 'beir' } }, 400, 'INVALID_SOURCE'],
    ['folder without corpus', { collection: 'c', source: { path: '.' } }, 400, 'INVALID_SOURCE'],
    ['vectors into bm25', { collection: 'c', source: { path: 'plain.jsonl', format: 'vectors' } }, 409, 'ENCODER_MISMATCH'],
    ['unknown collection', { collection: 'nope', source: { path: 'plain.jsonl' } }, 404, 'COLLECTION_NOT_FOUND'],
    ['unknown format', { collection: 'c', source: { path: 'plain.jsonl', format: 'csv' } }, 400, 'VALIDATION_FAILED'],
    ['no source', { collection: 'c' }, 400, 'VALIDATION_FAILED'],
  ];
  for (const [name, payload, status, code] of refused) {
    const res = await app.inject({ method: 'POST', url: '/jobs', payload: payload as never });
    t.equal(res.statusCode, status, `${name}: status`);
    t.equal(res.json().error?.code, code, `${name}: code`);
  }
  const tooBig = await app.inject({ method: 'POST', url: '/jobs?collection=c', headers: { 'content-type': 'application/x-ndjson' }, payload: corpusLines(5000).join('\n') });
  t.equal(tooBig.statusCode, 413);
  t.equal(tooBig.json().error.code, 'PAYLOAD_TOO_LARGE');
  const noCollection = await app.inject({ method: 'POST', url: '/jobs', headers: { 'content-type': 'application/x-ndjson' }, payload: corpusLines(1)[0] });
  t.equal(noCollection.json().error.code, 'VALIDATION_FAILED');
  t.same(fs.readdirSync(path.join(engine.dataDir, 'uploads')), [], 'a refused upload leaves nothing behind');
  t.equal((await app.inject({ method: 'GET', url: '/jobs/job_nope' })).json().error.code, 'JOB_NOT_FOUND');

  const closed = buildApp({ engine: Engine.open(path.join(dir, 'other')), workers: 0 });
  t.teardown(() => closed.close());
  await closed.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  const disabled = await closed.inject({ method: 'POST', url: '/jobs', payload: { collection: 'c', source: { path: 'plain.jsonl' } } });
  t.equal(disabled.json().error.code, 'SOURCE_NOT_ALLOWED', 'without an import folder only uploads are accepted');
});

t.test('precomputed vectors: a vectors job into a precomputed collection', async (t) => {
  const { app, importDir } = setup(t);
  const created = await app.inject({ method: 'POST', url: '/collections', payload: { name: 'v', encoder: { type: 'precomputed' } } });
  t.equal(created.statusCode, 201, created.body);
  writeFile(importDir, 'vectors.jsonl', [
    JSON.stringify({ id: 'a', vector: { bird: 1.5, small: 0.5 }, title: 'Sparrow' }),
    JSON.stringify({ id: 'b', vector: { hawk: 2, bird: 0.25 } }),
    JSON.stringify({ id: 'c', vector: { bird: -1 } }),
    JSON.stringify({ id: 'd', title: 'no vector' }),
  ]);
  const job = await app.inject({ method: 'POST', url: '/jobs', payload: { collection: 'v', source: { path: 'vectors.jsonl' } } });
  t.equal(job.statusCode, 202, job.body);
  t.equal(job.json().source.format, 'vectors', 'a precomputed collection reads vectors');
  const done = await waitForJob(app, job.json().id);
  t.match(done.progress, { indexed: 2, failed: 2 });
  t.same(done.errors.map((e: { line: number; code: string }) => [e.line, e.code]), [[3, 'NEGATIVE_WEIGHT'], [4, 'MISSING_VECTOR']]);
  const search = (await app.inject({ method: 'POST', url: '/collections/v/search', payload: { query: { bird: 1 } } })).json();
  t.same(search.hits.map((h: { id: string }) => h.id), ['a', 'b']);
  t.same(search.hits[0].fields, { title: 'Sparrow' }, 'the vector is not stored as a field');
  const text = await app.inject({ method: 'POST', url: '/collections/v/search', payload: { query: 'bird' } });
  t.equal(text.json().error.code, 'TEXT_QUERY_UNSUPPORTED');
});

t.test('cancel: a running job stops after a batch, keeps what it committed; a finished job cannot be cancelled', async (t) => {
  const { app, engine, importDir } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  writeFile(importDir, 'big.jsonl', corpusLines(40_000));
  const { id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { collection: 'c', source: { path: 'big.jsonl' }, batch_size: 100 } })).json();
  await waitForJob(app, id, (j) => j.progress.processed >= 300);
  const cancelled = await app.inject({ method: 'DELETE', url: `/jobs/${id}` });
  t.equal(cancelled.statusCode, 200);
  const job = cancelled.json();
  t.equal(job.status, 'cancelled');
  t.ok(job.progress.processed < 40_000, `stopped at ${job.progress.processed}`);
  t.equal(job.progress.processed % 100, 0, 'whole batches only');
  t.same(countRows(engine, 'c'), { rows: job.progress.processed, distinct: job.progress.processed }, 'the job\'s counters are exactly what is stored');
  const again = await app.inject({ method: 'DELETE', url: `/jobs/${id}` });
  t.equal(again.statusCode, 409);
  t.equal(again.json().error.code, 'JOB_FINISHED');
});

t.test('a shutdown leaves the running job queued at its checkpoint; the next start resumes it without duplicates', async (t) => {
  const dir = tempDir(t);
  const dataDir = path.join(dir, 'data');
  const file = writeFile(dir, 'big.jsonl', corpusLines(20_000));
  const engine = Engine.open(dataDir);
  t.teardown(() => engine.close());
  engine.createCollection('c');
  const pool = new EncoderPool(1);
  t.teardown(() => pool.close());
  const first = new JobManager({ engine, pool, importDir: dir, uploadDir: path.join(dataDir, 'uploads') });
  const job = first.createFromPath({ collection: 'c', path: path.basename(file), batchSize: 200 });
  while (first.get(job.id).processed < 1000) await new Promise((r) => setTimeout(r, 10));
  await first.stop();
  const stopped = first.get(job.id);
  t.equal(stopped.status, 'queued');
  t.ok(stopped.processed < 20_000);
  t.same(countRows(engine, 'c'), { rows: stopped.processed, distinct: stopped.processed });

  const second = new JobManager({ engine, pool, importDir: dir, uploadDir: path.join(dataDir, 'uploads') });
  second.resume();
  while (!['completed', 'failed'].includes(second.get(job.id).status)) await new Promise((r) => setTimeout(r, 20));
  const finished = second.get(job.id);
  t.equal(finished.status, 'completed');
  t.match(finished, { processed: 20_000, indexed: 20_000, updated: 0, failed: 0, line: 20_000 });
  t.same(countRows(engine, 'c'), { rows: 20_000, distinct: 20_000 });
});

t.test('searches over loopback HTTP are answered while a bulk job runs', async (t) => {
  const { app, importDir } = setup(t);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const post = (url: string, body: unknown) => fetch(`${address}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await post('/collections', { name: 'c' });
  writeFile(importDir, 'big.jsonl', corpusLines(16_000));
  const { id } = (await (await post('/jobs', { collection: 'c', source: { path: 'big.jsonl' }, batch_size: 250 })).json()) as { id: string };
  const seen: number[] = [];
  let status = 'queued';
  let failures = 0;
  const deadline = Date.now() + 90_000;
  while (status !== 'completed' && Date.now() < deadline) {
    const res = await post('/collections/c/search', { query: 'topic7', k: 10_000, fields: false });
    if (res.status !== 200) failures++;
    seen.push(((await res.json()) as { hits: unknown[] }).hits.length);
    status = ((await (await fetch(`${address}/jobs/${id}`)).json()) as { status: string }).status;
  }
  t.equal(status, 'completed');
  t.equal(failures, 0, 'every search during the job succeeded');
  t.ok(seen.length >= 3, `${seen.length} searches ran during the job`);
  t.ok(seen.some((n) => n > 0 && n < Math.ceil(16_000 / 23)), 'some searches saw the collection part-way');
  const final = (await (await post('/collections/c/search', { query: 'topic7', k: 10_000, fields: false })).json()) as { hits: unknown[] };
  t.equal(final.hits.length, Math.floor(16_000 / 23) + (16_000 % 23 > 7 ? 1 : 0));
});

/** 300 small vector lines, then 300 of 16,000 distinct tokens each (their token tables need far more than 48 MB). */
function heapHungryLines(): string[] {
  const small = Array.from({ length: 300 }, (_, i) => JSON.stringify({ id: `s${i}`, vector: { a: 1, b: 2 } }));
  const big = Array.from({ length: 300 }, (_, i) => {
    const vector: Record<string, number> = {};
    for (let j = 0; j < 16000; j++) vector[`t${i}_${j}`] = 1;
    return JSON.stringify({ id: `b${i}`, vector });
  });
  return [...small, ...big];
}

t.test('an encoder thread that dies (past its heap limit) fails the job with a coded error; the server goes on', async (t) => {
  // A real `sparrow serve` child: threads spawned inside the test runner carry its loaders, whose
  // heap would make the limit meaningless.
  const dir = tempDir(t);
  const importDir = path.join(dir, 'import');
  fs.mkdirSync(importDir);
  const server = await startServer(t, path.join(dir, 'data'), importDir, { SPARROW_WORKER_HEAP_MB: '48' });
  const finished = async (id: string) => {
    for (;;) {
      const job = (await call(server, 'GET', `/jobs/${id}`)).json;
      if (['completed', 'failed', 'cancelled'].includes(job.status)) return job;
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  t.equal((await call(server, 'POST', '/collections', { name: 'v', encoder: { type: 'precomputed' } })).status, 201);
  writeFile(importDir, 'hungry.jsonl', heapHungryLines());
  const created = await call(server, 'POST', '/jobs', { collection: 'v', source: { path: 'hungry.jsonl' }, batch_size: 100 });
  t.equal(created.status, 202);
  const job = await finished(created.json.id);
  t.equal(job.status, 'failed');
  t.equal(job.error.code, 'ENCODER_WORKER_FAILED', job.error.message);
  t.match(job.error.message, /memory limit/);
  t.ok(job.progress.indexed >= 100, `${job.progress.indexed} documents committed before the thread died stay`);
  const detail = await call(server, 'GET', '/collections/v');
  t.equal(detail.status, 200, 'the server still answers');
  t.equal(detail.json.documents, job.progress.indexed, 'what the job acknowledged is stored, nothing more');
  t.equal((await call(server, 'POST', '/collections/v/search', { query: { a: 1 }, k: 3 })).status, 200, 'and searches');
  writeFile(importDir, 'small.jsonl', Array.from({ length: 50 }, (_, i) => JSON.stringify({ id: `n${i}`, vector: { c: 1 } })));
  const next = await call(server, 'POST', '/jobs', { collection: 'v', source: { path: 'small.jsonl' } });
  t.equal((await finished(next.json.id)).status, 'completed', 'a later job completes on a new encoder thread');
  server.child.kill('SIGTERM');
});

t.test('sparrow index with SPARROW_WORKER_HEAP_MB: a dead encoder thread is a coded error, committed batches stay', async (t) => {
  const dir = tempDir(t);
  const file = writeFile(dir, 'hungry.jsonl', heapHungryLines());
  const run = await runCli(['index', 'v', '--vectors', file, '--batch-size', '100', '--data-dir', path.join(dir, 'data')], { ...process.env, SPARROW_WORKER_HEAP_MB: '48' });
  t.equal(run.code, 1);
  t.match(run.stderr, /\[ENCODER_WORKER_FAILED\] an encoder worker stopped: .*memory limit/);
  const engine = Engine.open(path.join(dir, 'data'));
  t.teardown(() => engine.close());
  t.ok(countRows(engine, 'v').rows >= 100, 'the batches before stay');
  const bad = await runCli(['index', 'w', '--vectors', file, '--data-dir', path.join(dir, 'data')], { ...process.env, SPARROW_WORKER_HEAP_MB: 'lots' });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /\[INVALID_ARGUMENT\] .*SPARROW_WORKER_HEAP_MB/);
});
