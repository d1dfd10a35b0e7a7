import { SeismicError } from './errors.js';

/**
 * How each term's posting list is cut before blocking.
 * - 'fixed': every list keeps at most postingCap entries (its largest weights).
 * - 'global': one weight threshold for the whole collection keeps the postingCap × (number of
 *   non-empty lists) largest entries overall, then no list may exceed
 *   globalListCapFactor × postingCap entries. Popular terms keep more, rare ones keep all.
 */
export type PostingPruning = 'fixed' | 'global';

/**
 * Storage of document weights in the forward index, which is what exact rescoring reads.
 * - 'f32': bit-exact with the input, the only format whose scores equal brute force.
 * - 'f16': half the bytes, 11 significant bits (relative error <= 2^-11); near ties may swap.
 * - 'u8': a quarter of the bytes, per-document scale and offset.
 */
export type ForwardValueFormat = 'f32' | 'f16' | 'u8';

export interface SeismicBuildParams {
  readonly pruning: PostingPruning;
  /** 'fixed': entries kept per list; 'global': average kept per non-empty list. Infinity keeps all. */
  readonly postingCap: number;
  /** 'global' only: no list keeps more than this multiple of postingCap. */
  readonly globalListCapFactor: number;
  /** Blocks per list = ceil(blockFraction × pruned list length), at least 1, at most 4096. */
  readonly blockFraction: number;
  /** Clusters with fewer documents are dissolved into their next best cluster. */
  readonly minBlockSize: number;
  /** Largest components of each document used while assigning it to a centroid. */
  readonly clusterDocCut: number;
  /**
   * Fraction (0,1] of each block summary's L1 mass kept; 1 keeps the whole coordinate-wise max
   * (an upper bound of every document in the block when summaryDocCut is also Infinity).
   */
  readonly summaryEnergy: number;
  /**
   * Largest components of each document that a block summary is computed from. A summary keeps
   * only the heaviest coordinates of its block's maximum, and those come from the documents' own
   * heaviest components: reading the whole of every document is most of a build's time.
   * Infinity reads every component (the summary is then the exact coordinate-wise maximum).
   */
  readonly summaryDocCut: number;
  readonly forwardValues: ForwardValueFormat;
  /** Seed of the centroid sampling; the same seed and input give a byte-identical index. */
  readonly seed: number;
  /**
   * Neighbours kept per document in the segment's kNN graph (0: no graph). At query time each
   * result's neighbours are scored too (query parameter knn), which buys recall at low settings.
   * Built by searching the finished index with each document as the query.
   */
  readonly knnNeighbors: number;
}

/** Most neighbours a kNN graph keeps per document. */
export const MAX_KNN_NEIGHBORS = 256;

export interface SeismicQueryParams {
  /** Number of results. */
  readonly k: number;
  /** kNN refinement: neighbours of each result scored from the segment's graph (default all stored; 0 off). */
  readonly knn?: number;
  /** Posting lists visited: those of the query's queryCut largest components. Infinity = all. */
  readonly queryCut: number;
  /**
   * Block skipping: a block is skipped when the heap already holds k results and
   *   summaryScore < heapFactor × (k-th best score so far).
   * heapFactor = 1 skips every block whose summary says it cannot beat the k-th result; smaller
   * values skip less (higher recall, slower); 0 never skips. Values above 1 skip even more.
   * (This follows the Seismic code; the paper divides by the factor instead.)
   */
  readonly heapFactor: number;
}

/**
 * Defaults chosen on the synthetic SPLADE-like benchmark (scripts/bench-seismic.ts) for segments
 * of up to a few million documents. At 1M documents they give about 1.3 KB per document (f16
 * forward index 0.64 KB, summaries 0.57 KB, postings and blocks 0.1 KB), and with the default
 * query parameters recall@10 ≈ 0.99 at ~0.8 ms per query on one core. forwardValues 'f16'
 * measured no recall loss against exact f32 scoring while reading a third fewer bytes per
 * rescored document; use 'f32' where scores must match brute force bit for bit.
 * postingCap is an absolute count: on much smaller collections it prunes little (the index is
 * then nearly exact and slower to build), on much larger ones raise it.
 */
/** Measured by scripts/bench-seismic.ts: see summaryDocCut. */
const SUMMARY_DOC_CUT_DEFAULT = 48;

export const DEFAULT_BUILD_PARAMS: SeismicBuildParams = Object.freeze({
  pruning: 'global',
  postingCap: 1000,
  globalListCapFactor: 1.5,
  blockFraction: 0.1,
  minBlockSize: 2,
  clusterDocCut: 15,
  summaryEnergy: 0.4,
  summaryDocCut: SUMMARY_DOC_CUT_DEFAULT,
  forwardValues: 'f16',
  seed: 0x5eed,
  knnNeighbors: 0,
});

/** queryCut 3 with heapFactor 0.9 is the fast setting (recall ≈ 0.96 at 1M documents, ~0.6 ms). */
export const DEFAULT_QUERY_PARAMS: SeismicQueryParams = Object.freeze({
  k: 10,
  queryCut: 5,
  heapFactor: 0.9,
});

/** Posting caps are stored as finite integers so the params survive JSON; this is "no cap". */
export const UNCAPPED = 0xffffffff;

