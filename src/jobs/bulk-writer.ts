import type { Collection, EncodingOutcome } from '../engine/collection.js';
import type { IngestDocument } from '../engine/documents.js';
import type { Engine } from '../engine/engine.js';
import { SparrowError } from '../common/errors.js';
import type { EncoderPool } from './encoder-pool.js';

/** What became of one queued upsert once its batch was committed. */
export type WriteOutcome = { readonly result: 'upserted' } | { readonly result: 'error'; readonly code: string; readonly message: string };

/**
 * The write loop of a bulk request: upserts are queued and, a batch at a time, encoded in the
 * worker pool and committed in one transaction each; a delete first commits what is queued, so
 * operations apply in order. Both HTTP doors (sparrow's _bulk and the OpenSearch-compatible one)
 * write through it; the job runner's batches commit with a checkpoint in the same transaction.
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
