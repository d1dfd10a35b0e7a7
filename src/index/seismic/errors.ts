import { CodedError } from '../../common/errors.js';

/** Stable error codes raised by the approximate (Seismic) index. */
export type SeismicErrorCode =
  | 'SEISMIC_BAD_MATRIX'
  | 'SEISMIC_BAD_PARAMS'
  | 'SEISMIC_BAD_INDEX'
  | 'SEISMIC_BAD_QUERY'
  | 'SEISMIC_QUERY_TERM_OUT_OF_RANGE'
  | 'SEISMIC_BAD_SEARCH_PARAMS'
  | 'SEISMIC_DISPOSED'
  /** A helper thread of a parallel build died or threw. */
  | 'SEISMIC_BUILD_THREAD_FAILED'
  /** The build kernels' memory layout did not hold what a term range needed (a bug, never input). */
  | 'SEISMIC_BUILD_LAYOUT';

export class SeismicError extends CodedError<SeismicErrorCode> {
  constructor(code: SeismicErrorCode, message: string) {
    super(code, `${code}: ${message}`);
  }
}
