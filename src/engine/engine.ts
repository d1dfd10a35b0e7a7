import fs from 'node:fs';
import path from 'node:path';
import { checkEncoderFiles, createEncoder, normalizeEncoderConfig } from '../encoders/registry.js';
import { checkDenseEncoderFiles } from '../encoders/dense-registry.js';
import { DATABASE_FILE, Store, type CollectionRecord } from '../store/store.js';
import { createHash } from 'node:crypto';
import { Collection, DENSE_GRAPH_FILE } from './collection.js';
import { SparrowError } from '../common/errors.js';
import { segmentSettings } from './segments.js';
import { DenseSide, denseSettings } from './dense-side.js';
import { SearchPool } from './search-pool.js';

export const SNAPSHOT_FORMAT = 'sparrow-collection-snapshot-1';
const SNAPSHOT_DATABASE = 'collection.db';
const SNAPSHOT_MANIFEST = 'snapshot.json';

export interface SnapshotManifest {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly collection: string;
  readonly createdAt: string;
  readonly documents: number;
  readonly database: string;
  readonly segments: { readonly file: string; readonly bytes: number; readonly sha256: string }[];
}

export interface CollectionSettings {
  readonly encoder?: Record<string, unknown>;
  readonly index?: Record<string, unknown>;
  /** A dense side beside the sparse one (see dense-side.ts); absent, the collection is sparse only. */
  readonly dense?: Record<string, unknown>;
}

/** A data directory opened for use: the store plus the live collections over it. */
export interface EngineOptions {
  /**
   * Threads that search segments (src/engine/search-pool.ts) for asynchronous searches (the
   * server's): 0 (default) searches on the calling thread.
   */
  readonly searchThreads?: number;
  /** Collections whose segments hold fewer documents are searched on the calling thread all the same. */
  readonly searchThreadsMinDocs?: number;
}

/** Below this, handing a query to a thread costs more than it saves. */
export const DEFAULT_SEARCH_THREADS_MIN_DOCS = 50_000;

export class Engine {
  readonly store: Store;
  private readonly open = new Map<string, Collection>();

  /** Search threads shared by every collection (none unless options.searchThreads > 0). */
  readonly searchPool: SearchPool | undefined;
  private readonly searchThreadsMinDocs: number;

  constructor(store: Store, options: EngineOptions = {}) {
    this.store = store;
    const threads = options.searchThreads ?? 0;
    if (!Number.isInteger(threads) || threads < 0 || threads > 64) throw new SparrowError('INVALID_SEARCH_THREADS', `search threads must be an integer in 0 .. 64, got ${String(threads)}`);
    this.searchPool = threads > 0 ? new SearchPool(threads) : undefined;
    this.searchThreadsMinDocs = options.searchThreadsMinDocs ?? DEFAULT_SEARCH_THREADS_MIN_DOCS;
  }

  static open(dataDir: string, options: EngineOptions = {}): Engine {
    return new Engine(Store.open(dataDir), options);
  }

  /** Whether the folder holds a sparrow database (commands that only read create none). */
  static exists(dataDir: string): boolean {
    return fs.existsSync(path.join(dataDir, DATABASE_FILE));
  }

  /** Opens a data directory that must exist already: a read-only command creates nothing. */
  static openExisting(dataDir: string, options: EngineOptions = {}): Engine {
    if (!Engine.exists(dataDir)) throw new SparrowError('NO_DATABASE', `${dataDir} holds no sparrow database yet (nothing has been indexed there); sparrow index or sparrow serve creates one`, { dataDir });
    return Engine.open(dataDir, options);
  }

  get dataDir(): string {
    return this.store.dataDir;
  }

  /**
   * Creates a collection. `openSearch`, when given, is the mapping and index settings it was made
   * from through the OpenSearch-compatible API, recorded with it in the same transaction.
   */
  createCollection(name: string, settings: CollectionSettings = {}, openSearch?: { mapping: Record<string, unknown>; settings: Record<string, unknown> }): Collection {
    const encoder = normalizeEncoderConfig(settings.encoder ?? {});
    checkEncoderFiles(encoder);
    segmentSettings(settings.index ?? {});
    const dense = settings.dense !== undefined ? { ...denseSettings(settings.dense) } : undefined;
    if (dense) checkDenseEncoderFiles(dense.encoder);
    const record = openSearch
      ? this.store.createOpenSearchIndex(name, { encoder, indexSettings: settings.index ?? {}, ...(dense ? { dense } : {}) }, openSearch.mapping, openSearch.settings)
      : this.store.createCollection(name, encoder, settings.index ?? {}, dense);
    return this.attach(record);
  }

  /** The collection, created with these settings if it does not exist yet. */
  ensureCollection(name: string, settings: CollectionSettings = {}): Collection {
    return this.findCollection(name) ?? this.createCollection(name, settings);
  }

  /** The collection of that name, or the one an alias of that name points at. */
  findCollection(name: string): Collection | undefined {
    const cached = this.open.get(name);
    if (cached) {
      if (this.store.getCollection(name)?.id === cached.record.id) return cached;
      this.open.delete(name);
    }
    const record = this.store.getCollection(name);
    if (record) return this.attach(record);
    const alias = this.store.getAlias(name);
    return alias ? this.findCollection(alias.collection) : undefined;
  }

