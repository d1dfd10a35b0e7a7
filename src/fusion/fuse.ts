import { NORMALIZATIONS, normalizeScores, type Normalization, type ScoreBounds } from './normalize.js';
import { CodedError } from '../common/errors.js';

/**
 * Fusion of ranked lists (a sparse run and a dense run, say) into one ranking.
 *
 * Two families:
 * - Reciprocal rank fusion (Cormack et al. 2009): score(d) = sum over lists of w_i / (k + rank_i(d)),
 *   ranks from 1; scores are ignored. A list that lacks d adds nothing.
 * - Convex combination of normalized scores: score(d) = sum over lists of w_i * norm_i(d), the
 *   weights summing to 1 for a convex combination proper. Bruch et al. (2023) find a tuned convex
 *   combination beats RRF; `src/eval/tune.ts` picks the weight on judged queries.
 *
 * Settings and their defaults:
 * - depth (1000): only the first `depth` hits of each list take part (the fusion window); the
 *   normalization statistics are computed over that window. 1000 keeps recall@1000 of the inputs.
 * - missing ('min', convex only): the normalized score a document gets from a list whose window
 *   lacks it. 'min' assumes it is no better than the worst document the list did return; 'zero'
 *   gives 0; a number gives that value.
 * - RRF k (60) and weights (1 each).
 *
 * Hits must come in rank order (best first); a repeated id in one list keeps its first position.
 * Ties in the fused score fall to the larger id, as trec_eval orders ties.
 */
export interface RankedHit {
  readonly id: string;
  readonly score: number;
}

export interface RankedList {
  readonly name: string;
  readonly hits: readonly RankedHit[];
}

export type MissingScore = 'min' | 'zero' | number;

export interface RrfSpec {
  readonly method: 'rrf';
  readonly k: number;
  readonly weights: readonly number[] | undefined;
  readonly depth: number;
}

export interface ConvexSpec {
  readonly method: 'convex';
  readonly weights: readonly number[];
  readonly normalization: Normalization;
  /** Per list, for theoretical-min-max. */
  readonly bounds: readonly (ScoreBounds | undefined)[] | undefined;
  readonly depth: number;
  readonly missing: MissingScore;
}

export type FusionSpec = RrfSpec | ConvexSpec;

export const DEFAULT_FUSION_DEPTH = 1000;
export const DEFAULT_RRF_K = 60;
export const DEFAULT_MISSING_SCORE: MissingScore = 'min';
export const DEFAULT_NORMALIZATION: Normalization = 'min-max';

export class FusionError extends CodedError {}

/** One list's part in a fused score (the `explain` of a fused hit). */
export interface FusionComponent {
  readonly list: string;
  /** 1-based rank in the list's window; null when the window lacks the document. */
  readonly rank: number | null;
  /** The list's own score; null when missing. */
  readonly score: number | null;
  /** Convex only: the normalized score used (the missing-score value when missing). */
  readonly normalized?: number;
  readonly weight: number;
  /** What this list added to the fused score. */
  readonly contribution: number;
}

export interface FusedHit {
  readonly id: string;
  readonly score: number;
  readonly components?: FusionComponent[];
}

export interface FuseOptions {
  /** Hits returned (default: every document of the union). */
  readonly k?: number;
  /** Attach each list's component score to every hit. */
  readonly explain?: boolean;
}

function isPositiveInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1;
}

function checkWeights(weights: unknown, lists: number | undefined): readonly number[] | undefined {
  if (weights === undefined) return undefined;
  if (!Array.isArray(weights) || weights.some((w) => typeof w !== 'number' || !Number.isFinite(w) || w < 0)) {
    throw new FusionError('INVALID_FUSION', 'weights must be a list of finite numbers >= 0, one per list');
  }
  if (lists !== undefined && weights.length !== lists) throw new FusionError('INVALID_FUSION', `${weights.length} weights for ${lists} lists`);
  return weights as number[];
}

