import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import t from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { Engine } from '../src/engine/engine.js';
import { rowOf } from '../src/index/sparse-matrix.js';
import { cliPath } from './support/paths.js';
import { tempDir } from './support/tmp.js';

// A SIGKILL while the segment build runs on its worker threads: every acknowledged document is
// still there, the collection opens, and the next build puts every document in a segment.

const DOCS = 12_000;

t.test('killed during the segment build', async (t) => {
  const dir = tempDir(t);
  const { docs, queries } = generateSynthetic({ docs: DOCS, queries: 5, seed: 3 });
  const file = path.join(dir, 'vectors.jsonl');
  const vector = (matrix: typeof docs, row: number): Record<string, number> => {
    const { indices, values } = rowOf(matrix, row);
    return Object.fromEntries(Array.from(indices, (term, i) => [`t${term}`, values[i]!]));
  };
  fs.writeFileSync(file, Array.from({ length: DOCS }, (_, r) => JSON.stringify({ id: `d${r}`, vector: vector(docs, r) })).join('\n') + '\n');
  const dataDir = path.join(dir, 'data');
  const child = spawn(process.execPath, [cliPath, 'index', 'v', '--vectors', file, '--data-dir', dataDir, '--build-segments', '--batch-size', '2000'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ingestion commits every document before the build starts; kill once a build is writing.
  const deadline = Date.now() + 120_000;
  let killedDuringBuild = false;
  while (Date.now() < deadline && child.exitCode === null) {
    const segments = path.join(dataDir, 'segments');
    const writing = fs.existsSync(segments) && fs.readdirSync(segments, { recursive: true }).some((name) => String(name).includes('.tmp'));
    let committed = 0;
    if (fs.existsSync(path.join(dataDir, 'sparrow.db'))) {
      try {
        const db = new BetterSqlite3(path.join(dataDir, 'sparrow.db'), { readonly: true });
        committed = (db.prepare('SELECT count(*) AS n FROM documents').get() as { n: number }).n;
        db.close();
      } catch {
        // The writer may hold the database for a moment.
      }
    }
    if (committed === DOCS && (writing || fs.existsSync(segments))) {
      await new Promise((r) => setTimeout(r, 150));
      child.kill('SIGKILL');
      killedDuringBuild = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await exited;
  t.ok(killedDuringBuild, 'the process was killed after ingestion, while segments were being built');

  const engine = Engine.open(dataDir);
  t.teardown(() => engine.close());
  const collection = engine.collection('v');
  t.equal(collection.statistics().documents, DOCS, 'every acknowledged document survived');
  const built = await collection.buildSegments({ force: true });
  t.notOk(built.error, 'the next build succeeds');
  t.equal(built.tail, 0, 'every document is in a segment');
  const segmentDir = fs.readdirSync(path.join(dataDir, 'segments'), { recursive: true }).map(String);
  t.notOk(segmentDir.some((name) => name.includes('.tmp')), 'no temporary file of the killed build is left');
  const query = vector(queries, 0);
  const approximate = collection.search({ query, k: 10, mode: 'approximate' });
  const exact = collection.search({ query, k: 10, mode: 'exact' });
  t.equal(approximate.mode, 'approximate');
  t.ok(approximate.hits.filter((h) => exact.hits.some((e) => e.id === h.id)).length >= 8, 'the rebuilt index finds the exact top hits');
});

// A SIGKILL while segments are being merged: the merged file is never recorded or is recorded
// whole, every document is in exactly one segment or the tail, and the collection opens.
t.test('killed during a merge', async (t) => {
  const dir = tempDir(t);
  const PART = 3000;
  const { docs, queries } = generateSynthetic({ docs: 3 * PART, queries: 3, seed: 5 });
  const vector = (matrix: typeof docs, row: number): Record<string, number> => {
    const { indices, values } = rowOf(matrix, row);
    return Object.fromEntries(Array.from(indices, (term, i) => [`t${term}`, values[i]!]));
  };
  const dataDir = path.join(dir, 'data');
  // Two segments built in this process, with a merge factor that makes the third one merge.
  const setup = Engine.open(dataDir);
  const created = setup.createCollection('v', { encoder: { type: 'precomputed' }, index: { mergeFactor: 2 } });
  for (let part = 0; part < 2; part++) {
    created.upsert(Array.from({ length: PART }, (_, i) => ({ id: `d${part * PART + i}`, fields: { vector: vector(docs, part * PART + i) } })));
    await created.buildSegments({ force: true });
  }
  t.equal(created.segmentStatistics().segments.length, 2, 'two segments before the kill');
  setup.close();

  const file = path.join(dir, 'third.jsonl');
  fs.writeFileSync(file, Array.from({ length: PART }, (_, i) => JSON.stringify({ id: `d${2 * PART + i}`, vector: vector(docs, 2 * PART + i) })).join('\n') + '\n');
  const child = spawn(process.execPath, [cliPath, 'index', 'v', '--vectors', file, '--data-dir', dataDir, '--build-segments'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The third segment is recorded, then the merge of the two smallest starts at once.
  const deadline = Date.now() + 120_000;
  let segmentsAtKill = 0;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const db = new BetterSqlite3(path.join(dataDir, 'sparrow.db'), { readonly: true });
      segmentsAtKill = (db.prepare('SELECT count(*) AS n FROM segments').get() as { n: number }).n;
      db.close();
    } catch {
      // The writer may hold the database for a moment.
    }
    if (segmentsAtKill === 3) {
      await new Promise((r) => setTimeout(r, 100));
      child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await exited;
  t.equal(segmentsAtKill, 3, 'killed after the third segment was recorded, while the merge ran');

  const engine = Engine.open(dataDir);
  t.teardown(() => engine.close());
  const collection = engine.collection('v');
  t.equal(collection.statistics().documents, 3 * PART, 'every acknowledged document survived');
  const opened = collection.segmentStatistics();
  t.ok(opened.segments.length === 2 || opened.segments.length === 3, `${opened.segments.length} segments: the merge is all there or not at all`);
  await collection.idle();
  const settled = collection.segmentStatistics();
  t.equal(settled.segments.reduce((sum, s) => sum + s.documents - s.deleted, 0) + settled.tail, 3 * PART, 'every document is in exactly one segment or the tail');
  t.ok(settled.segments.length <= 2, 'the interrupted merge is done again');
  const names = fs.readdirSync(path.join(dataDir, 'segments'), { recursive: true }).map(String);
  t.notOk(names.some((name) => name.includes('.tmp')), 'no temporary file of the killed merge is left');
  const query = vector(queries, 0);
  const approximate = collection.search({ query, k: 10, mode: 'approximate' });
  const exact = collection.search({ query, k: 10, mode: 'exact' });
  t.equal(approximate.mode, 'approximate');
  t.ok(approximate.hits.filter((h) => exact.hits.some((e) => e.id === h.id)).length >= 8, 'the merged index finds the exact top hits');
});
