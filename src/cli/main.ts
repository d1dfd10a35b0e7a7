#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Engine } from '../engine/engine.js';
import { errorCode } from '../engine/errors.js';
import { ingestFile } from '../jobs/ingest.js';
import { runBeirEvaluation } from '../eval/beir-eval.js';
import { runQueryFile, writeQueryFileResult } from '../eval/query-file.js';
import { ProgressBar, ingestDetail } from './progress.js';
import { startServer } from '../server/serve.js';
import { ApiKeys } from '../server/auth.js';

/** Exit codes: 0 done; 1 failed; 2 bad usage; 3 finished, but some input lines were rejected. */
export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3 } as const;

const USAGE = `sparrow: a learned sparse retrieval search server

Usage:
  sparrow serve [--port N] [--host H]                 serve search over HTTP (npm start)
      --keys-file FILE           API keys {"keys": [{"name", "role", "key"}]} (also $SPARROW_KEYS_FILE,
                                 $SPARROW_ADMIN_KEYS, $SPARROW_WRITE_KEYS, $SPARROW_READ_KEYS)
      --allow-unauthenticated    serve a non-loopback host with no keys ($SPARROW_ALLOW_UNAUTHENTICATED=1)
      --import-dir DIR           folder server-side job sources may come from ($SPARROW_IMPORT_DIR)
      --rate-limit N             requests per second per client, 0 for none ($SPARROW_RATE_LIMIT, default 1000)
      --workers N                encoder threads for bulk writes and jobs ($SPARROW_WORKERS)
  sparrow index COLLECTION FILE|BEIR_DIR [options]    index a JSONL file (.jsonl/.jsonl.gz) or a BEIR folder
      --fields flat|multifield   BM25 fields for a new collection (default flat)
      --batch-size N             documents per transaction (default 1000)
      --strict                   stop at the first rejected line
      --workers N                encoder threads (default: one per spare core; 0 encodes on the main thread)
  sparrow index COLLECTION --vectors FILE             index precomputed vectors {"id", "vector": {"token": weight}, ...}
      --build-segments           build the approximate index from every pending document now
  sparrow search COLLECTION "query text" [-k 10] [--explain] [--json]
  sparrow search COLLECTION --vectors QUERIES -k 10 --out RUN   run a query file; writes RUN and RUN.latency.json
      --mode auto|exact|approximate, --query-cut N, --heap-factor X, --filter JSON
  sparrow eval beir DIR --out OUT [--split test] [--fields flat|multifield] [--k 1000] [--keep-query-doc]
      --mode exact|approximate [--query-cut N] [--heap-factor X] [--index-settings JSON]
  sparrow collections                                 list collections

Common options:
  --data-dir DIR   data directory (default $SPARROW_DATA_DIR or ./data)
  --json           machine-readable output
  -h, --help       this help

Exit codes: 0 done, 1 failed, 2 bad usage, 3 finished with rejected input lines.`;

class UsageError extends Error {}

const COMMON: ParseArgsConfig['options'] = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

