import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database, Statement } from 'better-sqlite3';
import { StoreError } from './errors.js';
import { migrate } from './migrations.js';
import { decodeLengths, decodeVector, encodeLengths, encodeVector } from './vector-codec.js';
import { compileFilter, type Filter } from './filter.js';
import { countFacet, type FacetRequest, type FacetResult } from './facets.js';
import { JobsStore } from './jobs-store.js';

export const DATABASE_FILE = 'sparrow.db';

export interface CollectionRecord {
  readonly id: number;
  readonly name: string;
  readonly encoder: Record<string, unknown>;
  readonly indexSettings: Record<string, unknown>;
  /** The dense side's settings (see engine/dense-side.ts); undefined when the collection has none. */
  readonly dense: Record<string, unknown> | undefined;
  readonly createdAt: string;
}

/** A document ready to be written: term ids already assigned by the dictionary. */
export interface DocumentWrite {
  readonly externalId: string;
  /** Stored fields, as JSON text (what the documents table holds). */
  readonly storedJson: string;
  readonly indices: Uint32Array;
  readonly values: Float32Array;
  /** Number of tokens per encoder field (zeros for encoders without length norms). */
  readonly fieldLengths: Uint32Array;
  /** The document's dense vector, for collections with a dense side. */
  readonly dense?: Float32Array;
}

export interface StoredDocument {
  readonly docNumber: number;
  readonly externalId: string;
  readonly fields: Record<string, unknown>;
  readonly indices: Uint32Array;
  readonly values: Float32Array;
  readonly fieldLengths: Uint32Array;
  /** 1 when first written, one more each time the document is replaced. */
  readonly version: number;
}

/** What one committed batch changed, so in-memory indexes can follow without re-reading the database. */
export interface BatchOutcome {
  readonly added: { docNumber: number; write: DocumentWrite }[];
  /** Doc numbers of versions that were replaced or deleted, with the vectors they held. */
  readonly removed: StoredDocument[];
  readonly inserted: number;
  readonly updated: number;
}

export interface SegmentRecord {
  readonly segmentId: number;
  readonly fileName: string;
  readonly docCount: number;
  readonly minDocNumber: number;
  readonly maxDocNumber: number;
  readonly byteSize: number;
  readonly createdAt: string;
}

export interface TermEntry {
  readonly termId: number;
  readonly field: number;
  readonly text: string;
}

export interface FieldStatistics {
  readonly field: number;
  readonly docCount: number;
  readonly sumTotalTermFreq: number;
}

const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function validateCollectionName(name: string): void {
  if (!COLLECTION_NAME.test(name)) {
    throw new StoreError(
      'INVALID_COLLECTION_NAME',
      `collection name ${JSON.stringify(name)} is not allowed: use 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit`,
    );
  }
}

/**
 * The durable state of a data directory: one SQLite database (WAL mode). Every write that a caller
 * is told succeeded has been committed in a transaction; a failure inside a batch rolls the whole batch back.
 */
export class Store {
  readonly db: Database;
  readonly dataDir: string;
  private readonly statements: ReturnType<typeof prepareStatements>;

  private jobsStore: JobsStore | undefined;

  private constructor(dataDir: string, db: Database) {
    this.dataDir = dataDir;
    this.db = db;
    this.statements = prepareStatements(db);
  }

