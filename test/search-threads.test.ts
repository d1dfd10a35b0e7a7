import t from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { Engine } from '../src/engine/engine.js';
import { rowOf, type SparseMatrix } from '../src/index/sparse-matrix.js';
import { runCli } from './support/cli.js';
import { startServer } from './support/server.js';
import { tempDir } from './support/tmp.js';

const synthetic = generateSynthetic({ docs: 4000, queries: 30, seed: 5 });

function vectorOf(matrix: SparseMatrix, row: number): Record<string, number> {
  const { indices, values } = rowOf(matrix, row);
  const vector: Record<string, number> = {};
  for (let i = 0; i < indices.length; i++) vector[`t${indices[i]}`] = values[i]!;
  return vector;
}

async function segmentedCollection(engine: Engine) {
  const collection = engine.createCollection('threads', { encoder: { type: 'precomputed' }, index: { segmentMinDocs: 1000, mergeFactor: 10, build: { knnNeighbors: 3 } } });
  for (let s = 0; s < 4; s++) {
    collection.upsert(Array.from({ length: 1000 }, (_, i) => ({ id: `d${s * 1000 + i}`, fields: { vector: vectorOf(synthetic.docs, s * 1000 + i), group: i % 5 } })));
    await collection.buildSegments({ force: true });
  }
  return collection;
}

t.test('search threads answer exactly what the calling thread answers: filters, deletions, knn, a merge in between', async (t) => {
  const engine = Engine.open(tempDir(t), { searchThreads: 2, searchThreadsMinDocs: 0 });
  t.teardown(() => engine.close());
  const collection = await segmentedCollection(engine);
  t.equal(collection.segmentStatistics().segments.length, 4, 'four segments');
  collection.delete(['d5', 'd1500', 'd3999']);
  const compare = async (label: string): Promise<void> => {
    let same = 0;
    for (let q = 0; q < synthetic.queries.rows; q++) {
      const request = {
        query: vectorOf(synthetic.queries, q),
        k: 10,
        retrieval: 'sparse' as const,
        ...(q % 3 === 0 ? { filter: { group: 2 }, mode: 'approximate' as const } : {}),
        ...(q % 4 === 1 ? { approximate: { queryCut: 2, knn: 0 } } : {}),
      };
      const { took_ms: _a, ...sync } = collection.search(request);
      const { took_ms: _b, ...threaded } = await collection.searchAsync(request);
      if (JSON.stringify(sync) === JSON.stringify(threaded)) same++;
      else t.fail(`${label}: query ${q} differs`);
    }
    t.equal(same, synthetic.queries.rows, `${label}: every answer identical`);
  };
  const before = engine.searchPool!.tasksRun;
  await compare('four segments');
  // Filtered queries allow too few documents for the segments (filterExactBelow): answered exactly.
  const unfiltered = Array.from({ length: synthetic.queries.rows }, (_, q) => q).filter((q) => q % 3 !== 0).length;
  t.equal(engine.searchPool!.tasksRun - before, 4 * unfiltered, 'the threads searched every segment of every unfiltered query');
  t.notOk(
    (await collection.searchAsync({ query: vectorOf(synthetic.docs, 5), k: 5, retrieval: 'sparse' })).hits.some((h) => h.id === 'd5'),
    'a deleted document stays gone on the threads',
  );

  // Merging swaps segments: the threads drop the old ones and take the new one.
  collection.upsert(Array.from({ length: 1000 }, (_, i) => ({ id: `e${i}`, fields: { vector: vectorOf(synthetic.docs, i), group: 0 } })));
  await collection.buildSegments({ force: true });
  await compare('after more segments');
});

t.test('a search thread that dies costs speed, not answers', async (t) => {
  const engine = Engine.open(tempDir(t), { searchThreads: 1, searchThreadsMinDocs: 0 });
  t.teardown(() => engine.close());
  const collection = await segmentedCollection(engine);
  const request = { query: vectorOf(synthetic.queries, 0), k: 10, retrieval: 'sparse' as const };
  const expected = collection.search(request).hits;
  await engine.searchPool!.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(engine.searchPool!.aliveThreads, 0, 'no thread is left');
  t.same((await collection.searchAsync(request)).hits, expected, 'answered on the calling thread');
});

t.test('search threads: a bad count is refused', async (t) => {
  t.throws(() => Engine.open(tempDir(t), { searchThreads: -1 }), { code: 'INVALID_SEARCH_THREADS' });
  t.throws(() => Engine.open(tempDir(t), { searchThreads: 1.5 }), { code: 'INVALID_SEARCH_THREADS' });
});

t.test('sparrow serve runs search threads ($SPARROW_SEARCH_THREADS) and reports them in /metrics; a bad count is a usage error', async (t) => {
  const dataDir = tempDir(t);
  const server = await startServer(t, dataDir, dataDir, { SPARROW_SEARCH_THREADS: '2' });
  const metrics = await (await fetch(`${server.address}/metrics`)).text();
  t.match(metrics, /^sparrow_search_threads 2$/m);
  t.match(metrics, /^sparrow_search_thread_tasks 0$/m);
  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0, 'a clean shutdown with the threads running');
  const bad = await runCli(['serve', '--port', '0', '--search-threads', 'many', '--data-dir', dataDir]);
  t.not(bad.code, 0);
  t.match(bad.stderr, /--search-threads/);
});