/** Settings that turn every approximation off (results equal exact brute force). */
export const EXACT_BUILD_PARAMS: Partial<SeismicBuildParams> = Object.freeze({
  pruning: 'fixed',
  postingCap: Infinity,
  summaryEnergy: 1,
  summaryDocCut: Infinity,
  forwardValues: 'f32',
});
export const EXACT_QUERY_PARAMS: Partial<SeismicQueryParams> = Object.freeze({
  queryCut: Infinity,
  heapFactor: 0,
});

function positiveInteger(value: number, name: string, allowInfinity: boolean): number {
  if (allowInfinity && value === Infinity) return UNCAPPED;
  if (!Number.isInteger(value) || value < 1) {
    throw new SeismicError('SEISMIC_BAD_PARAMS', `${name} must be a positive integer${allowInfinity ? ' or Infinity' : ''}, got ${value}`);
  }
  return Math.min(value, UNCAPPED);
}

/** Fills in defaults and checks ranges; the result is JSON-safe (no Infinity). */
export function resolveBuildParams(overrides: Partial<SeismicBuildParams> = {}): SeismicBuildParams {
  const merged = { ...DEFAULT_BUILD_PARAMS, ...stripUndefined(overrides) };
  if (merged.pruning !== 'fixed' && merged.pruning !== 'global') {
    throw new SeismicError('SEISMIC_BAD_PARAMS', `pruning must be 'fixed' or 'global', got ${String(merged.pruning)}`);
  }
  if (merged.forwardValues !== 'f32' && merged.forwardValues !== 'f16' && merged.forwardValues !== 'u8') {
    throw new SeismicError('SEISMIC_BAD_PARAMS', `forwardValues must be 'f32', 'f16' or 'u8', got ${String(merged.forwardValues)}`);
  }
  const postingCap = positiveInteger(merged.postingCap, 'postingCap', true);
  if (!(merged.globalListCapFactor >= 1) || !Number.isFinite(merged.globalListCapFactor)) {
    throw new SeismicError('SEISMIC_BAD_PARAMS', `globalListCapFactor must be a finite number >= 1, got ${merged.globalListCapFactor}`);
  }
  if (!(merged.blockFraction > 0 && merged.blockFraction <= 1)) {
    throw new SeismicError('SEISMIC_BAD_PARAMS', `blockFraction must be in (0, 1], got ${merged.blockFraction}`);
  }
  const minBlockSize = positiveInteger(merged.minBlockSize, 'minBlockSize', false);
  const clusterDocCut = positiveInteger(merged.clusterDocCut, 'clusterDocCut', false);
  if (!(merged.summaryEnergy > 0 && merged.summaryEnergy <= 1)) {
    throw new SeismicError('SEISMIC_BAD_PARAMS', `summaryEnergy must be in (0, 1], got ${merged.summaryEnergy}`);
  }
  const summaryDocCut = positiveInteger(merged.summaryDocCut, 'summaryDocCut', true);
  if (!Number.isInteger(merged.seed)) {
    throw new SeismicError('SEISMIC_BAD_PARAMS', `seed must be an integer, got ${merged.seed}`);
  }
  if (!Number.isInteger(merged.knnNeighbors) || merged.knnNeighbors < 0 || merged.knnNeighbors > MAX_KNN_NEIGHBORS) {
    throw new SeismicError('SEISMIC_BAD_PARAMS', `knnNeighbors must be an integer in 0 .. ${MAX_KNN_NEIGHBORS}, got ${String(merged.knnNeighbors)}`);
  }
  return {
    pruning: merged.pruning,
    postingCap,
    globalListCapFactor: merged.globalListCapFactor,
    blockFraction: merged.blockFraction,
    minBlockSize,
    clusterDocCut,
    summaryEnergy: merged.summaryEnergy,
    summaryDocCut,
    forwardValues: merged.forwardValues,
    seed: merged.seed | 0,
    knnNeighbors: merged.knnNeighbors,
  };
}

/** Query parameters after defaults and validation; queryCut is a finite count. */
export interface ResolvedQueryParams {
  readonly k: number;
  readonly queryCut: number;
  /** Already rounded to f32, the precision both scorers compare in. */
  readonly heapFactor: number;
}

export function resolveQueryParams(overrides: Partial<SeismicQueryParams> = {}, defaults: SeismicQueryParams = DEFAULT_QUERY_PARAMS): ResolvedQueryParams {
  const merged = { ...defaults, ...stripUndefined(overrides) };
  if (!Number.isInteger(merged.k) || merged.k < 0) {
    throw new SeismicError('SEISMIC_BAD_SEARCH_PARAMS', `k must be a non-negative integer, got ${merged.k}`);
  }
  let queryCut = merged.queryCut;
  if (queryCut === Infinity) queryCut = UNCAPPED;
  if (!Number.isInteger(queryCut) || queryCut < 1) {
    throw new SeismicError('SEISMIC_BAD_SEARCH_PARAMS', `queryCut must be a positive integer or Infinity, got ${merged.queryCut}`);
  }
  if (!(merged.heapFactor >= 0) || !Number.isFinite(merged.heapFactor)) {
    throw new SeismicError('SEISMIC_BAD_SEARCH_PARAMS', `heapFactor must be a finite number >= 0, got ${merged.heapFactor}`);
  }
  return { k: Math.min(merged.k, UNCAPPED), queryCut: Math.min(queryCut, UNCAPPED), heapFactor: Math.fround(merged.heapFactor) };
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] !== undefined) out[key] = value[key];
  }
  return out;
}