  static open(dataDir: string, options: { readonly?: boolean } = {}): Store {
    try {
      fs.mkdirSync(dataDir, { recursive: true });
    } catch (error) {
      throw new StoreError('DATA_DIR_UNWRITABLE', `cannot create data directory ${dataDir}: ${(error as Error).message}`);
    }
    let db: Database;
    try {
      db = new BetterSqlite3(path.join(dataDir, DATABASE_FILE), { readonly: options.readonly ?? false });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
    } catch (error) {
      throw new StoreError('DATA_DIR_UNREADABLE', `cannot open database in ${dataDir}: ${(error as Error).message}`);
    }
    try {
      migrate(db);
    } catch (error) {
      db.close();
      const code = (error as { code?: string }).code ?? 'STORE_MIGRATION_FAILED';
      throw new StoreError(code, (error as Error).message);
    }
    return new Store(dataDir, db);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- collections -------------------------------------------------------------------------

  createCollection(
    name: string,
    encoder: Record<string, unknown>,
    indexSettings: Record<string, unknown> = {},
    dense?: Record<string, unknown>,
  ): CollectionRecord {
    validateCollectionName(name);
    if (this.getCollection(name)) {
      throw new StoreError('COLLECTION_EXISTS', `collection ${JSON.stringify(name)} already exists`);
    }
    const alias = this.getAlias(name);
    if (alias) throw new StoreError('COLLECTION_EXISTS', `${JSON.stringify(name)} is an alias of collection ${JSON.stringify(alias.collection)}; a collection cannot take its name`);
    const createdAt = new Date().toISOString();
    const info = this.statements.insertCollection.run(name, JSON.stringify(encoder), JSON.stringify(indexSettings), dense ? JSON.stringify(dense) : null, createdAt);
    return { id: Number(info.lastInsertRowid), name, encoder, indexSettings, dense, createdAt };
  }

  getCollection(name: string): CollectionRecord | undefined {
    const row = this.statements.collectionByName.get(name) as CollectionRow | undefined;
    return row ? collectionFromRow(row) : undefined;
  }

  listCollections(): CollectionRecord[] {
    return (this.statements.allCollections.all() as CollectionRow[]).map(collectionFromRow);
  }

  deleteCollection(name: string): boolean {
    const collection = this.getCollection(name);
    if (!collection) return false;
    const aliases = this.listAliases().filter((a) => a.collection === name).map((a) => a.alias);
    if (aliases.length > 0) {
      throw new StoreError('ALIAS_IN_USE', `collection ${JSON.stringify(name)} is behind the alias ${aliases.map((a) => JSON.stringify(a)).join(', ')}; point it at another collection or delete it first`, { aliases });
    }
    this.db.transaction(() => {
      // Explicit deletes keep this independent of whether foreign keys were enabled when rows were written.
      this.db.prepare('DELETE FROM documents WHERE collection_id = ?').run(collection.id);
      this.db.prepare('DELETE FROM terms WHERE collection_id = ?').run(collection.id);
      this.db.prepare('DELETE FROM field_stats WHERE collection_id = ?').run(collection.id);
      this.db.prepare('DELETE FROM segments WHERE collection_id = ?').run(collection.id);
      this.db.prepare('DELETE FROM opensearch_indices WHERE collection_id = ?').run(collection.id);
      this.db.prepare('DELETE FROM collections WHERE id = ?').run(collection.id);
    })();
    return true;
  }

  /** Facet counts over a field of the collection's documents (the given doc numbers, or all). */
  facet(collectionId: number, field: string, request: FacetRequest, docNumbers: Uint32Array | undefined): FacetResult {
    return countFacet(this.db, collectionId, field, request, docNumbers);
  }

  // ---- snapshots ----------------------------------------------------------------------------

  /**
   * A consistent copy of one collection's rows in a database file of its own: SQLite's online
   * backup of the whole database (the server keeps serving), then everything but the collection is
   * dropped from the copy. Returns the segment files the copy names, to be copied beside it.
   */
  async snapshotCollection(name: string, file: string): Promise<{ collectionId: number; segmentFiles: string[] }> {
    const collection = this.getCollection(name);
    if (!collection) throw new StoreError('COLLECTION_NOT_FOUND', `collection ${JSON.stringify(name)} does not exist`, { collection: name });
    await this.db.backup(file);
    const copy = new BetterSqlite3(file);
    try {
      copy.pragma('journal_mode = DELETE');
      copy.transaction(() => {
        for (const table of COLLECTION_TABLES) copy.prepare(`DELETE FROM ${table} WHERE collection_id <> ?`).run(collection.id);
        copy.prepare('DELETE FROM collections WHERE id <> ?').run(collection.id);
        copy.prepare('DELETE FROM jobs').run();
        copy.prepare('DELETE FROM aliases').run();
        copy.prepare('DELETE FROM search_pipelines').run();
      })();
      copy.exec('VACUUM');
      const segmentFiles = (copy.prepare('SELECT file_name FROM segments WHERE collection_id = ? ORDER BY segment_id').pluck().all(collection.id) as string[]);
      return { collectionId: collection.id, segmentFiles };
    } finally {
      copy.close();
    }
  }

  /**
   * Writes the collection held in a snapshot database into this one under `name`, in one
   * transaction; returns its record and the id it had in the snapshot (its segment folder there).
   */
  restoreCollection(file: string, name: string): { record: CollectionRecord; snapshotId: number } {
    validateCollectionName(name);
    if (this.getCollection(name) || this.getAlias(name)) throw new StoreError('COLLECTION_EXISTS', `collection ${JSON.stringify(name)} already exists`);
    const snapshot = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
    let source: CollectionRow;
    try {
      const version = snapshot.pragma('user_version', { simple: true }) as number;
      const mine = this.db.pragma('user_version', { simple: true }) as number;
      if (version !== mine) throw new StoreError('SNAPSHOT_VERSION', `the snapshot's schema version is ${version}, this database's ${mine}: restore it with the sparrow that made it`);
      const rows = snapshot.prepare('SELECT * FROM collections').all() as CollectionRow[];
      if (rows.length !== 1) throw new StoreError('INVALID_SNAPSHOT', `${file} holds ${rows.length} collections; a snapshot holds one`);
      source = rows[0]!;
    } finally {
      snapshot.close();
    }
    // SQLite attaches outside transactions; the rows then move in one.
    this.db.prepare('ATTACH DATABASE ? AS snapshot').run(file);
    try {
      return this.db.transaction(() => {
        const info = this.db
          .prepare('INSERT INTO collections (name, encoder, index_settings, dense, created_at, next_doc_number) VALUES (?, ?, ?, ?, ?, ?)')
          .run(name, source.encoder, source.index_settings, source.dense, new Date().toISOString(), source.next_doc_number);
        const id = Number(info.lastInsertRowid);
        for (const table of COLLECTION_TABLES) {
          const columns = (this.db.prepare(`PRAGMA main.table_info(${table})`).all() as { name: string }[]).map((c) => c.name).filter((c) => c !== 'collection_id');
          const list = columns.join(', ');
          this.db.prepare(`INSERT INTO main.${table} (collection_id, ${list}) SELECT ?, ${list} FROM snapshot.${table} WHERE collection_id = ?`).run(id, source.id);
        }
        return { record: this.getCollection(name)!, snapshotId: source.id };
      }).immediate();
    } finally {
      this.db.prepare('DETACH DATABASE snapshot').run();
    }
  }

  // ---- aliases ------------------------------------------------------------------------------

  /**
   * Points an alias at a collection, creating or moving it in one statement: a search through the
   * alias sees the old collection or the new one, never neither.
   */
  putAlias(alias: string, collection: string): { alias: string; collection: string; created: boolean } {
    validateCollectionName(alias);
    if (this.getCollection(alias)) throw new StoreError('ALIAS_NAME_TAKEN', `${JSON.stringify(alias)} is a collection's name; an alias needs a name of its own`);
    const target = this.getCollection(collection);
    if (!target) throw new StoreError('COLLECTION_NOT_FOUND', `collection ${JSON.stringify(collection)} does not exist`, { collection });
    const created = this.getAlias(alias) === undefined;
    this.db
      .prepare('INSERT INTO aliases (name, collection_id, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET collection_id = excluded.collection_id, updated_at = excluded.updated_at')
      .run(alias, target.id, new Date().toISOString());
    return { alias, collection, created };
  }

  getAlias(alias: string): { alias: string; collection: string } | undefined {
    const row = this.db.prepare('SELECT a.name AS alias, c.name AS collection FROM aliases a JOIN collections c ON c.id = a.collection_id WHERE a.name = ?').get(alias) as { alias: string; collection: string } | undefined;
    return row;
  }

  listAliases(): { alias: string; collection: string }[] {
    return this.db.prepare('SELECT a.name AS alias, c.name AS collection FROM aliases a JOIN collections c ON c.id = a.collection_id ORDER BY a.name').all() as { alias: string; collection: string }[];
  }

  deleteAlias(alias: string): boolean {
    return this.db.prepare('DELETE FROM aliases WHERE name = ?').run(alias).changes > 0;
  }

  // ---- OpenSearch-compatible API: index mappings and search pipelines -------------------------

  /** Creates a collection and records the OpenSearch mapping it was made from, in one transaction. */
  createOpenSearchIndex(
    name: string,
    collection: { encoder: Record<string, unknown>; indexSettings: Record<string, unknown>; dense?: Record<string, unknown> },
    mapping: Record<string, unknown>,
    settings: Record<string, unknown>,
  ): CollectionRecord {
    return this.db.transaction(() => {
      const record = this.createCollection(name, collection.encoder, collection.indexSettings, collection.dense);
      this.db.prepare('INSERT INTO opensearch_indices (collection_id, mapping, settings) VALUES (?, ?, ?)').run(record.id, JSON.stringify(mapping), JSON.stringify(settings));
      return record;
    })();
  }

  /** The mapping and settings a collection was made from through the OpenSearch API, if it was. */
  openSearchIndex(collectionId: number): { mapping: Record<string, unknown>; settings: Record<string, unknown> } | undefined {
    const row = this.db.prepare('SELECT mapping, settings FROM opensearch_indices WHERE collection_id = ?').get(collectionId) as { mapping: string; settings: string } | undefined;
    return row ? { mapping: JSON.parse(row.mapping) as Record<string, unknown>, settings: JSON.parse(row.settings) as Record<string, unknown> } : undefined;
  }

  updateOpenSearchMapping(collectionId: number, mapping: Record<string, unknown>): void {
    this.db.prepare('UPDATE opensearch_indices SET mapping = ? WHERE collection_id = ?').run(JSON.stringify(mapping), collectionId);
  }

  putSearchPipeline(name: string, body: Record<string, unknown>): boolean {
    const existed = this.getSearchPipeline(name) !== undefined;
    this.db
      .prepare('INSERT INTO search_pipelines (name, body, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at')
      .run(name, JSON.stringify(body), new Date().toISOString());
    return !existed;
  }

  getSearchPipeline(name: string): Record<string, unknown> | undefined {
    const row = this.db.prepare('SELECT body FROM search_pipelines WHERE name = ?').get(name) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as Record<string, unknown>) : undefined;
  }

