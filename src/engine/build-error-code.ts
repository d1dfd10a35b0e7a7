/**
 * The code a failed segment build reports: our own stable codes (SEISMIC_, SEGMENT_, CORE_) pass
 * through; anything else (an errno from the file system, say) is SEGMENT_BUILD_FAILED, with the
 * original in the message. Its own module so the build worker and the main thread share it
 * without either loading the other.
 */
export function buildErrorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(SEISMIC|SEGMENT|CORE)_[A-Z_]+$/.test(code) ? code : 'SEGMENT_BUILD_FAILED';
}
