/** The filter grammar on stored fields, for the layers above the engine (it is compiled to SQL in src/store). */
export { DEFAULT_FILTER_LIMITS, type Filter, type FilterLimits } from '../store/filter.js';
