/**
 * Approximate-index benchmark on generated SPLADE-like collections.
 *
 *   node dist/scripts/bench-seismic.js [--docs 100000] [--queries 1000] [--seed 42]
 *     [--cuts 3,5,8,12] [--heap-factors 0.7,0.8,0.9,1] [--build '{"postingCap":1000}']
 *     [--ts-queries N] [--out out/bench]
 *
 * For every (queryCut, heapFactor) pair it reports recall@10 against exhaustive exact search,
 * single-threaded latency (mean/p50/p99) of the wasm scorer, the plain-TS scorer on the same
 * queries and the exhaustive engine, as ratios; plus build time and bytes per document. Writes a
 * markdown report and a PNG of recall vs p50 latency into --out.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { generateSynthetic } from './synthetic.js';
import { plotRecallLatency } from '../src/eval/png-plot.js';
import { buildSeismicIndex } from '../src/index/seismic/build.js';
import { ExhaustiveSearcher } from '../src/index/seismic/exhaustive.js';
import { indexByteSize } from '../src/index/seismic/index-data.js';
import type { SeismicBuildParams } from '../src/index/seismic/params.js';
import { TsSeismicSearcher } from '../src/index/seismic/query-ts.js';
import { WasmSeismicSearcher } from '../src/index/seismic/query-wasm.js';
import type { SearchResult } from '../src/index/seismic/search-api.js';
import { rowOf } from '../src/index/sparse-matrix.js';

interface Options {
  docs: number;
  queries: number;
  seed: number;
  cuts: number[];
  heapFactors: number[];
  build: Partial<SeismicBuildParams>;
  tsQueries: number;
  out: string;
  k: number;
}

function parseArguments(argv: string[]): Options {
  const options: Options = {
    docs: 100_000,
    queries: 1000,
    seed: 42,
    cuts: [3, 5, 8, 12],
    heapFactors: [0.7, 0.8, 0.9, 1],
    build: {},
    tsQueries: -1,
    out: 'out/bench',
    k: 10,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    i++;
    const numbers = (): number[] => value.split(',').map(Number);
    switch (flag) {
      case '--docs': options.docs = Number(value); break;
      case '--queries': options.queries = Number(value); break;
      case '--seed': options.seed = Number(value); break;
      case '--cuts': options.cuts = numbers(); break;
      case '--heap-factors': options.heapFactors = numbers(); break;
      case '--build': options.build = JSON.parse(value) as Partial<SeismicBuildParams>; break;
      case '--ts-queries': options.tsQueries = Number(value); break;
      case '--out': options.out = value; break;
      case '--k': options.k = Number(value); break;
      default: throw new Error(`unknown flag ${flag}`);
    }
  }
  if (options.tsQueries < 0) options.tsQueries = options.queries;
  return options;
}

interface Latency {
  /** Wall-clock milliseconds per query. */
  mean: number;
  p50: number;
  p99: number;
  /** Process CPU milliseconds per query: less disturbed than wall time on a shared machine. */
  cpuMean: number;
}

/** Runs every query once to warm up, then once timed. */
function timeQueries(count: number, run: (q: number) => SearchResult, results?: SearchResult[]): Latency {
  if (count === 0) return { mean: Number.NaN, p50: Number.NaN, p99: Number.NaN, cpuMean: Number.NaN };
  for (let q = 0; q < count; q++) run(q);
  const samples = new Float64Array(count);
  const cpuBefore = process.cpuUsage();
  for (let q = 0; q < count; q++) {
    const start = process.hrtime.bigint();
    const result = run(q);
    samples[q] = Number(process.hrtime.bigint() - start) / 1e6;
    if (results !== undefined) results[q] = result;
  }
  const cpu = process.cpuUsage(cpuBefore);
  samples.sort();
  let total = 0;
  for (const sample of samples) total += sample;
  const at = (q: number): number => samples[Math.min(count - 1, Math.floor(q * count))]!;
  return { mean: total / count, p50: at(0.5), p99: at(0.99), cpuMean: (cpu.user + cpu.system) / 1000 / count };
}

function recallAt(truth: SearchResult[], found: SearchResult[], count: number): number {
  let hits = 0;
  let wanted = 0;
  for (let q = 0; q < count; q++) {
    const relevant = new Set(truth[q]!.docs);
    wanted += relevant.size;
    for (const doc of found[q]!.docs) if (relevant.has(doc)) hits++;
  }
  return wanted === 0 ? 1 : hits / wanted;
}

// '-' for figures not measured (--ts-queries 0 times no TypeScript queries).
const fmt = (value: number, digits = 3): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

interface Row {
  queryCut: number;
  heapFactor: number;
  recall: number;
  wasm: Latency;
  ts: Latency;
  docsScored: number;
}

