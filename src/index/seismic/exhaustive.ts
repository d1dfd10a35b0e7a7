import type { SparseMatrix, SparseVector } from '../sparse-matrix.js';
import { validateMatrix } from './build.js';
import { DEFAULT_QUERY_PARAMS, resolveQueryParams } from './params.js';
import { EMPTY_RESULT, validateQuery, type SearchOptions, type SearchResult } from './search-api.js';
import { TopKHeap } from './top-k.js';

/**
 * Exact top-k by exhaustive term-at-a-time scoring over unpruned posting lists: every document
 * sharing at least one term with the query is scored (in f64, rounded to f32 for ranking). The
 * ground truth for recall and the brute-force baseline for speed.
 */
export class ExhaustiveSearcher {
  readonly docCount: number;
  readonly dim: number;
  private readonly listStart: Uint32Array;
  private readonly listDocs: Uint32Array;
  private readonly listValues: Float32Array;
  private readonly accumulator: Float64Array;
  private readonly touched: Uint32Array;
  private readonly seen: Uint8Array;
  private readonly heap = new TopKHeap();

  constructor(docs: SparseMatrix) {
    validateMatrix(docs);
    this.docCount = docs.rows;
    this.dim = docs.dim;
    const nnz = docs.indices.length;
    this.listStart = new Uint32Array(docs.dim + 1);
    for (let i = 0; i < nnz; i++) this.listStart[docs.indices[i]! + 1]!++;
    for (let t = 0; t < docs.dim; t++) this.listStart[t + 1]! += this.listStart[t]!;
    const cursor = this.listStart.slice(0, docs.dim);
    this.listDocs = new Uint32Array(nnz);
    this.listValues = new Float32Array(nnz);
    for (let d = 0; d < docs.rows; d++) {
      for (let i = docs.indptr[d]!; i < docs.indptr[d + 1]!; i++) {
        const slot = cursor[docs.indices[i]!]!++;
        this.listDocs[slot] = d;
        this.listValues[slot] = docs.values[i]!;
      }
    }
    this.accumulator = new Float64Array(docs.rows);
    this.touched = new Uint32Array(docs.rows);
    this.seen = new Uint8Array(docs.rows);
  }

  search(query: SparseVector, options: SearchOptions = {}): SearchResult {
    validateQuery(query, this.dim);
    const { k } = resolveQueryParams({ k: options.k ?? DEFAULT_QUERY_PARAMS.k });
    if (k === 0 || this.docCount === 0 || query.indices.length === 0) return EMPTY_RESULT;
    const { listStart, listDocs, listValues, accumulator, touched, seen, heap } = this;
    let touchedCount = 0;
    for (let j = 0; j < query.indices.length; j++) {
      const term = query.indices[j]!;
      const weight = query.values[j]!;
      const end = listStart[term + 1]!;
      for (let p = listStart[term]!; p < end; p++) {
        const doc = listDocs[p]!;
        if (seen[doc] === 0) {
          seen[doc] = 1;
          touched[touchedCount++] = doc;
        }
        accumulator[doc]! += weight * listValues[p]!;
      }
    }
    const excluded = options.excluded;
    heap.reset(Math.min(k, this.docCount));
    for (let i = 0; i < touchedCount; i++) {
      const doc = touched[i]!;
      const word = doc >>> 5;
      const isExcluded = excluded !== undefined && word < excluded.length && (excluded[word]! & (1 << (doc & 31))) !== 0;
      if (!isExcluded) heap.offer(Math.fround(accumulator[doc]!), doc);
      accumulator[doc] = 0;
      seen[doc] = 0;
    }
    return heap.drain();
  }
}
