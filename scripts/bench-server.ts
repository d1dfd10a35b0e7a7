/**
 * Search-server benchmark on BEIR SciFact, everything over loopback on this machine.
 *
 *   node dist/scripts/bench-server.js [--data ../shared/data/beir/scifact] [--runs 3]
 *     [--duration 10] [--connections 8] [--k 10] [--workers N]
 *
 * Reports medians over --runs of:
 * - search: throughput and p50/p99 latency through HTTP (autocannon against `sparrow serve` in a
 *   child process), next to the same queries through the in-process engine, and their ratios;
 * - bulk ingestion in documents per second: the CLI (`sparrow index`, workers on and off), REST
 *   _bulk (NDJSON requests of 1000 lines) and a REST job over an uploaded body.
 * autocannon is loaded at run time (npm install --no-save autocannon, or a devDependency).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { Engine } from '../src/engine/engine.js';
import { summarizeLatencies } from '../src/eval/latency.js';

interface Options {
  data: string;
  runs: number;
  duration: number;
  connections: number;
  k: number;
  workers: number | undefined;
}

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const cli = path.join(root, 'dist', 'src', 'cli', 'main.js');

function parseOptions(argv: string[]): Options {
  const options: Options = { data: path.resolve(root, '..', 'shared', 'data', 'beir', 'scifact'), runs: 3, duration: 10, connections: 8, k: 10, workers: undefined };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case '--data':
        options.data = path.resolve(value);
        break;
      case '--runs':
      case '--duration':
      case '--connections':
      case '--k':
      case '--workers':
        options[flag.slice(2) as 'runs'] = Number(value);
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  return options;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fixed = (x: number, digits = 1): string => x.toFixed(digits);

function readQueries(dir: string): string[] {
  return fs
    .readFileSync(path.join(dir, 'queries.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { text: string }).text);
}

interface Server {
  readonly child: ChildProcess;
  readonly address: string;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** `sparrow serve` in a child process, logging warnings only (request logs would cost throughput). */
async function startServer(dataDir: string, workers: number | undefined): Promise<Server> {
  const port = await freePort();
  const args = [cli, 'serve', '--port', String(port), '--data-dir', dataDir, '--rate-limit', '0', ...(workers !== undefined ? ['--workers', String(workers)] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } });
  const address = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${address}/ready`)).ok) return { child, address };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the server did not become ready');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopServer(server: Server): Promise<void> {
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
}

async function post(server: Server, url: string, body: unknown, contentType = 'application/json'): Promise<any> {
  const res = await fetch(`${server.address}${url}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

