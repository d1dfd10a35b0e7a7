import { CodedError } from '../common/errors.js';

/** A failure the caller can act on, with a stable machine-readable code. */
export class StoreError extends CodedError {}
