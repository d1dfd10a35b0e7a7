import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import t from 'tap';
import { call, startServer, type Server } from './support/server.js';
import { tempDir } from './support/tmp.js';

const TOTAL = 24_000;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function storeCounts(dataDir: string): { rows: number; distinct: number } {
  const db = new BetterSqlite3(path.join(dataDir, 'sparrow.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT count(*) AS rows, count(DISTINCT external_id) AS ids FROM documents').get() as { rows: number; ids: number };
    return { rows: row.rows, distinct: row.ids };
  } finally {
    db.close();
  }
}

function writeCorpus(importDir: string): void {
  const lines: string[] = [];
  for (let i = 0; i < TOTAL; i++) lines.push(JSON.stringify({ _id: `d${i}`, text: `document ${i} about topic${i % 31} marker${i}` }));
  fs.writeFileSync(path.join(importDir, 'corpus.jsonl'), lines.join('\n') + '\n');
}

async function searchable(server: Server, id: string): Promise<boolean> {
  const { json } = await call(server, 'POST', '/collections/c/search', { query: `marker${id.slice(1)}`, k: 1, fields: false });
  return json.hits?.[0]?.id === id;
}

t.test('SIGKILL in the middle of a bulk job: every acknowledged document survives, nothing is duplicated', async (t) => {
  const dir = tempDir(t);
  const dataDir = path.join(dir, 'data');
  const importDir = path.join(dir, 'import');
  fs.mkdirSync(importDir);
  writeCorpus(importDir);

  const first = await startServer(t, dataDir, importDir);
  t.equal((await call(first, 'POST', '/collections', { name: 'c' })).status, 201);
  // Documents acknowledged through the bulk endpoint before the job starts.
  const bulk = await fetch(`${first.address}/collections/c/documents/_bulk`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: ['{"id": "bulk-1", "text": "acknowledged through bulk"}', '{"id": "bulk-2", "text": "acknowledged as well"}'].join('\n'),
  });
  t.equal(((await bulk.json()) as { indexed: number }).indexed, 2);
  const started = await call(first, 'POST', '/jobs', { collection: 'c', source: { path: 'corpus.jsonl' }, batch_size: 500 });
  t.equal(started.status, 202);
  const jobId = started.json.id as string;
  const acknowledged = await until('the job to commit some batches', async () => {
    const { json } = await call(first, 'GET', `/jobs/${jobId}`);
    return json.progress.processed >= 3000 ? json.progress : undefined;
  });
  first.child.kill('SIGKILL');
  await first.exited;
  t.ok(acknowledged.processed < TOTAL, `killed with ${acknowledged.processed} of ${TOTAL} acknowledged`);

  const afterKill = storeCounts(dataDir);
  t.equal(afterKill.rows, afterKill.distinct, 'no id is stored twice');
  t.ok(afterKill.rows >= acknowledged.processed + 2, `${afterKill.rows} stored >= ${acknowledged.processed} acknowledged + 2 bulk`);

  const second = await startServer(t, dataDir, importDir);
  await until('readiness', async () => ((await fetch(`${second.address}/ready`)).status === 200 ? true : undefined));
  const sample = ['bulk-1', 'bulk-2'];
  for (let i = 0; i < acknowledged.processed; i += Math.ceil(acknowledged.processed / 60)) sample.push(`d${i}`);
  sample.push(`d${acknowledged.processed - 1}`);
  for (const id of sample) {
    const found = id.startsWith('bulk') ? (await call(second, 'GET', `/collections/c/documents/${id}`)).status === 200 : await searchable(second, id);
    t.ok(found, `${id} is there after the restart`);
  }

  const done = await until('the resumed job to finish', async () => {
    const { json } = await call(second, 'GET', `/jobs/${jobId}`);
    return ['completed', 'failed', 'cancelled'].includes(json.status) ? json : undefined;
  });
  t.equal(done.status, 'completed');
  t.match(done.progress, { processed: TOTAL, indexed: TOTAL, updated: 0, failed: 0 }, 'resumed from the checkpoint: no line counted or written twice');
  t.same(storeCounts(dataDir), { rows: TOTAL + 2, distinct: TOTAL + 2 });
  t.ok(await searchable(second, `d${TOTAL - 1}`));
  const detail = await call(second, 'GET', '/collections/c');
  t.equal(detail.json.statistics.documents, TOTAL + 2);
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0);
});

t.test('SIGTERM: in-flight requests finish, the running job checkpoints, the process exits 0 and the job resumes later', async (t) => {
  const dir = tempDir(t);
  const dataDir = path.join(dir, 'data');
  const importDir = path.join(dir, 'import');
  fs.mkdirSync(importDir);
  writeCorpus(importDir);
  const first = await startServer(t, dataDir, importDir);
  await call(first, 'POST', '/collections', { name: 'c' });
  const jobId = (await call(first, 'POST', '/jobs', { collection: 'c', source: { path: 'corpus.jsonl' }, batch_size: 500 })).json.id as string;
  await until('some progress', async () => ((await call(first, 'GET', `/jobs/${jobId}`)).json.progress.processed >= 2000 ? true : undefined));
  const inFlight = call(first, 'POST', '/collections/c/search', { query: 'document topic3', k: 100 });
  first.child.kill('SIGTERM');
  const answered = await inFlight;
  t.equal(answered.status, 200, 'a request in flight at SIGTERM is answered');
  t.equal(await first.exited, 0, 'graceful exit');

  const db = new BetterSqlite3(path.join(dataDir, 'sparrow.db'), { readonly: true });
  const job = db.prepare('SELECT status, processed FROM jobs WHERE id = ?').get(jobId) as { status: string; processed: number };
  db.close();
  t.equal(job.status, 'queued', 'the interrupted job waits for the next start');
  t.same(storeCounts(dataDir), { rows: job.processed, distinct: job.processed }, 'its checkpoint matches the store exactly');

  const second = await startServer(t, dataDir, importDir);
  const done = await until('the job to finish', async () => {
    const { json } = await call(second, 'GET', `/jobs/${jobId}`);
    return json.status === 'completed' ? json : undefined;
  });
  t.match(done.progress, { processed: TOTAL, indexed: TOTAL, updated: 0 });
  t.same(storeCounts(dataDir), { rows: TOTAL, distinct: TOTAL });
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0);
});
