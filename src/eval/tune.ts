import fs from 'node:fs';
import path from 'node:path';
import { SparrowError } from '../common/errors.js';
import { fuse, fusionSpec, type FusionSpec, type RankedList } from '../fusion/fuse.js';
import type { Normalization, ScoreBounds } from '../fusion/normalize.js';
import { SeededRandom } from '../common/random.js';
import { HybridRetriever, type HybridRetrieverOptions } from './hybrid-runs.js';
import { compareTrecIds, evaluate, type Qrels, type Run, type ScoredDocument } from './metrics.js';

/**
 * Picks the weight of a convex combination of two runs (sparse and dense) on judged queries: a
 * grid search over the sparse weight w (the dense weight is 1 - w), scored by one measure. Bruch
 * et al. (2023) show a handful of judged queries (BEIR's train or dev split) is enough to tune it
 * well. Ties go to the weight nearest 0.5 (the least committed choice).
 */
export interface TuneOptions {
  readonly normalization?: Normalization;
  /** theoretical-min-max: [sparse bounds, dense bounds]. */
  readonly bounds?: readonly [ScoreBounds, ScoreBounds];
  /** Sparse weights tried (default 0, 0.05, ..., 1). */
  readonly grid?: readonly number[];
  /** trec_eval measure name maximised (default ndcg_cut_10). */
  readonly measure?: string;
  /** Fusion window (default 1000). */
  readonly depth?: number;
  readonly missing?: 'min' | 'zero' | number;
}

export interface TuneResult {
  readonly measure: string;
  readonly normalization: Normalization;
  readonly queries: number;
  readonly best: { readonly sparseWeight: number; readonly denseWeight: number; readonly value: number };
  /** Each weight tried with its value, in grid order. */
  readonly grid: readonly { readonly sparseWeight: number; readonly value: number }[];
  /** The measure of each input run alone, for comparison. */
  readonly sparseAlone: number;
  readonly denseAlone: number;
}

export const DEFAULT_GRID: readonly number[] = Array.from({ length: 21 }, (_, i) => Math.round(i * 5) / 100);
export const DEFAULT_TUNE_MEASURE = 'ndcg_cut_10';

/** Fuses two runs query by query. */
export function fuseRuns(sparse: Run, dense: Run, spec: FusionSpec, k: number): Run {
  const fused: Run = new Map();
  const ids = new Set([...sparse.keys(), ...dense.keys()]);
  for (const queryId of ids) {
    const lists: RankedList[] = [
      { name: 'sparse', hits: (sparse.get(queryId) ?? []).map((d) => ({ id: d.docId, score: d.score })) },
      { name: 'dense', hits: (dense.get(queryId) ?? []).map((d) => ({ id: d.docId, score: d.score })) },
    ];
    fused.set(
      queryId,
      fuse(lists, spec, { k }).map((h): ScoredDocument => ({ docId: h.id, score: h.score })),
    );
  }
  return fused;
}

/** The measures evaluate() must compute for a trec_eval measure name. */
function measureOptions(measure: string) {
  const match = /^(ndcg_cut|recall|P)_(\d+)$/.exec(measure);
  if (match) {
    const cutoff = [Number(match[2])];
    if (match[1] === 'ndcg_cut') return { ndcgCutoffs: cutoff };
    if (match[1] === 'recall') return { recallCutoffs: cutoff };
    return { precisionCutoffs: cutoff };
  }
  if (measure === 'map' || measure === 'recip_rank') return {};
  throw new SparrowError('INVALID_ARGUMENT', `cannot tune on ${JSON.stringify(measure)}: use ndcg_cut_N, recall_N, P_N, map or recip_rank`);
}

export function measureOf(run: Run, qrels: Qrels, measure: string): number {
  const value = evaluate(run, qrels, measureOptions(measure)).all[measure];
  if (value === undefined) throw new SparrowError('INVALID_ARGUMENT', `unknown measure ${measure}`);
  return value;
}

