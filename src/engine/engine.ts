import fs from 'node:fs';
import path from 'node:path';
import { checkEncoderFiles, createEncoder, normalizeEncoderConfig } from '../encoders/registry.js';
import { checkDenseEncoderFiles } from '../encoders/dense-registry.js';
import { DATABASE_FILE, Store, type CollectionRecord } from '../store/store.js';
import { Collection } from './collection.js';
import { SparrowError } from '../common/errors.js';
import { segmentSettings } from './segments.js';
import { DenseSide, denseSettings } from './dense-side.js';
import { SearchPool } from './search-pool.js';

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
