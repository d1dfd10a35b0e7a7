import type { Collection } from '../engine/collection.js';
import { isBeirFolder, openBeirFolder } from './beir.js';
import { EncoderPool } from './encoder-pool.js';
import { DEFAULT_BATCH_SIZE, runIngestion, type IngestionProgress, type IngestionResult, type InputFormat } from './runner.js';

export { DEFAULT_BATCH_SIZE };

export type IngestProgress = IngestionProgress;

export interface IngestOptions {
  /** Documents per transaction (default 1000). */
  readonly batchSize?: number;
  /** Stop at the first rejected line instead of reporting it and going on. */
  readonly failFast?: boolean;
  /** How many rejected lines the summary lists in full (default 100); all are counted. */
  readonly maxReportedErrors?: number;
  readonly onProgress?: (progress: IngestProgress) => void;
  readonly format?: InputFormat;
  /** Encoder worker threads: a pool to share, or how many to start for this run (0: encode on this thread). */
  readonly pool?: EncoderPool;
  readonly workers?: number;
}

/** What an import reports: the runner's counts, plus where the input came from and the rate. */
export type IngestSummary = Pick<IngestionResult, 'indexed' | 'updated' | 'rejected' | 'duplicateIds' | 'errors' | 'warnings' | 'elapsedMs' | 'stages' | 'stopped'> & {
  readonly source: string;
  readonly docsPerSecond: number;
};

/** A BEIR folder stands for its corpus file; anything else is read as a JSON-lines file. */
export function resolveInputFile(input: string): string {
  return isBeirFolder(input) ? openBeirFolder(input).corpus : input;
}

/**
 * Streams a JSONL file (plain or .gz) or a BEIR folder's corpus into a collection, committing one
 * transaction per batch. A run that fails part-way keeps every batch committed before the failure.
 */
export async function ingestFile(collection: Collection, input: string, options: IngestOptions = {}): Promise<IngestSummary> {
  const file = resolveInputFile(input);
  const ownPool = options.pool ? undefined : new EncoderPool(options.workers ?? EncoderPool.defaultSize());
  try {
    const result = await runIngestion(collection, file, {
      batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
      ...(options.failFast !== undefined ? { failFast: options.failFast } : {}),
      ...(options.maxReportedErrors !== undefined ? { maxReportedErrors: options.maxReportedErrors } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.format ? { format: options.format } : {}),
      pool: options.pool ?? ownPool!,
    });
    return {
      source: file,
      indexed: result.indexed,
      updated: result.updated,
      rejected: result.rejected,
      duplicateIds: result.duplicateIds,
      errors: result.errors,
      warnings: result.warnings,
      elapsedMs: result.elapsedMs,
      stages: result.stages,
      docsPerSecond: result.elapsedMs > 0 ? ((result.indexed + result.updated) * 1000) / result.elapsedMs : 0,
      ...(result.stopped ? { stopped: result.stopped } : {}),
    };
  } finally {
    await ownPool?.close();
  }
}
