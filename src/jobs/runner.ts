import type { Collection, RejectedDocument } from '../engine/collection.js';
import { SparrowError } from '../common/errors.js';
import { TokenResolver } from '../engine/packed-batch.js';
import { EncoderPool, type PackedResult } from './encoder-pool.js';
import { openInput, readJsonLines, type ByteProgress } from '../common/json-lines.js';

/**
 * How input lines become documents: "jsonl" is `{"_id" or "id", fields...}` encoded by the
 * collection's encoder; "vectors" is `{"id", "vector": {"token": weight}, fields...}` for a
 * collection whose encoder is `{"type": "precomputed"}` (the encoder reads the vector and leaves it out of the stored fields).
 */
export type InputFormat = 'jsonl' | 'vectors';

export interface ResumePoint {
  /** Last input line covered by a committed batch. */
  readonly line: number;
  /** Decompressed input offset just after that line. */
  readonly byteOffset: number;
}

/** What one committed batch covered, handed to the checkpoint inside the batch's transaction. */
export interface CommittedBatch extends ResumePoint {
  readonly bytesRead: number;
  readonly totalBytes: number;
  /** Input lines (not blank) the batch accounts for: its documents and the lines rejected before encoding. */
  readonly processed: number;
  readonly indexed: number;
  readonly updated: number;
  readonly failed: number;
  readonly errors: RejectedDocument[];
}

export interface IngestionProgress extends ByteProgress {
  readonly processed: number;
  readonly indexed: number;
  readonly updated: number;
  readonly rejected: number;
  readonly elapsedMs: number;
}

export interface IngestionOptions {
  readonly format?: InputFormat;
  readonly batchSize?: number;
  /** Stop at the first rejected line; documents in batches before it stay committed. */
  readonly failFast?: boolean;
  readonly maxReportedErrors?: number;
  readonly maxLineBytes?: number;
  readonly resumeFrom?: ResumePoint;
  /** Encodes batches off the main thread; absent, documents are encoded on this thread. */
  readonly pool?: EncoderPool;
  /**
   * Written in the same SQLite transaction as each batch's documents, so a process killed at any
   * instant leaves the checkpoint and the documents in agreement.
   */
  readonly checkpoint?: { readonly transaction: <T>(work: () => T) => T; save(batch: CommittedBatch): void };
  /** Asked between lines and batches; true ends the run after the last committed batch. */
  readonly shouldStop?: () => boolean;
  readonly onProgress?: (progress: IngestionProgress) => void;
  /** Called once a batch's transaction has committed. */
  readonly onBatchCommitted?: (batch: CommittedBatch) => void;
  /** Count ids seen twice in this input (memory grows with distinct ids, up to a cap). */
  readonly trackDuplicateIds?: boolean;
}

export interface IngestionResult {
  readonly processed: number;
  readonly indexed: number;
  readonly updated: number;
  readonly rejected: number;
  readonly duplicateIds: number;
  readonly errors: RejectedDocument[];
  readonly warnings: string[];
  readonly elapsedMs: number;
  /**
   * Where the time went: encodeMs is the encoder threads' time parsing and encoding batches
   * (summed over threads, so it can exceed elapsedMs), storeMs this thread's time committing them
   * (term ids, SQLite transaction, the in-memory indexes following).
   */
  readonly stages: { readonly encodeMs: number; readonly storeMs: number };
  /** Position after the last committed batch. */
  readonly end: ResumePoint;
  /** failFast stopped the run at a rejected line. */
  readonly stopped?: { code: string; message: string; line?: number };
  /** shouldStop ended the run before the end of the input. */
  readonly interrupted?: boolean;
}

export const DEFAULT_BATCH_SIZE = 1000;
/** Beyond this many distinct ids, duplicate detection stops so memory stays bounded. */
const MAX_TRACKED_IDS = 2_000_000;