  listSearchPipelines(): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const row of this.db.prepare('SELECT name, body FROM search_pipelines ORDER BY name').all() as { name: string; body: string }[]) out[row.name] = JSON.parse(row.body) as Record<string, unknown>;
    return out;
  }

  deleteSearchPipeline(name: string): boolean {
    return this.db.prepare('DELETE FROM search_pipelines WHERE name = ?').run(name).changes > 0;
  }

  // ---- term dictionary ----------------------------------------------------------------------

  loadTerms(collectionId: number): TermEntry[] {
    return (this.statements.allTerms.all(collectionId) as { term_id: number; field: number; text: string }[]).map((row) => ({
      termId: row.term_id,
      field: row.field,
      text: row.text,
    }));
  }

  fieldStatistics(collectionId: number): FieldStatistics[] {
    return (this.statements.fieldStats.all(collectionId) as { field: number; doc_count: number; sum_total_term_freq: number }[]).map(
      (row) => ({ field: row.field, docCount: row.doc_count, sumTotalTermFreq: row.sum_total_term_freq }),
    );
  }

  /** Bytes a collection's documents take in the database (stored fields, packed vectors, lengths). */
  storedDocumentBytes(collectionId: number): number {
    const row = this.db
      .prepare('SELECT coalesce(sum(length(fields) + length(vector) + length(field_lengths)), 0) AS n FROM documents WHERE collection_id = ?')
      .get(collectionId) as { n: number };
    return row.n;
  }

  /** Segments per collection id, in one query (a metrics scrape must not open every collection). */
  segmentCounts(): Map<number, number> {
    const rows = this.db.prepare('SELECT collection_id AS id, count(*) AS n FROM segments GROUP BY collection_id').all() as { id: number; n: number }[];
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  /** SQLite's data_version: it changes when another connection commits (collections re-read then). */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  /**
   * Runs `work` in one IMMEDIATE transaction: writes made inside, a batch and its job checkpoint
   * say, commit together or not at all. Transactions nest (inner ones become savepoints).
   */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  /** The jobs table (src/store/jobs-store.ts), over this database. */
  get jobs(): JobsStore {
    this.jobsStore ??= new JobsStore(this.db);
    return this.jobsStore;
  }

  countDocuments(collectionId: number): number {
    return (this.statements.countDocuments.get(collectionId) as { n: number }).n;
  }

  // ---- documents ------------------------------------------------------------------------------

  /**
   * Upserts a batch in one transaction: a document whose external id exists replaces the old
   * version (the old doc number is retired). New dictionary terms are inserted in the same
   * transaction, so a failed batch leaves neither documents nor terms behind.
   */
  writeBatch(collectionId: number, newTerms: readonly TermEntry[], writes: readonly DocumentWrite[]): BatchOutcome {
    const s = this.statements;
    const run = this.db.transaction((): BatchOutcome => {
      for (const term of newTerms) s.insertTerm.run(collectionId, term.termId, term.field, term.text);
      const fieldDelta = new Map<number, { docs: number; tokens: number }>();
      const added: { docNumber: number; write: DocumentWrite }[] = [];
      const removed: StoredDocument[] = [];
      let inserted = 0;
      let updated = 0;
      const now = new Date().toISOString();
      const next = (s.nextDocNumber.get(collectionId) as { next_doc_number: number }).next_doc_number;
      let docNumber = next;
      for (const write of writes) {
        const old = s.documentByExternalId.get(collectionId, write.externalId) as DocumentRow | undefined;
        const version = old ? (old.version ?? 1) + 1 : 1;
        if (old) {
          const previous = documentFromRow(old);
          removed.push(previous);
          accumulateStats(previous.fieldLengths, -1, fieldDelta);
          s.deleteDocument.run(collectionId, old.doc_number);
          updated++;
        } else {
          inserted++;
        }
        s.insertDocument.run(
          collectionId,
          docNumber,
          write.externalId,
          write.storedJson,
          encodeVector(write.indices, write.values),
          encodeLengths(write.fieldLengths),
          write.dense ? Buffer.from(write.dense.buffer, write.dense.byteOffset, write.dense.byteLength) : null,
          now,
          version,
        );
        accumulateStats(write.fieldLengths, +1, fieldDelta);
        added.push({ docNumber, write });
        docNumber++;
      }
      s.setNextDocNumber.run(docNumber, collectionId);
      applyStats(s, collectionId, fieldDelta);
      // An update within the same batch as its insert counts once as an insert.
      return { added, removed, inserted, updated };
    });
    return run.immediate();
  }

  deleteDocuments(collectionId: number, externalIds: readonly string[]): StoredDocument[] {
    const s = this.statements;
    return this.db.transaction((): StoredDocument[] => {
      const removed: StoredDocument[] = [];
      const fieldDelta = new Map<number, { docs: number; tokens: number }>();
      for (const externalId of externalIds) {
        const old = s.documentByExternalId.get(collectionId, externalId) as DocumentRow | undefined;
        if (!old) continue;
        const previous = documentFromRow(old);
        removed.push(previous);
        accumulateStats(previous.fieldLengths, -1, fieldDelta);
        s.deleteDocument.run(collectionId, old.doc_number);
      }
      applyStats(s, collectionId, fieldDelta);
      return removed;
    }).immediate();
  }

  getDocument(collectionId: number, externalId: string): StoredDocument | undefined {
    const row = this.statements.documentByExternalId.get(collectionId, externalId) as DocumentRow | undefined;
    return row ? documentFromRow(row) : undefined;
  }

  /** A live document by doc number: its stored fields and its vector (what highlighting reads). */
  getDocumentByNumber(collectionId: number, docNumber: number): StoredDocument | undefined {
    const row = this.statements.documentByNumber.get(collectionId, docNumber) as DocumentRow | undefined;
    return row ? documentFromRow(row) : undefined;
  }

  /** Stored fields of many documents by doc number (for building responses). */
  getFieldsByNumber(collectionId: number, docNumber: number): Record<string, unknown> | undefined {
    const row = this.statements.fieldsByNumber.get(collectionId, docNumber) as { fields: string } | undefined;
    return row ? (JSON.parse(row.fields) as Record<string, unknown>) : undefined;
  }

  /**
   * Doc numbers of live documents whose stored fields match a filter (the grammar in filter.ts,
   * compiled here to a condition over the documents' JSON).
   */
  docNumbersMatching(collectionId: number, filter: Filter): Uint32Array {
    const { sql: condition, params } = compileFilter(filter);
    const statement = this.db.prepare(`SELECT doc_number FROM documents WHERE collection_id = ? AND ${condition}`).pluck();
    const numbers: number[] = [];
    for (const n of statement.iterate(collectionId, ...params) as Iterable<number>) numbers.push(n);
    return Uint32Array.from(numbers);
  }

  /** External ids of live documents in doc-number order, `limit` of them from the `offset`-th (read from the doc-number index). */
  liveExternalIds(collectionId: number, offset: number, limit: number): string[] {
    return this.db
      .prepare('SELECT external_id FROM documents INDEXED BY documents_by_number WHERE collection_id = ? ORDER BY doc_number LIMIT ? OFFSET ?')
      .pluck()
      .all(collectionId, limit, offset) as string[];
  }

  /**
   * Every live document's doc number and external id, in doc-number order. Read from the
   * doc-number index, which holds both: scanning the table itself would read every vector.
   */
  forEachLiveDocument(collectionId: number, visit: (docNumber: number, externalId: string) => void): void {
    for (const row of this.statements.liveDocuments.raw().iterate(collectionId) as Iterable<[number, string]>) visit(row[0], row[1]);
  }

  /** Vectors of live documents with doc numbers in [from, to], in doc-number order. */
  *iterateVectorsInRange(collectionId: number, from: number, to: number): Generator<Omit<StoredDocument, 'fields' | 'version'>> {
    for (const row of this.statements.vectorsInRange.iterate(collectionId, from, to) as Iterable<Omit<DocumentRow, 'fields'>>) {
      const { indices, values } = decodeVector(row.vector);
      yield { docNumber: row.doc_number, externalId: row.external_id, indices, values, fieldLengths: decodeLengths(row.field_lengths) };
    }
  }

  // ---- segments -----------------------------------------------------------------------------

  listSegments(collectionId: number): SegmentRecord[] {
    return (this.statements.segments.all(collectionId) as SegmentRow[]).map((row) => ({
      segmentId: row.segment_id,
      fileName: row.file_name,
      docCount: row.doc_count,
      minDocNumber: row.min_doc_number,
      maxDocNumber: row.max_doc_number,
      byteSize: row.byte_size,
      createdAt: row.created_at,
    }));
  }

  /** Replaces a collection's stored index settings (JSON). */
  updateIndexSettings(collectionId: number, settings: Readonly<Record<string, unknown>>): void {
    this.db.prepare('UPDATE collections SET index_settings = ? WHERE id = ?').run(JSON.stringify(settings), collectionId);
  }

  /** The doc number the next written document will get: every document so far is numbered below it. */
  nextDocNumber(collectionId: number): number {
    return (this.statements.nextDocNumber.get(collectionId) as { next_doc_number: number }).next_doc_number;
  }

  nextSegmentId(collectionId: number): number {
    return ((this.statements.maxSegmentId.get(collectionId) as { m: number | null }).m ?? 0) + 1;
  }

  /** Records a new segment and forgets the ones it replaces, in one transaction. */
  replaceSegments(collectionId: number, added: SegmentRecord, replacedIds: readonly number[]): void {
    this.db.transaction(() => {
      for (const id of replacedIds) this.statements.deleteSegment.run(collectionId, id);
      this.statements.insertSegment.run(
        collectionId,
        added.segmentId,
        added.fileName,
        added.docCount,
        added.minDocNumber,
        added.maxDocNumber,
        added.byteSize,
        added.createdAt,
      );
    }).immediate();
  }

  forgetSegment(collectionId: number, segmentId: number): void {
    this.statements.deleteSegment.run(collectionId, segmentId);
  }

  /** Streams the dense vector of every live document that has one, in doc-number order. */
  /** Dense vectors of live documents numbered fromDocNumber or above, in doc-number order. */
  *iterateDense(collectionId: number, fromDocNumber = 0): Generator<{ docNumber: number; vector: Float32Array }> {
    for (const row of this.statements.allDense.iterate(collectionId, fromDocNumber) as Iterable<{ doc_number: number; dense: Buffer }>) {
      // Copied out: the buffer SQLite hands back need not be 4-byte aligned.
      const vector = new Float32Array(row.dense.byteLength / 4);
      new Uint8Array(vector.buffer).set(row.dense);
      yield { docNumber: row.doc_number, vector };
    }
  }

  /**
   * Live documents with doc numbers from `fromDocNumber`, in doc-number order, whole: stored
   * fields, sparse vector and dense vector (what an export writes out).
   */
  *iterateDocuments(collectionId: number, fromDocNumber = 0): Generator<StoredDocument & { dense: Float32Array | undefined }> {
    for (const row of this.db.prepare('SELECT * FROM documents WHERE collection_id = ? AND doc_number >= ? ORDER BY doc_number').iterate(collectionId, fromDocNumber) as Iterable<DocumentRow & { dense: Buffer | null }>) {
      let dense: Float32Array | undefined;
      if (row.dense) {
        dense = new Float32Array(row.dense.byteLength / 4);
        new Uint8Array(dense.buffer).set(row.dense);
      }
      yield { ...documentFromRow(row), dense };
    }
  }

  /** Streams every live document in doc-number order, without stored fields. */
  *iterateVectors(collectionId: number): Generator<Omit<StoredDocument, 'fields' | 'version'>> {
    for (const row of this.statements.allVectors.iterate(collectionId) as Iterable<Omit<DocumentRow, 'fields'>>) {
      const { indices, values } = decodeVector(row.vector);
      yield { docNumber: row.doc_number, externalId: row.external_id, indices, values, fieldLengths: decodeLengths(row.field_lengths) };
    }
  }
}

