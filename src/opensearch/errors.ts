import { errorCode } from '../common/errors.js';

/**
 * An error answered in OpenSearch's shape: {"error": {"root_cause": [...], "type", "reason"},
 * "status"}. The types are OpenSearch's own (index_not_found_exception, mapper_parsing_exception,
 * parsing_exception, ...), so clients that branch on them keep working.
 */
export class OpenSearchError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly reason: string,
    readonly extra: Record<string, unknown> = {},
    /** The innermost cause, when OpenSearch reports one under a wrapping type. */
    readonly rootCause?: { type: string; reason: string },
  ) {
    super(reason);
    this.name = 'OpenSearchError';
  }

  body(): Record<string, unknown> {
    const root = this.rootCause ?? { type: this.type, reason: this.reason };
    return {
      error: { root_cause: [{ ...root, ...this.extra }], type: this.type, reason: this.reason, ...this.extra },
      status: this.status,
    };
  }
}

export const indexNotFound = (index: string): OpenSearchError =>
  new OpenSearchError(404, 'index_not_found_exception', `no such index [${index}]`, { index, 'resource.type': 'index_or_alias', 'resource.id': index });

export const parsingError = (reason: string): OpenSearchError => new OpenSearchError(400, 'parsing_exception', reason);

export const illegalArgument = (reason: string): OpenSearchError => new OpenSearchError(400, 'illegal_argument_exception', reason);

export const mapperParsing = (reason: string): OpenSearchError => new OpenSearchError(400, 'mapper_parsing_exception', reason);

/** A clause or parameter OpenSearch has and sparrow does not: named, never ignored. */
export const unsupported = (what: string, hint?: string): OpenSearchError =>
  new OpenSearchError(400, 'parsing_exception', `sparrow does not support ${what}${hint ? `: ${hint}` : ''}`);

/** Sparrow's coded errors (bad vectors, documents, filters) in OpenSearch's shape, the code kept as a field. */
export function fromSparrowError(error: unknown): OpenSearchError {
  if (error instanceof OpenSearchError) return error;
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code === undefined) return new OpenSearchError(500, 'exception', 'internal error');
  const status = code === 'COLLECTION_NOT_FOUND' || code === 'DOCUMENT_NOT_FOUND' ? 404 : code === 'NOT_READY' ? 503 : code === 'UNAUTHORIZED' ? 401 : code === 'FORBIDDEN' ? 403 : code === 'RATE_LIMITED' ? 429 : code === 'PAYLOAD_TOO_LARGE' ? 413 : 400;
  const type = status === 401 || status === 403 ? 'security_exception' : status === 429 ? 'rejected_execution_exception' : status === 413 ? 'content_too_long_exception' : 'illegal_argument_exception';
  return new OpenSearchError(status, type, message, { 'sparrow.code': code });
}
