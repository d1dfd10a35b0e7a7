import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { Engine } from '../src/engine/engine.js';
import { tuneRecall } from '../src/eval/recall-tune.js';
import { buildSeismicIndex } from '../src/index/seismic/build.js';
import { ExhaustiveSearcher } from '../src/index/seismic/exhaustive.js';
import { buildKnnGraph } from '../src/index/seismic/knn-graph.js';
import { TsSeismicSearcher } from '../src/index/seismic/query-ts.js';
import { WasmSeismicSearcher } from '../src/index/seismic/query-wasm.js';
import { SeededRandom } from '../src/common/random.js';
import { NO_NEIGHBOR } from '../src/index/seismic/search-api.js';
import { rowOf } from '../src/index/sparse-matrix.js';
import { readSegmentFileSync } from '../src/index/segment/segment-file.js';
import { buildApp } from '../src/server/app.js';
import { runCli } from './support/cli.js';
import { tempDir } from './support/tmp.js';

const synthetic = generateSynthetic({ docs: 4000, queries: 60, seed: 21 });

t.test('the kNN graph: no row names itself, every entry is a row, neighbours are mostly the true nearest', async (t) => {
  const index = buildSeismicIndex(synthetic.docs, { forwardValues: 'f32' });
  const neighbors = 6;
  const graph = await buildKnnGraph(index, neighbors, 1);
  t.same([...(await buildKnnGraph(index, neighbors, 2, 0))], [...graph], 'two threads build the same graph as one');
  t.equal(graph.length, index.docCount * neighbors);
  let bad = 0;
  for (let row = 0; row < index.docCount; row++) {
    for (let n = 0; n < neighbors; n++) {
      const doc = graph[row * neighbors + n]!;
      if (doc === row || (doc !== NO_NEIGHBOR && doc >= index.docCount)) bad++;
    }
  }
  t.equal(bad, 0, 'entries are other rows of the segment');
  // Against the exact neighbours (brute force with the document as the query) on a sample of rows.
  const exhaustive = new ExhaustiveSearcher(synthetic.docs);
  const random = new SeededRandom(4);
  let found = 0;
  let wanted = 0;
  for (let i = 0; i < 100; i++) {
    const row = random.nextInt(index.docCount);
    const truth = new Set([...exhaustive.search(rowOf(synthetic.docs, row), { k: neighbors + 1 }).docs].filter((d) => d !== row).slice(0, neighbors));
    wanted += truth.size;
    for (let n = 0; n < neighbors; n++) if (truth.has(graph[row * neighbors + n]!)) found++;
  }
  t.ok(found / wanted > 0.8, `graph recall against exact neighbours ${(found / wanted).toFixed(3)}`);
});

t.test('kNN refinement: WebAssembly and TypeScript scorers agree bit for bit; knn 0 equals no graph; it buys recall', async (t) => {
  const index = buildSeismicIndex(synthetic.docs);
  const graph = await buildKnnGraph(index, 8);
  const wasm = new WasmSeismicSearcher(index, {}, { knnNeighbors: graph });
  const ts = new TsSeismicSearcher(index, {}, { knnNeighbors: graph });
  const plain = new WasmSeismicSearcher(index);
  t.equal(wasm.knnStored, 8);
  const exhaustive = new ExhaustiveSearcher(synthetic.docs);
  const random = new SeededRandom(77);
  let recallWith = 0;
  let recallWithout = 0;
  for (let q = 0; q < synthetic.queries.rows; q++) {
    const query = rowOf(synthetic.queries, q);
    const excluded = q % 4 === 0 ? Uint32Array.from({ length: (index.docCount + 31) >>> 5 }, () => random.nextUint32() & random.nextUint32() & random.nextUint32()) : undefined;
    for (const knn of [undefined, 0, 1, 3, 8, 100]) {
      const options = { k: 10, queryCut: 1 + (q % 3), heapFactor: 1, ...(knn !== undefined ? { knn } : {}), ...(excluded ? { excluded } : {}) };
      const a = wasm.search(query, options);
      const b = ts.search(query, options);
      if (!(a.docs.every((d, i) => d === b.docs[i]) && a.scores.every((s, i) => s === b.scores[i]) && a.docs.length === b.docs.length)) {
        t.fail(`query ${q} knn ${knn}: wasm ${[...a.docs]} vs ts ${[...b.docs]}`);
        return;
      }
      if (knn === 0) t.same([...a.docs], [...plain.search(query, options).docs], `query ${q}: knn 0 is the search without a graph`);
    }
    if (!excluded) {
      const truth = new Set(exhaustive.search(query, { k: 10 }).docs);
      const cheap = { k: 10, queryCut: 1, heapFactor: 1 };
      recallWith += [...wasm.search(query, cheap).docs].filter((d) => truth.has(d)).length / truth.size;
      recallWithout += [...plain.search(query, cheap).docs].filter((d) => truth.has(d)).length / truth.size;
    }
  }
  t.ok(recallWith > recallWithout, `recall@10 at queryCut 1: ${recallWithout.toFixed(2)} without the graph, ${recallWith.toFixed(2)} with it (sums over queries)`);
  wasm.dispose();
  plain.dispose();
});

