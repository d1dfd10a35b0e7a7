/**
 * Coded errors: every layer raises a CodedError (or a subclass named for the layer) for a condition
 * the caller can act on. `code` is stable (documented in docs/errors.md and mapped to HTTP statuses
 * by the server); `message` is for people; `details` carries what a client may want to read.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: Code, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** The error of the engine and the layers above it. */
export class SparrowError extends CodedError {}

/** Any coded error from a lower layer (store, encoders, eval) keeps its code. */
export function errorCode(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'code' in error && typeof (error as { code: unknown }).code === 'string') {
    const code = (error as { code: string }).code;
    return /^[A-Z][A-Z0-9_]+$/.test(code) ? code : undefined;
  }
  return undefined;
}
