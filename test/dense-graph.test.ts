import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import t from 'tap';
import { DENSE_GRAPH_FILE } from '../src/engine/collection.js';
import { toIngestDocument } from '../src/engine/documents.js';
import { Engine } from '../src/engine/engine.js';
import { checkGraphFile, GRAPH_FOOTER_BYTES, GraphFileError, type GraphFileProblem } from '../src/index/dense/graph-file.js';
import { HnswDenseIndex, hnswAvailable } from '../src/index/dense/hnsw.js';
import { SeededRandom } from '../src/common/random.js';
import { runCli } from './support/cli.js';
import { repoRoot } from './support/paths.js';
import { tempDir } from './support/tmp.js';

const skip = hnswAvailable() ? false : 'usearch is not installed';
const dimension = 8;

function vectors(seed: number, count: number): number[][] {
  const random = new SeededRandom(seed);
  return Array.from({ length: count }, () => Array.from({ length: dimension }, () => random.nextGaussian()));
}

function problemOf(run: () => unknown): GraphFileProblem | 'none' {
  try {
    run();
    return 'none';
  } catch (error) {
    if (error instanceof GraphFileError) return error.problem;
    throw error;
  }
}

t.test('graph file: a saved graph loads back; damage, truncation, other settings and versions are refused', { skip }, (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'g.hnsw');
  const graph = new HnswDenseIndex(dimension, { metric: 'dot' });
  const rows = vectors(3, 200);
  graph.addMany(rows.map((_, i) => i * 2), rows.map((v) => Float32Array.from(v)));
  graph.saveGraph(file, 400);
  const loaded = new HnswDenseIndex(dimension, { metric: 'dot' });
  const footer = loaded.loadGraph(file);
  t.same({ size: footer.size, coversBelow: footer.coversBelow, dimension: footer.dimension, metric: footer.metric }, { size: 200, coversBelow: 400, dimension, metric: 'dot' });
  const query = Float32Array.from(vectors(4, 1)[0]!);
  t.same(Array.from(loaded.search(query, 10).docNumbers), Array.from(graph.search(query, 10).docNumbers), 'the loaded graph answers as the saved one');
  t.equal(fs.readdirSync(dir).length, 1, 'no temporary file is left behind');
  // A save cut short by a crash leaves its temporary file; the next save removes it.
  const leftover = path.join(dir, '.g.hnsw.999999999.tmp');
  fs.writeFileSync(leftover, 'half a graph');
  graph.saveGraph(file, 400);
  t.notOk(fs.existsSync(leftover), 'a dead process\'s temporary file is removed by the next save');

  const expected = graph.graphSettings;
  const bytes = fs.readFileSync(file);
  const variant = (name: string, change: (copy: Buffer) => Buffer): string => {
    const other = path.join(dir, name);
    fs.writeFileSync(other, change(Buffer.from(bytes)));
    return other;
  };
  t.equal(problemOf(() => checkGraphFile(file, expected)), 'none');
  t.equal(problemOf(() => checkGraphFile(path.join(dir, 'absent.hnsw'), expected)), 'missing');
  t.equal(problemOf(() => checkGraphFile(variant('cut.hnsw', (b) => b.subarray(0, b.length - 10)), expected)), 'bad-magic', 'cut short: no footer at the end');
  t.equal(problemOf(() => checkGraphFile(variant('short.hnsw', (b) => b.subarray(0, 20)), expected)), 'truncated');
  t.equal(problemOf(() => checkGraphFile(variant('payload.hnsw', (b) => ((b[100] ^= 0x40), b)), expected)), 'checksum', 'a flipped payload byte');
  t.equal(problemOf(() => checkGraphFile(variant('footer.hnsw', (b) => ((b[b.length - GRAPH_FOOTER_BYTES + 24] ^= 1), b)), expected)), 'checksum', 'a flipped footer byte');
  t.equal(problemOf(() => checkGraphFile(file, { ...expected, connectivity: 32 })), 'settings');
  t.equal(problemOf(() => checkGraphFile(file, { ...expected, metric: 'cosine' })), 'settings');
  t.equal(problemOf(() => checkGraphFile(file, { ...expected, dimension: 9 })), 'settings');
  t.equal(problemOf(() => checkGraphFile(file, expected, 7)), 'owner', 'a graph saved for another collection');
  const newer = variant('v2.hnsw', (b) => {
    const footerAt = b.length - GRAPH_FOOTER_BYTES;
    b.writeUInt32LE(2, footerAt + 8);
    // A valid footer checksum, so that only the version is wrong.
    b.writeUInt32LE(crc32(b.subarray(footerAt, footerAt + 44)), footerAt + 44);
    return b;
  });
  t.equal(problemOf(() => checkGraphFile(newer, expected)), 'unknown-version');
  t.end();
});

