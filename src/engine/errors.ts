/**
 * The error every layer raises for a condition the caller can act on. `code` is stable (documented
 * in docs/errors.md and mapped to HTTP statuses by the server); `message` is for people.
 */
export class SparrowError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'SparrowError';
    this.code = code;
    this.details = details;
  }
}

/** Any coded error from a lower layer (store, encoders, eval) keeps its code. */
export function errorCode(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof (error as { code: unknown }).code === 'string') {
    const code = (error as { code: string }).code;
    return /^[A-Z][A-Z0-9_]+$/.test(code) ? code : undefined;
  }
  return undefined;
}
