import type { Database } from 'better-sqlite3';

/**
 * Schema migrations, applied in order inside one transaction each; PRAGMA user_version records the
 * last one applied. A migration is never edited once released: changes come as a new entry.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'collections, documents with sparse vectors, term dictionary, field statistics',
    sql: `
      CREATE TABLE collections (
        id               INTEGER PRIMARY KEY,
        name             TEXT NOT NULL UNIQUE,
        encoder          TEXT NOT NULL,            -- JSON encoder configuration
        index_settings   TEXT NOT NULL DEFAULT '{}', -- JSON index settings
        created_at       TEXT NOT NULL,
        next_doc_number  INTEGER NOT NULL DEFAULT 0 -- doc numbers are never reused
      );

      -- One row per live document. A replaced or deleted document's row is removed; its doc number
      -- is retired so that indexes built earlier can tombstone it.
      CREATE TABLE documents (
        collection_id    INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        doc_number       INTEGER NOT NULL,
        external_id      TEXT NOT NULL,
        fields           TEXT NOT NULL,            -- stored fields as JSON
        vector           BLOB NOT NULL,            -- packed sparse vector (see vector-codec.ts)
        field_lengths    BLOB NOT NULL,            -- u32 per encoder field (BM25 length norms)
        updated_at       TEXT NOT NULL,
        PRIMARY KEY (collection_id, doc_number)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX documents_by_external_id ON documents(collection_id, external_id);

      -- Term dictionary: append-only ids per collection. doc_freq counts live documents holding the term.
      CREATE TABLE terms (
        collection_id    INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        term_id          INTEGER NOT NULL,
        field            INTEGER NOT NULL,
        text             TEXT NOT NULL,
        doc_freq         INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (collection_id, term_id)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX terms_by_text ON terms(collection_id, field, text);

      -- Per-field statistics BM25 needs: documents with the field non-empty, and the sum of lengths.
      CREATE TABLE field_stats (
        collection_id        INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        field                INTEGER NOT NULL,
        doc_count            INTEGER NOT NULL DEFAULT 0,
        sum_total_term_freq  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (collection_id, field)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    description: 'approximate-index segments',
    sql: `
      -- One row per immutable segment file of a collection's approximate index. A file is written,
      -- fsynced and renamed first, and only then recorded here; a file with no row is garbage.
      CREATE TABLE segments (
        collection_id    INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        segment_id       INTEGER NOT NULL,
        file_name        TEXT NOT NULL,
        doc_count        INTEGER NOT NULL,
        min_doc_number   INTEGER NOT NULL,
        max_doc_number   INTEGER NOT NULL,
        byte_size        INTEGER NOT NULL,
        created_at       TEXT NOT NULL,
        PRIMARY KEY (collection_id, segment_id)
      ) WITHOUT ROWID;
    `,
  },
];

export function migrate(db: Database): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  const latest = MIGRATIONS[MIGRATIONS.length - 1]!.version;
  if (from > latest) {
    throw Object.assign(
      new Error(`database schema version ${from} is newer than this sparrow understands (${latest}); upgrade sparrow`),
      { code: 'STORE_SCHEMA_TOO_NEW' },
    );
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= from) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  return { from, to: latest };
}
