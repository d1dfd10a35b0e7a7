import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderHtmlReport } from './html-report.js';
import { Engine } from '../engine/engine.js';
import { SparrowError } from '../common/errors.js';
import { openBeirFolder } from '../jobs/beir.js';
import { ingestFile, type IngestProgress, type IngestSummary } from '../jobs/ingest.js';
import { openInput, readJsonLines } from '../common/json-lines.js';
import { summarizeLatencies, type LatencySummary } from './latency.js';
import { evaluate, type EvaluationResult, type ScoredDocument } from './metrics.js';
import { referenceFigure, type ReferenceFigure } from './reference-figures.js';
import { readQrels, writeRun } from './trec-files.js';

export interface BeirEvalOptions {
  readonly dir: string;
  readonly out: string;
  readonly split?: string;
  readonly fields?: 'flat' | 'multifield';
  readonly k?: number;
  readonly k1?: number;
  readonly b?: number;
  /** Drop a document whose id equals the query id (BEIR reference runs do). Default true. */
  readonly removeQuery?: boolean;
  /** Where the evaluation index lives; a temporary folder (removed afterwards) when absent. */
  readonly dataDir?: string;
  /** "exact" (default) reproduces Lucene; "approximate" builds Seismic segments over every document first. */
  readonly mode?: 'exact' | 'approximate';
  readonly approximate?: { readonly queryCut?: number; readonly heapFactor?: number };
  /** Index settings of the evaluation collection (segment and Seismic build parameters). */
  readonly indexSettings?: Record<string, unknown>;
  readonly onIndexProgress?: (progress: IngestProgress) => void;
  readonly onQueryProgress?: (done: number, total: number) => void;
}

export interface BeirEvalResult {
  readonly dataset: string;
  readonly setting: string;
  readonly split: string;
  readonly queries: number;
  readonly metrics: Record<string, number>;
  readonly evaluation: EvaluationResult;
  readonly indexing: IngestSummary;
  readonly queryLatency: LatencySummary;
  readonly reference?: ReferenceFigure;
  readonly files: { run: string; metrics: string; report: string; html: string };
}

/** Columns of report.html's figures table. */
export const REPORT_MEASURES = ['ndcg_cut_10', 'recall_100', 'recall_1000', 'map', 'P_10', 'recip_rank'];

export const EVAL_MEASURES = {
  ndcgCutoffs: [1, 3, 5, 10, 100, 1000],
  recallCutoffs: [10, 100, 1000],
  precisionCutoffs: [1, 5, 10],
} as const;

/**
 * A BEIR evaluation run through the same ingestion and search code the server uses: index the
 * corpus, search every judged query, write OUT/run.trec, OUT/metrics.json and OUT/report.md.
 */
