/**
 * Multi-core search: one collection searched with and without search threads, in one run.
 *
 *   node dist/scripts/bench-search-threads.js [--docs 200000] [--segment-docs 50000] [--queries 500]
 *     [--threads 2] [--clients 1,2,4] [--seconds 5] [--seed 42]
 *
 * Builds a learned-sparse collection of synthetic SPLADE-like vectors whose segments hold
 * --segment-docs documents each, then for search threads 0 (the calling thread searches) and
 * --threads: single-query latency (p50/p99, one client) and throughput (queries per second) at each
 * number of concurrent clients, each client an async loop of collection.searchAsync (the server's
 * path). Prints a table with the ratios.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSynthetic } from './synthetic.js';
import { Engine } from '../src/engine/engine.js';
import { rowOf, type SparseMatrix } from '../src/index/sparse-matrix.js';

interface Options {
  docs: number;
  segmentDocs: number;
  queries: number;
  threads: number;
  clients: number[];
  seconds: number;
  seed: number;
}

function parseArguments(argv: string[]): Options {
  const options: Options = { docs: 200_000, segmentDocs: 50_000, queries: 500, threads: os.availableParallelism(), clients: [1, 2, 4], seconds: 5, seed: 42 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case '--docs': options.docs = Number(value); break;
      case '--segment-docs': options.segmentDocs = Number(value); break;
      case '--queries': options.queries = Number(value); break;
      case '--threads': options.threads = Number(value); break;
      case '--clients': options.clients = value.split(',').map(Number); break;
      case '--seconds': options.seconds = Number(value); break;
      case '--seed': options.seed = Number(value); break;
      default: throw new Error(`unknown flag ${flag}`);
    }
  }
  return options;
}

function vectorOf(matrix: SparseMatrix, row: number): Record<string, number> {
  const { indices, values } = rowOf(matrix, row);
  const vector: Record<string, number> = {};
  for (let i = 0; i < indices.length; i++) vector[`t${indices[i]}`] = values[i]!;
  return vector;
}

const fmt = (value: number, digits = 3): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

async function main(): Promise<void> {
  const options = parseArguments(process.argv.slice(2));
  const log = (line: string): void => console.log(line);
  const { docs, queries } = generateSynthetic({ docs: options.docs, queries: options.queries, seed: options.seed });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-threads-'));
  try {
    let engine = Engine.open(dir);
    const settings = { segmentMinDocs: options.segmentDocs, maxSegmentDocs: options.segmentDocs, mergeFactor: 64 };
    const collection = engine.createCollection('bench', { encoder: { type: 'precomputed' }, index: settings });
    const started = performance.now();
    for (let start = 0; start < docs.rows; start += 5000) {
      const batch = [];
      for (let row = start; row < Math.min(docs.rows, start + 5000); row++) batch.push({ id: `d${row}`, fields: { vector: vectorOf(docs, row) } });
      collection.upsert(batch);
    }
    await collection.buildSegments({ force: true });
    const segments = collection.segmentStatistics().segments.length;
    log(`# search threads: ${docs.rows} documents in ${segments} segments (built in ${fmt((performance.now() - started) / 1000, 1)} s), ${options.queries} queries, ${os.availableParallelism()} cores`);
    engine.close();
    const queryVectors = Array.from({ length: queries.rows }, (_, q) => vectorOf(queries, q));

    const rows: { threads: number; p50: number; p99: number; qps: Map<number, number> }[] = [];
    for (const threads of [0, options.threads]) {
      engine = Engine.open(dir, { searchThreads: threads, searchThreadsMinDocs: 0 });
      const bench = engine.collection('bench');
      const search = (q: number) => bench.searchAsync({ query: queryVectors[q % queryVectors.length]!, k: 10, retrieval: 'sparse', fields: false });
      for (let q = 0; q < queryVectors.length; q++) await search(q); // warm: segments loaded, threads attached, JIT
      const samples: number[] = [];
      for (let q = 0; q < queryVectors.length; q++) {
        const t0 = process.hrtime.bigint();
        await search(q);
        samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      samples.sort((a, b) => a - b);
      const qps = new Map<number, number>();
      for (const clients of options.clients) {
        let done = 0;
        const deadline = performance.now() + options.seconds * 1000;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: clients }, async (_, c) => {
            let q = c * 97;
            while (performance.now() < deadline) {
              await search(q++);
              done++;
            }
          }),
        );
        qps.set(clients, done / ((performance.now() - t0) / 1000));
      }
      rows.push({ threads, p50: samples[Math.floor(samples.length / 2)]!, p99: samples[Math.min(samples.length - 1, Math.floor(samples.length * 0.99))]!, qps });
      engine.close();
    }
    const header = `| search threads | p50 ms (1 client) | p99 ms (1 client) | ${options.clients.map((c) => `QPS, ${c} client${c > 1 ? 's' : ''}`).join(' | ')} |`;
    const lines = [header, `|${'---:|'.repeat(3 + options.clients.length)}`];
    for (const row of rows) lines.push(`| ${row.threads} | ${fmt(row.p50)} | ${fmt(row.p99)} | ${options.clients.map((c) => fmt(row.qps.get(c)!, 0)).join(' | ')} |`);
    const [base, threaded] = rows;
    lines.push(
      `| ratio | ${fmt(base!.p50 / threaded!.p50, 2)}x faster | ${fmt(base!.p99 / threaded!.p99, 2)}x | ${options.clients.map((c) => `${fmt(threaded!.qps.get(c)! / base!.qps.get(c)!, 2)}x`).join(' | ')} |`,
    );
    log('');
    log(lines.join('\n'));
    log(`\nload average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}; Node ${process.version}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main();
