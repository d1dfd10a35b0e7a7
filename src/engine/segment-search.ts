import type { WasmSeismicSearcher } from '../index/seismic/query-wasm.js';
import type { SearchResult } from '../index/seismic/search-api.js';

/** One segment's part of a query: what the main thread and a search thread both run. */
export interface SegmentSearchTask {
  readonly indices: Uint32Array;
  readonly values: Float32Array;
  readonly k: number;
  readonly queryCut: number;
  readonly heapFactor: number;
  readonly knn?: number;
  /** Deleted (and filtered-out) rows as bit words. */
  readonly excluded: Uint32Array;
  readonly safe: boolean;
}

/**
 * A segment's top k rows. A segment breaks ties by row; the collection breaks them by id. When
 * the k-th score is tied at the end of the list, the request is widened until the whole tie group
 * is in the candidates.
 */
export function searchSegment(searcher: WasmSeismicSearcher, task: SegmentSearchTask): SearchResult {
  const query = { indices: task.indices, values: task.values };
  const run = (k: number): SearchResult =>
    task.safe
      ? searcher.safeSearch(query, { k, excluded: task.excluded })
      : searcher.search(query, { k, queryCut: task.queryCut, heapFactor: task.heapFactor, excluded: task.excluded, ...(task.knn !== undefined ? { knn: task.knn } : {}) });
  let depth = task.k;
  let result = run(depth);
  while (task.k > 0 && result.docs.length === depth && depth < searcher.docCount && result.scores[depth - 1] === result.scores[task.k - 1]) {
    depth = Math.min(depth * 4, searcher.docCount);
    result = run(depth);
  }
  return result;
}
