import fs from 'node:fs';
import path from 'node:path';
import type { Collection, QueryInput } from '../engine/collection.js';
import { SparrowError } from '../common/errors.js';
import { percentile } from './latency.js';
import { plotRecallLatency } from './png-plot.js';

/**
 * Tuning the approximate path to a target recall: recall@k of every (queryCut, heapFactor) on a
 * grid is measured against the exact engine on the same queries, with p50/p99 latency; the
 * fastest setting whose recall reaches the target becomes the collection's default. Queries come
 * from a file or are sampled from the collection's own documents (their heaviest components).
 */
export interface RecallTuneOptions {
  /** In (0, 1]. */
  readonly targetRecall: number;
  readonly k?: number;
  /** Queries to tune on; absent, `sample` documents are drawn as queries. */
  readonly queries?: readonly { readonly id: string; readonly query: QueryInput }[];
  readonly sample?: number;
  readonly seed?: number;
  /** Components of a sampled document kept as its query. */
  readonly sampleTerms?: number;
  readonly queryCuts?: readonly number[];
  readonly heapFactors?: readonly number[];
  /** Store the chosen setting as the collection's default (default true). */
  readonly apply?: boolean;
  /** Called after each setting is measured: settings done, settings in all (the warm-up pass included). */
  readonly onProgress?: (done: number, total: number) => void;
  /** Checked between settings: true ends the tuning with TUNE_STOPPED, nothing applied. */
  readonly shouldStop?: () => boolean;
}

export interface TunePoint {
  readonly queryCut: number;
  readonly heapFactor: number;
  /** Neighbours scored per result from the segments' kNN graph; absent when they have none. */
  readonly knn?: number;
  readonly recall: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** No other setting has both higher recall and lower p50. */
  readonly pareto: boolean;
}

export interface RecallTuneResult {
  readonly collection: string;
  readonly k: number;
  readonly targetRecall: number;
  readonly queries: number;
  readonly source: 'file' | 'sample';
  /** Queries whose exact top-k was empty, left out of the averages. */
  readonly skippedQueries: number;
  readonly points: readonly TunePoint[];
  /** The collection's defaults before tuning, measured the same way. */
  readonly before: TunePoint;
  /** The fastest setting reaching the target; undefined when none does. */
  readonly chosen: TunePoint | undefined;
  readonly applied: boolean;
  readonly tunedAt: string;
}

export const DEFAULT_QUERY_CUTS = [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32] as const;
export const DEFAULT_HEAP_FACTORS = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1] as const;

/**
 * The checks a tuning request must pass before anything runs (the CLI and a POST _tune job call
 * it first, so a bad request is refused at once instead of failing a queued job later).
 */
export function checkTunable(collection: Collection, options: RecallTuneOptions): void {
  const { targetRecall } = options;
  if (typeof targetRecall !== 'number' || !(targetRecall > 0 && targetRecall <= 1)) {
    throw new SparrowError('INVALID_TARGET_RECALL', `the target recall must be in (0, 1], got ${String(targetRecall)}`);
  }
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new SparrowError('INVALID_K', `k must be a positive integer, got ${String(k)}`);
  for (const [name, values, valid] of [
    ['queryCuts', options.queryCuts, (v: number) => Number.isInteger(v) && v >= 1],
    ['heapFactors', options.heapFactors, (v: number) => v > 0 && v <= 1],
  ] as const) {
    if (values !== undefined && (values.length === 0 || !values.every(valid))) {
      throw new SparrowError('INVALID_TUNE_GRID', `${name} must be a non-empty list of ${name === 'queryCuts' ? 'positive integers' : 'numbers in (0, 1]'}`);
    }
  }
  if (options.sample !== undefined && (!Number.isInteger(options.sample) || options.sample < 1)) {
    throw new SparrowError('INVALID_TUNE_GRID', `sample must be a positive integer, got ${String(options.sample)}`);
  }
  if (collection.statistics().documents === 0) throw new SparrowError('EMPTY_COLLECTION', `collection ${JSON.stringify(collection.name)} has no documents to tune on`);
  if (collection.segmentStatistics().segments.length === 0) {
    throw new SparrowError('NO_SEGMENTS', `collection ${JSON.stringify(collection.name)} has no approximate-index segments yet; build them first (sparrow index ... --build-segments)`);
  }
  if (!options.queries && collection.encoder.scoring !== 'dot') {
    throw new SparrowError('TUNE_NEEDS_QUERIES', `collection ${JSON.stringify(collection.name)} scores BM25, whose documents are no queries; give a query file`);
  }
  if (options.queries && options.queries.length === 0) throw new SparrowError('TUNE_NO_QUERIES', 'there are no queries to tune on');
}