/** Validates a fusion setting and fills its defaults. `lists`, when known, checks per-list settings. */
export function fusionSpec(partial: Readonly<Record<string, unknown>>, lists?: number): FusionSpec {
  const depth = partial['depth'] ?? DEFAULT_FUSION_DEPTH;
  if (!isPositiveInteger(depth)) throw new FusionError('INVALID_FUSION', `depth must be a positive integer, got ${JSON.stringify(depth)}`);
  const method = partial['method'] ?? 'rrf';
  if (method === 'rrf') {
    const k = partial['k'] ?? DEFAULT_RRF_K;
    if (!(typeof k === 'number' && Number.isFinite(k) && k >= 0)) throw new FusionError('INVALID_FUSION', `RRF k must be a finite number >= 0, got ${JSON.stringify(k)}`);
    return { method, k, weights: checkWeights(partial['weights'], lists), depth };
  }
  if (method === 'convex') {
    const weights = checkWeights(partial['weights'], lists);
    if (!weights) throw new FusionError('INVALID_FUSION', 'convex fusion needs weights, one per list (e.g. [0.3, 0.7])');
    const normalization = partial['normalization'] ?? DEFAULT_NORMALIZATION;
    if (!NORMALIZATIONS.includes(normalization as Normalization)) {
      throw new FusionError('INVALID_FUSION', `normalization must be one of ${NORMALIZATIONS.join(', ')}, got ${JSON.stringify(normalization)}`);
    }
    const bounds = partial['bounds'] as (ScoreBounds | undefined)[] | undefined;
    if (normalization === 'theoretical-min-max') {
      if (!Array.isArray(bounds) || bounds.length !== weights.length || bounds.some((b) => !b || typeof b.min !== 'number' || !Number.isFinite(b.min))) {
        throw new FusionError('INVALID_FUSION', 'theoretical-min-max needs bounds, one {min, max?} per list (min 0 for BM25 and SPLADE, -1 for cosine)');
      }
      for (const b of bounds) {
        if (b!.max !== undefined && !(typeof b!.max === 'number' && b!.max > b!.min)) throw new FusionError('INVALID_FUSION', 'a bound\'s max must be a number above its min');
      }
    }
    const missing = partial['missing'] ?? DEFAULT_MISSING_SCORE;
    if (missing !== 'min' && missing !== 'zero' && !(typeof missing === 'number' && Number.isFinite(missing))) {
      throw new FusionError('INVALID_FUSION', `missing must be "min", "zero" or a number, got ${JSON.stringify(missing)}`);
    }
    return { method, weights, normalization: normalization as Normalization, bounds, depth, missing: missing as MissingScore };
  }
  throw new FusionError('INVALID_FUSION', `fusion method must be "rrf" or "convex", got ${JSON.stringify(method)}`);
}

/** The union of the lists' windows: ids, and per list the rank (0 = missing) and score of each. */
interface Union {
  readonly ids: string[];
  /** [list * ids.length + doc]: 1-based rank, 0 when the list's window lacks the document. */
  readonly ranks: Uint32Array;
  /** Per list, its window's scores in rank order. */
  readonly windows: Float64Array[];
}

function unionOf(lists: readonly RankedList[], depth: number): Union {
  const position = new Map<string, number>();
  const ids: string[] = [];
  // The last list that placed each document, to skip an id repeated within one list.
  const lastList: number[] = [];
  const members: Int32Array[] = [];
  const windows: Float64Array[] = [];
  for (let l = 0; l < lists.length; l++) {
    const hits = lists[l]!.hits;
    const limit = Math.min(depth, hits.length);
    const docs = new Int32Array(limit);
    const scores = new Float64Array(limit);
    let n = 0;
    for (let i = 0; i < hits.length && n < limit; i++) {
      const hit = hits[i]!;
      let doc = position.get(hit.id);
      if (doc === undefined) {
        doc = ids.length;
        position.set(hit.id, doc);
        ids.push(hit.id);
        lastList.push(l);
      } else if (lastList[doc] === l) {
        continue;
      } else {
        lastList[doc] = l;
      }
      docs[n] = doc;
      scores[n++] = hit.score;
    }
    members.push(docs.subarray(0, n));
    windows.push(scores.subarray(0, n));
  }
  const n = ids.length;
  const ranks = new Uint32Array(lists.length * n);
  for (let l = 0; l < lists.length; l++) {
    const docs = members[l]!;
    for (let r = 0; r < docs.length; r++) ranks[l * n + docs[r]!] = r + 1;
  }
  return { ids, ranks, windows };
}

