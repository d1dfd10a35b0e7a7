import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import t from 'tap';
import { SeededRandom } from '../src/common/random.js';
import { cliPath } from './support/paths.js';
import { tempDir } from './support/tmp.js';

function sparrow(dataDir: string, args: string[], input?: string) {
  const result = spawnSync(process.execPath, [cliPath, ...args, '--data-dir', dataDir], { encoding: 'utf8', input });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

t.test('index, search and list from the command line', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'docs.jsonl');
  fs.writeFileSync(file, ['{"_id":"a","title":"Sparrows","text":"Sparrows are small birds."}', '{"_id":"b","text":"Hawks hunt small birds."}'].join('\n'));
  const data = path.join(dir, 'data');
  const index = sparrow(data, ['index', 'birds', file]);
  t.equal(index.code, 0, index.stderr);
  t.match(index.stdout, /2 indexed, 0 updated, 0 rejected/);
  const search = sparrow(data, ['search', 'birds', 'hawk', '-k', '5', '--json']);
  t.equal(search.code, 0, search.stderr);
  t.same(JSON.parse(search.stdout).hits.map((h: { id: string }) => h.id), ['b']);
  const highlighted = sparrow(data, ['search', 'birds', 'sparrow hunting', '--highlight']);
  t.equal(highlighted.code, 0, highlighted.stderr);
  t.match(highlighted.stdout, /text: \*\*Sparrows\*\* are small birds\./, 'the matched (stemmed) word is marked');
  t.match(highlighted.stdout, /text: Hawks \*\*hunt\*\* small birds\./, '"hunt" matched "hunting"');
  const list = sparrow(data, ['collections']);
  t.match(list.stdout, /birds\t2 documents/);
  const gone = sparrow(data, ['collections', 'delete', 'nope']);
  t.same([gone.code, /\[COLLECTION_NOT_FOUND\]/.test(gone.stderr)], [1, true], 'deleting a collection that does not exist says so');
  const other = sparrow(data, ['index', 'scratch', file]);
  t.equal(other.code, 0, other.stderr);
  const deleted = sparrow(data, ['collections', 'delete', 'scratch']);
  t.same([deleted.code, deleted.stdout], [0, 'deleted scratch\n']);
  t.notMatch(sparrow(data, ['collections']).stdout, /scratch/, 'and it is gone from the list');
});

t.test('bad input: clear messages, non-zero exits, never a stack trace', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const bad = path.join(dir, 'bad.jsonl');
  fs.writeFileSync(bad, '{"_id":"ok","text":"fine"}\n{oops\n');
  const cases: [string, string[], number, RegExp][] = [
    ['missing file', ['index', 'c', path.join(dir, 'missing.jsonl')], 1, /\[FILE_NOT_FOUND\] no such file/],
    ['rejected line', ['index', 'c', bad], 3, /rejected line 2: \[INVALID_JSON\]/],
    ['strict', ['index', 'c2', bad, '--strict'], 1, /stopped at line 2/],
    ['unknown collection', ['search', 'nope', 'x'], 1, /\[COLLECTION_NOT_FOUND\]/],
    ['empty query', ['search', 'c', ''], 1, /\[EMPTY_QUERY\]/],
    ['bad k', ['search', 'c', 'x', '-k', 'many'], 2, /-k must be a positive integer/],
    ['heap factor above 1', ['search', 'c', 'x', '--heap-factor', '1.5'], 2, /--heap-factor must be a number from 0 \(never skip a block\) to 1/],
    ['heap factor not a number', ['search', 'c', 'x', '--heap-factor', 'high'], 2, /--heap-factor must be a number/],
    ['query cut 0', ['search', 'c', 'x', '--query-cut', '0'], 2, /--query-cut must be a positive integer/],
    ['knn out of range', ['search', 'c', 'x', '--knn', '999'], 2, /--knn must be a whole number from 0 to 256/],
    ['unknown command', ['frobnicate'], 2, /unknown command/],
    ['unknown option', ['search', 'c', 'x', '--colour'], 2, /Unknown option/],
    ['not a BEIR folder', ['eval', 'beir', dir, '--out', path.join(dir, 'out')], 1, /\[NOT_A_BEIR_FOLDER\]/],
    ['eval without --out', ['eval', 'beir', dir], 2, /--out OUT is required/],
    ['bad fields', ['index', 'c3', bad, '--fields', 'both'], 2, /--fields must be flat or multifield/],
  ];
  for (const [name, args, code, pattern] of cases) {
    const r = sparrow(data, args);
    t.equal(r.code, code, `${name}: exit code`);
    t.match(r.stderr + r.stdout, pattern, `${name}: message`);
    t.notMatch(r.stderr, /\n\s+at .+:\d+:\d+/, `${name}: no stack trace`);
  }
});