export async function runBeirEvaluation(options: BeirEvalOptions): Promise<BeirEvalResult> {
  const folder = openBeirFolder(options.dir);
  const split = options.split ?? 'test';
  const fields = options.fields ?? 'flat';
  const k = options.k ?? 1000;
  if (!Number.isInteger(k) || k < 1 || k > 10_000) throw new SparrowError('INVALID_K', `k must be an integer from 1 to 10000, got ${k}`);
  const removeQuery = options.removeQuery ?? true;
  const dataset = path.basename(path.resolve(options.dir));
  const qrels = await readQrels(folder.qrels(split));
  const queries = await readQueries(folder.queries);
  try {
    fs.mkdirSync(options.out, { recursive: true });
  } catch (error) {
    throw new SparrowError('OUTPUT_UNWRITABLE', `cannot create output folder ${options.out}: ${(error as Error).message}`);
  }

  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-eval-'));
  const engine = Engine.open(dataDir);
  try {
    const name = `beir-${dataset}`.replace(/[^A-Za-z0-9_.-]/g, '_');
    engine.deleteCollection(name);
    const mode = options.mode ?? 'exact';
    const collection = engine.createCollection(name, {
      index: options.indexSettings ?? {},
      encoder: { type: 'bm25', fields, ...(options.k1 !== undefined ? { k1: options.k1 } : {}), ...(options.b !== undefined ? { b: options.b } : {}) },
    });
    const indexing = await ingestFile(collection, folder.corpus, options.onIndexProgress ? { onProgress: options.onIndexProgress } : {});
    collection.warm();
    const segments = mode === 'approximate' ? await collection.buildSegments({ force: true }) : undefined;
    if (segments?.error) throw new SparrowError(segments.error.code, segments.error.message);

    const judged = [...qrels.keys()].filter((id) => queries.has(id));
    const missing = [...qrels.keys()].filter((id) => !queries.has(id));
    const run = new Map<string, ScoredDocument[]>();
    const latencies: number[] = [];
    let done = 0;
    for (const queryId of judged) {
      const text = queries.get(queryId)!;
      const started = process.hrtime.bigint();
      const response =
        text.trim().length === 0
          ? { hits: [] }
          : await collection.searchAsync({
              query: text,
              k,
              mode,
              ...(options.approximate ? { approximate: options.approximate } : {}),
              ...(removeQuery ? { excludeIds: [queryId] } : {}),
            });
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      run.set(queryId, response.hits.map((hit) => ({ docId: hit.id, score: hit.score })));
      options.onQueryProgress?.(++done, judged.length);
    }

    const evaluation = evaluate(run, qrels, EVAL_MEASURES);
    const runFile = path.join(options.out, 'run.trec');
    const metricsFile = path.join(options.out, 'metrics.json');
    const reportFile = path.join(options.out, 'report.md');
    const setting = `bm25-${fields}${mode === 'approximate' ? '-approximate' : ''}`;
    await writeRun(runFile, run, `sparrow-${setting}`);
    const queryLatency = summarizeLatencies(latencies);
    const reference = options.k1 === undefined && options.b === undefined ? referenceFigure(dataset, `bm25-${fields}`) : undefined;
    const metrics = evaluation.all;
    fs.writeFileSync(
      metricsFile,
      JSON.stringify(
        {
          dataset,
          split,
          setting,
          encoder: collection.encoder.config,
          k,
          mode,
          ...(options.approximate ? { approximate: options.approximate } : {}),
          ...(options.indexSettings ? { index_settings: options.indexSettings } : {}),
          remove_query: removeQuery,
          queries: judged.length,
          queries_without_text: missing,
          metrics,
          indexing: { documents: indexing.indexed + indexing.updated, rejected: indexing.rejected, seconds: indexing.elapsedMs / 1000, docs_per_second: round(indexing.docsPerSecond, 1) },
          query_latency: queryLatency,
          ...(reference ? { reference } : {}),
        },
        null,
        2,
      ) + '\n',
    );
    fs.writeFileSync(reportFile, renderReport({ dataset, split, setting, k, removeQuery, queries: judged.length, metrics, indexing, queryLatency, reference, missing }));
    const htmlFile = path.join(options.out, 'report.html');
    fs.writeFileSync(
      htmlFile,
      renderHtmlReport({
        title: `${dataset} (${split}): ${setting}`,
        notes: [`${judged.length} judged queries, k ${k}, mode ${mode}`, `query latency p50 ${queryLatency.p50_ms.toFixed(3)} ms, p99 ${queryLatency.p99_ms.toFixed(3)} ms`],
        runs: [{ name: `sparrow ${setting}`, metrics, perQuery: evaluation.perQuery }],
        measures: REPORT_MEASURES,
      }),
    );
    return {
      dataset,
      setting,
      split,
      queries: judged.length,
      metrics,
      evaluation,
      indexing,
      queryLatency,
      ...(reference ? { reference } : {}),
      files: { run: runFile, metrics: metricsFile, report: reportFile, html: htmlFile },
    };
  } finally {
    engine.close();
    if (temporary) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Query id -> text from a BEIR queries.jsonl (plain or .gz). */
export async function readQueries(file: string): Promise<Map<string, string>> {
  const { stream } = openInput(file);
  const queries = new Map<string, string>();
  for await (const entry of readJsonLines(stream)) {
    if (entry.error) throw new SparrowError(entry.error.code, `${file}: ${entry.error.message}`, { line: entry.line });
    const value = entry.value as { _id?: unknown; id?: unknown; text?: unknown } | null;
    const id = value?._id ?? value?.id;
    if ((typeof id !== 'string' && typeof id !== 'number') || typeof value?.text !== 'string') {
      throw new SparrowError('INVALID_QUERY_FILE', `${file}: line ${entry.line} needs "_id" and "text"`, { line: entry.line });
    }
    queries.set(String(id), value.text);
  }
  return queries;
}

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function renderReport(r: {
  dataset: string;
  split: string;
  setting: string;
  k: number;
  removeQuery: boolean;
  queries: number;
  metrics: Record<string, number>;
  indexing: IngestSummary;
  queryLatency: LatencySummary;
  reference: ReferenceFigure | undefined;
  missing: string[];
}): string {
  const lines: string[] = [];
  lines.push(`# ${r.dataset}: ${r.setting} (${r.split} split)`, '');
  lines.push(`${r.queries} judged queries, top ${r.k} per query${r.removeQuery ? ', a document whose id equals the query id removed' : ''}.`);
  lines.push('Metrics as `trec_eval -c`: averaged over every judged query, a query with no results counting 0.', '');
  lines.push('| measure | sparrow | published | difference |', '|---|---|---|---|');
  const shown = ['ndcg_cut_10', 'recall_100', 'recall_1000', 'map', 'recip_rank', 'P_10', 'ndcg_cut_100', 'recall_10'];
  for (const name of shown) {
    const value = r.metrics[name];
    if (value === undefined) continue;
    const published = r.reference?.[name as 'ndcg_cut_10'];
    const diff = published !== undefined ? (value - published >= 0 ? '+' : '') + (value - published).toFixed(4) : '';
    lines.push(`| ${name} | ${value.toFixed(4)} | ${published !== undefined ? published.toFixed(4) : ''} | ${diff} |`);
  }
  lines.push('');
  if (r.reference) lines.push(`Published: ${r.reference.source}.`, '');
  else lines.push('No published figure is known for this dataset and setting.', '');
  lines.push('## Speed', '');
  const ix = r.indexing;
  lines.push('| | value |', '|---|---|');
  lines.push(`| documents indexed | ${ix.indexed + ix.updated} (${ix.rejected} rejected) |`);
  lines.push(`| indexing time | ${(ix.elapsedMs / 1000).toFixed(2)} s |`);
  lines.push(`| indexing rate | ${ix.docsPerSecond.toFixed(0)} docs/s |`);
  lines.push(`| query latency p50 | ${r.queryLatency.p50_ms.toFixed(3)} ms |`);
  lines.push(`| query latency p99 | ${r.queryLatency.p99_ms.toFixed(3)} ms |`);
  lines.push(`| query latency mean | ${r.queryLatency.mean_ms.toFixed(3)} ms |`);
  lines.push('', 'Query latency is single-threaded, in-process, exact search, measured per query including analysis.');
  if (r.missing.length > 0) lines.push('', `Judged queries with no text in queries.jsonl (counted as 0): ${r.missing.join(', ')}`);
  return lines.join('\n') + '\n';
}
