import { CodedError } from '../common/errors.js';

/**
 * Errors raised for bad evaluation input (unreadable or malformed run/qrels files, runs that
 * trec_eval would refuse). Callers branch on `code`; the message is for people.
 */
export type EvalErrorCode =
  | 'FILE_UNREADABLE'
  | 'CORRUPT_GZIP'
  | 'MALFORMED_LINE'
  | 'BAD_RELEVANCE'
  | 'BAD_SCORE'
  | 'BAD_IDENTIFIER'
  | 'BAD_CUTOFF'
  | 'BAD_OPTION'
  | 'DUPLICATE_JUDGEMENT'
  | 'DUPLICATE_DOCUMENT';

export interface EvalErrorLocation {
  /** File (or other source name) the bad input came from. */
  readonly file?: string;
  /** 1-based line number within that file. */
  readonly line?: number;
}

export class EvalInputError extends CodedError<EvalErrorCode> {
  readonly file: string | undefined;
  readonly line: number | undefined;

  constructor(code: EvalErrorCode, message: string, location: EvalErrorLocation = {}) {
    const where =
      location.file === undefined
        ? ''
        : location.line === undefined
          ? `${location.file}: `
          : `${location.file}:${location.line}: `;
    super(code, `${where}${message}`);
    this.file = location.file;
    this.line = location.line;
  }
}