function parse(args: string[], options: ParseArgsConfig['options']) {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function dataDirOf(values: Record<string, unknown>): string {
  return path.resolve((values['data-dir'] as string | undefined) ?? process.env['SPARROW_DATA_DIR'] ?? 'data');
}

function positiveInt(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function nonNegativeInt(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || String(value).trim() === '') throw new UsageError(`${name} must be an integer >= 0, got ${JSON.stringify(value)}`);
  return n;
}

function fieldsOption(value: unknown): 'flat' | 'multifield' | undefined {
  if (value === undefined) return undefined;
  if (value !== 'flat' && value !== 'multifield') throw new UsageError(`--fields must be flat or multifield, got ${JSON.stringify(value)}`);
  return value;
}

async function commandIndex(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    fields: { type: 'string' },
    'batch-size': { type: 'string' },
    strict: { type: 'boolean', default: false },
    workers: { type: 'string' },
    vectors: { type: 'string' },
    'build-segments': { type: 'boolean', default: false },
  });
  if (values.help) return help();
  const vectorsFile = values.vectors as string | undefined;
  const [name, positionalInput] = positionals;
  const input = vectorsFile ?? positionalInput;
  if (!name || !input || positionals.length > (vectorsFile ? 1 : 2)) {
    throw new UsageError('usage: sparrow index COLLECTION FILE|BEIR_DIR, or sparrow index COLLECTION --vectors FILE');
  }
  if (vectorsFile && values.fields) throw new UsageError('--fields applies to BM25 collections, not to --vectors');
  const fields = fieldsOption(values.fields);
  const batchSize = positiveInt(values['batch-size'], '--batch-size');
  const workers = nonNegativeInt(values.workers, '--workers');
  const engine = Engine.open(dataDirOf(values));
  try {
    const existing = engine.findCollection(name);
    const existingType = existing ? (existing.encoder.config as { type?: string }).type : undefined;
    if (existing && vectorsFile && existingType !== 'precomputed') {
      throw new UsageError(`collection ${name} has a ${existingType} encoder; --vectors needs a collection of precomputed vectors`);
    }
    if (existing && !vectorsFile && existingType === 'precomputed') {
      throw new UsageError(`collection ${name} holds precomputed vectors: index it with --vectors FILE`);
    }
    if (existing && fields && (existing.encoder.config as { fields?: string }).fields !== fields) {
      throw new UsageError(`collection ${name} already exists with fields=${(existing.encoder.config as { fields?: string }).fields}; --fields cannot change it`);
    }
    const collection =
      existing ?? engine.createCollection(name, { encoder: vectorsFile ? { type: 'precomputed' } : { type: 'bm25', ...(fields ? { fields } : {}) } });
    const bar = new ProgressBar(`indexing ${name}`);
    const summary = await ingestFile(collection, path.resolve(input), {
      ...(batchSize ? { batchSize } : {}),
      ...(workers !== undefined ? { workers } : {}),
      failFast: values.strict as boolean,
      onProgress: (p) => {
        const { fraction, detail } = ingestDetail(p);
        bar.update(fraction, detail);
      },
    });
    bar.done();
    const segmentBar = new ProgressBar(`building segments of ${name}`);
    segmentBar.update(undefined, 'clustering posting lists');
    const segments = await collection.buildSegments({ force: values['build-segments'] as boolean });
    segmentBar.done();
    if (values.json) {
      process.stdout.write(JSON.stringify({ collection: name, ...summary, segments }, null, 2) + '\n');
    } else {
      const out = process.stdout;
      out.write(
        `${name}: ${summary.indexed} indexed, ${summary.updated} updated, ${summary.rejected} rejected` +
          ` in ${(summary.elapsedMs / 1000).toFixed(2)} s (${summary.docsPerSecond.toFixed(0)} docs/s)\n`,
      );
      out.write(`${name}: ${segments.segments} approximate-index segments, ${segments.tail} documents searched exactly until a segment is built\n`);
      if (segments.error) process.stderr.write(`segment build failed: [${segments.error.code}] ${segments.error.message}\n`);
      if (summary.duplicateIds > 0) out.write(`${summary.duplicateIds} ids occurred more than once in the input; the last occurrence of each was kept\n`);
      for (const e of summary.errors) process.stderr.write(`rejected ${e.line !== undefined ? `line ${e.line}` : ''}${e.id ? ` (id ${JSON.stringify(e.id)})` : ''}: [${e.code}] ${e.message}\n`);
      if (summary.rejected > summary.errors.length) process.stderr.write(`... and ${summary.rejected - summary.errors.length} more rejected lines\n`);
      if (summary.stopped) process.stderr.write(`stopped at line ${summary.stopped.line ?? '?'} (--strict); the documents before it are committed\n`);
    }
    if (summary.stopped) return EXIT.failed;
    return summary.rejected > 0 ? EXIT.partial : EXIT.ok;
  } finally {
    engine.close();
  }
}