function cliIngest(corpus: string, workers: number): number {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-bench-cli-'));
  try {
    const started = process.hrtime.bigint();
    const run = spawnSync(process.execPath, [cli, 'index', 'scifact', corpus, '--json', '--workers', String(workers), '--data-dir', dataDir], { encoding: 'utf8' });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (run.status !== 0) throw new Error(run.stderr);
    const summary = JSON.parse(run.stdout) as { indexed: number };
    // Whole command, process start included: what a user waits for.
    return summary.indexed / seconds;
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function restBulk(corpus: string, workers: number | undefined): Promise<number> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-bench-bulk-'));
  const server = await startServer(dataDir, workers);
  try {
    await post(server, '/collections', { name: 'scifact' });
    const lines = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l.trim());
    const started = process.hrtime.bigint();
    let indexed = 0;
    for (let i = 0; i < lines.length; i += 1000) {
      const result = await post(server, '/collections/scifact/documents/_bulk', lines.slice(i, i + 1000).join('\n'), 'application/x-ndjson');
      indexed += result.indexed;
    }
    return indexed / (Number(process.hrtime.bigint() - started) / 1e9);
  } finally {
    await stopServer(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function restJob(corpus: string, workers: number | undefined): Promise<number> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-bench-job-'));
  const server = await startServer(dataDir, workers);
  try {
    await post(server, '/collections', { name: 'scifact' });
    const started = process.hrtime.bigint();
    const job = await post(server, '/jobs?collection=scifact', fs.readFileSync(corpus), 'application/x-ndjson');
    for (;;) {
      const state = (await (await fetch(`${server.address}/jobs/${job.id}`)).json()) as { status: string; progress: { indexed: number } };
      if (state.status === 'completed') return state.progress.indexed / (Number(process.hrtime.bigint() - started) / 1e9);
      if (state.status !== 'queued' && state.status !== 'running') throw new Error(`job ${state.status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await stopServer(server);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function inProcessSearch(dataDir: string, queries: string[], k: number, seconds: number): { qps: number; p50: number; p99: number } {
  const engine = Engine.open(dataDir);
  try {
    const collection = engine.collection('scifact');
    collection.warm();
    for (const q of queries.slice(0, 200)) collection.search({ query: q, k, fields: true });
    const samples: number[] = [];
    const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
    const started = process.hrtime.bigint();
    let i = 0;
    while (process.hrtime.bigint() < deadline) {
      const t0 = process.hrtime.bigint();
      collection.search({ query: queries[i++ % queries.length]!, k, fields: true });
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
    const summary = summarizeLatencies(samples);
    return { qps: samples.length / elapsed, p50: summary.p50_ms, p99: summary.p99_ms };
  } finally {
    engine.close();
  }
}

async function httpSearch(
  autocannon: (options: Record<string, unknown>) => Promise<{ requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number }>,
  server: Server,
  queries: string[],
  options: Options,
): Promise<{ qps: number; p50: number; p99: number }> {
  const requests = queries.map((query) => ({
    method: 'POST',
    path: '/collections/scifact/search',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, k: options.k }),
  }));
  const result = await autocannon({ url: server.address, connections: options.connections, duration: options.duration, requests });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { qps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const corpus = path.join(options.data, 'corpus.jsonl');
  if (!fs.existsSync(corpus)) throw new Error(`no corpus at ${corpus}`);
  let autocannon;
  try {
    const name = 'autocannon';
    autocannon = ((await import(name)) as { default: Parameters<typeof httpSearch>[0] }).default;
  } catch {
    throw new Error('autocannon is not installed: npm install --no-save autocannon');
  }
  const queries = readQueries(options.data);
  const cpus = os.cpus();
  process.stdout.write(`sparrow server benchmark: ${path.basename(options.data)}, ${queries.length} queries, k=${options.k}, ${options.runs} runs\n`);
  process.stdout.write(`machine: ${cpus.length} x ${cpus[0]?.model ?? '?'}, node ${process.version}, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n\n`);

  // Ingestion.
  const figures: Record<string, number[]> = { 'CLI index (workers default)': [], 'CLI index (--workers 0)': [], 'REST _bulk (1000-line requests)': [], 'REST job (uploaded body)': [] };
  for (let run = 0; run < options.runs; run++) {
    figures['CLI index (workers default)']!.push(cliIngest(corpus, options.workers ?? Math.max(1, Math.min(4, os.availableParallelism() - 1))));
    figures['CLI index (--workers 0)']!.push(cliIngest(corpus, 0));
    figures['REST _bulk (1000-line requests)']!.push(await restBulk(corpus, options.workers));
    figures['REST job (uploaded body)']!.push(await restJob(corpus, options.workers));
  }
  process.stdout.write('bulk ingestion, documents per second (median of runs)\n');
  const cliDocs = median(figures['CLI index (workers default)']!);
  for (const [name, values] of Object.entries(figures)) {
    const m = median(values);
    process.stdout.write(`  ${name.padEnd(34)} ${fixed(m, 0).padStart(7)} docs/s   x${fixed(m / cliDocs, 2)} of CLI   runs: ${values.map((v) => fixed(v, 0)).join(', ')}\n`);
  }

  // Search: one data directory serves both the in-process engine and the HTTP server.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-bench-search-'));
  try {
    const indexed = spawnSync(process.execPath, [cli, 'index', 'scifact', corpus, '--data-dir', dataDir], { encoding: 'utf8' });
    if (indexed.status !== 0) throw new Error(indexed.stderr);
    const local: { qps: number; p50: number; p99: number }[] = [];
    const remote: { qps: number; p50: number; p99: number }[] = [];
    const serial: { qps: number; p50: number; p99: number }[] = [];
    for (let run = 0; run < options.runs; run++) {
      local.push(inProcessSearch(dataDir, queries, options.k, options.duration));
      const server = await startServer(dataDir, options.workers);
      try {
        await httpSearch(autocannon, server, queries, { ...options, duration: 2 }); // warm-up
        remote.push(await httpSearch(autocannon, server, queries, options));
        serial.push(await httpSearch(autocannon, server, queries, { ...options, connections: 1 }));
      } finally {
        await stopServer(server);
      }
    }
    const m = (rows: { qps: number; p50: number; p99: number }[], key: 'qps' | 'p50' | 'p99') => median(rows.map((r) => r[key]));
    process.stdout.write(`\nsearch, k=${options.k}, fields returned (median of runs)\n`);
    process.stdout.write(`  ${''.padEnd(40)} ${'queries/s'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}\n`);
    process.stdout.write(`  ${'in-process engine (1 thread, serial)'.padEnd(40)} ${fixed(m(local, 'qps')).padStart(10)} ${fixed(m(local, 'p50'), 3).padStart(8)} ${fixed(m(local, 'p99'), 3).padStart(8)}\n`);
    const row = (name: string, rows: { qps: number; p50: number; p99: number }[]) =>
      process.stdout.write(`  ${name.padEnd(40)} ${fixed(m(rows, 'qps')).padStart(10)} ${fixed(m(rows, 'p50'), 3).padStart(8)} ${fixed(m(rows, 'p99'), 3).padStart(8)}\n`);
    row('HTTP loopback, 1 connection', serial);
    row(`HTTP loopback, ${options.connections} connections`, remote);
    process.stdout.write(
      `  ratio HTTP / in-process: throughput x${fixed(m(remote, 'qps') / m(local, 'qps'), 2)} (${options.connections} connections), ` +
        `x${fixed(m(serial, 'qps') / m(local, 'qps'), 2)} (1 connection); p50 x${fixed(m(serial, 'p50') / m(local, 'p50'), 2)}, p99 x${fixed(m(serial, 'p99') / m(local, 'p99'), 2)} (1 connection)\n`,
    );
    process.stdout.write(`  (autocannon latencies are whole milliseconds; with ${options.connections} connections they include queueing; autocannon shares the cores with the server)\n`);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench-server: ${(error as Error).message}\n`);
  process.exitCode = 1;
});
