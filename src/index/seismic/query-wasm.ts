import { ScoringCore } from '../../scoring/wasm-core.js';
import type { SparseVector } from '../sparse-matrix.js';
import { SeismicError } from './errors.js';
import { indexArrays, validateIndexData, type SeismicIndexData } from './index-data.js';
import { DEFAULT_QUERY_PARAMS, resolveQueryParams, type SeismicQueryParams } from './params.js';
import { safeBlockSize, type SafeBounds } from './safe-bounds.js';
import { EMPTY_RESULT, knnOption, validateQuery, type SearchOptions, type SearchResult, type SeismicSearcher } from './search-api.js';

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

/** An index's place in a core's (shared) memory, as addresses; enough to configure another instance. */
export interface CoreLayout {
  readonly docCount: number;
  readonly dim: number;
  /** 2 or 4. */
  readonly termBytes: number;
  readonly valueFormat: keyof typeof VALUE_FORMAT_CODES;
  /** Address of each index array (indexArrays names). */
  readonly at: Readonly<Record<string, number>>;
  readonly forwardEntries: number;
  /** The kNN graph's address, -1 without one. */
  readonly knnAt: number;
  readonly knnStored: number;
  readonly safeBlockSize: number;
}

/**
 * Puts an index's arrays in a core's memory (those already there, read straight into it by
 * readSegmentFileIntoSync, stay where they are) and returns where they lie.
 */
function placeIndex(
  core: ScoringCore,
  index: SeismicIndexData,
  options: { validate?: boolean; safeBlockSize?: number; knnNeighbors?: Uint32Array },
): CoreLayout {
  if (options.validate !== false) validateIndexData(index);
  const arrays = indexArrays(index);
  const inCore = (array: ArrayBufferView): boolean => array.buffer === core.views().buffer;
  let total = scratchBytes(index);
  for (const array of Object.values(arrays)) if (!inCore(array)) total += Math.ceil(array.byteLength / 16) * 16;
  core.ensureFits(total, `an index of ${index.docCount} documents`);
  const at: Record<string, number> = {};
  // Addresses are taken before anything is copied in: a copy may grow memory and leave the
  // views behind.
  const knn = options.knnNeighbors;
  const knnStored = knn !== undefined && knn.length > 0 && index.docCount > 0 ? knn.length / index.docCount : 0;
  if (!Number.isInteger(knnStored)) throw new SeismicError('SEISMIC_BAD_PARAMS', `a kNN graph of ${knn!.length} entries does not fit ${index.docCount} documents`);
  let knnAt = knnStored > 0 && inCore(knn!) ? knn!.byteOffset : -1;
  const forwardEntries = index.forwardTerms.length;
  const termBytes = index.forwardTerms.BYTES_PER_ELEMENT;
  for (const [name, array] of Object.entries(arrays)) if (inCore(array)) at[name] = array.byteOffset;
  for (const [name, array] of Object.entries(arrays)) if (at[name] === undefined) at[name] = core.copyIn(array);
  if (knnStored > 0 && knnAt < 0) knnAt = core.copyIn(knn!);
  return {
    docCount: index.docCount,
    dim: index.dim,
    termBytes,
    valueFormat: index.params.forwardValues,
    at,
    forwardEntries,
    knnAt,
    knnStored,
    safeBlockSize: safeBlockSize(index.docCount, options.safeBlockSize),
  };
}

