/**
 * SciFact BM25 vectors through sparrow's approximate index: indexes the corpus, builds Seismic
 * segments, then sweeps queryCut and heapFactor and prints, per setting, recall@10 against the exact
 * engine, nDCG@10, and single-threaded latency (mean, p50, p99), next to the exact engine's own
 * latency and the speed ratio.
 *
 *   node dist/scripts/bench-scifact-approximate.js [--data ../shared/data/beir/scifact] [--repeat 3]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../src/engine/engine.js';
import { ingestFile } from '../src/jobs/ingest.js';
import { openBeirFolder } from '../src/jobs/beir.js';
import { evaluate } from '../src/eval/metrics.js';
import { readQrels } from '../src/eval/trec-files.js';
import { summarizeLatencies } from '../src/eval/latency.js';
import { openInput, readJsonLines } from '../src/common/json-lines.js';

const { values } = parseArgs({
  options: { data: { type: 'string' }, repeat: { type: 'string' }, 'segment-docs': { type: 'string' } },
});
const dir = path.resolve(values.data ?? path.join(process.cwd(), '..', 'shared', 'data', 'beir', 'scifact'));
const repeat = Number(values.repeat ?? 3);
const folder = openBeirFolder(dir);
const qrels = await readQrels(folder.qrels('test'));
const queries = new Map<string, string>();
for await (const entry of readJsonLines(openInput(folder.queries).stream)) {
  const q = entry.value as { _id: string; text: string };
  if (qrels.has(q._id)) queries.set(q._id, q.text);
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-bench-'));
const engine = Engine.open(dataDir);
const segmentDocs = Number(values['segment-docs'] ?? 2000);
const collection = engine.createCollection('scifact', { index: { segmentMinDocs: segmentDocs } });
const ingest = await ingestFile(collection, folder.corpus);
collection.warm();
const started = performance.now();
const segments = await collection.buildSegments({ force: true });
const buildSeconds = (performance.now() - started) / 1000;
const stats = collection.segmentStatistics();
const bytes = stats.segments.reduce((s, x) => s + x.bytes, 0);

type Setting = { label: string; mode: 'exact' | 'approximate'; queryCut?: number; heapFactor?: number };
const settings: Setting[] = [{ label: 'exact engine', mode: 'exact' }];
for (const queryCut of [3, 5, 10, 20, 1000]) for (const heapFactor of [1, 0.9, 0.7, 0.5, 0]) settings.push({ label: `qc=${queryCut} hf=${heapFactor}`, mode: 'approximate', queryCut, heapFactor });

function runAll(setting: Setting): { run: Map<string, { docId: string; score: number }[]>; latencies: number[] } {
  const run = new Map<string, { docId: string; score: number }[]>();
  const latencies: number[] = [];
  for (let r = 0; r < repeat; r++) {
    for (const [id, text] of queries) {
      const t0 = process.hrtime.bigint();
      const response = collection.search({
        query: text,
        k: 10,
        mode: setting.mode,
        excludeIds: [id],
        ...(setting.mode === 'approximate' ? { approximate: { queryCut: setting.queryCut!, heapFactor: setting.heapFactor! } } : {}),
      });
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (r === 0) run.set(id, response.hits.map((h) => ({ docId: h.id, score: h.score })));
    }
  }
  return { run, latencies };
}

const exact = runAll(settings[0]!);
const exactLatency = summarizeLatencies(exact.latencies);
const exactNdcg = evaluate(exact.run, qrels, { ndcgCutoffs: [10] }).all['ndcg_cut_10']!;
console.log(`SciFact: ${ingest.indexed} documents, ${queries.size} queries x ${repeat}; ${segments.segments} segments (${(bytes / ingest.indexed).toFixed(0)} bytes/doc), built in ${buildSeconds.toFixed(2)} s\n`);
console.log('| setting | recall@10 vs exact | nDCG@10 | Δ nDCG@10 | mean ms | p50 ms | p99 ms | speed-up (p50) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const setting of settings) {
  const result = setting.mode === 'exact' ? exact : runAll(setting);
  const latency = summarizeLatencies(result.latencies);
  let hits = 0;
  let total = 0;
  for (const [id, docs] of exact.run) {
    const truth = new Set(docs.map((d) => d.docId));
    total += truth.size;
    hits += (result.run.get(id) ?? []).filter((d) => truth.has(d.docId)).length;
  }
  const ndcg = evaluate(result.run, qrels, { ndcgCutoffs: [10] }).all['ndcg_cut_10']!;
  console.log(
    `| ${setting.label} | ${(hits / Math.max(1, total)).toFixed(4)} | ${ndcg.toFixed(4)} | ${(ndcg - exactNdcg >= 0 ? '+' : '') + (ndcg - exactNdcg).toFixed(4)} | ${latency.mean_ms.toFixed(3)} | ${latency.p50_ms.toFixed(3)} | ${latency.p99_ms.toFixed(3)} | ${(exactLatency.p50_ms / latency.p50_ms).toFixed(2)}x |`,
  );
}
engine.close();
fs.rmSync(dataDir, { recursive: true, force: true });