function main(): void {
  const options = parseArguments(process.argv.slice(2));
  const log = (line: string): void => console.log(line);
  log(`# Seismic benchmark: ${options.docs} documents, ${options.queries} queries (seed ${options.seed})`);
  log(`load average at start: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);

  let started = performance.now();
  const { docs, queries } = generateSynthetic({ docs: options.docs, queries: options.queries, seed: options.seed });
  log(`generated in ${fmt((performance.now() - started) / 1000, 1)} s: ${docs.indices.length} nonzeros (${fmt(docs.indices.length / docs.rows, 1)}/doc), ${fmt(queries.indices.length / queries.rows, 1)}/query`);

  started = performance.now();
  const index = buildSeismicIndex(docs, options.build);
  const buildSeconds = (performance.now() - started) / 1000;
  const indexBytes = indexByteSize(index);
  const wasm = new WasmSeismicSearcher(index, {}, { validate: false });
  const ts = new TsSeismicSearcher(index, {}, { validate: false });
  const forwardBytes = index.forwardIndptr.byteLength + index.forwardTerms.byteLength + index.forwardValues.byteLength + index.forwardScales.byteLength + index.forwardOffsets.byteLength;
  const summaryBytes = index.summaryStart.byteLength + index.summaryTerms.byteLength + index.summaryValues.byteLength + index.summaryScale.byteLength + index.summaryOffset.byteLength;
  log(`build params: ${JSON.stringify(index.params)}`);
  log(`built in ${fmt(buildSeconds, 1)} s; index ${fmt(indexBytes / 2 ** 20, 1)} MiB = ${fmt(indexBytes / docs.rows, 0)} B/doc (forward ${fmt(forwardBytes / docs.rows, 0)}, summaries ${fmt(summaryBytes / docs.rows, 0)}, postings+blocks ${fmt((indexBytes - forwardBytes - summaryBytes) / docs.rows, 0)}); wasm memory ${fmt(wasm.memoryBytes / 2 ** 20, 1)} MiB`);
  log(`postings kept ${index.postingDocs.length} (${fmt(index.postingDocs.length / docs.indices.length, 3)} of nonzeros), blocks ${index.blockDocStart.length - 1}, summary entries ${index.summaryTerms.length}`);

  const exhaustive = new ExhaustiveSearcher(docs);
  const truth: SearchResult[] = [];
  const exhaustiveLatency = timeQueries(options.queries, (q) => exhaustive.search(rowOf(queries, q), { k: options.k }), truth);
  log(`exhaustive exact: mean ${fmt(exhaustiveLatency.mean)} ms, p50 ${fmt(exhaustiveLatency.p50)} ms, p99 ${fmt(exhaustiveLatency.p99)} ms, cpu ${fmt(exhaustiveLatency.cpuMean)} ms`);

  const rows: Row[] = [];
  for (const queryCut of options.cuts) {
    for (const heapFactor of options.heapFactors) {
      const params = { k: options.k, queryCut, heapFactor };
      const found: SearchResult[] = [];
      let docsScored = 0;
      const wasmLatency = timeQueries(
        options.queries,
        (q) => {
          const result = wasm.search(rowOf(queries, q), params);
          docsScored += wasm.lastStats().docsScored;
          return result;
        },
        found,
      );
      const tsLatency = timeQueries(options.tsQueries, (q) => ts.search(rowOf(queries, q), params));
      const row: Row = { queryCut, heapFactor, recall: recallAt(truth, found, options.queries), wasm: wasmLatency, ts: tsLatency, docsScored: docsScored / (2 * options.queries) };
      rows.push(row);
      log(`queryCut ${queryCut} heapFactor ${heapFactor}: recall@${options.k} ${fmt(row.recall, 4)}, wasm p50 ${fmt(wasmLatency.p50)} ms, ts p50 ${fmt(tsLatency.p50)} ms, docs scored ${fmt(row.docsScored, 0)}`);
    }
  }

  const table: string[] = [];
  table.push(`| queryCut | heapFactor | recall@${options.k} | wasm mean ms | wasm p50 ms | wasm p99 ms | wasm cpu ms | ts mean ms | ts p50 ms | ts cpu ms | ts/wasm (cpu) | exhaustive/wasm (cpu) | docs scored |`);
  table.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    table.push(
      `| ${row.queryCut} | ${row.heapFactor} | ${fmt(row.recall, 4)} | ${fmt(row.wasm.mean)} | ${fmt(row.wasm.p50)} | ${fmt(row.wasm.p99)} | ${fmt(row.wasm.cpuMean)} | ${fmt(row.ts.mean)} | ${fmt(row.ts.p50)} | ${fmt(row.ts.cpuMean)} | ${fmt(row.ts.cpuMean / row.wasm.cpuMean, 2)} | ${fmt(exhaustiveLatency.cpuMean / row.wasm.cpuMean, 1)} | ${fmt(row.docsScored, 0)} |`,
    );
  }
  const header = [
    `## ${options.docs} documents, ${options.queries} queries, k=${options.k}`,
    '',
    `- build: ${fmt(buildSeconds, 1)} s, ${fmt(indexBytes / docs.rows, 0)} bytes/document (${fmt(indexBytes / 2 ** 20, 1)} MiB), params \`${JSON.stringify(index.params)}\``,
    `- exhaustive exact engine: mean ${fmt(exhaustiveLatency.mean)} ms, p50 ${fmt(exhaustiveLatency.p50)} ms, p99 ${fmt(exhaustiveLatency.p99)} ms, cpu ${fmt(exhaustiveLatency.cpuMean)} ms`,
    `- latencies are wall-clock per query (mean/p50/p99); "cpu" is process CPU time per query (mean), which a busy shared machine disturbs less; ratios use cpu time`,
    `- single-threaded, Node ${process.version}, load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`,
    '',
  ];
  const report = [...header, ...table, ''].join('\n');
  console.log('\n' + report);
  mkdirSync(options.out, { recursive: true });
  const name = `seismic-${options.docs}`;
  writeFileSync(join(options.out, `${name}.md`), report);
  writeFileSync(join(options.out, `${name}.png`), plotSeismic(rows, options.cuts));
  log(`wrote ${join(options.out, name)}.md and .png`);
  wasm.dispose();
}

// A chart of recall@k (x) against wasm p50 latency (y), one polyline per queryCut.
function plotSeismic(rows: Row[], cuts: number[]): Buffer {
  return plotRecallLatency(
    cuts.map((cut) => ({ label: `cut ${cut}`, points: rows.filter((r) => r.queryCut === cut).map((r) => ({ recall: r.recall, latencyMs: r.wasm.p50 })) })),
    { xLabel: 'recall@10', yLabel: 'p50 ms (wasm)' },
  );
}

main();
