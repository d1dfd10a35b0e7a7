import type { SparseVector } from '../sparse-matrix.js';
import { SeismicError } from './errors.js';
import type { SeismicQueryParams } from './params.js';

export interface SearchOptions extends Partial<SeismicQueryParams> {
  /**
   * Deleted documents: bit (doc & 31) of word (doc >>> 5) set means doc never appears in results.
   * Words beyond the array's end count as zero.
   */
  readonly excluded?: Uint32Array;
  /**
   * kNN refinement: neighbours of each result (from the segment's kNN graph) scored after the
   * lists, those with a positive score offered as results; 0 turns it off. Default: every neighbour the graph stores (none without a graph).
   */
  readonly knn?: number;
}

/** Best first: score descending, equal scores by document number ascending. */
export interface SearchResult {
  readonly docs: Uint32Array;
  readonly scores: Float32Array;
}

export type SearcherKind = 'wasm' | 'ts';

export interface SeismicSearcher {
  readonly kind: SearcherKind;
  readonly docCount: number;
  readonly dim: number;
  search(query: SparseVector, options?: SearchOptions): SearchResult;
  /** Releases what the searcher holds (the wasm instance and its memory). */
  dispose(): void;
}

/** The SparseVector contract for queries; unknown terms are a coded error, never ignored. */
export function validateQuery(query: SparseVector, dim: number): void {
  const { indices, values } = query;
  if (indices.length !== values.length) {
    throw new SeismicError('SEISMIC_BAD_QUERY', `query has ${indices.length} term ids but ${values.length} weights`);
  }
  let previous = -1;
  for (let i = 0; i < indices.length; i++) {
    const term = indices[i]!;
    if (term >= dim) {
      throw new SeismicError('SEISMIC_QUERY_TERM_OUT_OF_RANGE', `query term ${term} is outside the index vocabulary (dim ${dim})`);
    }
    if (term <= previous) throw new SeismicError('SEISMIC_BAD_QUERY', 'query term ids must be strictly increasing');
    previous = term;
    if (!Number.isFinite(values[i]!)) throw new SeismicError('SEISMIC_BAD_QUERY', `query weight of term ${term} is not finite`);
  }
}

export const EMPTY_RESULT: SearchResult = Object.freeze({ docs: new Uint32Array(0), scores: new Float32Array(0) });

/**
 * Positions of the query components whose posting lists are visited: the queryCut largest
 * weights, ties broken by lower term id (both scorers must visit lists in the same order).
 */
export function queryCutOrder(values: Float32Array, queryCut: number, order: Uint32Array): number {
  const length = values.length;
  for (let i = 0; i < length; i++) order[i] = i;
  if (length > 64) {
    const sorted = Array.from(order.subarray(0, length)).sort((a, b) => values[b]! - values[a]! || a - b);
    order.set(sorted);
    return Math.min(queryCut, length);
  }
  // Insertion sort: queries usually have tens of components.
  for (let i = 1; i < length; i++) {
    const position = order[i]!;
    const value = values[position]!;
    let j = i;
    while (j > 0 && values[order[j - 1]!]! < value) {
      order[j] = order[j - 1]!;
      j--;
    }
    order[j] = position;
  }
  return Math.min(queryCut, length);
}

/** Padding of a kNN row with fewer neighbours (the segment file's NO_NEIGHBOR). */
export const NO_NEIGHBOR = 0xffffffff;

/** The knn search option as a count: undefined means every stored neighbour. */
export function knnOption(knn: number | undefined): number {
  if (knn === undefined) return 0xffffffff;
  if (!Number.isInteger(knn) || knn < 0) throw new SeismicError('SEISMIC_BAD_SEARCH_PARAMS', `knn must be a non-negative integer, got ${knn}`);
  return knn;
}