t.test('a collection saves its HNSW graph, loads it on reopen and brings it up to date', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const rows = vectors(5, 400);
  const documents = rows.map((vector, i) => toIngestDocument({ id: `v${i}`, text: `vector ${i}`, dense_vector: vector }));
  const queries = vectors(6, 15);
  const settings = { dense: { encoder: { type: 'client', dimension }, index: 'hnsw' } };
  const answer = async (engine: Engine, name: string) =>
    Promise.all(queries.map(async (q) => (await engine.collection(name).searchAsync({ denseVector: q, k: 10, retrieval: 'dense' })).hits.map((h) => h.id)));

  let engine = Engine.open(dataDir);
  await engine.createCollection('graph', settings).upsertAsync(documents);
  await engine.createCollection('oracle', { dense: { encoder: { type: 'client', dimension }, index: 'exact' } }).upsertAsync(documents);
  const first = await answer(engine, 'graph');
  t.equal(engine.collection('graph').dense!.graphOrigin, 'built', 'the first search builds the graph');
  const file = path.join(dataDir, 'segments', String(engine.collection('graph').record.id), DENSE_GRAPH_FILE);
  t.ok(fs.existsSync(file), 'and saves it next to the segments');
  const { record } = engine.collection('graph');
  const owner = crc32(`${record.id}\n${record.name}\n${record.createdAt}`);
  const savedAt = fs.statSync(file).mtimeMs;
  engine.close();

  engine = Engine.open(dataDir);
  t.same(await answer(engine, 'graph'), first, 'after reopening, the same answers');
  t.equal(engine.collection('graph').dense!.graphOrigin, 'loaded', 'from the saved graph, not rebuilt');
  engine.close();
  t.equal(fs.statSync(file).mtimeMs, savedAt, 'an unchanged graph is not written again');

  // Writes while no graph is in memory: the saved one is behind the store.
  engine = Engine.open(dataDir);
  for (const name of ['graph', 'oracle']) {
    const collection = engine.collection(name);
    collection.delete(['v0', 'v1', 'v2']);
    await collection.upsertAsync([toIngestDocument({ id: 'new', text: 'new', dense_vector: queries[0]! }), toIngestDocument({ id: 'v3', text: 'moved', dense_vector: queries[1]! })]);
  }
  engine.close();
  engine = Engine.open(dataDir);
  const caughtUp = await answer(engine, 'graph');
  t.equal(engine.collection('graph').dense!.graphOrigin, 'loaded');
  t.equal(engine.collection('graph').dense!.indexedCount, 398, '400 - 3 deleted - 1 replaced + 2 written');
  const oracle = await answer(engine, 'oracle');
  let found = 0;
  oracle.forEach((ids, i) => (found += ids.filter((id) => caughtUp[i]!.includes(id)).length));
  t.ok(found / (10 * queries.length) >= 0.95, `recall@10 against the exact scan after catching up: ${(found / (10 * queries.length)).toFixed(3)}`);
  t.equal(caughtUp[0]![0], 'new', 'a document written since the save is found');
  t.equal(caughtUp[1]![0], 'v3', 'a replaced document answers with its new vector');
  t.notOk(caughtUp.flat().some((id) => ['v0', 'v1', 'v2'].includes(id)), 'deleted documents are gone');
  engine.close();
  t.not(fs.statSync(file).mtimeMs, savedAt, 'the caught-up graph is saved on close');

  // A damaged file is rebuilt, with a warning, never trusted.
  const bytes = fs.readFileSync(file);
  bytes[200] ^= 0xff;
  fs.writeFileSync(file, bytes);
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => warning.code === 'SPARROW_DENSE_GRAPH' && warnings.push(warning.message);
  process.on('warning', onWarning);
  engine = Engine.open(dataDir);
  const rebuilt = await answer(engine, 'graph');
  t.equal(engine.collection('graph').dense!.graphOrigin, 'built', 'a damaged graph is rebuilt from the rows');
  t.same(rebuilt.map((ids) => ids[0]), caughtUp.map((ids) => ids[0]), 'with the same best hits');
  engine.close();
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  t.match(warnings.join('\n'), /checksum does not match/, 'the warning says why');
  t.equal(problemOf(() => checkGraphFile(file, { dimension, metric: 'cosine', quantization: 'f32', connectivity: 16 }, owner)), 'none', 'and a good file is written again');
});

