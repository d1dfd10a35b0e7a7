import type { Collection } from '../engine/collection.js';
import type { Engine } from '../engine/engine.js';

/** Bytes the collection's documents take in the store (stored fields, packed vectors, lengths). */
export function storedDocumentBytes(engine: Engine, collection: Collection): number {
  const row = engine.store.db
    .prepare('SELECT coalesce(sum(length(fields) + length(vector) + length(field_lengths)), 0) AS n FROM documents WHERE collection_id = ?')
    .get(collection.record.id) as { n: number };
  return row.n;
}

/**
 * Segment counts per collection id for /metrics, read from the store in one query: a scrape must
 * not load every collection's approximate index the way Collection.segmentStatistics() would.
 */
export function segmentCounts(engine: Engine): Map<number, number> {
  const rows = engine.store.db.prepare('SELECT collection_id AS id, count(*) AS n FROM segments GROUP BY collection_id').all() as { id: number; n: number }[];
  return new Map(rows.map((r) => [r.id, r.n]));
}
