import type { Collection, RejectedDocument } from '../engine/collection.js';
import { toIngestDocument, type IngestDocument } from '../engine/documents.js';
import { SparrowError, errorCode } from '../engine/errors.js';
import { isBeirFolder, openBeirFolder } from './beir.js';
import { openInput, readJsonLines, type ByteProgress } from './json-lines.js';

export interface IngestProgress extends ByteProgress {
  readonly processed: number;
  readonly indexed: number;
  readonly updated: number;
  readonly rejected: number;
  readonly elapsedMs: number;
}

export interface IngestOptions {
  /** Documents per transaction (default 1000). */
  readonly batchSize?: number;
  /** Stop at the first rejected line instead of reporting it and going on. */
  readonly failFast?: boolean;
  /** How many rejected lines the summary lists in full (default 100); all are counted. */
  readonly maxReportedErrors?: number;
  readonly onProgress?: (progress: IngestProgress) => void;
}

export interface IngestSummary {
  readonly source: string;
  /** New documents. */
  readonly indexed: number;
  /** Documents that replaced an existing version (same id). */
  readonly updated: number;
  readonly rejected: number;
  /** Ids that occurred more than once in this input; the last occurrence wins. */
  readonly duplicateIds: number;
  readonly errors: RejectedDocument[];
  readonly warnings: string[];
  readonly elapsedMs: number;
  readonly docsPerSecond: number;
  /** Set when the run stopped before the end of the input (failFast). */
  readonly stopped?: { code: string; message: string; line?: number };
}

export const DEFAULT_BATCH_SIZE = 1000;

/**
 * Streams a JSONL file (plain or .gz) or a BEIR folder's corpus into a collection, committing one
 * transaction per batch. A run that fails part-way keeps every batch committed before the failure.
 */
export async function ingestFile(collection: Collection, input: string, options: IngestOptions = {}): Promise<IngestSummary> {
  const file = isBeirFolder(input) ? openBeirFolder(input).corpus : input;
  const { stream, progress } = openInput(file);
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new SparrowError('INVALID_ARGUMENT', 'batch size must be a positive integer');
  const maxReported = options.maxReportedErrors ?? 100;
  const started = Date.now();
  const errors: RejectedDocument[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  let processed = 0;
  let indexed = 0;
  let updated = 0;
  let rejected = 0;
  let duplicateIds = 0;
  let stopped: IngestSummary['stopped'];
  let batch: IngestDocument[] = [];
  let lines: number[] = [];

  const reject = (entry: RejectedDocument): void => {
    rejected++;
    if (errors.length < maxReported) errors.push(entry);
    if (options.failFast && !stopped) stopped = { code: entry.code, message: entry.message, ...(entry.line !== undefined ? { line: entry.line } : {}) };
  };
  const report = (): void =>
    options.onProgress?.({ ...progress(), processed, indexed, updated, rejected, elapsedMs: Date.now() - started });
  const flush = (): void => {
    if (batch.length === 0) return;
    const result = collection.upsert(batch, lines);
    indexed += result.inserted;
    updated += result.updated;
    for (const entry of result.rejected) reject(entry);
    batch = [];
    lines = [];
    report();
  };

  for await (const entry of readJsonLines(stream)) {
    processed++;
    if (entry.error) {
      reject({ line: entry.line, code: entry.error.code, message: entry.error.message });
    } else {
      try {
        const document = toIngestDocument(entry.value);
        const firstLine = seen.get(document.id);
        if (firstLine !== undefined) {
          duplicateIds++;
          if (warnings.length < maxReported) {
            warnings.push(`line ${entry.line}: id ${JSON.stringify(document.id)} already appeared on line ${firstLine}; the later version replaces it`);
          }
        } else {
          seen.set(document.id, entry.line);
        }
        batch.push(document);
        lines.push(entry.line);
      } catch (error) {
        reject({ line: entry.line, code: errorCode(error) ?? 'INVALID_DOCUMENT', message: `line ${entry.line}: ${(error as Error).message}` });
      }
    }
    if (stopped) break;
    if (batch.length >= batchSize) flush();
    if (stopped) break;
  }
  if (!stopped) flush();
  if (stopped) (stream as unknown as { destroy?: () => void }).destroy?.();
  const elapsedMs = Date.now() - started;
  return {
    source: file,
    indexed,
    updated,
    rejected,
    duplicateIds,
    errors,
    warnings,
    elapsedMs,
    docsPerSecond: elapsedMs > 0 ? ((indexed + updated) * 1000) / elapsedMs : 0,
    ...(stopped ? { stopped } : {}),
  };
}
