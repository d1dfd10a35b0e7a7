/** Public surface of the approximate (Seismic) index. */
export { buildSeismicIndex, validateMatrix } from './build.js';
export { SeismicError, type SeismicErrorCode } from './errors.js';
export { ExhaustiveSearcher } from './exhaustive.js';
export { indexArrays, indexByteSize, validateIndexData, type SeismicIndexData, type TermIdArray } from './index-data.js';
export {
  DEFAULT_BUILD_PARAMS,
  DEFAULT_QUERY_PARAMS,
  EXACT_BUILD_PARAMS,
  EXACT_QUERY_PARAMS,
  UNCAPPED,
  resolveBuildParams,
  resolveQueryParams,
  type ForwardValueFormat,
  type PostingPruning,
  type SeismicBuildParams,
  type SeismicQueryParams,
} from './params.js';
export { TsSeismicSearcher } from './query-ts.js';
export { WasmSeismicSearcher, type SearchStats } from './query-wasm.js';
export { openSeismicSearcher, type OpenSearcherOptions } from './searcher.js';
export type { SearchOptions, SearchResult, SearcherKind, SeismicSearcher } from './search-api.js';
