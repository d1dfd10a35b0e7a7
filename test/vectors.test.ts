import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Engine } from '../src/engine/engine.js';
import { ingestFile } from '../src/jobs/ingest.js';
import { readRun } from '../src/eval/trec-files.js';
import { cliPath } from './support/paths.js';
import { tempDir } from './support/tmp.js';

t.test('precomputed vectors: every kind of bad vector has a defined outcome', async (t) => {
  const dir = tempDir(t);
  const big: Record<string, number> = {};
  for (let i = 0; i < 16385; i++) big[`w${i}`] = 1;
  const lines = [
    '{"id": "ok", "vector": {"sparse": 1.5, "retrieval": 0.5, "zero": 0}, "title": "fine"}',
    '{"id": "nan", "vector": {"a": "NaN"}}',
    '{"id": "inf", "vector": {"a": 1e999}}',
    '{"id": "neg", "vector": {"a": -0.1}}',
    '{"id": "empty", "vector": {}}',
    '{"id": "zeros", "vector": {"a": 0, "b": 0}}',
    JSON.stringify({ id: 'big', vector: big }),
    '{"id": "array", "vector": [1, 2]}',
    '{"id": "novector", "text": "words only"}',
    '{"id": "badtoken", "vector": {"": 1}}',
    '{"id": "ok", "vector": {"sparse": 2}, "title": "replaced"}',
  ];
  const file = path.join(dir, 'vectors.jsonl');
  fs.writeFileSync(file, lines.join('\n'));
  const engine = Engine.open(path.join(dir, 'data'));
  t.teardown(() => engine.close());
  const c = engine.createCollection('v', { encoder: { type: 'precomputed' } });
  const summary = await ingestFile(c, file);
  t.same(
    summary.errors.map((e) => [e.line, e.code]),
    [
      [2, 'INVALID_WEIGHT'],
      [3, 'INVALID_WEIGHT'],
      [4, 'NEGATIVE_WEIGHT'],
      [5, 'EMPTY_VECTOR'],
      [6, 'EMPTY_VECTOR'],
      [7, 'VECTOR_TOO_LARGE'],
      [8, 'INVALID_VECTOR'],
      [9, 'MISSING_VECTOR'],
      [10, 'INVALID_TOKEN'],
    ],
  );
  t.equal(summary.indexed, 1);
  t.equal(summary.updated, 1);
  t.equal(summary.duplicateIds, 1);
  t.same(c.get('ok')?.fields, { title: 'replaced' }, 'the vector is not duplicated into the stored fields');
  const response = c.search({ query: { sparse: 1, unseen: 3 }, k: 5 });
  t.same(response.hits.map((h) => [h.id, h.score]), [['ok', 2]]);
  t.same(response.unknown_terms, ['unseen']);
  t.throws(() => c.search({ query: 'text query' }), { code: 'TEXT_QUERY_UNSUPPORTED' });
  t.throws(() => c.search({ query: { sparse: Number.POSITIVE_INFINITY } }), { code: 'INVALID_WEIGHT' });
  t.throws(() => c.search({ query: { sparse: -2 } }), { code: 'NEGATIVE_WEIGHT' });
});

t.test('sparrow index --vectors and search --vectors --out from the command line', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const docs = path.join(dir, 'docs.jsonl');
  const queries = path.join(dir, 'queries.jsonl');
  fs.writeFileSync(
    docs,
    ['{"id": "d1", "vector": {"cat": 2, "dog": 1}}', '{"id": "d2", "vector": {"dog": 3}}', '{"id": "d3", "vector": {"bird": 1}}'].join('\n'),
  );
  fs.writeFileSync(queries, ['{"id": "q1", "vector": {"dog": 1}}', '{"id": "q2", "vector": {"cat": 1, "bird": 5}}'].join('\n'));
  const run = (args: string[]) => spawnSync(process.execPath, [cliPath, ...args, '--data-dir', data], { encoding: 'utf8' });
  const index = run(['index', 'pets', '--vectors', docs]);
  t.equal(index.status, 0, index.stderr);
  t.match(index.stdout, /3 indexed/);
  const out = path.join(dir, 'run.trec');
  const search = run(['search', 'pets', '--vectors', queries, '-k', '2', '--out', out]);
  t.equal(search.status, 0, search.stderr);
  const trec = await readRun(out);
  t.same(trec.get('q1')!.map((d) => d.docId), ['d2', 'd1']);
  t.same(trec.get('q2')!.map((d) => d.docId), ['d3', 'd1']);
  const stats = JSON.parse(fs.readFileSync(`${out}.latency.json`, 'utf8'));
  t.equal(stats.queries, 2);
  for (const key of ['mean_us', 'p50_us', 'p99_us']) t.ok(stats[key] > 0, key);
  t.same(Object.keys(stats.per_query_us).sort(), ['q1', 'q2']);
  const wrongKind = run(['index', 'pets', path.join(dir, 'docs.jsonl')]);
  t.equal(wrongKind.status, 2);
  t.match(wrongKind.stderr, /holds precomputed vectors/);
});
