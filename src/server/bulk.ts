import type { Readable } from 'node:stream';
import type { Collection, EncodingOutcome } from '../engine/collection.js';
import { toIngestDocument, type IngestDocument } from '../engine/documents.js';
import type { Engine } from '../engine/engine.js';
import { SparrowError, errorCode } from '../engine/errors.js';
import type { EncoderPool } from '../jobs/encoder-pool.js';
import { readJsonLines } from '../jobs/json-lines.js';
import { byteLimit } from '../jobs/manager.js';

export type BulkItem =
  | { line: number; id: string; result: 'upserted' | 'deleted' | 'not_found' }
  | { line: number; id?: string; result: 'error'; error: { code: string; message: string } };

export interface BulkResponse {
  took_ms: number;
  errors: boolean;
  indexed: number;
  updated: number;
  deleted: number;
  not_found: number;
  failed: number;
  items: BulkItem[];
}

export interface BulkOptions {
  readonly pool: EncoderPool;
  readonly maxBytes: number;
  readonly maxLineBytes: number;
  readonly maxLines: number;
  readonly batchSize?: number;
}

/** Stored-field names with a meaning in bulk lines; they are not stored. */
const OPERATION_FIELD = '_op';

/** What became of one queued upsert once its batch was committed. */
export type WriteOutcome = { readonly result: 'upserted' } | { readonly result: 'error'; readonly code: string; readonly message: string };

/**
 * The write loop of a bulk request: upserts are queued and, a batch at a time, encoded in the
 * worker pool and committed in one transaction each; a delete first commits what is queued, so
 * operations apply in order. Both HTTP doors (sparrow's _bulk and the OpenSearch-compatible one)
 * write through it.
 */
export class BulkWriter {
  private collection: Collection;
  private pending: { document: IngestDocument; line: number; done: (outcome: WriteOutcome) => void }[] = [];
  private readonly pendingIds = new Set<string>();
  /** Documents written new and written over, over the writer's life. */
  inserted = 0;
  updated = 0;

  constructor(
    private readonly engine: Engine,
    private readonly collectionName: string,
    private readonly pool: EncoderPool,
    private readonly batchSize = 1000,
  ) {
    this.collection = engine.collection(collectionName);
  }

  /** The collection may be deleted while a request waits for the encoders. */
  current(): Collection {
    const found = this.engine.findCollection(this.collectionName);
    if (!found || found.record.id !== this.collection.record.id) {
      throw new SparrowError('COLLECTION_NOT_FOUND', `collection ${JSON.stringify(this.collectionName)} was deleted during the bulk request`, { collection: this.collectionName });
    }
    this.collection = found;
    return found;
  }

  /** Whether the id is written already or queued in this request. */
  exists(id: string): boolean {
    return this.pendingIds.has(id) || this.current().get(id) !== undefined;
  }

  async upsert(document: IngestDocument, line: number, done: (outcome: WriteOutcome) => void): Promise<void> {
    this.pending.push({ document, line, done });
    this.pendingIds.add(document.id);
    if (this.pending.length >= this.batchSize) await this.flush();
  }