/** The tables whose rows belong to one collection (by collection_id), as a snapshot copies them. */
const COLLECTION_TABLES = ['documents', 'terms', 'field_stats', 'segments', 'opensearch_indices'] as const;

interface CollectionRow {
  id: number;
  name: string;
  encoder: string;
  index_settings: string;
  dense: string | null;
  created_at: string;
  next_doc_number: number;
}

interface SegmentRow {
  segment_id: number;
  file_name: string;
  doc_count: number;
  min_doc_number: number;
  max_doc_number: number;
  byte_size: number;
  created_at: string;
}

interface DocumentRow {
  doc_number: number;
  external_id: string;
  fields: string;
  vector: Buffer;
  field_lengths: Buffer;
  version: number;
}

function collectionFromRow(row: CollectionRow): CollectionRecord {
  return {
    id: row.id,
    name: row.name,
    encoder: JSON.parse(row.encoder) as Record<string, unknown>,
    indexSettings: JSON.parse(row.index_settings) as Record<string, unknown>,
    dense: row.dense === null ? undefined : (JSON.parse(row.dense) as Record<string, unknown>),
    createdAt: row.created_at,
  };
}

function documentFromRow(row: DocumentRow): StoredDocument {
  const { indices, values } = decodeVector(row.vector);
  return {
    docNumber: row.doc_number,
    externalId: row.external_id,
    fields: JSON.parse(row.fields) as Record<string, unknown>,
    indices,
    values,
    fieldLengths: decodeLengths(row.field_lengths),
    version: row.version ?? 1,
  };
}