  collection(name: string): Collection {
    const found = this.findCollection(name);
    if (!found) throw new SparrowError('COLLECTION_NOT_FOUND', `collection ${JSON.stringify(name)} does not exist`, { collection: name });
    return found;
  }

  /** Collections this process has opened (and may be building segments for). */
  openCollections(): Collection[] {
    return [...this.open.values()];
  }

  listCollections(): CollectionRecord[] {
    return this.store.listCollections();
  }

  deleteCollection(name: string): boolean {
    const record = this.store.getCollection(name);
    // Refused before anything is closed: a collection behind an alias stays as it is.
    const aliases = this.store.listAliases().filter((a) => a.collection === name).map((a) => a.alias);
    if (record && aliases.length > 0) {
      throw new SparrowError('ALIAS_IN_USE', `collection ${JSON.stringify(name)} is behind the alias ${aliases.map((a) => JSON.stringify(a)).join(', ')}; point it at another collection or delete it first`, { aliases });
    }
    this.open.get(name)?.close();
    this.open.delete(name);
    const deleted = this.store.deleteCollection(name);
    if (record) fs.rmSync(path.join(this.store.dataDir, 'segments', String(record.id)), { recursive: true, force: true });
    return deleted;
  }

  /**
   * A consistent copy of a collection in `dir` while the server keeps serving: the database rows
   * (SQLite's online backup, trimmed to the collection) and the segment files they name, with a
   * manifest of their SHA-256s. Restore it with restore().
   */
  async snapshot(name: string, dir: string): Promise<SnapshotManifest> {
    const collection = this.collection(name);
    if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new SparrowError('SNAPSHOT_EXISTS', `${dir} is not empty; snapshot into a new folder`, { path: dir });
    // Builds in progress finish first, so the files the copy names are written.
    await collection.idle();
    fs.mkdirSync(path.join(dir, 'segments'), { recursive: true });
    const source = path.join(this.store.dataDir, 'segments', String(collection.record.id));
    for (let attempt = 0; ; attempt++) {
      const database = path.join(dir, SNAPSHOT_DATABASE);
      fs.rmSync(database, { force: true });
      const { segmentFiles } = await this.store.snapshotCollection(collection.name, database);
      try {
        const files = [...segmentFiles, ...(fs.existsSync(path.join(source, DENSE_GRAPH_FILE)) ? [DENSE_GRAPH_FILE] : [])];
        const copied = files.map((file) => {
          fs.copyFileSync(path.join(source, file), path.join(dir, 'segments', file));
          const bytes = fs.readFileSync(path.join(dir, 'segments', file));
          return { file, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
        });
        const manifest: SnapshotManifest = {
          format: SNAPSHOT_FORMAT,
          collection: collection.name,
          createdAt: new Date().toISOString(),
          documents: collection.statistics().documents,
          database: SNAPSHOT_DATABASE,
          segments: copied,
        };
        fs.writeFileSync(path.join(dir, SNAPSHOT_MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
        return manifest;
      } catch (error) {
        // A merge replaced a segment between the copy of the rows and the copy of its file: again.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 2) throw error;
      }
    }
  }

  /** A new collection `name` from a snapshot folder (checked against its manifest first). */
  restore(dir: string, name: string): Collection {
    const manifestFile = path.join(dir, SNAPSHOT_MANIFEST);
    if (!fs.existsSync(manifestFile)) throw new SparrowError('INVALID_SNAPSHOT', `${dir} holds no ${SNAPSHOT_MANIFEST}`, { path: dir });
    const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as SnapshotManifest;
    if (manifest.format !== SNAPSHOT_FORMAT) throw new SparrowError('INVALID_SNAPSHOT', `${manifestFile} is not a sparrow snapshot`);
    for (const segment of manifest.segments) {
      const bytes = fs.readFileSync(path.join(dir, 'segments', segment.file));
      if (createHash('sha256').update(bytes).digest('hex') !== segment.sha256) throw new SparrowError('INVALID_SNAPSHOT', `segments/${segment.file} does not match its SHA-256 in the manifest`);
    }
    const { record } = this.store.restoreCollection(path.join(dir, manifest.database), name);
    const target = path.join(this.store.dataDir, 'segments', String(record.id));
    fs.mkdirSync(target, { recursive: true });
    for (const segment of manifest.segments) fs.copyFileSync(path.join(dir, 'segments', segment.file), path.join(target, segment.file));
    return this.attach(record);
  }

  /** Waits for background segment builds and merges of every open collection. */
  async idle(): Promise<void> {
    for (const collection of this.open.values()) await collection.idle();
  }

  close(): void {
    for (const collection of this.open.values()) collection.close();
    this.open.clear();
    this.store.close();
    void this.searchPool?.close();
  }

  private attach(record: CollectionRecord): Collection {
    const dense = record.dense ? new DenseSide(denseSettings(record.dense)) : undefined;
    const collection = new Collection(this.store, record, createEncoder(record.encoder), dense, {
      ...(this.searchPool ? { searchPool: this.searchPool } : {}),
      searchThreadsMinDocs: this.searchThreadsMinDocs,
    });
    this.open.set(record.name, collection);
    return collection;
  }
}