async function commandSearch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    k: { type: 'string', short: 'k' },
    explain: { type: 'boolean', default: false },
    vectors: { type: 'string' },
    out: { type: 'string' },
    mode: { type: 'string' },
    'query-cut': { type: 'string' },
    'heap-factor': { type: 'string' },
    filter: { type: 'string' },
  });
  if (values.help) return help();
  const k = positiveInt(values.k, '-k') ?? 10;
  const mode = values.mode as string | undefined;
  if (mode !== undefined && !['auto', 'exact', 'approximate'].includes(mode)) throw new UsageError('--mode must be auto, exact or approximate');
  const queryCut = positiveInt(values['query-cut'], '--query-cut');
  const heapFactorText = values['heap-factor'] as string | undefined;
  const heapFactor = heapFactorText === undefined ? undefined : Number(heapFactorText);
  if (heapFactor !== undefined && !(Number.isFinite(heapFactor) && heapFactor >= 0)) throw new UsageError('--heap-factor must be a number >= 0');
  let filter: Record<string, unknown> | undefined;
  if (values.filter !== undefined) {
    try {
      filter = JSON.parse(values.filter as string) as Record<string, unknown>;
    } catch {
      throw new UsageError('--filter must be JSON, e.g. \'{"year": {"gte": 2020}}\'');
    }
  }
  const approximate = queryCut !== undefined || heapFactor !== undefined ? { ...(queryCut ? { queryCut } : {}), ...(heapFactor !== undefined ? { heapFactor } : {}) } : undefined;
  const searchOptions = {
    ...(mode ? { mode: mode as 'auto' | 'exact' | 'approximate' } : {}),
    ...(approximate ? { approximate } : {}),
    ...(filter ? { filter } : {}),
  };
  if (values.vectors !== undefined) {
    const [name] = positionals;
    if (!name || positionals.length > 1) throw new UsageError('usage: sparrow search COLLECTION --vectors QUERIES -k 10 --out RUN');
    if (!values.out) throw new UsageError('--vectors needs --out RUN');
    const engine = Engine.open(dataDirOf(values));
    try {
      const collection = engine.collection(name);
      const result = await runQueryFile(collection, path.resolve(values.vectors as string), { k, ...searchOptions });
      const out = path.resolve(values.out as string);
      await writeQueryFileResult(result, out, `sparrow-${name}`);
      const statsFile = `${out}.latency.json`;
      fs.writeFileSync(statsFile, JSON.stringify({ collection: name, k, ...searchOptions, modes: result.modes, ...result.latency }, null, 2) + '\n');
      const l = result.latency;
      process.stdout.write(
        `${l.queries} queries: mean ${l.mean_us} us, p50 ${l.p50_us} us, p99 ${l.p99_us} us (${Object.entries(result.modes).map(([m, n]) => `${n} ${m}`).join(', ')})\n` +
          `wrote ${out} and ${statsFile}\n`,
      );
      return EXIT.ok;
    } finally {
      engine.close();
    }
  }
  const [name, text] = positionals;
  if (!name || text === undefined || positionals.length > 2) throw new UsageError('usage: sparrow search COLLECTION "query text" [-k 10]');
  const engine = Engine.open(dataDirOf(values));
  try {
    const response = engine.collection(name).search({ query: text, k, fields: true, explain: values.explain as boolean, ...searchOptions });
    if (values.json) {
      process.stdout.write(JSON.stringify(response, null, 2) + '\n');
      return EXIT.ok;
    }
    for (const warning of response.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
    response.hits.forEach((hit, i) => {
      const title = typeof hit.fields?.['title'] === 'string' && hit.fields['title'] ? hit.fields['title'] : String(hit.fields?.['text'] ?? '');
      process.stdout.write(`${String(i + 1).padStart(3)}. ${hit.score.toFixed(4)}  ${hit.id}  ${title.slice(0, 100)}\n`);
      if (hit.explain) {
        for (const t of hit.explain) process.stdout.write(`       ${t.score.toFixed(4)}  ${t.field}:${t.term} (query ${t.queryWeight.toFixed(3)}, doc ${t.documentValue})\n`);
      }
    });
    process.stdout.write(`${response.hits.length} hits in ${response.took_ms} ms\n`);
    return EXIT.ok;
  } finally {
    engine.close();
  }
}

