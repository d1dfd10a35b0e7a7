import t from 'tap';
import { generateSynthetic } from '../scripts/synthetic.js';
import { buildSeismicIndex } from '../src/index/seismic/build.js';
import { ExhaustiveSearcher } from '../src/index/seismic/exhaustive.js';
import { openSeismicSearcher } from '../src/index/seismic/searcher.js';
import { rowOf } from '../src/index/sparse-matrix.js';

// Default build and query parameters on a 20k-document SPLADE-like collection.
const RECALL_THRESHOLD = 0.95;

t.test(`recall@10 of the approximate index with default params is at least ${RECALL_THRESHOLD}`, (t) => {
  const { docs, queries } = generateSynthetic({ docs: 20_000, queries: 200, seed: 2024 });
  const index = buildSeismicIndex(docs);
  const exact = new ExhaustiveSearcher(docs);
  for (const kind of ['wasm', 'ts'] as const) {
    const searcher = openSeismicSearcher(index, { kind, trusted: true });
    let hits = 0;
    let wanted = 0;
    for (let q = 0; q < queries.rows; q++) {
      const query = rowOf(queries, q);
      const truth = new Set(exact.search(query, { k: 10 }).docs);
      wanted += truth.size;
      for (const doc of searcher.search(query).docs) if (truth.has(doc)) hits++;
    }
    const recall = hits / wanted;
    t.ok(recall >= RECALL_THRESHOLD, `${kind}: recall@10 = ${recall.toFixed(4)}`);
  }
  t.end();
});