function configureCore(core: ScoringCore, layout: CoreLayout): void {
  const { at } = layout;
  const status = core.call(() =>
    core.exports.configure(
      layout.docCount,
      layout.dim,
      layout.termBytes,
      VALUE_FORMAT_CODES[layout.valueFormat],
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
  if (layout.knnStored > 0) core.check(core.call(() => core.exports.configureKnn(layout.knnAt, layout.knnStored)), 'installing the kNN graph');
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
  /** Stored weights of the forward index (sizes the safe-mode bounds, built on first use). */
  private readonly forwardEntries: number;
  private safeReady = false;
  /** Rows per safe-mode block. */
  private readonly safeRows: number;
  /** Neighbours per document in the kNN graph (0: none). */
  readonly knnStored: number = 0;
  /** Milliseconds the safe bounds took to build, and their bytes (0 until the first safe query). */
  safeBuildMs = 0;
  safeBytes = 0;

  /**
   * `options.core`: an instance whose memory already holds the index arrays (see
   * readSegmentFileIntoSync); arrays that are views of its memory are used where they are.
   */
  constructor(
    index: SeismicIndexData | { readonly attachTo: WebAssembly.Memory; readonly layout: CoreLayout },
    defaults: Partial<SeismicQueryParams> = {},
    options: { validate?: boolean; memoryLimitBytes?: number; core?: ScoringCore; safeBlockSize?: number; knnNeighbors?: Uint32Array } = {},
  ) {
    let core: ScoringCore;
    if ('attachTo' in index) {
      // Another instance over an index already laid out in a shared memory (see attach).
      core = new ScoringCore({ memory: index.attachTo });
      this.layout = index.layout;
    } else {
      core = options.core ?? new ScoringCore({ limitBytes: options.memoryLimitBytes });
      this.layout = placeIndex(core, index, options);
    }
    const layout = this.layout;
    this.docCount = layout.docCount;
    this.dim = layout.dim;
    this.defaults = { ...DEFAULT_QUERY_PARAMS, ...defaults };
    resolveQueryParams({}, this.defaults);
    this.forwardEntries = layout.forwardEntries;
    this.safeRows = layout.safeBlockSize;
    this.knnStored = layout.knnStored;
    configureCore(core, layout);
    this.core = core;
  }

  /** Where the index lies in the core's memory: what another instance needs to search it (attach). */
  readonly layout: CoreLayout;

  /** The shared memory holding the index. */
  get memory(): WebAssembly.Memory {
    return this.liveCore().memory;
  }

  /**
   * A searcher on another thread over the same index: its own core instance on the shared memory,
   * configured with the same addresses (its scratch is allocated apart). Nothing is copied.
   */
  static attach(memory: WebAssembly.Memory, layout: CoreLayout, defaults: Partial<SeismicQueryParams> = {}): WasmSeismicSearcher {
    return new WasmSeismicSearcher({ attachTo: memory, layout }, defaults);
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
    const knn = Math.min(knnOption(options.knn), this.knnStored);
    return this.run(core, query, options.excluded, 'search', (length, excludedWords) =>
      core.exports.search(length, Math.min(k, this.docCount), queryCut, heapFactor, excludedWords, knn),
    );
  }

  /**
   * The exact top-k over the segment's stored vectors, by block-max bounds (src/index/seismic/safe-bounds.ts):
   * ties by row like search(). The bounds are built on the first call.
   */
  safeSearch(query: SparseVector, options: { k?: number; excluded?: Uint32Array } = {}): SearchResult {
    const core = this.liveCore();
    validateQuery(query, this.dim);
    const k = options.k ?? this.defaults.k;
    if (!Number.isInteger(k) || k < 0) throw new SeismicError('SEISMIC_BAD_PARAMS', `k must be a non-negative integer, got ${k}`);
    if (k === 0 || this.docCount === 0 || query.indices.length === 0) return EMPTY_RESULT;
    if (!this.safeReady) this.installSafeBounds(core);
    return this.run(core, query, options.excluded, 'safe search', (length, excludedWords) => core.exports.safeSearch(length, Math.min(k, this.docCount), excludedWords));
  }

  /** Copies the query (and the excluded rows) into the core, runs one of its searches, reads the results. */
  private run(core: ScoringCore, query: SparseVector, excluded: Uint32Array | undefined, what: string, search: (length: number, excludedWords: number) => number): SearchResult {
    const length = query.indices.length;
    const exports = core.exports;
    core.check(core.call(() => exports.reserveQuery(length)), 'reserving query buffers');
    let views = core.views();
    views.u32.set(query.indices, exports.queryTermsAt() >>> 2);
    views.f32.set(query.values, exports.queryValuesAt() >>> 2);
    let excludedWords = 0;
    if (excluded !== undefined && excluded.length > 0) {
      excludedWords = Math.min(excluded.length, exports.bitsetWordCount());
      views.u32.set(excluded.subarray(0, excludedWords), exports.excludedAt() >>> 2);
    }
    const resultCount = core.check(core.call(() => search(length, excludedWords)), what);
    // The search may have grown memory (a larger k than before): views must be fresh.
    views = core.views();
    const docsAt = exports.resultDocsAt() >>> 2;
    const scoresAt = exports.resultScoresAt() >>> 2;
    return {
      docs: views.u32.slice(docsAt, docsAt + resultCount),
      scores: views.f32.slice(scoresAt, scoresAt + resultCount),
    };
  }

  private installSafeBounds(core: ScoringCore): void {
    const started = performance.now();
    const before = core.usedBytes;
    const n = this.docCount;
    // Room for the temporaries and the largest possible lists (one entry per stored weight).
    const nnz = this.forwardEntries;
    core.ensureFits(n * 24 + this.dim * 28 + nnz * 3, `the safe-mode bounds of ${n} documents`);
    core.check(core.call(() => core.exports.buildSafe(this.safeRows)), 'building the safe-mode bounds');
    this.safeReady = true;
    this.safeBytes = core.usedBytes - before;
    this.safeBuildMs = performance.now() - started;
  }

  /** Copies of the safe-mode bounds the core built (for tests against buildSafeBounds). */
  safeBoundsArrays(): SafeBounds {
    const core = this.liveCore();
    if (!this.safeReady) this.installSafeBounds(core);
    const exports = core.exports;
    const views = core.views();
    const dim = this.dim;
    const listStart = views.u32.slice(exports.safeArrayAt(1) >>> 2, (exports.safeArrayAt(1) >>> 2) + dim + 1);
    const entries = listStart[dim]!;
    const blocksAt = exports.safeArrayAt(2);
    return {
      rowOrder: views.u32.slice(exports.safeArrayAt(0) >>> 2, (exports.safeArrayAt(0) >>> 2) + this.docCount),
      blockSize: this.safeRows,
      blockCount: exports.safeArrayAt(5),
      listStart,
      listBlocks: new Uint16Array(views.buffer.slice(blocksAt, blocksAt + entries * 2)),
      listLevels: views.u8.slice(exports.safeArrayAt(3), exports.safeArrayAt(3) + entries),
      termScale: views.f32.slice(exports.safeArrayAt(4) >>> 2, (exports.safeArrayAt(4) >>> 2) + dim),
      unbounded: exports.safeArrayAt(6) === 1,
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