async function commandEval(args: string[]): Promise<number> {
  const [kind, ...rest] = args;
  if (kind !== 'beir') throw new UsageError('usage: sparrow eval beir DIR --out OUT');
  const { values, positionals } = parse(rest, {
    out: { type: 'string' },
    split: { type: 'string', default: 'test' },
    fields: { type: 'string' },
    k: { type: 'string' },
    k1: { type: 'string' },
    b: { type: 'string' },
    'keep-query-doc': { type: 'boolean', default: false },
    mode: { type: 'string' },
    'query-cut': { type: 'string' },
    'heap-factor': { type: 'string' },
    'index-settings': { type: 'string' },
  });
  if (values.help) return help();
  const [dir] = positionals;
  if (!dir || positionals.length > 1) throw new UsageError('usage: sparrow eval beir DIR --out OUT');
  if (!values.out) throw new UsageError('--out OUT is required');
  const number = (v: unknown, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`${name} must be a number`);
    return n;
  };
  const evalMode = values.mode as string | undefined;
  if (evalMode !== undefined && evalMode !== 'exact' && evalMode !== 'approximate') throw new UsageError('--mode must be exact or approximate');
  const evalQueryCut = positiveInt(values['query-cut'], '--query-cut');
  const evalHeapFactor = number(values['heap-factor'], '--heap-factor');
  let indexSettings: Record<string, unknown> | undefined;
  if (values['index-settings'] !== undefined) {
    try {
      indexSettings = JSON.parse(values['index-settings'] as string) as Record<string, unknown>;
    } catch {
      throw new UsageError('--index-settings must be JSON, e.g. \'{"build": {"summaryEnergy": 0.5}}\'');
    }
  }
  const bar = new ProgressBar('eval');
  const k = positiveInt(values.k, '--k');
  const fields = fieldsOption(values.fields);
  const k1 = number(values.k1, '--k1');
  const b = number(values.b, '--b');
  const result = await runBeirEvaluation({
    dir: path.resolve(dir),
    out: path.resolve(values.out as string),
    split: values.split as string,
    ...(fields ? { fields } : {}),
    ...(k ? { k } : {}),
    ...(k1 !== undefined ? { k1 } : {}),
    ...(b !== undefined ? { b } : {}),
    removeQuery: !(values['keep-query-doc'] as boolean),
    ...(evalMode ? { mode: evalMode as 'exact' | 'approximate' } : {}),
    ...(evalQueryCut !== undefined || evalHeapFactor !== undefined
      ? { approximate: { ...(evalQueryCut ? { queryCut: evalQueryCut } : {}), ...(evalHeapFactor !== undefined ? { heapFactor: evalHeapFactor } : {}) } }
      : {}),
    ...(indexSettings ? { indexSettings } : {}),
    ...(values['data-dir'] ? { dataDir: dataDirOf(values) } : {}),
    onIndexProgress: (p) => {
      const { fraction, detail } = ingestDetail(p);
      bar.update(fraction, `indexing: ${detail}`);
    },
    onQueryProgress: (done, total) => bar.update(done / total, `searching: ${done}/${total} queries`),
  });
  bar.done();
  if (values.json) {
    process.stdout.write(JSON.stringify({ dataset: result.dataset, setting: result.setting, metrics: result.metrics, query_latency: result.queryLatency }, null, 2) + '\n');
    return EXIT.ok;
  }
  const m = result.metrics;
  const ref = result.reference;
  const out = process.stdout;
  out.write(`${result.dataset} ${result.setting} (${result.split}, ${result.queries} queries)\n`);
  for (const name of ['ndcg_cut_10', 'recall_100', 'recall_1000', 'map', 'recip_rank', 'P_10'] as const) {
    const published = ref?.[name as 'ndcg_cut_10'];
    out.write(`  ${name.padEnd(12)} ${m[name]!.toFixed(4)}${published !== undefined ? `   published ${published.toFixed(4)}  (${(m[name]! - published >= 0 ? '+' : '') + (m[name]! - published).toFixed(4)})` : ''}\n`);
  }
  const ix = result.indexing;
  out.write(`  indexing     ${ix.indexed + ix.updated} docs in ${(ix.elapsedMs / 1000).toFixed(2)} s, ${ix.docsPerSecond.toFixed(0)} docs/s\n`);
  out.write(`  queries      p50 ${result.queryLatency.p50_ms.toFixed(3)} ms, p99 ${result.queryLatency.p99_ms.toFixed(3)} ms\n`);
  out.write(`  wrote ${result.files.run}, ${result.files.metrics}, ${result.files.report}\n`);
  return EXIT.ok;
}