interface PendingBatch {
  /** The batch's raw lines, back to back (its own buffer: it is transferred to an encoder thread). */
  bytes: Uint8Array;
  used: number;
  readonly starts: number[];
  readonly ends: number[];
  readonly lines: number[];
  /** Lines rejected while reading (too long) that fall inside this batch's span. */
  readonly parseRejections: RejectedDocument[];
  processed: number;
  endLine: number;
  endOffset: number;
}

interface InFlightBatch {
  readonly batch: PendingBatch;
  readonly bytesRead: number;
  readonly encoded: Promise<PackedResult>;
}

/**
 * Streams one JSON-lines file into a collection: batches of documents are encoded (in the pool's
 * worker threads while the next batch is read) and committed in order, one SQLite transaction per
 * batch. Reading waits while the encoders are busy, so memory stays flat whatever the input size.
 * Every bulk path (CLI `index`, REST jobs, BEIR evaluation) goes through here.
 */
export async function runIngestion(collection: Collection, file: string, options: IngestionOptions = {}): Promise<IngestionResult> {
  const format = options.format ?? 'jsonl';
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new SparrowError('INVALID_ARGUMENT', 'batch size must be a positive integer');
  if (format === 'vectors' && (collection.encoder.config as { type?: string }).type !== 'precomputed') {
    throw new SparrowError(
      'ENCODER_MISMATCH',
      `precomputed-vector input needs a collection whose encoder is {"type": "precomputed"}; ${JSON.stringify(collection.name)} uses ${JSON.stringify((collection.encoder.config as { type?: string }).type)}`,
    );
  }
  const resume = options.resumeFrom ?? { line: 0, byteOffset: 0 };
  const gzip = file.endsWith('.gz');
  const { stream, progress } = openInput(file, { start: resume.byteOffset });
  const lineOptions = {
    raw: true,
    ...(options.maxLineBytes !== undefined ? { maxLineBytes: options.maxLineBytes } : {}),
    // A plain file is entered at the byte offset; gzip is read from the start, skipping committed lines.
    ...(gzip ? { skipThroughLine: resume.line } : { startLine: resume.line, startOffset: resume.byteOffset }),
  };
  const maxReported = options.maxReportedErrors ?? 100;
  const trackDuplicates = options.trackDuplicateIds ?? true;
  const maxInFlight = Math.max(2, (options.pool?.size ?? 0) + 1);
  const started = Date.now();

  const errors: RejectedDocument[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  let processed = 0;
  let indexed = 0;
  let updated = 0;
  let rejected = 0;
  let duplicateIds = 0;
  let stopped: IngestionResult['stopped'];
  let interrupted = false;
  let end: ResumePoint = resume;
  let encodeMs = 0;
  let storeMs = 0;
  const inFlight: InFlightBatch[] = [];
  let batch = newBatch(resume);

  // Rejections are counted when found but listed when their batch commits, so the list is in line order.
  const countRejection = (entry: RejectedDocument): void => {
    rejected++;
    if (options.failFast && !stopped) stopped = { code: entry.code, message: entry.message, ...(entry.line !== undefined ? { line: entry.line } : {}) };
  };
  const listRejections = (entries: readonly RejectedDocument[]): void => {
    for (const entry of entries) if (errors.length < maxReported) errors.push(entry);
  };

  const session = (options.pool ?? new EncoderPool(0)).linesSession(collection.encoder, collection.dense);
  // One resolver per encoder thread: each has its own token tables.
  const resolvers = new Map<number, TokenResolver>();

  const dispatch = (): void => {
    if (batch.processed === 0) return;
    const raw = {
      bytes: batch.bytes.subarray(0, batch.used),
      starts: Uint32Array.from(batch.starts),
      ends: Uint32Array.from(batch.ends),
      lines: Uint32Array.from(batch.lines),
    };
    const encoded = batch.lines.length > 0 ? session.encode(raw) : Promise.resolve(undefined as unknown as PackedResult);
    // Awaited in order later; until then a failure must not count as unhandled.
    encoded.catch(() => undefined);
    inFlight.push({ batch, bytesRead: progress().bytesRead, encoded });
    batch = newBatch({ line: batch.endLine, byteOffset: batch.endOffset });
  };

  const commitOldest = async (): Promise<void> => {
    const { batch: done, bytesRead, encoded } = inFlight.shift()!;
    const packed = done.lines.length > 0 ? await encoded : undefined;
    const readRejections: RejectedDocument[] = [...done.parseRejections];
    let blanks = 0;
    if (packed) {
      packed.batch.outcomes.forEach((outcome, i) => {
        if (outcome.kind === 'unreadable') readRejections.push({ line: done.lines[i]!, code: outcome.code, message: outcome.message });
        else if (outcome.kind === 'blank') blanks++;
      });
    }
    readRejections.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    if (options.failFast) {
      // A batch holding any rejected line is not written: the run stops at its first rejected
      // line, and nothing from there on (nor the lines after it) is committed or listed.
      const encoderRejections: RejectedDocument[] = [];
      packed?.batch.outcomes.forEach((outcome, i) => {
        if (outcome.kind === 'rejected') encoderRejections.push({ id: outcome.id, line: done.lines[i]!, code: outcome.code, message: outcome.message });
      });
      const first = [...readRejections, ...encoderRejections].sort((a, b) => (a.line ?? 0) - (b.line ?? 0))[0];
      if (first) {
        if (!done.parseRejections.includes(first)) countRejection(first);
        listRejections([first]);
        return;
      }
    }
    for (const entry of readRejections) if (!done.parseRejections.includes(entry)) countRejection(entry);
    const commit = (): CommittedBatch => {
      let result = { inserted: 0, updated: 0, rejected: [] as RejectedDocument[] };
      if (packed) {
        let resolver = resolvers.get(packed.encodedBy);
        if (!resolver) resolvers.set(packed.encodedBy, (resolver = new TokenResolver()));
        result = collection.upsertPacked(packed.batch, done.lines, resolver);
      }
      const committed: CommittedBatch = {
        line: done.endLine,
        byteOffset: done.endOffset,
        bytesRead: gzip ? bytesRead : done.endOffset,
        totalBytes: progress().totalBytes,
        processed: done.processed - blanks,
        indexed: result.inserted,
        updated: result.updated,
        failed: readRejections.length + result.rejected.length,
        errors: [...readRejections, ...result.rejected].sort((a, b) => (a.line ?? 0) - (b.line ?? 0)),
      };
      options.checkpoint?.save(committed);
      return committed;
    };
    const storeStarted = performance.now();
    const committed = options.checkpoint ? options.checkpoint.transaction(commit) : commit();
    storeMs += performance.now() - storeStarted;
    encodeMs += packed?.encodeMs ?? 0;
    options.onBatchCommitted?.(committed);
    processed += committed.processed;
    indexed += committed.indexed;
    updated += committed.updated;
    end = { line: committed.line, byteOffset: committed.byteOffset };
    if (trackDuplicates && packed) trackIds(packed.batch.outcomes, done.lines);
    // Read rejections were counted above; encoding rejections are counted now.
    for (const entry of committed.errors) if (!readRejections.includes(entry)) countRejection(entry);
    listRejections(committed.errors);
    options.onProgress?.({
      bytesRead: committed.bytesRead,
      totalBytes: committed.totalBytes,
      processed,
      indexed,
      updated,
      rejected,
      elapsedMs: Date.now() - started,
    });
    // When encoder replies are always ready, promise chains alone never reach the timers phase:
    // give the event loop a turn per batch so requests, timers and shutdown signals are served.
    await new Promise<void>((resolve) => setImmediate(resolve));
  };

  /** Ids seen twice in this input, in line order; the later version replaces the earlier. */
  const trackIds = (outcomes: PackedResult['batch']['outcomes'], lines: readonly number[]): void => {
    outcomes.forEach((outcome, i) => {
      if (outcome.kind !== 'document' && outcome.kind !== 'rejected') return;
      const line = lines[i]!;
      const firstLine = seen.get(outcome.id);
      if (firstLine !== undefined) {
        duplicateIds++;
        if (warnings.length < maxReported) {
          warnings.push(`line ${line}: id ${JSON.stringify(outcome.id)} already appeared on line ${firstLine}; the later version replaces it`);
        }
      } else if (seen.size < MAX_TRACKED_IDS) {
        seen.set(outcome.id, line);
      }
    });
  };

  const settleInFlight = async (): Promise<void> => {
    await Promise.allSettled(inFlight.splice(0).map((b) => b.encoded));
  };

  try {
    for await (const entry of readJsonLines(stream, lineOptions)) {
      if (options.shouldStop?.()) {
        interrupted = true;
        break;
      }
      batch.processed++;
      batch.endLine = entry.line;
      batch.endOffset = entry.endOffset;
      if (entry.error) {
        const rejection = { line: entry.line, code: entry.error.code, message: entry.error.message };
        batch.parseRejections.push(rejection);
        countRejection(rejection);
      } else {
        appendLine(batch, entry.bytes!, entry.line);
      }
      if (stopped) break;
      if (batch.lines.length >= batchSize) {
        dispatch();
        while (inFlight.length >= maxInFlight && !stopped) await commitOldest();
        if (stopped) break;
      }
    }
    if (!stopped && !interrupted) dispatch();
    // Batches read before a failFast stop precede the bad line and are kept; after an interruption
    // (cancel, shutdown) they are dropped: the checkpoint says where to pick up.
    while (inFlight.length > 0 && !interrupted && !(stopped && !beforeStop(stopped, inFlight[0]!.batch))) {
      await commitOldest();
      if (inFlight.length > 0 && options.shouldStop?.()) interrupted = true;
    }
    // Lines read but never committed (a stop, an interruption) still name their rejections.
    listRejections([...inFlight.flatMap((b) => b.batch.parseRejections), ...batch.parseRejections]);
  } finally {
    await settleInFlight();
    session.release();
    (stream as unknown as { destroy?: () => void }).destroy?.();
  }
  if (trackDuplicates && seen.size >= MAX_TRACKED_IDS) {
    warnings.push(`duplicate ids were counted among the first ${MAX_TRACKED_IDS} distinct ids only`);
  }
  return {
    processed,
    indexed,
    updated,
    rejected,
    duplicateIds,
    errors,
    warnings,
    elapsedMs: Date.now() - started,
    stages: { encodeMs, storeMs },
    end,
    ...(stopped ? { stopped } : {}),
    ...(interrupted ? { interrupted } : {}),
  };
}

/** With failFast, nothing from the first rejected line on may be committed. */
function beforeStop(stopped: { line?: number }, batch: PendingBatch): boolean {
  return stopped.line !== undefined && batch.endLine < stopped.line;
}

function newBatch(from: ResumePoint): PendingBatch {
  return { bytes: new Uint8Array(1 << 16), used: 0, starts: [], ends: [], lines: [], parseRejections: [], processed: 0, endLine: from.line, endOffset: from.byteOffset };
}

function appendLine(batch: PendingBatch, bytes: Uint8Array, line: number): void {
  if (batch.used + bytes.length > batch.bytes.length) {
    const grown = new Uint8Array(Math.max(batch.bytes.length * 2, batch.used + bytes.length));
    grown.set(batch.bytes.subarray(0, batch.used));
    batch.bytes = grown;
  }
  batch.bytes.set(bytes, batch.used);
  batch.starts.push(batch.used);
  batch.used += bytes.length;
  batch.ends.push(batch.used);
  batch.lines.push(line);
}
