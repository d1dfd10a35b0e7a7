/**
 * Ranking metrics computed exactly as trec_eval 9.x computes them for
 *
 *   trec_eval -c -m ndcg_cut.10 -m recall.100,1000 -m map -m recip_rank -m P.10 -m num_rel_ret -m num_ret
 *
 * (cut-offs configurable). Semantics worth knowing, all taken from trec_eval 9.0.x:
 *
 * - Order: a query's documents are sorted by score descending, then by document id descending
 *   in strcmp order (byte order of the UTF-8 text). The order of the input array and any rank
 *   column are ignored.
 * - Score precision: trec_eval 9.x stores scores as C `float`, so two scores that differ only
 *   beyond float32 precision tie and fall back to the document id order. `scoreType: 'float32'`
 *   (the default) reproduces that; `'float64'` reproduces trec_eval 10, which keeps doubles.
 * - Relevance: binary measures count a document as relevant when its judgement is
 *   >= `relevanceLevel` (trec_eval -l, default 1). nDCG ignores that threshold: the gain is the
 *   judgement itself when positive, else 0; the ideal ranking is every positively judged
 *   document of the query (retrieved or not) in decreasing gain order; discount log2(rank + 1).
 *   Negative judgements ("in pool, unjudged" for trec_eval) are neither relevant nor gainful.
 * - Which queries count: a query is evaluated only if it appears in the qrels; run queries
 *   absent from the qrels are ignored. A query whose judgements are all 0 is still a qrels
 *   query: trec_eval keeps it (every measure 0) and counts it in the denominator, and so do we.
 * - `complete: true` (trec_eval -c, the default) averages over every qrels query; queries the
 *   run lacks score 0 on every measure, keep their num_rel, and appear in `perQuery` (as
 *   trec_eval 10 prints them with -c -q; trec_eval 9 only counts them). With
 *   `complete: false` only queries present in both run and qrels are evaluated and averaged.
 *   A query present in the run with an empty list counts as a query that retrieved nothing.
 * - Duplicate document ids within one evaluated query make trec_eval abort ("duplicate
 *   docs"); we throw EvalInputError `DUPLICATE_DOCUMENT` instead of choosing a winner.
 * - num_rel counts judgements >= `relevanceLevel`. (trec_eval -c sums grades > 0 for its
 *   summary whatever -l says; the two agree at the default level 1.)
 * - Summary (`all`): num_ret, num_rel and num_rel_ret are summed, every other measure is the
 *   arithmetic mean over the evaluated queries, accumulated in strcmp order of query ids as
 *   trec_eval does. With no evaluated query at all trec_eval refuses to answer; we return 0s.
 * - P@k always divides by k (missing ranks count as non-relevant); recall@k is 0 when the
 *   query has no relevant document; map divides by all relevant documents of the query.
 */
import { EvalInputError } from './errors.js';

/** Judgements: query id -> document id -> relevance grade. */
export type Qrels = Map<string, Map<string, number>>;

export interface ScoredDocument {
  readonly docId: string;
  readonly score: number;
}

/** A run: query id -> retrieved documents (any order; evaluation sorts them). */
export type Run = Map<string, ScoredDocument[]>;

export type MeasureValues = Record<string, number>;

export interface EvaluationResult {
  /** Evaluated queries in strcmp order of their ids, each with every measure. */
  readonly perQuery: Map<string, MeasureValues>;
  /** Summary over the evaluated queries (trec_eval's `all` lines). */
  readonly all: MeasureValues;
}

export type ScoreType = 'float32' | 'float64';

export interface EvaluationOptions {
  /** ndcg_cut cut-offs (trec_eval -m ndcg_cut.a,b,...). Default [10]. */
  readonly ndcgCutoffs?: readonly number[];
  /** recall cut-offs. Default [100, 1000]. */
  readonly recallCutoffs?: readonly number[];
  /** P cut-offs. Default [10]. */
  readonly precisionCutoffs?: readonly number[];
  /** trec_eval -c. Default true. */
  readonly complete?: boolean;
  /** trec_eval -l: minimum judgement that counts as relevant (integer >= 0). Default 1. */
  readonly relevanceLevel?: number;
  /** Precision scores are compared at; see the module comment. Default 'float32'. */
  readonly scoreType?: ScoreType;
}

export const DEFAULT_NDCG_CUTOFFS: readonly number[] = [10];
export const DEFAULT_RECALL_CUTOFFS: readonly number[] = [100, 1000];
export const DEFAULT_PRECISION_CUTOFFS: readonly number[] = [10];