  /** Deletes after committing what is queued; returns whether the document existed. */
  async delete(id: string): Promise<boolean> {
    await this.flush();
    return this.current().delete([id]) > 0;
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingIds.clear();
    const documents = batch.map((p) => p.document);
    const outcomes: EncodingOutcome[] = await this.pool.encode(this.collection.encoder, this.collection.dense, documents);
    const result = this.current().upsertEncoded(documents, outcomes, batch.map((p) => p.line));
    this.inserted += result.inserted;
    this.updated += result.updated;
    const rejectedLines = new Map(result.rejected.map((r) => [r.line, r]));
    for (const { line, done } of batch) {
      const rejection = rejectedLines.get(line);
      done(rejection ? { result: 'error', code: rejection.code, message: rejection.message } : { result: 'upserted' });
    }
    // Let other requests in between batches of a large body.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/**
 * Applies an NDJSON body of upserts (`{"id": ..., fields}`) and deletes (`{"_op": "delete", "id": ...}`)
 * in order. Upserts are encoded in the worker pool and committed a batch per transaction; a bad
 * line fails alone and is reported with its line number. Every line answered as done is committed.
 */
export async function applyBulk(engine: Engine, collectionName: string, body: Readable, options: BulkOptions): Promise<BulkResponse> {
  const started = process.hrtime.bigint();
  const response: BulkResponse = { took_ms: 0, errors: false, indexed: 0, updated: 0, deleted: 0, not_found: 0, failed: 0, items: [] };
  const writer = new BulkWriter(engine, collectionName, options.pool, options.batchSize ?? 1000);

  const fail = (line: number, code: string, message: string, id?: string): void => {
    response.failed++;
    response.items.push({ line, ...(id !== undefined ? { id } : {}), result: 'error', error: { code, message } });
  };
  const flush = (): Promise<void> => writer.flush();

  let lines = 0;
  let lastLine = 0;
  const limited = body.pipe(byteLimit(options.maxBytes));
  body.on('error', (error) => limited.destroy(error));
  // Lines before the limit was crossed are whole and are applied; the answer says how far it got.
  const tooLarge = async (message: string, limit: number): Promise<never> => {
    await flush();
    throw new SparrowError('PAYLOAD_TOO_LARGE', `${message}; lines 1 to ${lastLine} were applied`, { limit, applied_through_line: lastLine });
  };
  try {
    for await (const entry of readJsonLines(limited, { maxLineBytes: options.maxLineBytes })) {
      lines++;
      if (lines > options.maxLines) await tooLarge(`a bulk request may hold at most ${options.maxLines} lines`, options.maxLines);
      lastLine = entry.line;
      await applyLine(entry);
    }
  } catch (error) {
    if (errorCode(error) === 'PAYLOAD_TOO_LARGE' && (error as SparrowError).details?.['applied_through_line'] === undefined) {
      await tooLarge(`the bulk body is larger than ${options.maxBytes} bytes`, options.maxBytes);
    }
    throw error;
  }
  await flush();
  response.indexed = writer.inserted;
  response.updated = writer.updated;
  response.errors = response.failed > 0;
  response.items.sort((a, b) => a.line - b.line);
  response.took_ms = Math.round(Number(process.hrtime.bigint() - started) / 1000) / 1000;
  return response;

  async function applyLine(entry: { line: number; value?: unknown; error?: { code: string; message: string } }): Promise<void> {
    if (entry.error) {
      fail(entry.line, entry.error.code, entry.error.message);
      return;
    }
    const value = entry.value;
    const op = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[OPERATION_FIELD] : undefined;
    try {
      if (op === undefined || op === 'upsert') {
        const { [OPERATION_FIELD]: _op, ...raw } = value as Record<string, unknown>;
        const document = toIngestDocument(op === undefined ? value : raw);
        const line = entry.line;
        await writer.upsert(document, line, (outcome) => {
          if (outcome.result === 'error') fail(line, outcome.code, outcome.message, document.id);
          else response.items.push({ line, id: document.id, result: 'upserted' });
        });
      } else if (op === 'delete') {
        const { id } = toIngestDocument(value);
        await flush();
        if (await writer.delete(id)) {
          response.deleted++;
          response.items.push({ line: entry.line, id, result: 'deleted' });
        } else {
          response.not_found++;
          response.items.push({ line: entry.line, id, result: 'not_found' });
        }
      } else {
        fail(entry.line, 'INVALID_OPERATION', `line ${entry.line}: "_op" must be "upsert" or "delete", got ${JSON.stringify(op)}`);
      }
    } catch (error) {
      const code = errorCode(error);
      if (code === 'COLLECTION_NOT_FOUND') throw error;
      fail(entry.line, code ?? 'INVALID_DOCUMENT', `line ${entry.line}: ${(error as Error).message}`);
    }
  }
}
