import { ScoringCore } from '../../scoring/wasm-core.js';
import type { SparseVector } from '../sparse-matrix.js';
import { SeismicError } from './errors.js';
import { indexArrays, validateIndexData, type SeismicIndexData } from './index-data.js';
import { DEFAULT_QUERY_PARAMS, resolveQueryParams, type SeismicQueryParams } from './params.js';
import { EMPTY_RESULT, validateQuery, type SearchOptions, type SearchResult, type SeismicSearcher } from './search-api.js';

const VALUE_FORMAT_CODES = { f32: 0, f16: 1, u8: 2 } as const;

/** Work done by the last search (same meaning for both scorers). */
export interface SearchStats {
  listsVisited: number;
  blocksScored: number;
  blocksSkipped: number;
  docsScored: number;
}

/** Fixed scratch the core allocates at configure time, to check the size limit up front. */
function scratchBytes(index: SeismicIndexData): number {
  const align = (bytes: number): number => Math.ceil(bytes / 16) * 16;
  const bitsetBytes = Math.ceil(index.docCount / 32) * 4;
  return align(index.dim * 4) + 2 * align(bitsetBytes);
}

/**
 * The query algorithm on the WebAssembly core: the index is copied into the instance's memory
 * once, each search copies only the query (and the deletion bitset when given).
 */
export class WasmSeismicSearcher implements SeismicSearcher {
  readonly kind = 'wasm' as const;
  readonly docCount: number;
  readonly dim: number;
  private core: ScoringCore | undefined;
  private readonly defaults: SeismicQueryParams;

  /**
   * `options.core`: an instance whose memory already holds the index arrays (see
   * readSegmentFileIntoSync); arrays that are views of its memory are used where they are.
   */
  constructor(
    index: SeismicIndexData,
    defaults: Partial<SeismicQueryParams> = {},
    options: { validate?: boolean; memoryLimitBytes?: number; core?: ScoringCore } = {},
  ) {
    if (options.validate !== false) validateIndexData(index);
    this.docCount = index.docCount;
    this.dim = index.dim;
    this.defaults = { ...DEFAULT_QUERY_PARAMS, ...defaults };
    resolveQueryParams({}, this.defaults);

    const core = options.core ?? new ScoringCore({ limitBytes: options.memoryLimitBytes });
    const arrays = indexArrays(index);
    const inCore = (array: ArrayBufferView): boolean => array.buffer === core.views().buffer;
    let total = scratchBytes(index);
    for (const array of Object.values(arrays)) if (!inCore(array)) total += Math.ceil(array.byteLength / 16) * 16;
    core.ensureFits(total, `an index of ${index.docCount} documents`);
    const at: Record<string, number> = {};
    // Addresses are taken before anything is copied in: a copy may grow memory and detach the views.
    for (const [name, array] of Object.entries(arrays)) if (inCore(array)) at[name] = array.byteOffset;
    for (const [name, array] of Object.entries(arrays)) if (at[name] === undefined) at[name] = core.copyIn(array);
    const status = core.call(() =>
      core.exports.configure(
        index.docCount,
        index.dim,
        index.forwardTerms.BYTES_PER_ELEMENT,
        VALUE_FORMAT_CODES[index.params.forwardValues],
        at.forwardIndptr!,
        at.forwardTerms!,
        at.forwardValues!,
        at.forwardScales!,
        at.forwardOffsets!,
        at.listBlockStart!,
        at.blockDocStart!,
        at.postingDocs!,
        at.summaryStart!,
        at.summaryTerms!,
        at.summaryValues!,
        at.summaryScale!,
        at.summaryOffset!,
      ),
    );
    core.check(status, 'configuring the scoring core');
    this.core = core;
  }

  /** Bytes of wasm linear memory this searcher uses. */
  get memoryBytes(): number {
    return this.liveCore().usedBytes;
  }

  search(query: SparseVector, options: SearchOptions = {}): SearchResult {
    const core = this.liveCore();
    validateQuery(query, this.dim);
    const { k, queryCut, heapFactor } = resolveQueryParams(options, this.defaults);
    if (k === 0 || this.docCount === 0 || query.indices.length === 0) return EMPTY_RESULT;
    const length = query.indices.length;
    const exports = core.exports;
    core.check(core.call(() => exports.reserveQuery(length)), 'reserving query buffers');
    let views = core.views();
    views.u32.set(query.indices, exports.queryTermsAt() >>> 2);
    views.f32.set(query.values, exports.queryValuesAt() >>> 2);
    let excludedWords = 0;
    const excluded = options.excluded;
    if (excluded !== undefined && excluded.length > 0) {
      excludedWords = Math.min(excluded.length, exports.bitsetWordCount());
      views.u32.set(excluded.subarray(0, excludedWords), exports.excludedAt() >>> 2);
    }
    const resultCount = core.check(
      core.call(() => exports.search(length, Math.min(k, this.docCount), queryCut, heapFactor, excludedWords)),
      'search',
    );
    // The search may have grown memory (a larger k than before): views must be fresh.
    views = core.views();
    const docsAt = exports.resultDocsAt() >>> 2;
    const scoresAt = exports.resultScoresAt() >>> 2;
    return {
      docs: views.u32.slice(docsAt, docsAt + resultCount),
      scores: views.f32.slice(scoresAt, scoresAt + resultCount),
    };
  }

  /** Work counters of the last search. */
  lastStats(): SearchStats {
    const exports = this.liveCore().exports;
    return {
      listsVisited: exports.lastListsVisited(),
      blocksScored: exports.lastBlocksScored(),
      blocksSkipped: exports.lastBlocksSkipped(),
      docsScored: exports.lastDocsScored(),
    };
  }

  dispose(): void {
    this.core = undefined;
  }

  private liveCore(): ScoringCore {
    if (this.core === undefined) throw new SeismicError('SEISMIC_DISPOSED', 'the searcher was disposed');
    return this.core;
  }
}