/** Fuses ranked lists as `spec` says; returns hits best first. */
export function fuse(lists: readonly RankedList[], spec: FusionSpec, options: FuseOptions = {}): FusedHit[] {
  if (lists.length === 0) return [];
  const weights = spec.weights ?? lists.map(() => 1);
  if (weights.length !== lists.length) throw new FusionError('INVALID_FUSION', `${weights.length} weights for ${lists.length} lists`);
  const union = unionOf(lists, spec.depth);
  const n = union.ids.length;
  const fused = new Float64Array(n);
  // Per list and document: what the list adds, and (convex) the normalized score used.
  const contributions = new Float64Array(lists.length * n);
  const normalizedUsed = spec.method === 'convex' ? new Float64Array(lists.length * n) : undefined;

  for (let l = 0; l < lists.length; l++) {
    const weight = weights[l]!;
    if (spec.method === 'rrf') {
      for (let d = 0; d < n; d++) {
        const rank = union.ranks[l * n + d]!;
        const contribution = rank === 0 ? 0 : weight / (spec.k + rank);
        contributions[l * n + d] = contribution;
        fused[d] += contribution;
      }
      continue;
    }
    const window = union.windows[l]!;
    const normalized = normalizeScores(window, spec.normalization, spec.bounds?.[l]);
    let missingValue: number;
    if (spec.missing === 'zero') missingValue = 0;
    else if (spec.missing === 'min') missingValue = normalized.length > 0 ? smallest(normalized) : 0;
    else missingValue = spec.missing;
    for (let d = 0; d < n; d++) {
      const rank = union.ranks[l * n + d]!;
      const value = rank === 0 ? missingValue : normalized[rank - 1]!;
      normalizedUsed![l * n + d] = value;
      const contribution = weight * value;
      contributions[l * n + d] = contribution;
      fused[d] += contribution;
    }
  }

  const ids = union.ids;
  const order = topOrder(fused, ids, Math.min(options.k ?? n, n));
  const k = order.length;
  const hits: FusedHit[] = new Array(k);
  for (let i = 0; i < k; i++) {
    const d = order[i]!;
    if (!options.explain) {
      hits[i] = { id: ids[d]!, score: fused[d]! };
      continue;
    }
    const components: FusionComponent[] = lists.map((list, l) => {
      const rank = union.ranks[l * n + d]!;
      return {
        list: list.name,
        rank: rank === 0 ? null : rank,
        score: rank === 0 ? null : union.windows[l]![rank - 1]!,
        ...(normalizedUsed ? { normalized: normalizedUsed[l * n + d]! } : {}),
        weight: weights[l]!,
        contribution: contributions[l * n + d]!,
      };
    });
    hits[i] = { id: ids[d]!, score: fused[d]!, components };
  }
  return hits;
}

/**
 * Indices of the k best documents, best first (score descending, then id descending). When k is
 * well below the union's size, only documents scoring at least the k-th best score are sorted:
 * a native numeric sort of the scores finds that threshold far faster than a comparator sort of
 * everything.
 */
function topOrder(fused: Float64Array, ids: readonly string[], k: number): number[] {
  const n = fused.length;
  let threshold = -Infinity;
  if (k < n) threshold = Float64Array.from(fused).sort()[n - k]!;
  const order: number[] = [];
  for (let d = 0; d < n; d++) if (fused[d]! >= threshold) order.push(d);
  order.sort((a, b) => fused[b]! - fused[a]! || (ids[a]! < ids[b]! ? 1 : ids[a]! > ids[b]! ? -1 : 0));
  if (order.length > k) order.length = k;
  return order;
}

function smallest(values: Float64Array): number {
  let min = Infinity;
  for (const v of values) if (v < min) min = v;
  return min;
}
