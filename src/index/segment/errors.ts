import { CodedError } from '../../common/errors.js';

/**
 * Stable error codes of segment files. Reading codes describe what is wrong with the bytes;
 * SEGMENT_INVALID_CONTENTS is the writer refusing input that would not read back.
 */
export type SegmentErrorCode =
  /** Shorter than its own layout says, or missing the footer at the end (an unfinished write). */
  | 'SEGMENT_TRUNCATED'
  /** Does not start with the segment magic: not a segment file at all. */
  | 'SEGMENT_BAD_MAGIC'
  /** A format version this reader does not know (usually written by a newer sparrow). */
  | 'SEGMENT_UNSUPPORTED_VERSION'
  /** Written in big-endian byte order, which no version of the format uses. */
  | 'SEGMENT_WRONG_ENDIANNESS'
  /** A CRC-32 does not match; `section` names the damaged part. */
  | 'SEGMENT_CHECKSUM_MISMATCH'
  /** Checksums agree but the header, directory or a section's bounds or encoding are inconsistent. */
  | 'SEGMENT_CORRUPT'
  /** The bytes are intact but the index or docNumbers they hold fail the structural check. */
  | 'SEGMENT_INVALID_INDEX'
  /** The writer was given contents that cannot be stored (bad index, docNumbers or metadata). */
  | 'SEGMENT_INVALID_CONTENTS'
  /** This machine is big-endian; the zero-copy typed-array layout assumes a little-endian host. */
  | 'SEGMENT_UNSUPPORTED_PLATFORM';

export class SegmentFormatError extends CodedError<SegmentErrorCode> {
  /** The section, 'header', 'directory' or 'footer' concerned, when one is. */
  readonly section: string | undefined;

  constructor(code: SegmentErrorCode, message: string, options: { section?: string; cause?: unknown } = {}) {
    super(code, `${code}: ${message}`, undefined, options.cause === undefined ? undefined : { cause: options.cause });
    this.section = options.section;
  }
}
