/** Facet requests and results, for the layers above the engine (they are counted in SQL in src/store). */
export type { FacetBucket, FacetRequest, FacetResult } from '../store/facets.js';
