#!/usr/bin/env node
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Engine } from '../engine/engine.js';
import { errorCode } from '../engine/errors.js';
import { ingestFile } from '../jobs/ingest.js';
import { runBeirEvaluation } from '../eval/beir-eval.js';
import { ProgressBar, ingestDetail } from './progress.js';
import { startServer } from '../server/serve.js';

/** Exit codes: 0 done; 1 failed; 2 bad usage; 3 finished, but some input lines were rejected. */
export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3 } as const;

const USAGE = `sparrow: a learned sparse retrieval search server

Usage:
  sparrow serve [--port N] [--host H]                 serve search over HTTP (npm start)
  sparrow index COLLECTION FILE|BEIR_DIR [options]    index a JSONL file (.jsonl/.jsonl.gz) or a BEIR folder
      --fields flat|multifield   BM25 fields for a new collection (default flat)
      --batch-size N             documents per transaction (default 1000)
      --strict                   stop at the first rejected line
  sparrow search COLLECTION "query text" [-k 10] [--explain] [--json]
  sparrow eval beir DIR --out OUT [--split test] [--fields flat|multifield] [--k 1000] [--keep-query-doc]
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
  });
  if (values.help) return help();
  const [name, input] = positionals;
  if (!name || !input || positionals.length > 2) throw new UsageError('usage: sparrow index COLLECTION FILE|BEIR_DIR');
  const fields = fieldsOption(values.fields);
  const batchSize = positiveInt(values['batch-size'], '--batch-size');
  const engine = Engine.open(dataDirOf(values));
  try {
    const existing = engine.findCollection(name);
    if (existing && fields && (existing.encoder.config as { fields?: string }).fields !== fields) {
      throw new UsageError(`collection ${name} already exists with fields=${(existing.encoder.config as { fields?: string }).fields}; --fields cannot change it`);
    }
    const collection = existing ?? engine.createCollection(name, { encoder: { type: 'bm25', ...(fields ? { fields } : {}) } });
    const bar = new ProgressBar(`indexing ${name}`);
    const summary = await ingestFile(collection, path.resolve(input), {
      ...(batchSize ? { batchSize } : {}),
      failFast: values.strict as boolean,
      onProgress: (p) => {
        const { fraction, detail } = ingestDetail(p);
        bar.update(fraction, detail);
      },
    });
    bar.done();
    if (values.json) {
      process.stdout.write(JSON.stringify({ collection: name, ...summary }, null, 2) + '\n');
    } else {
      const out = process.stdout;
      out.write(
        `${name}: ${summary.indexed} indexed, ${summary.updated} updated, ${summary.rejected} rejected` +
          ` in ${(summary.elapsedMs / 1000).toFixed(2)} s (${summary.docsPerSecond.toFixed(0)} docs/s)\n`,
      );
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
  });
  if (values.help) return help();
  const [name, text] = positionals;
  if (!name || text === undefined || positionals.length > 2) throw new UsageError('usage: sparrow search COLLECTION "query text" [-k 10]');
  const k = positiveInt(values.k, '-k') ?? 10;
  const engine = Engine.open(dataDirOf(values));
  try {
    const response = engine.collection(name).search({ query: text, k, fields: true, explain: values.explain as boolean });
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
  const { values } = parse(args, { port: { type: 'string' }, host: { type: 'string' } });
  if (values.help) return help();
  const port = values.port !== undefined ? Number(values.port) : Number(process.env['PORT'] ?? 7700);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`port must be an integer from 0 to 65535`);
  await startServer({ dataDir: dataDirOf(values), port, host: (values.host as string | undefined) ?? process.env['HOST'] ?? '127.0.0.1' });
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
