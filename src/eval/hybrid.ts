import fs from 'node:fs';
import path from 'node:path';
import { SparrowError } from '../common/errors.js';
import { fusionSpec, type FusionSpec } from '../fusion/fuse.js';
import { EVAL_MEASURES, REPORT_MEASURES } from './beir-eval.js';
import { renderHtmlReport } from './html-report.js';
import { HybridRetriever, type HybridRetrieverOptions } from './hybrid-runs.js';
import { summarizeLatencies, type LatencySummary } from './latency.js';
import { evaluate, type MeasureValues, type Run } from './metrics.js';
import { writeRun } from './trec-files.js';
import { fuseRuns, tuneOnSplit, type TuneResult } from './tune.js';

/**
 * `sparrow eval beir DIR --hybrid`: the sparse run (BM25), the dense run and fused runs side by
 * side, each evaluated as trec_eval would, in OUT/report.md and OUT/metrics.json, with every run
 * in OUT/runs/NAME.trec.
 *
 * Fused runs: the fixed settings below (or the caller's), plus, when the folder has judgements for
 * the tuning split (BEIR's train split by default) and tuning is not switched off, a convex
 * combination whose weight was picked on that split (never on the evaluated one).
 */
export interface FusionSetting {
  readonly name: string;
  /** As fusionSpec() reads it: {method: 'rrf' | 'convex', ...}. */
  readonly spec: Readonly<Record<string, unknown>>;
}

export interface HybridEvalOptions extends HybridRetrieverOptions {
  readonly out: string;
  readonly split?: string;
  /** Hits per query of every run (default 1000); also the fusion window. */
  readonly k?: number;
  readonly fusions?: readonly FusionSetting[];
  /** Tuning of the convex weight: false to skip; default {split: 'train'} when that split exists. */
  readonly tune?: false | { readonly split?: string; readonly queries?: number; readonly seed?: number; readonly measure?: string };
}

/** Score bounds for theoretical min-max: BM25 scores are >= 0, cosine >= -1. */
const SPARSE_DENSE_BOUNDS = [{ min: 0 }, { min: -1 }];

export const DEFAULT_FUSIONS: readonly FusionSetting[] = [
  { name: 'rrf', spec: { method: 'rrf', k: 60 } },
  { name: 'convex-minmax-0.5', spec: { method: 'convex', weights: [0.5, 0.5], normalization: 'min-max' } },
  { name: 'convex-zscore-0.5', spec: { method: 'convex', weights: [0.5, 0.5], normalization: 'z-score' } },
  { name: 'convex-tmm-0.5', spec: { method: 'convex', weights: [0.5, 0.5], normalization: 'theoretical-min-max', bounds: SPARSE_DENSE_BOUNDS } },
  { name: 'convex-l2-0.5', spec: { method: 'convex', weights: [0.5, 0.5], normalization: 'l2' } },
];

export interface RunReport {
  readonly name: string;
  readonly kind: 'sparse' | 'dense' | 'fused';
  readonly setting: object;
  readonly metrics: Record<string, number>;
  /** Per query: retrieval (sparse, dense) or fusion alone (fused). */
  readonly latency: LatencySummary;
  readonly file: string;
}

export interface HybridEvalResult {
  readonly dataset: string;
  readonly split: string;
  readonly queries: number;
  readonly runs: readonly RunReport[];
  readonly tuning?: TuneResult & { readonly split: string };
  readonly files: { readonly metrics: string; readonly report: string; readonly html: string };
}