function accumulateStats(
  fieldLengths: Uint32Array,
  sign: 1 | -1,
  fieldDelta: Map<number, { docs: number; tokens: number }>,
): void {
  for (let field = 0; field < fieldLengths.length; field++) {
    const length = fieldLengths[field]!;
    if (length === 0) continue;
    const delta = fieldDelta.get(field) ?? { docs: 0, tokens: 0 };
    delta.docs += sign;
    delta.tokens += sign * length;
    fieldDelta.set(field, delta);
  }
}

function applyStats(
  s: ReturnType<typeof prepareStatements>,
  collectionId: number,
  fieldDelta: Map<number, { docs: number; tokens: number }>,
): void {
  for (const [field, delta] of fieldDelta) {
    s.upsertFieldStats.run(collectionId, field, delta.docs, delta.tokens);
  }
}

function prepareStatements(db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    insertCollection: statement('INSERT INTO collections (name, encoder, index_settings, dense, created_at) VALUES (?, ?, ?, ?, ?)'),
    collectionByName: statement('SELECT * FROM collections WHERE name = ?'),
    allCollections: statement('SELECT * FROM collections ORDER BY name'),
    nextDocNumber: statement('SELECT next_doc_number FROM collections WHERE id = ?'),
    setNextDocNumber: statement('UPDATE collections SET next_doc_number = ? WHERE id = ?'),
    insertTerm: statement('INSERT INTO terms (collection_id, term_id, field, text) VALUES (?, ?, ?, ?)'),
    allTerms: statement('SELECT term_id, field, text FROM terms WHERE collection_id = ? ORDER BY term_id'),
    fieldStats: statement('SELECT field, doc_count, sum_total_term_freq FROM field_stats WHERE collection_id = ? ORDER BY field'),
    upsertFieldStats: statement(
      `INSERT INTO field_stats (collection_id, field, doc_count, sum_total_term_freq) VALUES (?, ?, ?, ?)
       ON CONFLICT (collection_id, field) DO UPDATE SET doc_count = doc_count + excluded.doc_count,
         sum_total_term_freq = sum_total_term_freq + excluded.sum_total_term_freq`,
    ),
    countDocuments: statement('SELECT count(*) AS n FROM documents WHERE collection_id = ?'),
    documentByExternalId: statement('SELECT * FROM documents WHERE collection_id = ? AND external_id = ?'),
    documentByNumber: statement('SELECT * FROM documents WHERE collection_id = ? AND doc_number = ?'),
    fieldsByNumber: statement('SELECT fields FROM documents WHERE collection_id = ? AND doc_number = ?'),
    liveDocuments: statement('SELECT doc_number, external_id FROM documents INDEXED BY documents_by_number WHERE collection_id = ? ORDER BY doc_number'),
    deleteDocument: statement('DELETE FROM documents WHERE collection_id = ? AND doc_number = ?'),
    insertDocument: statement(
      'INSERT INTO documents (collection_id, doc_number, external_id, fields, vector, field_lengths, dense, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    vectorsInRange: statement(
      'SELECT doc_number, external_id, vector, field_lengths FROM documents WHERE collection_id = ? AND doc_number BETWEEN ? AND ? ORDER BY doc_number',
    ),
    segments: statement('SELECT * FROM segments WHERE collection_id = ? ORDER BY segment_id'),
    maxSegmentId: statement('SELECT max(segment_id) AS m FROM segments WHERE collection_id = ?'),
    deleteSegment: statement('DELETE FROM segments WHERE collection_id = ? AND segment_id = ?'),
    insertSegment: statement(
      'INSERT INTO segments (collection_id, segment_id, file_name, doc_count, min_doc_number, max_doc_number, byte_size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    allDense: statement('SELECT doc_number, dense FROM documents WHERE collection_id = ? AND doc_number >= ? AND dense IS NOT NULL ORDER BY doc_number'),
    allVectors: statement(
      'SELECT doc_number, external_id, vector, field_lengths FROM documents WHERE collection_id = ? ORDER BY doc_number',
    ),
  };
}