t.test('golden: the v1 graph file in index-format/ still loads and answers', { skip }, (t) => {
  const folder = path.join(repoRoot, 'index-format', 'dense-graph', 'v1');
  const expected = JSON.parse(fs.readFileSync(path.join(folder, 'tiny.json'), 'utf8')) as {
    settings: { dimension: number; metric: 'cosine' | 'dot'; connectivity: number };
    footer: Record<string, unknown>;
    queries: { vector: number[]; docNumbers: number[] }[];
  };
  const graph = new HnswDenseIndex(expected.settings.dimension, { metric: expected.settings.metric, connectivity: expected.settings.connectivity });
  const footer = graph.loadGraph(path.join(folder, 'tiny.hnsw'));
  t.same(footer, expected.footer, 'the footer reads as recorded');
  for (const [i, query] of expected.queries.entries()) {
    t.same(Array.from(graph.search(Float32Array.from(query.vector), query.docNumbers.length).docNumbers), query.docNumbers, `query ${i}`);
  }
  t.end();
});

t.test('sparrow index --build-segments builds and saves the graph; the next process loads it', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const input = path.join(dataDir, 'docs.jsonl');
  const rows = vectors(9, 120);
  fs.writeFileSync(input, rows.map((vector, i) => JSON.stringify({ id: `d${i}`, text: `document ${i}`, dense_vector: vector })).join('\n') + '\n');
  const dense = JSON.stringify({ encoder: { type: 'client', dimension }, index: 'hnsw' });
  const indexed = await runCli(['index', 'c', input, '--dense', dense, '--build-segments', '--data-dir', dataDir]);
  t.equal(indexed.code, 0, indexed.stderr);
  const engine = Engine.open(dataDir);
  t.teardown(() => engine.close());
  const collection = engine.collection('c');
  t.ok(fs.existsSync(path.join(dataDir, 'segments', String(collection.record.id), DENSE_GRAPH_FILE)), 'the graph file is written by the indexing run');
  const result = await collection.searchAsync({ denseVector: rows[7]!, k: 3, retrieval: 'dense' });
  t.equal(result.hits[0]!.id, 'd7', 'a document finds itself');
  t.equal(collection.dense!.graphOrigin, 'loaded', 'the searching process loads the saved graph');
});

t.test('a graph file left by a deleted collection is not taken by a new one with the same id', { skip }, async (t) => {
  const dataDir = tempDir(t);
  const engine = Engine.open(dataDir);
  t.teardown(() => engine.close());
  const settings = { dense: { encoder: { type: 'client', dimension }, index: 'hnsw' } };
  const old = engine.createCollection('c', settings);
  await old.upsertAsync(vectors(21, 50).map((vector, i) => toIngestDocument({ id: `old${i}`, text: 'old', dense_vector: vector })));
  await old.searchAsync({ denseVector: vectors(22, 1)[0]!, k: 3, retrieval: 'dense' });
  const file = path.join(dataDir, 'segments', String(old.record.id), DENSE_GRAPH_FILE);
  const leftover = fs.readFileSync(file);
  engine.deleteCollection('c');
  const fresh = engine.createCollection('c', settings);
  t.equal(fresh.record.id, old.record.id, 'the id is reused');
  // As if a crash had stopped the delete before the folder went.
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, leftover);
  const rows = vectors(23, 20);
  await fresh.upsertAsync(rows.map((vector, i) => toIngestDocument({ id: `new${i}`, text: 'new', dense_vector: vector })));
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => warning.code === 'SPARROW_DENSE_GRAPH' && warnings.push(warning.message);
  process.on('warning', onWarning);
  const hits = (await fresh.searchAsync({ denseVector: rows[4]!, k: 20, retrieval: 'dense' })).hits;
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  t.equal(fresh.dense!.graphOrigin, 'built', 'the graph is rebuilt from the new collection\'s rows');
  t.equal(hits[0]!.id, 'new4');
  t.notOk(hits.some((h) => h.id.startsWith('old')), 'nothing of the old collection is found');
  t.match(warnings.join('\n'), /belongs to another collection/);
});