async function commandCollections(args: string[]): Promise<number> {
  const { values } = parse(args, {});
  if (values.help) return help();
  const engine = Engine.open(dataDirOf(values));
  try {
    const list = engine.listCollections().map((c) => ({ name: c.name, documents: engine.collection(c.name).statistics().documents, encoder: c.encoder, created_at: c.createdAt }));
    if (values.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
    else if (list.length === 0) process.stdout.write('no collections\n');
    else for (const c of list) process.stdout.write(`${c.name}\t${c.documents} documents\t${JSON.stringify(c.encoder)}\n`);
    return EXIT.ok;
  } finally {
    engine.close();
  }
}

async function commandServe(args: string[]): Promise<number> {
  const { values } = parse(args, {
    port: { type: 'string' },
    host: { type: 'string' },
    'keys-file': { type: 'string' },
    'allow-unauthenticated': { type: 'boolean', default: false },
    'import-dir': { type: 'string' },
    'rate-limit': { type: 'string' },
    workers: { type: 'string' },
  });
  if (values.help) return help();
  const env = process.env;
  const port = values.port !== undefined ? Number(values.port) : Number(env['PORT'] ?? 7700);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`port must be an integer from 0 to 65535`);
  const rateLimit = nonNegativeInt(values['rate-limit'] ?? env['SPARROW_RATE_LIMIT'], '--rate-limit');
  const workers = nonNegativeInt(values.workers ?? env['SPARROW_WORKERS'], '--workers');
  const importDir = (values['import-dir'] as string | undefined) ?? env['SPARROW_IMPORT_DIR'];
  const keysFile = (values['keys-file'] as string | undefined) ?? env['SPARROW_KEYS_FILE'];
  const allowUnauthenticated = (values['allow-unauthenticated'] as boolean) || ['1', 'true', 'yes'].includes((env['SPARROW_ALLOW_UNAUTHENTICATED'] ?? '').toLowerCase());
  await startServer({
    dataDir: dataDirOf(values),
    port,
    host: (values.host as string | undefined) ?? env['HOST'] ?? '127.0.0.1',
    keys: ApiKeys.fromConfiguration(env, keysFile),
    allowUnauthenticated,
    ...(rateLimit !== undefined ? { rateLimit: { perSecond: rateLimit } } : {}),
    ...(importDir ? { importDir: path.resolve(importDir) } : {}),
    ...(workers !== undefined ? { workers } : {}),
  });
  return -1;
}

function help(): number {
  process.stdout.write(USAGE + '\n');
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'index':
        return await commandIndex(args);
      case 'search':
        return await commandSearch(args);
      case 'eval':
        return await commandEval(args);
      case 'collections':
        return await commandCollections(args);
      case 'serve':
        return await commandServe(args);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        return help();
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sparrow: ${error.message}\nRun "sparrow --help" for usage.\n`);
      return EXIT.usage;
    }
    const code = errorCode(error);
    if (code) {
      process.stderr.write(`sparrow: [${code}] ${(error as Error).message}\n`);
      return EXIT.failed;
    }
    process.stderr.write(`sparrow: unexpected failure: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failed;
  }
}

const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
