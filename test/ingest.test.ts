import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import t from 'tap';
import { Engine } from '../src/engine/engine.js';
import { ingestFile } from '../src/jobs/ingest.js';
import { tempDir } from './support/tmp.js';

function writeLines(dir: string, name: string, lines: (string | Buffer)[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat(lines.map((l) => Buffer.concat([typeof l === 'string' ? Buffer.from(l) : l, Buffer.from('\n')]))));
  return file;
}

t.test('bad lines are reported with their line numbers and do not stop the run', async (t) => {
  const dir = tempDir(t);
  const file = writeLines(dir, 'mixed.jsonl', [
    '{"_id": "1", "title": "One", "text": "first document"}',
    '{"_id": "2", "text": "second" ',
    '',
    Buffer.from([0x7b, 0x22, 0x5f, 0x69, 0x64, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    '{"title": "no id", "text": "orphan"}',
    '{"_id": "5", "title": "", "text": ""}',
    '[1, 2, 3]',
    '{"id": 7, "text": "numeric ids are kept as strings", "lang": "en"}',
    '{"_id": "1", "text": "first document, corrected"}',
  ]);
  const engine = Engine.open(path.join(dir, 'data'));
  t.teardown(() => engine.close());
  const c = engine.createCollection('c');
  const summary = await ingestFile(c, file, { batchSize: 2 });
  t.equal(summary.indexed, 2);
  t.equal(summary.updated, 1);
  t.ok(summary.stages.encodeMs > 0 && summary.stages.storeMs > 0, `stages timed: encode ${summary.stages.encodeMs} ms, store ${summary.stages.storeMs} ms`);
  t.ok(summary.stages.storeMs <= summary.elapsedMs, 'the main thread commits within the run');
  t.equal(summary.rejected, 5);
  t.equal(summary.duplicateIds, 1);
  t.same(
    summary.errors.map((e) => [e.line, e.code]),
    [
      [2, 'INVALID_JSON'],
      [4, 'INVALID_UTF8'],
      [5, 'MISSING_ID'],
      [6, 'EMPTY_DOCUMENT'],
      [7, 'INVALID_DOCUMENT'],
    ],
  );
  t.match(summary.warnings[0], /line 9: id "1" already appeared on line 1/);
  t.same(c.get('7')?.fields, { text: 'numeric ids are kept as strings', lang: 'en' });
  t.same(c.get('1')?.fields['text'], 'first document, corrected');
  t.equal(c.statistics().documents, 2);
});

t.test('strict mode stops at the first bad line and keeps what was committed', async (t) => {
  const dir = tempDir(t);
  const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ _id: `d${i}`, text: `document number ${i}` }));
  lines.splice(5, 0, 'not json');
  const file = writeLines(dir, 'strict.jsonl', lines);
  const engine = Engine.open(path.join(dir, 'data'));
  t.teardown(() => engine.close());
  const c = engine.createCollection('c');
  const summary = await ingestFile(c, file, { batchSize: 2, failFast: true });
  t.equal(summary.stopped?.line, 6);
  t.equal(summary.stopped?.code, 'INVALID_JSON');
  t.equal(c.statistics().documents, 4, 'the two full batches before the bad line are committed');
});

t.test('gzip input, BOM, CRLF and a missing final newline', async (t) => {
  const dir = tempDir(t);
  const text = '\ufeff{"_id":"a","text":"alpha beta"}\r\n{"_id":"b","text":"gamma"}';
  const file = path.join(dir, 'corpus.jsonl.gz');
  fs.writeFileSync(file, zlib.gzipSync(text));
  const engine = Engine.open(path.join(dir, 'data'));
  t.teardown(() => engine.close());
  const c = engine.createCollection('c');
  const summary = await ingestFile(c, dir); // a folder with corpus.jsonl.gz is read as a BEIR folder
  t.equal(summary.indexed, 2);
  t.equal(summary.rejected, 0);
  t.same(c.search({ query: 'gamma' }).hits.map((h) => h.id), ['b']);
});

t.test('missing, unreadable and corrupt inputs get coded errors', async (t) => {
  const dir = tempDir(t);
  const engine = Engine.open(path.join(dir, 'data'));
  t.teardown(() => engine.close());
  const c = engine.createCollection('c');
  await t.rejects(ingestFile(c, path.join(dir, 'nope.jsonl')), { code: 'FILE_NOT_FOUND' });
  fs.mkdirSync(path.join(dir, 'empty-folder'));
  await t.rejects(ingestFile(c, path.join(dir, 'empty-folder')), { code: 'NOT_A_FILE' });
  const broken = path.join(dir, 'broken.jsonl.gz');
  fs.writeFileSync(broken, zlib.gzipSync(Buffer.from('{"_id":"x","text":"y"}\n'.repeat(1000))).subarray(0, 60));
  await t.rejects(ingestFile(c, broken), { code: 'INVALID_GZIP' });
  if (process.getuid?.() !== 0) {
    const locked = writeLines(dir, 'locked.jsonl', ['{"_id":"x","text":"y"}']);
    fs.chmodSync(locked, 0o000);
    await t.rejects(ingestFile(c, locked), { code: 'FILE_UNREADABLE' });
  }
});
