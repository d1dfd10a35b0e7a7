import type { Database } from 'better-sqlite3';

/**
 * Schema migrations, applied in order inside one transaction each; PRAGMA user_version records the
 * last one applied. A migration is never edited once released: changes come as a new entry.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
  /**
   * The migration rewrites a table: on a database that holds rows it may take a while (a warning
   * says so first), and the pages it frees are given back to the file system afterwards (VACUUM).
   */
  readonly rewritesTable?: string;
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
  {
    version: 3,
    description: 'bulk indexing jobs with checkpoints',
    sql: `
      -- One row per bulk indexing job. The position of the last committed batch (line, byte offset)
      -- and the counters are written in the same transaction as the batch's documents, so a job
      -- killed at any point resumes exactly after what it acknowledged.
      CREATE TABLE jobs (
        id               TEXT PRIMARY KEY,
        collection       TEXT NOT NULL,            -- by name: a job's record outlives its collection
        source           TEXT NOT NULL,            -- JSON: where the input is and how to read it
        options          TEXT NOT NULL DEFAULT '{}', -- JSON: batch size and other run settings
        status           TEXT NOT NULL,            -- queued | running | completed | failed | cancelled
        line             INTEGER NOT NULL DEFAULT 0, -- last input line covered by a committed batch
        byte_offset      INTEGER NOT NULL DEFAULT 0, -- decompressed input offset just after that line
        bytes_read       INTEGER NOT NULL DEFAULT 0, -- source bytes consumed (compressed for .gz), for progress
        total_bytes      INTEGER NOT NULL DEFAULT 0,
        processed        INTEGER NOT NULL DEFAULT 0,
        indexed          INTEGER NOT NULL DEFAULT 0,
        updated          INTEGER NOT NULL DEFAULT 0,
        failed           INTEGER NOT NULL DEFAULT 0,
        errors           TEXT NOT NULL DEFAULT '[]', -- JSON: the first rejected lines, with line numbers
        error            TEXT,                     -- JSON {code, message} of what stopped a failed job
        elapsed_ms       INTEGER NOT NULL DEFAULT 0, -- running time summed over all runs (for the rate)
        created_at       TEXT NOT NULL,
        started_at       TEXT,
        finished_at      TEXT,
        updated_at       TEXT NOT NULL
      );
      CREATE INDEX jobs_by_status ON jobs(status);
    `,
  },
  {
    version: 4,
    description: 'dense vectors beside the sparse ones',
    sql: `
      -- A collection's dense side (encoder, metric, storage, index kind) as JSON; NULL when it has none.
      ALTER TABLE collections ADD COLUMN dense TEXT;
      -- A document's dense vector (little-endian float32), written in the same row as its sparse
      -- vector, so a replaced or deleted document takes both with it.
      ALTER TABLE documents ADD COLUMN dense BLOB;
    `,
  },
  {
    version: 5,
    description: 'document frequencies are derived, not stored',
    sql: `
      -- Document frequencies are counted from the postings when an index is built (they follow
      -- deletes at once), so the column was only ever written: one UPDATE per term per batch.
      ALTER TABLE terms DROP COLUMN doc_freq;
    `,
  },
  {
    version: 6,
    description: 'documents in a rowid table, rows inside their pages',
    rewritesTable: 'documents',
    sql: `
      -- A WITHOUT ROWID table keeps its rows in index pages, where a row over about 1 KB spills
      -- into an overflow page of its own: a 150-term vector (1.3 KB) took 4.7 KB on disk and three
      -- times the page writes. A rowid table keeps rows up to about 4 KB inside its leaf pages.
      CREATE TABLE documents_in_rowid_table (
        collection_id    INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        doc_number       INTEGER NOT NULL,
        external_id      TEXT NOT NULL,
        fields           TEXT NOT NULL,            -- stored fields as JSON
        vector           BLOB NOT NULL,            -- packed sparse vector (see vector-codec.ts)
        field_lengths    BLOB NOT NULL,            -- u32 per encoder field (BM25 length norms)
        updated_at       TEXT NOT NULL,
        dense            BLOB                      -- little-endian float32, NULL without a dense side
      );
      INSERT INTO documents_in_rowid_table (collection_id, doc_number, external_id, fields, vector, field_lengths, updated_at, dense)
        SELECT collection_id, doc_number, external_id, fields, vector, field_lengths, updated_at, dense
        FROM documents ORDER BY collection_id, doc_number;
      DROP TABLE documents;
      ALTER TABLE documents_in_rowid_table RENAME TO documents;
      -- Doc numbers are unique per collection by construction (collections.next_doc_number, in the
      -- writing transaction). The index carries the external id so that listing every live
      -- document on open reads this index alone, never the rows.
      CREATE INDEX documents_by_number ON documents(collection_id, doc_number, external_id);
      CREATE UNIQUE INDEX documents_by_external_id ON documents(collection_id, external_id);
    `,
  },
  {
    version: 7,
    description: 'job results (a recall tuning job keeps its chosen setting and Pareto table)',
    sql: `
      ALTER TABLE jobs ADD COLUMN result TEXT; -- JSON, NULL for indexing jobs
    `,
  },
  {
    version: 8,
    description: 'document versions, OpenSearch index mappings and search pipelines',
    sql: `
      -- 1 when a document is first written, one more each time it is replaced.
      ALTER TABLE documents ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
      -- A collection made through the OpenSearch-compatible API keeps the mapping it was made from.
      CREATE TABLE opensearch_indices (
        collection_id  INTEGER PRIMARY KEY REFERENCES collections(id) ON DELETE CASCADE,
        mapping        TEXT NOT NULL, -- JSON, as accepted (normalized)
        settings       TEXT NOT NULL  -- JSON index settings as given
      );
      CREATE TABLE search_pipelines (
        name        TEXT PRIMARY KEY,
        body        TEXT NOT NULL,  -- JSON, as given
        updated_at  TEXT NOT NULL
      );
    `,
  },
  {
    version: 9,
    description: 'aliases: a name that points at one collection, moved in one statement',
    sql: `
      CREATE TABLE aliases (
        name           TEXT PRIMARY KEY,
        collection_id  INTEGER NOT NULL REFERENCES collections(id),
        updated_at     TEXT NOT NULL
      );
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
  let compact = false;
  for (const migration of MIGRATIONS) {
    if (migration.version <= from) continue;
    if (migration.rewritesTable && from > 0) {
      const rows = (db.prepare(`SELECT count(*) AS n FROM ${migration.rewritesTable}`).get() as { n: number }).n;
      if (rows > 0) {
        compact = true;
        process.emitWarning(`upgrading the database to schema version ${migration.version} (${migration.description}): rewriting ${rows} rows of ${migration.rewritesTable}, about a minute per million`, {
          code: 'SPARROW_MIGRATION',
        });
      }
    }
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  // The rewritten table's old pages are free now; without this the file keeps its old size.
  if (compact) db.exec('VACUUM');
  return { from, to: latest };
}
