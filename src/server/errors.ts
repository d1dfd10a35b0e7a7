/**
 * The one table of error codes the API answers with: code -> HTTP status and what it means.
 * docs/errors.md lists the same codes; a test keeps the two in step.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly description: string;
}

export const ERROR_TABLE: Readonly<Record<string, ErrorSpec>> = {
  VALIDATION_FAILED: { status: 400, description: 'The request does not match the route schema (wrong types, missing or unknown fields).' },
  MALFORMED_JSON: { status: 400, description: 'The request body is not valid JSON.' },
  EMPTY_QUERY: { status: 400, description: 'The query text is blank or the query vector has no terms.' },
  INVALID_QUERY: { status: 400, description: 'The query is neither a string nor an object of term weights.' },
  INVALID_WEIGHT: { status: 400, description: 'A query weight is not a finite number (NaN, Infinity, a string).' },
  NEGATIVE_WEIGHT: { status: 400, description: 'A query weight is negative.' },
  INVALID_K: { status: 400, description: 'k is not an integer within the allowed range.' },
  INVALID_COLLECTION_NAME: { status: 400, description: 'The collection name has characters or a length that is not allowed.' },
  COLLECTION_NOT_FOUND: { status: 404, description: 'No collection has this name.' },
  ROUTE_NOT_FOUND: { status: 404, description: 'No route matches the method and path.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body is larger than the configured limit.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The request body has a content type the route does not accept.' },
  INTERNAL_ERROR: { status: 500, description: 'An unexpected failure; the server logs it with the request id.' },
};

export function statusFor(code: string): number {
  return ERROR_TABLE[code]?.status ?? 500;
}