export async function runHybridEvaluation(options: HybridEvalOptions): Promise<HybridEvalResult> {
  const split = options.split ?? 'test';
  const k = options.k ?? 1000;
  if (!Number.isInteger(k) || k < 1 || k > 10_000) throw new SparrowError('INVALID_K', `k must be an integer from 1 to 10000, got ${k}`);
  const fusions: { name: string; spec: FusionSpec; setting: object }[] = (options.fusions ?? DEFAULT_FUSIONS).map((f) => ({
    name: f.name,
    spec: fusionSpec({ depth: k, ...f.spec }, 2),
    setting: f.spec,
  }));
  try {
    fs.mkdirSync(path.join(options.out, 'runs'), { recursive: true });
  } catch (error) {
    throw new SparrowError('OUTPUT_UNWRITABLE', `cannot create output folder ${options.out}: ${(error as Error).message}`);
  }
  const retriever = await HybridRetriever.open(options);
  try {
    let tuning: (TuneResult & { split: string }) | undefined;
    const tuneSplit = options.tune === false ? undefined : (options.tune?.split ?? 'train');
    if (tuneSplit !== undefined && tuneSplit === split) throw new SparrowError('INVALID_ARGUMENT', `the tuning split must differ from the evaluated split (${split})`);
    if (tuneSplit !== undefined && fs.existsSync(path.join(retriever.folder.dir, 'qrels', `${tuneSplit}.tsv`))) {
      const tune = options.tune || {};
      tuning = {
        split: tuneSplit,
        ...(await tuneOnSplit(retriever, tuneSplit, {
          depth: k,
          ...(tune.queries !== undefined ? { queries: tune.queries } : {}),
          ...(tune.seed !== undefined ? { seed: tune.seed } : {}),
          ...(tune.measure !== undefined ? { measure: tune.measure } : {}),
        })),
      };
      fusions.push({
        name: `convex-minmax-tuned`,
        spec: fusionSpec({ method: 'convex', weights: [tuning.best.sparseWeight, tuning.best.denseWeight], normalization: 'min-max', depth: k }, 2),
        setting: { method: 'convex', weights: [tuning.best.sparseWeight, tuning.best.denseWeight], normalization: 'min-max', tunedOn: tuneSplit },
      });
    }

    const runs = await retriever.runs(split, k);
    const reports: RunReport[] = [];
    const perQuery = new Map<string, ReadonlyMap<string, MeasureValues>>();
    const record = async (name: string, kind: RunReport['kind'], setting: object, run: Run, latencies: number[]): Promise<void> => {
      const file = path.join(options.out, 'runs', `${name}.trec`);
      await writeRun(file, run, `sparrow-${name}`);
      const evaluation = evaluate(run, runs.qrels, EVAL_MEASURES);
      reports.push({ name, kind, setting, metrics: evaluation.all, latency: summarizeLatencies(latencies), file });
      perQuery.set(name, evaluation.perQuery);
    };
    await record('sparse', 'sparse', { encoder: retriever.sparseSetting }, runs.sparse, runs.latencies.sparse);
    await record('dense', 'dense', retriever.denseConfig, runs.dense, runs.latencies.dense);
    for (const fusion of fusions) {
      const latencies: number[] = [];
      const fused: Run = new Map();
      for (const queryId of runs.sparse.keys()) {
        const one = new Map([[queryId, runs.sparse.get(queryId)!]]);
        const started = process.hrtime.bigint();
        const result = fuseRuns(one, new Map([[queryId, runs.dense.get(queryId) ?? []]]), fusion.spec, k);
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        fused.set(queryId, result.get(queryId)!);
      }
      await record(fusion.name, 'fused', fusion.setting, fused, latencies);
    }

    const metricsFile = path.join(options.out, 'metrics.json');
    const reportFile = path.join(options.out, 'report.md');
    const summary = {
      dataset: retriever.dataset,
      split,
      k,
      remove_query: options.removeQuery ?? true,
      queries: runs.sparse.size,
      indexing: {
        documents: retriever.indexing.indexed + retriever.indexing.updated,
        seconds: round(retriever.indexing.elapsedMs / 1000, 3),
        note: 'both sides: BM25 and the dense encoder, in the bulk encoder threads',
      },
      runs: Object.fromEntries(reports.map((r) => [r.name, { kind: r.kind, setting: r.setting, metrics: r.metrics, latency: r.latency, run: path.relative(options.out, r.file) }])),
      ...(tuning ? { tuning } : {}),
    };
    fs.writeFileSync(metricsFile, JSON.stringify(summary, null, 2) + '\n');
    fs.writeFileSync(reportFile, renderReport(retriever.dataset, split, k, runs.sparse.size, reports, tuning));
    const htmlFile = path.join(options.out, 'report.html');
    fs.writeFileSync(
      htmlFile,
      renderHtmlReport({
        title: `${retriever.dataset} (${split}): sparse, dense and fused runs`,
        notes: [`${runs.sparse.size} judged queries, k ${k}; each chart puts the sparse run (x) against another run (y)`],
        runs: reports.map((r) => ({ name: r.name, metrics: r.metrics, perQuery: perQuery.get(r.name)! })),
        measures: REPORT_MEASURES,
      }),
    );
    return {
      dataset: retriever.dataset,
      split,
      queries: runs.sparse.size,
      runs: reports,
      ...(tuning ? { tuning } : {}),
      files: { metrics: metricsFile, report: reportFile, html: htmlFile },
    };
  } finally {
    await retriever.close();
  }
}

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function describe(report: RunReport): string {
  const s = report.setting as Record<string, unknown>;
  if (report.kind === 'sparse') return String(s['encoder']);
  if (report.kind === 'dense') {
    const e = s['encoder'] as Record<string, unknown>;
    return e['type'] === 'static' ? `static word vectors (${String(e['embeddings'])}), IDF-weighted` : `${String(e['type'])} ${String(e['model'] ?? '')}`.trim();
  }
  if (s['method'] === 'rrf') return `RRF k=${String(s['k'] ?? 60)}`;
  const weights = s['weights'] as number[];
  return `convex ${String(s['normalization'])}, sparse ${weights[0]} / dense ${weights[1]}${s['tunedOn'] ? ` (tuned on ${String(s['tunedOn'])})` : ''}`;
}

