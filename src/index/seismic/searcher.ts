import type { SeismicIndexData } from './index-data.js';
import type { SeismicQueryParams } from './params.js';
import { TsSeismicSearcher } from './query-ts.js';
import { WasmSeismicSearcher, type SearchStats } from './query-wasm.js';
import type { SearcherKind, SeismicSearcher } from './search-api.js';
import type { ScoringCore } from '../../scoring/wasm-core.js';

export type { SearcherKind, SearchOptions, SearchResult, SeismicSearcher } from './search-api.js';
export type { SearchStats } from './query-wasm.js';

export interface OpenSearcherOptions {
  /** 'wasm' (default) for serving; 'ts' is the reference implementation. */
  readonly kind?: SearcherKind;
  /** Per-searcher defaults for queryCut, heapFactor and k. */
  readonly defaults?: Partial<SeismicQueryParams>;
  /** Skip the structural check of the index: for indexes just built, or read by decodeSegment (which checks). */
  readonly trusted?: boolean;
  /** A wasm core whose memory already holds the index (see WasmSeismicSearcher). */
  readonly core?: ScoringCore;
}

/** A searcher over a built (or loaded) index; both kinds return identical results. */
export function openSeismicSearcher(index: SeismicIndexData, options: OpenSearcherOptions = {}): SeismicSearcher & { lastStats(): SearchStats } {
  const validate = options.trusted !== true;
  return options.kind === 'ts'
    ? new TsSeismicSearcher(index, options.defaults, { validate })
    : new WasmSeismicSearcher(index, options.defaults, { validate, ...(options.core ? { core: options.core } : {}) });
}
