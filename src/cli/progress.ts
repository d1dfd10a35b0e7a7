/**
 * A one-line progress bar on stderr for long runs: shown only on a terminal (or when forced), so
 * logs and pipes get the final summary alone.
 */
export class ProgressBar {
  private readonly enabled: boolean;
  private lastDraw = 0;
  private readonly label: string;

  constructor(label: string, options: { force?: boolean } = {}) {
    this.label = label;
    this.enabled = options.force ?? Boolean(process.stderr.isTTY);
  }

  update(fraction: number | undefined, detail: string, now = Date.now()): void {
    if (!this.enabled || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = 28;
    const f = fraction === undefined || !Number.isFinite(fraction) ? undefined : Math.min(1, Math.max(0, fraction));
    const bar = f === undefined ? '' : `[${'#'.repeat(Math.round(f * width)).padEnd(width, '.')}] ${(f * 100).toFixed(0).padStart(3)}% `;
    process.stderr.write(`\r\x1b[2K${this.label} ${bar}${detail}`);
  }

  done(): void {
    if (this.enabled) process.stderr.write('\r\x1b[2K');
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${seconds.toFixed(0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Rate and time left from bytes read so far. */
export function ingestDetail(p: { processed: number; bytesRead: number; totalBytes: number; elapsedMs: number; rejected: number }): {
  fraction: number | undefined;
  detail: string;
} {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? p.processed / seconds : 0;
  const fraction = p.totalBytes > 0 ? p.bytesRead / p.totalBytes : undefined;
  const left = fraction && fraction > 0 ? seconds * (1 / fraction - 1) : Number.NaN;
  const rejected = p.rejected > 0 ? `, ${p.rejected} rejected` : '';
  return { fraction, detail: `${p.processed} docs, ${rate.toFixed(0)} docs/s, ${formatDuration(left)} left${rejected}` };
}

/** The segment build's bar: postings blocked of those kept, rate and time left, then writing. */
export function segmentDetail(
  p: { kind: string; documents: number; pendingDocuments: number; postingsDone: number; postingsTotal: number; postingsPerSecond: number; secondsLeft: number | undefined } | undefined,
): { fraction: number | undefined; detail: string } {
  if (!p) return { fraction: undefined, detail: 'reading documents' };
  const what = `${p.kind === 'merge' ? 'merging' : 'building'} ${p.documents} docs`;
  const pending = p.pendingDocuments > p.documents ? ` (${p.pendingDocuments - p.documents} more after this)` : '';
  if (p.postingsTotal === 0) return { fraction: undefined, detail: `${what}${pending}: pruning posting lists` };
  if (p.postingsDone >= p.postingsTotal) return { fraction: 1, detail: `${what}${pending}: writing the segment` };
  const rate = p.postingsPerSecond >= 1e6 ? `${(p.postingsPerSecond / 1e6).toFixed(1)}M` : `${(p.postingsPerSecond / 1e3).toFixed(0)}k`;
  return {
    fraction: p.postingsDone / p.postingsTotal,
    detail: `${what}${pending}: ${rate} postings/s, ${formatDuration(p.secondsLeft ?? Number.NaN)} left`,
  };
}
