/**
 * What hybrid search costs a collection per query: sparse alone, dense alone and both fused (RRF
 * and convex), through Collection.searchAsync as the server calls it, on a BEIR folder indexed with
 * BM25 and a GloVe dense side. The modes take turns query by query so machine noise hits them
 * alike; medians, p99 and the fusion overhead (hybrid minus sparse minus dense) side by side.
 *
 *   node dist/scripts/bench-hybrid-search.js [BEIR_DIR] [--k 10] [--depth 100] [--rounds 3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { documentText } from '../src/encoders/dense.js';
import { wordIdf } from '../src/encoders/static-embeddings.js';
import type { SearchRequest } from '../src/engine/collection.js';
import { toIngestDocument } from '../src/engine/documents.js';
import { Engine } from '../src/engine/engine.js';
import { readQueries } from '../src/eval/beir-eval.js';
import { openBeirFolder } from '../src/jobs/beir.js';
import { ingestFile } from '../src/jobs/ingest.js';
import { openInput, readJsonLines } from '../src/common/json-lines.js';

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const dir = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : path.join('..', 'shared', 'data', 'beir', 'scifact');
const k = argument('k', 10);
const depth = argument('depth', 100);
const rounds = argument('rounds', 3);

const folder = openBeirFolder(dir);
const texts: string[] = [];
for await (const entry of readJsonLines(openInput(folder.corpus).stream)) {
  if (entry.value) texts.push(documentText(toIngestDocument(entry.value).fields, ['title', 'text']));
}
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-bench-hybrid-'));
const idfFile = path.join(dataDir, 'idf.json');
fs.writeFileSync(idfFile, JSON.stringify(Object.fromEntries(wordIdf(texts))));
const engine = Engine.open(dataDir);
try {
  const collection = engine.createCollection('bench', { dense: { encoder: { type: 'static', idf: idfFile } } });
  const indexing = await ingestFile(collection, folder.corpus);
  await collection.warmAsync();
  const queries = [...(await readQueries(folder.queries)).values()].filter((q) => q.trim().length > 0).slice(0, 300);
  console.log(`${path.basename(path.resolve(dir))}: ${indexing.indexed} documents (BM25 + GloVe 100d) indexed in ${(indexing.elapsedMs / 1000).toFixed(1)} s; ${queries.length} queries x ${rounds} rounds, k ${k}, fusion depth ${depth}\n`);

  const modes: { name: string; request: Omit<SearchRequest, 'query'> }[] = [
    { name: 'sparse', request: { retrieval: 'sparse' } },
    { name: 'dense', request: { retrieval: 'dense' } },
    { name: 'hybrid rrf', request: { retrieval: 'hybrid', fusion: { depth } } },
    { name: 'hybrid convex', request: { retrieval: 'hybrid', fusion: { method: 'convex', weights: [0.8, 0.2], depth } } },
  ];
  const samples = modes.map(() => [] as number[]);
  for (const query of queries.slice(0, 20)) for (const mode of modes) await collection.searchAsync({ query, k, ...mode.request });
  for (let round = 0; round < rounds; round++) {
    for (const query of queries) {
      for (let m = 0; m < modes.length; m++) {
        // Sparse and dense alone fetch what hybrid fetches from each side (depth hits), so the
        // difference is the fusion and the response building.
        const sideK = modes[m]!.name.startsWith('hybrid') ? k : Math.max(k, depth);
        const started = process.hrtime.bigint();
        await collection.searchAsync({ query, k: sideK, ...modes[m]!.request });
        samples[m]!.push(Number(process.hrtime.bigint() - started) / 1e3);
      }
    }
  }
  const quantile = (values: number[], q: number): number => {
    const sorted = Float64Array.from(values).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  };
  const medians = samples.map((s) => quantile(s, 0.5));
  console.log('| mode | p50 us | p99 us |');
  console.log('|---|---:|---:|');
  modes.forEach((mode, m) => console.log(`| ${mode.name} | ${medians[m]!.toFixed(0)} | ${quantile(samples[m]!, 0.99).toFixed(0)} |`));
  const sides = medians[0]! + medians[1]!;
  for (const m of [2, 3]) {
    console.log(`\n${modes[m]!.name}: p50 ${medians[m]!.toFixed(0)} us vs sparse + dense ${sides.toFixed(0)} us: fusion overhead ${(medians[m]! - sides).toFixed(0)} us (${(medians[m]! / sides).toFixed(2)}x)`);
  }
} finally {
  engine.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