t.test('a collection built with knnNeighbors stores the graph in its segments and searches with it (engine, HTTP, CLI)', async (t) => {
  const dir = tempDir(t);
  const engine = Engine.open(dir);
  const collection = engine.createCollection('knn', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 1000, build: { knnNeighbors: 4 } } });
  const docs = [];
  for (let row = 0; row < 3000; row++) {
    const { indices, values } = rowOf(synthetic.docs, row);
    const vector: Record<string, number> = {};
    for (let i = 0; i < indices.length; i++) vector[`t${indices[i]}`] = values[i]!;
    docs.push({ id: `d${row}`, fields: { vector } });
  }
  collection.upsert(docs);
  await collection.buildSegments({ force: true });
  const segmentDir = path.join(dir, 'segments', String(collection.record.id));
  const files = fs.readdirSync(segmentDir).filter((name) => name.endsWith('.seg'));
  t.ok(files.length >= 1, 'segments were built');
  for (const file of files) {
    const contents = readSegmentFileSync(path.join(segmentDir, file));
    t.equal(contents.knnNeighbors?.length, contents.index.docCount * 4, `${file} holds 4 neighbours per document`);
  }
  const query: Record<string, number> = {};
  const q = rowOf(synthetic.queries, 0);
  for (let i = 0; i < q.indices.length; i++) query[`t${q.indices[i]}`] = q.values[i]!;
  const cheap = { queryCut: 1, heapFactor: 1 };
  const withGraph = collection.search({ query, k: 10, mode: 'approximate', approximate: cheap });
  const without = collection.search({ query, k: 10, mode: 'approximate', approximate: { ...cheap, knn: 0 } });
  const exact = new Set(collection.search({ query, k: 10, mode: 'exact' }).hits.map((h) => h.id));
  const recall = (hits: { id: string }[]): number => hits.filter((h) => exact.has(h.id)).length;
  t.ok(recall(withGraph.hits) >= recall(without.hits), `recall ${recall(without.hits)} -> ${recall(withGraph.hits)} of 10 with the graph`);

  // The tuner treats the graph as a third knob: every setting without it and with all neighbours.
  const steps: number[] = [];
  const tuned = await tuneRecall(collection, { targetRecall: 0.5, sample: 20, queryCuts: [1, 3], heapFactors: [1], onProgress: (done, total) => steps.push(total) });
  t.same([...new Set(tuned.points.map((p) => p.knn))].sort(), [0, 4], 'knn 0 and 4 are measured');
  t.equal(tuned.points.length, 4);
  t.equal(steps[0], 2 + 4, 'progress counts the doubled grid');
  t.same(collection.segmentSettings.query, { queryCut: tuned.chosen!.queryCut, heapFactor: tuned.chosen!.heapFactor, knn: tuned.chosen!.knn }, 'the chosen knn is stored with the defaults');

  const app = buildApp({ engine });
  t.teardown(async () => {
    await app.close();
    engine.close();
  });
  const over = await app.inject({ method: 'POST', url: '/collections/knn/search', payload: { query, k: 10, mode: 'approximate', approximate: { query_cut: 1, heap_factor: 1, knn: 0 } } });
  t.equal(over.statusCode, 200);
  t.same(over.json().hits.map((h: { id: string }) => h.id), without.hits.map((h) => h.id), 'approximate.knn over HTTP');
  const bad = await app.inject({ method: 'POST', url: '/collections/knn/search', payload: { query, approximate: { knn: -1 } } });
  t.equal(bad.statusCode, 400);
  const badSetting = await app.inject({ method: 'POST', url: '/collections', payload: { name: 'bad', encoder: { type: 'precomputed' }, index: { build: { knnNeighbors: 1000 } } } });
  t.equal(badSetting.statusCode, 400);
  t.match(badSetting.json().error.message, /knnNeighbors/);

  const cli = await runCli(['search', 'knn', 'white matter', '--knn', 'many', '--data-dir', tempDir(t)]);
  t.not(cli.code, 0);
  t.match(cli.stderr, /--knn must be a whole number from 0 to 256/);
});