t.test('a run killed half-way keeps every committed batch, and a rerun duplicates nothing', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const file = path.join(dir, 'many.jsonl');
  const total = 30_000;
  const lines: string[] = [];
  for (let i = 0; i < total; i++) lines.push(JSON.stringify({ _id: `doc${i}`, text: `document ${i} about topic${i % 97} and subject${i % 13}` }));
  fs.writeFileSync(file, lines.join('\n') + '\n');

  const child = spawn(process.execPath, [cliPath, 'index', 'big', file, '--batch-size', '200', '--data-dir', data], { stdio: 'ignore' });
  const dbFile = path.join(data, 'sparrow.db');
  let committed = 0;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && committed < 2000) {
    await new Promise((r) => setTimeout(r, 20));
    if (!fs.existsSync(dbFile)) continue;
    try {
      const db = new BetterSqlite3(dbFile, { readonly: true });
      committed = (db.prepare('SELECT count(*) AS n FROM documents').get() as { n: number }).n;
      db.close();
    } catch {
      // the schema may not exist yet
    }
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  t.ok(committed >= 2000, `killed after ${committed} documents were committed`);

  const db = new BetterSqlite3(dbFile, { readonly: true });
  const count = (db.prepare('SELECT count(*) AS n FROM documents').get() as { n: number }).n;
  db.close();
  t.ok(count < total, `the run was interrupted (${count} of ${total})`);
  t.equal(count % 200, 0, 'only whole batches are committed');
  const search = spawnSync(process.execPath, [cliPath, 'search', 'big', `document ${count - 1}`, '-k', '1', '--json', '--data-dir', data], { encoding: 'utf8' });
  t.equal(search.status, 0, search.stderr);

  const rerun = spawnSync(process.execPath, [cliPath, 'index', 'big', file, '--json', '--data-dir', data], { encoding: 'utf8' });
  t.equal(rerun.status, 0, rerun.stderr);
  const summary = JSON.parse(rerun.stdout);
  t.equal(summary.indexed + summary.updated, total);
  t.equal(summary.updated, count, 'documents committed before the kill are updated in place, not duplicated');
  const db2 = new BetterSqlite3(dbFile, { readonly: true });
  t.equal((db2.prepare('SELECT count(*) AS n FROM documents').get() as { n: number }).n, total);
  t.equal((db2.prepare('SELECT count(DISTINCT external_id) AS n FROM documents').get() as { n: number }).n, total);
  db2.close();
});

t.test('--query-cut and --heap-factor reach the approximate index', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const random = new SeededRandom(7);
  const next = () => random.nextFloat();
  const vector = (terms: number) => Object.fromEntries(Array.from({ length: terms }, () => [`t${Math.floor(next() * 400)}`, Math.round((0.05 + next()) * 1000) / 1000]));
  fs.writeFileSync(path.join(dir, 'docs.jsonl'), Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: `d${i}`, vector: vector(40) })).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'queries.jsonl'), Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: `q${i}`, vector: vector(12) })).join('\n') + '\n');
  const indexed = sparrow(data, ['index', 'v', '--vectors', path.join(dir, 'docs.jsonl'), '--index-settings', '{"segmentMinDocs": 500, "build": {"forwardValues": "f32", "pruning": "fixed", "postingCap": 4294967295}}', '--build-segments']);
  t.equal(indexed.code, 0, indexed.stderr);
  const run = (name: string, flags: string[]) => {
    const out = path.join(dir, `${name}.run`);
    const r = sparrow(data, ['search', 'v', '--vectors', path.join(dir, 'queries.jsonl'), '-k', '10', '--out', out, ...flags]);
    t.equal(r.code, 0, r.stderr);
    const stats = JSON.parse(fs.readFileSync(`${out}.latency.json`, 'utf8')) as { approximate?: { queryCut?: number; heapFactor?: number } };
    return { lines: fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 3).join(' ')), stats };
  };
  const exact = run('exact', ['--mode', 'exact']);
  const everything = run('everything', ['--mode', 'approximate', '--query-cut', '100', '--heap-factor', '0']);
  const coarse = run('coarse', ['--mode', 'approximate', '--query-cut', '1', '--heap-factor', '1']);
  t.same(everything.stats.approximate, { queryCut: 100, heapFactor: 0 }, 'the run records the flags it was given');
  // Lists unpruned, every query term, no block skipped: the exact hits (sums may differ in the last bit, so as sets).
  t.same([...everything.lines].sort(), [...exact.lines].sort(), 'heap factor 0 and every query term: the exact answer');
  const overlap = coarse.lines.filter((l) => exact.lines.includes(l)).length / exact.lines.length;
  t.ok(overlap < 0.9, `one query term and the most skipping: a different answer (${(overlap * 100).toFixed(0)}% of the exact hits)`);
});

t.test('read-only commands create nothing; --version', async (t) => {
  const empty = path.join(tempDir(t), 'never-indexed');
  const list = sparrow(empty, ['collections']);
  t.same([list.code, list.stdout], [0, 'no collections\n']);
  const search = sparrow(empty, ['search', 'c', 'x']);
  t.equal(search.code, 1);
  t.match(search.stderr, /\[NO_DATABASE\] .*holds no sparrow database yet/);
  t.notOk(fs.existsSync(empty), 'neither command created the folder or a database');
  const version = spawnSync(process.execPath, [cliPath, '--version'], { encoding: 'utf8' });
  t.equal(version.stdout, `sparrow ${(JSON.parse(fs.readFileSync(path.join(path.dirname(cliPath), '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version}\n`);
});
