/** A failure the caller can act on, with a stable machine-readable code. */
export class StoreError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.details = details;
  }
}