t.test('sparrow index --index-settings builds segments with a kNN graph; sparrow search --knn uses it', async (t) => {
  const dataDir = tempDir(t);
  const file = path.join(dataDir, 'docs.jsonl');
  const lines = [];
  for (let row = 0; row < 1500; row++) {
    const { indices, values } = rowOf(synthetic.docs, row);
    const vector: Record<string, number> = {};
    for (let i = 0; i < indices.length; i++) vector[`t${indices[i]}`] = values[i]!;
    lines.push(JSON.stringify({ id: `d${row}`, vector }));
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const badJson = await runCli(['index', 'v', '--vectors', file, '--index-settings', '{build', '--data-dir', dataDir]);
  t.not(badJson.code, 0);
  t.match(badJson.stderr, /--index-settings/);
  const badValue = await runCli(['index', 'v', '--vectors', file, '--index-settings', '{"build": {"knnNeighbors": -2}}', '--data-dir', dataDir]);
  t.not(badValue.code, 0);
  t.match(badValue.stderr, /INVALID_INDEX_SETTINGS[\s\S]*knnNeighbors/);
  const indexed = await runCli(['index', 'v', '--vectors', file, '--index-settings', '{"build": {"knnNeighbors": 2}}', '--build-segments', '--data-dir', dataDir]);
  t.equal(indexed.code, 0, indexed.stderr);
  const segmentDir = path.join(dataDir, 'segments');
  const segFiles = fs.readdirSync(segmentDir, { recursive: true }).map(String).filter((name) => name.endsWith('.seg'));
  t.ok(segFiles.length > 0, 'a segment was built');
  for (const name of segFiles) {
    const contents = readSegmentFileSync(path.join(segmentDir, name));
    t.equal(contents.knnNeighbors?.length, contents.index.docCount * 2, `${name}: two neighbours per document`);
  }
  const queries = path.join(dataDir, 'queries.jsonl');
  const q = rowOf(synthetic.queries, 1);
  const vector: Record<string, number> = {};
  for (let i = 0; i < q.indices.length; i++) vector[`t${q.indices[i]}`] = q.values[i]!;
  fs.writeFileSync(queries, JSON.stringify({ id: 'q1', vector }) + '\n');
  const searched = await runCli(['search', 'v', '--vectors', queries, '--mode', 'approximate', '--knn', '0', '--out', path.join(dataDir, 'run.trec'), '--data-dir', dataDir]);
  t.equal(searched.code, 0, searched.stderr);
  t.match(fs.readFileSync(path.join(dataDir, 'run.trec'), 'utf8'), /^q1 Q0 d\d+ 1 /);
  const again = await runCli(['index', 'v', '--vectors', file, '--index-settings', '{"build": {"knnNeighbors": 4}}', '--data-dir', dataDir]);
  t.not(again.code, 0, 'settings of an existing collection are not changed silently');
});