export function tuneConvexWeight(sparse: Run, dense: Run, qrels: Qrels, options: TuneOptions = {}): TuneResult {
  const measure = options.measure ?? DEFAULT_TUNE_MEASURE;
  const normalization = options.normalization ?? 'min-max';
  const grid = options.grid ?? DEFAULT_GRID;
  if (grid.length === 0 || grid.some((w) => !(w >= 0 && w <= 1))) throw new SparrowError('INVALID_ARGUMENT', 'grid weights must lie in [0, 1]');
  const depth = options.depth ?? 1000;
  // A measure cut at N reads only the first N of each ranking: fusing no further saves most of the work.
  const cutoff = /_(\d+)$/.exec(measure);
  const kept = cutoff ? Math.min(depth, Number(cutoff[1])) : depth;
  const tried: { sparseWeight: number; value: number }[] = [];
  let best: { sparseWeight: number; value: number } | undefined;
  for (const w of grid) {
    const spec = fusionSpec({
      method: 'convex',
      weights: [w, 1 - w],
      normalization,
      depth,
      ...(options.bounds ? { bounds: options.bounds } : {}),
      ...(options.missing !== undefined ? { missing: options.missing } : {}),
    });
    const value = measureOf(fuseRuns(sparse, dense, spec, kept), qrels, measure);
    tried.push({ sparseWeight: w, value });
    if (!best || value > best.value || (value === best.value && Math.abs(w - 0.5) < Math.abs(best.sparseWeight - 0.5))) best = { sparseWeight: w, value };
  }
  return {
    measure,
    normalization,
    queries: qrels.size,
    best: { sparseWeight: best!.sparseWeight, denseWeight: Math.round((1 - best!.sparseWeight) * 1e9) / 1e9, value: best!.value },
    grid: tried,
    sparseAlone: measureOf(sparse, qrels, measure),
    denseAlone: measureOf(dense, qrels, measure),
  };
}

/** `count` query ids drawn from `ids` by a seeded shuffle (all of them when count is absent or larger). */
export function sampleQueries(ids: readonly string[], count: number | undefined, seed = 1): string[] {
  const sorted = [...ids].sort(compareTrecIds);
  if (count === undefined || count >= sorted.length) return sorted;
  const random = new SeededRandom(seed);
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    [sorted[i], sorted[j]] = [sorted[j]!, sorted[i]!];
  }
  return sorted.slice(0, count).sort(compareTrecIds);
}

export interface ConvexTuningOptions extends HybridRetrieverOptions, TuneOptions {
  /** Split whose judgements tune the weight (default "train"). */
  readonly split?: string;
  /** Tune on this many judged queries drawn at random (seeded); default all of the split. */
  readonly queries?: number;
  readonly seed?: number;
  /** Writes OUT/tune.json when given. */
  readonly out?: string;
}

export interface ConvexTuningResult extends TuneResult {
  readonly dataset: string;
  readonly split: string;
  readonly dense: object;
  readonly file?: string;
}

/** `sparrow eval tune`: builds both retrievers over a BEIR folder and tunes on a judged split. */
export async function runConvexTuning(options: ConvexTuningOptions): Promise<ConvexTuningResult> {
  const split = options.split ?? 'train';
  const retriever = await HybridRetriever.open(options);
  try {
    const result = await tuneOnSplit(retriever, split, options);
    let file: string | undefined;
    if (options.out) {
      fs.mkdirSync(options.out, { recursive: true });
      file = path.join(options.out, 'tune.json');
      fs.writeFileSync(file, JSON.stringify({ dataset: retriever.dataset, split, dense: retriever.denseConfig, ...result }, null, 2) + '\n');
    }
    return { dataset: retriever.dataset, split, dense: retriever.denseConfig, ...result, ...(file ? { file } : {}) };
  } finally {
    await retriever.close();
  }
}

export async function tuneOnSplit(retriever: HybridRetriever, split: string, options: TuneOptions & { queries?: number; seed?: number }): Promise<TuneResult> {
  const judged = await retriever.judged(split);
  if (judged.queryIds.length === 0) throw new SparrowError('NO_JUDGED_QUERIES', `split ${split} has no judged query with text`);
  const chosen = sampleQueries(judged.queryIds, options.queries, options.seed);
  const runs = await retriever.runs(split, options.depth ?? 1000, { queryIds: chosen });
  const qrels: Qrels = new Map(chosen.map((id) => [id, judged.qrels.get(id)!]));
  return tuneConvexWeight(runs.sparse, runs.dense, qrels, options);
}