/** Settings measured by a tuning: the warm-up pass, the defaults, then the grid (twice with a kNN graph: without and with it). */
export function tuneSteps(options: Pick<RecallTuneOptions, 'queryCuts' | 'heapFactors'>, knnValues = 1): number {
  return 2 + (options.queryCuts ?? DEFAULT_QUERY_CUTS).length * (options.heapFactors ?? DEFAULT_HEAP_FACTORS).length * knnValues;
}

/** The kNN values a tuning tries: off and every stored neighbour when the segments have a graph. */
export function tuneKnnValues(collection: Collection): readonly (number | undefined)[] {
  const stored = Math.max(0, ...collection.segmentStatistics().segments.map((s) => s.knnNeighbors ?? 0));
  return stored > 0 ? [0, stored] : [undefined];
}

export async function tuneRecall(collection: Collection, options: RecallTuneOptions): Promise<RecallTuneResult> {
  checkTunable(collection, options);
  const { targetRecall } = options;
  const k = options.k ?? 10;
  const queries = options.queries ?? collection.sampleDocumentQueries(options.sample ?? 200, options.seed ?? 1, options.sampleTerms ?? 32);
  if (queries.length === 0) throw new SparrowError('TUNE_NO_QUERIES', 'there are no queries to tune on');

  // The truth: the exact engine's top k of each query.
  const truths: { query: QueryInput; relevant: Set<string> }[] = [];
  for (const { query } of queries) {
    const hits = (await collection.searchAsync({ query, k, mode: 'exact', retrieval: 'sparse' })).hits;
    if (hits.length > 0) truths.push({ query, relevant: new Set(hits.map((h) => h.id)) });
  }
  if (truths.length === 0) throw new SparrowError('TUNE_NO_RESULTS', 'no query matched any document exactly; recall cannot be measured');

  const measure = async (queryCut: number | undefined, heapFactor: number | undefined, knn?: number): Promise<Omit<TunePoint, 'pareto'> & { queryCut: number; heapFactor: number }> => {
    const approximate = { ...(queryCut !== undefined ? { queryCut } : {}), ...(heapFactor !== undefined ? { heapFactor } : {}), ...(knn !== undefined ? { knn } : {}) };
    const times: number[] = [];
    let found = 0;
    let wanted = 0;
    for (const { query, relevant } of truths) {
      const started = process.hrtime.bigint();
      const response = await collection.searchAsync({ query, k, mode: 'approximate', retrieval: 'sparse', approximate });
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      for (const hit of response.hits) if (relevant.has(hit.id)) found++;
      wanted += relevant.size;
    }
    times.sort((a, b) => a - b);
    const defaults = collection.segmentSettings.query;
    return {
      queryCut: queryCut ?? defaults.queryCut ?? 5,
      heapFactor: heapFactor ?? defaults.heapFactor ?? 0.9,
      ...(knn !== undefined ? { knn } : {}),
      recall: found / wanted,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
    };
  };
  const knnValues = tuneKnnValues(collection);
  const total = tuneSteps(options, knnValues.length);
  let done = 0;
  const step = (): void => {
    options.onProgress?.(++done, total);
    if (options.shouldStop?.()) throw new SparrowError('TUNE_STOPPED', 'the tuning was stopped before it finished; nothing was applied');
  };
  // One pass to warm the segments, the JIT and the caches before anything is timed.
  await measure(undefined, undefined);
  step();
  const before = await measure(undefined, undefined);
  step();
  const measured = [];
  for (const queryCut of options.queryCuts ?? DEFAULT_QUERY_CUTS) {
    for (const heapFactor of options.heapFactors ?? DEFAULT_HEAP_FACTORS) {
      for (const knn of knnValues) {
        measured.push(await measure(queryCut, heapFactor, knn));
        step();
      }
      // Searches of a learned-sparse collection resolve at once: give the event loop a turn.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  const points = paretoMarked(measured);
  const reaching = points.filter((p) => p.recall >= targetRecall);
  const chosen = reaching.sort((a, b) => a.p50Ms - b.p50Ms || b.recall - a.recall)[0];
  const tunedAt = new Date().toISOString();
  const apply = (options.apply ?? true) && chosen !== undefined;
  if (apply) {
    collection.setQueryDefaults(
      { queryCut: chosen.queryCut, heapFactor: chosen.heapFactor, ...(chosen.knn !== undefined ? { knn: chosen.knn } : {}) },
      { at: tunedAt, targetRecall, k, recall: round(chosen.recall, 4), p50Ms: round(chosen.p50Ms, 3), queries: truths.length, source: options.queries ? 'file' : 'sample' },
    );
  }
  return {
    collection: collection.name,
    k,
    targetRecall,
    queries: truths.length,
    source: options.queries ? 'file' : 'sample',
    skippedQueries: queries.length - truths.length,
    points,
    before: paretoMarked([before])[0]!,
    chosen,
    applied: apply,
    tunedAt,
  };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Marks the points no other point beats on both recall (higher) and p50 (lower). */
export function paretoMarked<T extends { recall: number; p50Ms: number }>(points: readonly T[]): (T & { pareto: boolean })[] {
  return points.map((point) => ({
    ...point,
    pareto: !points.some((other) => other !== point && other.recall >= point.recall && other.p50Ms <= point.p50Ms && (other.recall > point.recall || other.p50Ms < point.p50Ms)),
  }));
}

/** report.md (the Pareto table, the choice, every setting) and report.png (recall against p50). */
export function writeTuneReport(result: RecallTuneResult, out: string): { markdown: string; png: string } {
  fs.mkdirSync(out, { recursive: true });
  const withKnn = result.points.some((p) => p.knn !== undefined);
  const fmt = (p: TunePoint): string => `| ${p.queryCut} | ${p.heapFactor} |${withKnn ? ` ${p.knn ?? '-'} |` : ''} ${p.recall.toFixed(4)} | ${p.p50Ms.toFixed(3)} | ${p.p99Ms.toFixed(3)} |`;
  const header = [`| queryCut | heapFactor |${withKnn ? ' knn |' : ''} recall@${result.k} | p50 ms | p99 ms |`, `|---|---|${withKnn ? '---|' : ''}---|---|---|`];
  const described = (p: TunePoint): string => `queryCut ${p.queryCut}, heapFactor ${p.heapFactor}${p.knn !== undefined ? `, knn ${p.knn}` : ''}`;
  const front = result.points.filter((p) => p.pareto).sort((a, b) => a.p50Ms - b.p50Ms);
  const lines = [
    `# Tuning ${result.collection} to recall@${result.k} >= ${result.targetRecall}`,
    '',
    `${result.queries} queries (${result.source === 'sample' ? 'sampled from the collection\'s documents' : 'from the query file'}${result.skippedQueries > 0 ? `; ${result.skippedQueries} without exact results left out` : ''}), measured ${result.tunedAt}. Recall is against the exact engine on the same queries; latency is one search at a time on one thread.`,
    '',
    result.chosen
      ? `**Chosen:** ${described(result.chosen)}: recall ${result.chosen.recall.toFixed(4)}, p50 ${result.chosen.p50Ms.toFixed(3)} ms, p99 ${result.chosen.p99Ms.toFixed(3)} ms${result.applied ? ' (stored as the collection\'s default)' : ''}.`
      : `**No setting on the grid reaches ${result.targetRecall}**; the highest recall measured is ${Math.max(...result.points.map((p) => p.recall)).toFixed(4)}. The defaults were left as they were.`,
    '',
    `Before: queryCut ${result.before.queryCut}, heapFactor ${result.before.heapFactor}: recall ${result.before.recall.toFixed(4)}, p50 ${result.before.p50Ms.toFixed(3)} ms, p99 ${result.before.p99Ms.toFixed(3)} ms.`,
    '',
    '## Pareto front (no setting has both higher recall and lower p50)',
    '',
    ...header,
    ...front.map(fmt),
    '',
    '## Every setting',
    '',
    ...header,
    ...result.points.map(fmt),
    '',
  ];
  const markdown = path.join(out, 'report.md');
  fs.writeFileSync(markdown, lines.join('\n'));
  const heapFactors = [...new Set(result.points.map((p) => p.heapFactor))];
  const png = path.join(out, 'report.png');
  fs.writeFileSync(
    png,
    plotRecallLatency(
      heapFactors.flatMap((heapFactor) =>
        [...new Set(result.points.map((p) => p.knn))].map((knn) => ({
          label: `hf ${heapFactor}${knn !== undefined ? ` knn ${knn}` : ''}`,
          points: result.points.filter((p) => p.heapFactor === heapFactor && p.knn === knn).map((p) => ({ recall: p.recall, latencyMs: p.p50Ms })),
        })),
      ),
      {
        xLabel: `recall@${result.k}`,
        yLabel: 'p50 ms',
        targetRecall: result.targetRecall,
        marks: [
          ...(result.chosen ? [{ recall: result.chosen.recall, latencyMs: result.chosen.p50Ms, label: 'chosen' }] : []),
          { recall: result.before.recall, latencyMs: result.before.p50Ms, label: 'before' },
        ],
      },
    ),
  );
  return { markdown, png };
}

function pointView(point: Omit<TunePoint, 'pareto'> & { pareto?: boolean }) {
  return {
    query_cut: point.queryCut,
    heap_factor: point.heapFactor,
    ...(point.knn !== undefined ? { knn: point.knn } : {}),
    recall: Math.round(point.recall * 10000) / 10000,
    p50_ms: Math.round(point.p50Ms * 1000) / 1000,
    p99_ms: Math.round(point.p99Ms * 1000) / 1000,
    ...(point.pareto !== undefined ? { pareto: point.pareto } : {}),
  };
}

/** A tuning's result as GET /jobs/ID shows it. */
function tuneResultView(result: RecallTuneResult, id: string, files: { markdown: string; png: string }): Record<string, unknown> {
  return {
    target_recall: result.targetRecall,
    k: result.k,
    queries: result.queries,
    query_source: result.source,
    skipped_queries: result.skippedQueries,
    before: pointView(result.before),
    chosen: result.chosen ? pointView(result.chosen) : null,
    applied: result.applied,
    tuned_at: result.tunedAt,
    points: result.points.map(pointView),
    report: { markdown: `/jobs/${id}/report.md`, png: `/jobs/${id}/report.png`, files: [files.markdown, files.png] },
  };
}

/**
 * Recall tuning as a job of the server's job manager (POST /collections/NAME/_tune): the same
 * tuning as `sparrow tune`, its report written beside the job, its result as GET /jobs/ID shows it.
 */
export const recallTuner = {
  check(collection: Collection, options: Readonly<Record<string, unknown>>): void {
    checkTunable(collection, options as unknown as RecallTuneOptions);
  },
  steps(collection: Collection, options: Readonly<Record<string, unknown>>): number {
    return tuneSteps(options as unknown as RecallTuneOptions, tuneKnnValues(collection).length);
  },
  async run(
    collection: Collection,
    options: Readonly<Record<string, unknown>>,
    control: { readonly jobId: string; readonly reportDir: string; onProgress(done: number): void; shouldStop(): boolean },
  ): Promise<Record<string, unknown>> {
    const result = await tuneRecall(collection, { ...(options as unknown as RecallTuneOptions), onProgress: control.onProgress, shouldStop: control.shouldStop });
    const files = writeTuneReport(result, control.reportDir);
    return tuneResultView(result, control.jobId, files);
  },
};
