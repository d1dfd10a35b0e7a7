import { compileFilter } from '../store/filter.js';

/** The filter grammar on stored fields, for the layers above the engine (it is compiled to SQL in src/store). */
export { DEFAULT_FILTER_LIMITS, type Filter, type FilterLimits } from '../store/filter.js';

/** Throws the coded error (INVALID_FILTER, FILTER_TOO_COMPLEX) a filter would meet at search time. */
export function checkFilter(filter: unknown): void {
  compileFilter(filter);
}
