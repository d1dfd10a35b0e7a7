import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Engine } from '../src/engine/engine.js';
import type { ExportManifest } from '../src/opensearch/export.js';
import { SeededRandom } from '../src/common/random.js';
import { cliPath, hasScifact, repoRoot, scifactDir } from './support/paths.js';
import { tempDir } from './support/tmp.js';

function sparrow(dataDir: string, args: string[]) {
  const result = spawnSync(process.execPath, [cliPath, ...args, '--data-dir', dataDir], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function manifestOf(dir: string): ExportManifest {
  return JSON.parse(fs.readFileSync(path.join(dir, 'export.json'), 'utf8')) as ExportManifest;
}

/**
 * Type-checks exported files against the request bodies the OpenSearch client declares:
 * index.json as Indices_Create_RequestBody, each bulk line as a Bulk_RequestBody element. The
 * client's types (3.9) predate the sparse_vector field type, which is checked as its own shape.
 */
function typeCheck(t: { equal: (found: unknown, wanted: unknown, message: string) => unknown; teardown: (fn: () => unknown) => void }, dir: string): void {
  const checkDir = fs.mkdtempSync(path.join(repoRoot, 'dist', '.export-typecheck-'));
  t.teardown(() => fs.rmSync(checkDir, { recursive: true, force: true }));
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { mappings: { properties: Record<string, { type: string }> } };
  const sparse = Object.entries(index.mappings.properties).filter(([, p]) => p.type === 'sparse_vector');
  for (const [name] of sparse) delete index.mappings.properties[name];
  const manifest = manifestOf(dir);
  const lines = fs.readFileSync(path.join(dir, manifest.chunks[0]!.file), 'utf8').trim().split('\n').slice(0, 40);
  fs.writeFileSync(
    path.join(checkDir, 'check.ts'),
    [
      "import type { Indices_Create_RequestBody } from '@opensearch-project/opensearch/api/indices/create.js';",
      "import type { Bulk_RequestBody } from '@opensearch-project/opensearch/api/_core/bulk.js';",
      'type SparseVectorProperty = { type: "sparse_vector"; method?: { name: "seismic"; parameters?: { n_postings?: number; cluster_ratio?: number; summary_prune_ratio?: number; approximate_threshold?: number } } };',
      `export const index: Indices_Create_RequestBody = ${JSON.stringify(index)};`,
      `export const sparse: Record<string, SparseVectorProperty> = ${JSON.stringify(Object.fromEntries(sparse))};`,
      `export const bulk: Bulk_RequestBody = [${lines.join(',\n')}];`,
      `export const actions: { index: { _id: string } }[] = [${lines.filter((_, i) => i % 2 === 0).join(',\n')}];`,
    ].join('\n'),
  );
  const tsc = spawnSync(process.execPath, [path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', path.join(checkDir, 'check.ts')], { encoding: 'utf8' });
  t.equal(tsc.status, 0, `the exported files type-check against the client's request types${tsc.status ? `: ${tsc.stdout}` : ''}`);
}

t.test('BM25 SciFact: export, a killed export resumed, import, the same search results', async (t) => {
  if (!hasScifact) {
    t.pass('no SciFact', { skip: true });
    return;
  }
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const indexed = sparrow(data, ['index', 'scifact', scifactDir]);
  t.equal(indexed.code, 0, indexed.stderr);

  const whole = path.join(dir, 'whole');
  const exported = sparrow(data, ['export', 'opensearch', 'scifact', '--out', whole, '--chunk-docs', '700']);
  t.equal(exported.code, 0, exported.stderr);
  const manifest = manifestOf(whole);
  t.same([manifest.complete, manifest.documents, manifest.chunks.length], [true, 5183, 8]);
  for (const chunk of manifest.chunks) {
    t.equal(createHash('sha256').update(fs.readFileSync(path.join(whole, chunk.file))).digest('hex'), chunk.sha256, `${chunk.file}: its SHA-256`);
  }
  const index = JSON.parse(fs.readFileSync(path.join(whole, 'index.json'), 'utf8'));
  t.same(index.mappings.properties.contents, { type: 'text', analyzer: 'english', similarity: 'bm25' }, 'flat BM25: the text fields copy_to one scored field');
  t.same(index.mappings.properties.title.copy_to, 'contents');
  t.same(index.settings.index.similarity.bm25, { type: 'BM25', k1: 0.9, b: 0.4, discount_overlaps: true });
  typeCheck(t, whole);

  // Killed after a few chunks, then run again: the same files as the export that ran through.
  const resumed = path.join(dir, 'resumed');
  const child = spawn(process.execPath, [cliPath, 'export', 'opensearch', 'scifact', '--out', resumed, '--chunk-docs', '700', '--data-dir', data], { stdio: 'ignore' });
  const killedAt = await new Promise<number>((resolve) => {
    const timer = setInterval(() => {
      try {
        const m = manifestOf(resumed);
        if (m.chunks.length >= 2 && !m.complete) {
          child.kill('SIGKILL');
          clearInterval(timer);
          resolve(m.chunks.length);
        }
      } catch {
        // not written yet, or being renamed
      }
    }, 2);
    child.once('exit', () => {
      clearInterval(timer);
      resolve(-1);
    });
  });
  await new Promise((resolve) => (child.exitCode === null && child.signalCode === null ? child.once('exit', resolve) : resolve(null)));
  if (killedAt > 0) t.ok(!manifestOf(resumed).complete, `killed after ${killedAt} chunks, before the end`);
  else t.pass('the export finished before it could be killed; the rerun must leave it as it is');
  const rerun = sparrow(data, ['export', 'opensearch', 'scifact', '--out', resumed, '--chunk-docs', '700']);
  t.equal(rerun.code, 0, rerun.stderr);
  t.same(manifestOf(resumed).chunks.map((c) => c.sha256), manifest.chunks.map((c) => c.sha256), 'the resumed export holds the same chunks');
  t.notOk(fs.readdirSync(resumed).some((f) => f.endsWith('.tmp')), 'no temporary file left');

  const imported = sparrow(data, ['import', 'opensearch', whole, '--collection', 'scifact-copy']);
  t.equal(imported.code, 0, imported.stderr);
  t.match(imported.stdout, /imported 5183 documents into scifact-copy/);
  const engine = Engine.open(data);
  t.teardown(() => engine.close());
  const queries = fs.readFileSync(path.join(scifactDir, 'queries.jsonl'), 'utf8').split('\n', 25).filter((l) => l).map((l) => (JSON.parse(l) as { text: string }).text);
  for (const query of queries) {
    const a = engine.collection('scifact').search({ query, k: 20, mode: 'exact' });
    const b = engine.collection('scifact-copy').search({ query, k: 20, mode: 'exact' });
    t.same(b.hits.map((h) => [h.id, h.score]), a.hits.map((h) => [h.id, h.score]), `${query.slice(0, 40)}: the imported collection answers the same`);
  }
  t.same(engine.collection('scifact-copy').get('4983')!.fields, engine.collection('scifact').get('4983')!.fields, 'stored fields came back');

  const again = sparrow(data, ['export', 'opensearch', 'scifact', '--out', whole, '--chunk-docs', '500']);
  t.equal(again.code, 1);
  t.match(again.stderr, /\[EXPORT_MISMATCH\]/, 'a folder holding another export is refused, not mixed');
  fs.writeFileSync(path.join(whole, manifest.chunks[1]!.file), 'tampered\n');
  const damaged = sparrow(data, ['import', 'opensearch', whole, '--collection', 'scifact-damaged']);
  t.equal(damaged.code, 1);
  t.match(damaged.stderr, /\[INVALID_EXPORT\] bulk-00002\.ndjson does not match its SHA-256/);
  t.notOk(engine.findCollection('scifact-damaged'), 'a damaged export creates nothing');
});

t.test('sparse and dense vectors: seismic settings translated, vectors and scores round-trip', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const engine = Engine.open(data);
  t.teardown(() => engine.close());
  const collection = engine.createCollection('vectors', {
    encoder: { type: 'precomputed', vectorField: 'embedding' },
    index: { segmentMinDocs: 500, build: { summaryEnergy: 0.5, blockFraction: 0.2, pruning: 'fixed', postingCap: 300 }, query: { heapFactor: 0.8, queryCut: 6 } },
    dense: { encoder: { type: 'client', dimension: 3, field: 'vec' }, metric: 'cosine' },
  });
  const random = new SeededRandom(3);
  const docs = Array.from({ length: 250 }, (_, i) => {
    const embedding: Record<string, number> = {};
    for (let j = 0; j < 8; j++) embedding[`t${random.nextInt(40)}`] = Math.fround(0.1 + random.nextFloat());
    return { id: `d${i}`, fields: { embedding, vec: [random.nextFloat(), random.nextFloat(), random.nextFloat()].map(Math.fround), year: 2000 + (i % 20) } };
  });
  await collection.upsertAsync(docs);
  const out = path.join(dir, 'export');
  const exported = sparrow(data, ['export', 'opensearch', 'vectors', '--out', out, '--chunk-docs', '100']);
  t.equal(exported.code, 0, exported.stderr);
  const index = JSON.parse(fs.readFileSync(path.join(out, 'index.json'), 'utf8'));
  t.same(index.mappings.properties.embedding, { type: 'sparse_vector', method: { name: 'seismic', parameters: { cluster_ratio: 0.2, summary_prune_ratio: 0.5, approximate_threshold: 500, n_postings: 300 } } });
  t.same(index.mappings.properties.vec, { type: 'knn_vector', dimension: 3, space_type: 'cosinesimil', method: { name: 'hnsw', engine: 'lucene' } });
  const manifest = manifestOf(out);
  t.equal(manifest.query['neural_sparse_method_parameters'] && (manifest.query['neural_sparse_method_parameters'] as { heap_factor: number }).heap_factor, 1 / 0.8, 'heap_factor runs the other way: 1 / heapFactor');
  const firstLines = fs.readFileSync(path.join(out, manifest.chunks[0]!.file), 'utf8').split('\n');
  t.same(JSON.parse(firstLines[1]!), { year: 2000, embedding: docs[0]!.fields.embedding, vec: docs[0]!.fields.vec }, 'a bulk source: stored fields, sparse vector, dense vector');
  typeCheck(t, out);

  const imported = sparrow(data, ['import', 'opensearch', out, '--collection', 'vectors-copy']);
  t.equal(imported.code, 0, imported.stderr);
  const copy = engine.collection('vectors-copy');
  t.same(copy.record.indexSettings['build'], { pruning: 'fixed', postingCap: 300, blockFraction: 0.2, summaryEnergy: 0.5 }, 'the seismic parameters read back as the same build settings');
  t.equal(copy.record.indexSettings['segmentMinDocs'], 500);
  for (const d of docs) {
    if (JSON.stringify(copy.denseVectorOf(d.id)) !== JSON.stringify(d.fields.vec)) t.fail(`${d.id}: dense vector changed`);
    if (JSON.stringify(copy.sparseVectorOf(d.id)) !== JSON.stringify(collection.sparseVectorOf(d.id))) t.fail(`${d.id}: sparse vector changed`);
  }
  let recall = 0;
  for (let q = 0; q < 5; q++) {
    const query = { [`t${q}`]: 1, [`t${q + 7}`]: 0.5 };
    const a = await collection.searchAsync({ query, k: 10, mode: 'exact', retrieval: 'sparse' });
    const b = await copy.searchAsync({ query, k: 10, mode: 'exact', retrieval: 'sparse' });
    t.same(b.hits.map((h) => [h.id, h.score]), a.hits.map((h) => [h.id, h.score]), `sparse query ${q}: the same answer`);
    const vector = [0.3 + q / 10, -0.2, 0.9 - q / 5];
    const da = await collection.searchAsync({ denseVector: vector, k: 10, retrieval: 'dense' });
    const db = await copy.searchAsync({ denseVector: vector, k: 10, retrieval: 'dense' });
    // The copy's dense index is HNSW, as OpenSearch's knn_vector is: approximate, near the exact answer.
    const exact = new Set(da.hits.map((h) => h.id));
    recall += db.hits.filter((h) => exact.has(h.id)).length / exact.size / 5;
  }
  t.ok(recall >= 0.9, `the HNSW copy finds ${(recall * 100).toFixed(0)}% of the exact dense top 10`);
});