/** Measures whose summary is a sum rather than a mean (trec_eval prints them as integers). */
export const COUNT_MEASURES: ReadonlySet<string> = new Set(['num_ret', 'num_rel', 'num_rel_ret']);

/** Value stored for a retrieved document that has no judgement. */
const NOT_JUDGED = -1;

interface EvaluationPlan {
  readonly ndcgCutoffs: readonly number[];
  readonly recallCutoffs: readonly number[];
  readonly precisionCutoffs: readonly number[];
  readonly complete: boolean;
  readonly relevanceLevel: number;
  readonly roundScore: (score: number) => number;
  readonly names: readonly string[];
}

/**
 * Order of two identifiers as C's strcmp orders their UTF-8 bytes (which is code point order).
 * Plain `<` on JS strings compares UTF-16 code units, which disagrees for astral characters.
 */
export function compareTrecIds(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const unitA = a.charCodeAt(i);
    const unitB = b.charCodeAt(i);
    if (unitA !== unitB) return inCodePointOrder(unitA) - inCodePointOrder(unitB);
  }
  return a.length - b.length;
}

/** Moves surrogates (astral code points) above U+E000..U+FFFF, where code point order puts them. */
function inCodePointOrder(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** Measure names in the order trec_eval prints them, for the given options. */
export function measureNames(options: EvaluationOptions = {}): string[] {
  return [...makePlan(options).names];
}

export function evaluate(
  run: ReadonlyMap<string, readonly ScoredDocument[]>,
  qrels: ReadonlyMap<string, ReadonlyMap<string, number>>,
  options: EvaluationOptions = {},
): EvaluationResult {
  const plan = makePlan(options);
  const perQuery = new Map<string, MeasureValues>();
  const queryIds = [...qrels.keys()].sort(compareTrecIds);
  for (const queryId of queryIds) {
    const judgements = qrels.get(queryId)!;
    const documents = run.get(queryId);
    if (documents !== undefined) {
      perQuery.set(queryId, evaluateQuery(queryId, documents, judgements, plan));
    } else if (plan.complete) {
      perQuery.set(queryId, evaluateQuery(queryId, [], judgements, plan));
    }
  }
  return { perQuery, all: summarise(perQuery, plan.names) };
}

function summarise(perQuery: ReadonlyMap<string, MeasureValues>, names: readonly string[]): MeasureValues {
  const all: MeasureValues = {};
  for (const name of names) all[name] = 0;
  for (const values of perQuery.values()) {
    for (const name of names) all[name]! += values[name]!;
  }
  if (perQuery.size > 0) {
    for (const name of names) {
      if (!COUNT_MEASURES.has(name)) all[name]! /= perQuery.size;
    }
  }
  return all;
}

function evaluateQuery(
  queryId: string,
  documents: readonly ScoredDocument[],
  judgements: ReadonlyMap<string, number>,
  plan: EvaluationPlan,
): MeasureValues {
  const retrievedCount = documents.length;
  const sortKeys = new Float64Array(retrievedCount);
  const seen = new Set<string>();
  for (let i = 0; i < retrievedCount; i++) {
    const { docId, score } = documents[i]!;
    if (Number.isNaN(score)) {
      throw new EvalInputError('BAD_SCORE', `query ${queryId}: document ${docId} has a NaN score`);
    }
    if (seen.has(docId)) {
      throw new EvalInputError(
        'DUPLICATE_DOCUMENT',
        `query ${queryId}: document ${docId} is retrieved more than once (trec_eval refuses such runs)`,
      );
    }
    seen.add(docId);
    sortKeys[i] = plan.roundScore(score);
  }

  const order = new Uint32Array(retrievedCount);
  for (let i = 0; i < retrievedCount; i++) order[i] = i;
  order.sort((a, b) => {
    const scoreA = sortKeys[a]!;
    const scoreB = sortKeys[b]!;
    if (scoreA > scoreB) return -1;
    if (scoreA < scoreB) return 1;
    return compareTrecIds(documents[b]!.docId, documents[a]!.docId);
  });

  const { relevanceLevel } = plan;
  // Prefix sums over ranks: relevantBefore[r] and dcgBefore[r] cover ranks 1..r.
  const relevantBefore = new Int32Array(retrievedCount + 1);
  const dcgBefore = new Float64Array(retrievedCount + 1);
  let averagePrecisionSum = 0;
  let firstRelevantRank = 0;
  for (let i = 0; i < retrievedCount; i++) {
    const relevance = judgements.get(documents[order[i]!]!.docId) ?? NOT_JUDGED;
    const isRelevant = relevance >= relevanceLevel;
    relevantBefore[i + 1] = relevantBefore[i]! + (isRelevant ? 1 : 0);
    dcgBefore[i + 1] = relevance > 0 ? dcgBefore[i]! + relevance / Math.log2(i + 2) : dcgBefore[i]!;
    if (isRelevant) {
      averagePrecisionSum += relevantBefore[i + 1]! / (i + 1);
      if (firstRelevantRank === 0) firstRelevantRank = i + 1;
    }
  }

  let relevantCount = 0;
  const positiveGains: number[] = [];
  for (const relevance of judgements.values()) {
    if (relevance >= relevanceLevel) relevantCount++;
    if (relevance > 0) positiveGains.push(relevance);
  }
  positiveGains.sort((a, b) => b - a);
  const idealBefore = new Float64Array(positiveGains.length + 1);
  for (let i = 0; i < positiveGains.length; i++) {
    idealBefore[i + 1] = idealBefore[i]! + positiveGains[i]! / Math.log2(i + 2);
  }

  const relevantRetrieved = relevantBefore[retrievedCount]!;
  const values: MeasureValues = {
    num_ret: retrievedCount,
    num_rel: relevantCount,
    num_rel_ret: relevantRetrieved,
    map: relevantRetrieved > 0 ? averagePrecisionSum / relevantCount : 0,
    recip_rank: firstRelevantRank > 0 ? 1 / firstRelevantRank : 0,
  };
  for (const cutoff of plan.precisionCutoffs) {
    values[`P_${cutoff}`] = relevantBefore[Math.min(cutoff, retrievedCount)]! / cutoff;
  }
  for (const cutoff of plan.recallCutoffs) {
    values[`recall_${cutoff}`] =
      relevantCount > 0 ? relevantBefore[Math.min(cutoff, retrievedCount)]! / relevantCount : 0;
  }
  for (const cutoff of plan.ndcgCutoffs) {
    const dcg = dcgBefore[Math.min(cutoff, retrievedCount)]!;
    const idealDcg = idealBefore[Math.min(cutoff, positiveGains.length)]!;
    values[`ndcg_cut_${cutoff}`] = idealDcg > 0 ? dcg / idealDcg : dcg;
  }
  return values;
}

function makePlan(options: EvaluationOptions): EvaluationPlan {
  const ndcgCutoffs = checkCutoffs('ndcgCutoffs', options.ndcgCutoffs ?? DEFAULT_NDCG_CUTOFFS);
  const recallCutoffs = checkCutoffs('recallCutoffs', options.recallCutoffs ?? DEFAULT_RECALL_CUTOFFS);
  const precisionCutoffs = checkCutoffs('precisionCutoffs', options.precisionCutoffs ?? DEFAULT_PRECISION_CUTOFFS);
  const relevanceLevel = options.relevanceLevel ?? 1;
  // Negative levels would make unjudged documents relevant, which trec_eval never intends.
  if (!Number.isSafeInteger(relevanceLevel) || relevanceLevel < 0) {
    throw new EvalInputError('BAD_OPTION', `relevanceLevel must be a non-negative integer, got ${relevanceLevel}`);
  }
  const scoreType = options.scoreType ?? 'float32';
  if (scoreType !== 'float32' && scoreType !== 'float64') {
    throw new EvalInputError('BAD_OPTION', `scoreType must be 'float32' or 'float64', got ${String(scoreType)}`);
  }
  // Same order as trec_eval's measure table, so printed output lines up with trec_eval's.
  const names = [
    'num_ret',
    'num_rel',
    'num_rel_ret',
    'map',
    'recip_rank',
    ...precisionCutoffs.map((k) => `P_${k}`),
    ...recallCutoffs.map((k) => `recall_${k}`),
    ...ndcgCutoffs.map((k) => `ndcg_cut_${k}`),
  ];
  return {
    ndcgCutoffs,
    recallCutoffs,
    precisionCutoffs,
    complete: options.complete ?? true,
    relevanceLevel,
    roundScore: scoreType === 'float32' ? Math.fround : (score: number) => score,
    names,
  };
}

/** trec_eval accepts positive cut-offs without duplicates and uses them in increasing order. */
function checkCutoffs(optionName: string, cutoffs: readonly number[]): number[] {
  const sorted = [...cutoffs].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    const cutoff = sorted[i]!;
    if (!Number.isSafeInteger(cutoff) || cutoff < 1) {
      throw new EvalInputError('BAD_CUTOFF', `${optionName}: cut-offs must be positive integers, got ${cutoff}`);
    }
    if (i > 0 && sorted[i - 1] === cutoff) {
      throw new EvalInputError('BAD_CUTOFF', `${optionName}: cut-off ${cutoff} is listed twice`);
    }
  }
  return sorted;
}
