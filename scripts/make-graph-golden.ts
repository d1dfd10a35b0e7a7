/**
 * Writes the golden dense graph file of index-format/dense-graph/v1/ and its description.
 *
 *   npx tsc -p tsconfig.json && node dist/scripts/make-graph-golden.js [--force]
 *
 * The graph is usearch's, inserted one vector at a time on one thread from seeded vectors; the
 * JSON records the footer and the answers of a few queries, which the tests check the committed
 * file against. Committed goldens are frozen: the script refuses to replace one unless given --force.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HnswDenseIndex } from '../src/index/dense/hnsw.js';
import { SeededRandom } from '../src/common/random.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const folder = path.resolve(here, '../../index-format/dense-graph/v1');
const force = process.argv.includes('--force');
const settings = { dimension: 6, metric: 'cosine' as const, connectivity: 8 };
const random = new SeededRandom(2024);
const vector = (): number[] => Array.from({ length: settings.dimension }, () => Math.round(random.nextGaussian() * 1000) / 1000);

const graph = new HnswDenseIndex(settings.dimension, { metric: settings.metric, connectivity: settings.connectivity, tieKey: (doc) => String(doc).padStart(10, '0') });
// Doc numbers with gaps, as a collection with deletes has them.
for (let i = 0; i < 60; i++) graph.add(i * 3 + (i % 2), Float32Array.from(vector()));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'graph-golden-'));
const file = path.join(scratch, 'tiny.hnsw');
graph.saveGraph(file, 180);
const loaded = new HnswDenseIndex(settings.dimension, { metric: settings.metric, connectivity: settings.connectivity });
const footer = loaded.loadGraph(file);
const queries = Array.from({ length: 4 }, () => {
  const query = vector();
  return { vector: query, docNumbers: Array.from(loaded.search(Float32Array.from(query), 5).docNumbers) };
});
const description = { description: 'usearch HNSW graph of 60 seeded 6-dimensional vectors (cosine, M = 8), doc numbers with gaps, covering doc numbers below 180', settings, footer, queries };

fs.mkdirSync(folder, { recursive: true });
const target = path.join(folder, 'tiny.hnsw');
const bytes = fs.readFileSync(file);
if (fs.existsSync(target) && !fs.readFileSync(target).equals(bytes) && !force) {
  console.error(`${target} exists with other bytes; goldens are frozen (--force replaces it)`);
  process.exit(1);
}
fs.writeFileSync(target, bytes);
fs.writeFileSync(path.join(folder, 'tiny.json'), `${JSON.stringify(description, null, 2)}\n`);
fs.rmSync(scratch, { recursive: true, force: true });
console.log(`wrote ${target} (${bytes.length} bytes) and tiny.json`);