function renderReport(dataset: string, split: string, k: number, queries: number, reports: readonly RunReport[], tuning: (TuneResult & { split: string }) | undefined): string {
  const lines: string[] = [];
  lines.push(`# ${dataset}: hybrid retrieval (${split} split)`, '');
  lines.push(`${queries} judged queries, top ${k} per run; fused runs fuse the top ${k} of each input run.`);
  lines.push('Metrics as `trec_eval -c`. Latency: per query, retrieval for the input runs, fusion alone for the fused ones.', '');
  const sparse = reports.find((r) => r.kind === 'sparse')!;
  lines.push('| run | setting | nDCG@10 | vs sparse | R@100 | R@1000 | MAP | MRR | p50 ms |', '|---|---|---|---|---|---|---|---|---|');
  for (const r of reports) {
    const m = r.metrics;
    const delta = m['ndcg_cut_10']! - sparse.metrics['ndcg_cut_10']!;
    lines.push(
      `| ${r.name} | ${describe(r)} | ${m['ndcg_cut_10']!.toFixed(4)} | ${r === sparse ? '' : (delta >= 0 ? '+' : '') + delta.toFixed(4)} | ${m['recall_100']!.toFixed(4)} | ${m['recall_1000']!.toFixed(4)} | ${m['map']!.toFixed(4)} | ${m['recip_rank']!.toFixed(4)} | ${r.latency.p50_ms.toFixed(3)} |`,
    );
  }
  lines.push('');
  const fused = reports.filter((r) => r.kind === 'fused');
  if (fused.length > 0) {
    const bestFused = fused.reduce((a, b) => (b.metrics['ndcg_cut_10']! > a.metrics['ndcg_cut_10']! ? b : a));
    const bestSingle = reports.filter((r) => r.kind !== 'fused').reduce((a, b) => (b.metrics['ndcg_cut_10']! > a.metrics['ndcg_cut_10']! ? b : a));
    const gain = bestFused.metrics['ndcg_cut_10']! - bestSingle.metrics['ndcg_cut_10']!;
    lines.push(
      `Best fused run: **${bestFused.name}**, nDCG@10 ${bestFused.metrics['ndcg_cut_10']!.toFixed(4)}, ${gain >= 0 ? '+' : ''}${gain.toFixed(4)} over the best single run (${bestSingle.name}, ${bestSingle.metrics['ndcg_cut_10']!.toFixed(4)}).`,
      '',
    );
  }
  if (tuning) {
    lines.push(`## Convex weight tuned on the ${tuning.split} split`, '');
    lines.push(
      `${tuning.queries} judged queries, ${tuning.measure} maximised over sparse weights ${tuning.grid[0]!.sparseWeight}..${tuning.grid[tuning.grid.length - 1]!.sparseWeight}, ${tuning.normalization} normalization: ` +
        `sparse ${tuning.best.sparseWeight} / dense ${tuning.best.denseWeight} (${tuning.best.value.toFixed(4)} on ${tuning.split}; sparse alone ${tuning.sparseAlone.toFixed(4)}, dense alone ${tuning.denseAlone.toFixed(4)}).`,
      '',
    );
    lines.push('| sparse weight | ' + tuning.grid.map((g) => g.sparseWeight.toFixed(2)).join(' | ') + ' |');
    lines.push('|---|' + tuning.grid.map(() => '---').join('|') + '|');
    lines.push(`| ${tuning.measure} | ` + tuning.grid.map((g) => g.value.toFixed(4)).join(' | ') + ' |', '');
  }
  return lines.join('\n') + '\n';
}
