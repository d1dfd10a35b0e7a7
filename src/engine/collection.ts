import type { EncodedDocument, SparseEncoder } from '../encoders/encoder.js';
import { ExactIndex, type ExactQuery } from '../index/exact.js';
import type { BatchOutcome, CollectionRecord, DocumentWrite, Store, TermEntry } from '../store/store.js';
import { sortedVector, TermDictionary } from './dictionary.js';
import type { PackedBatch, TokenResolver } from './packed-batch.js';
import type { IngestDocument } from './documents.js';
import { SparrowError, errorCode } from '../common/errors.js';
import type { Filter } from '../store/filter.js';
import type { FacetRequest, FacetResult } from '../store/facets.js';
import { SegmentSet, segmentSettings, type Candidate, type SegmentSettings } from './segments.js';
import type { SearchPool } from './search-pool.js';
import { TopK } from '../index/top-k.js';
import { encodeDocuments, encodeQuery as encodeQueryText } from '../encoders/encode.js';
import type { EncodedQuery } from '../encoders/encoder.js';
import { fuse, fusionSpec, type FusionComponent, type RankedHit } from '../fusion/fuse.js';
import type { DenseIndex, DenseSearchResult } from '../index/dense/exact.js';
import { DenseSide, type DenseOutcome, type SavedGraph } from './dense-side.js';
import { StoreDocumentView, type DocumentView } from './document-view.js';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import roaring from 'roaring';
import { SeededRandom } from '../common/random.js';
import { Highlighter, type HighlightRequest, type HitHighlight } from './highlighting.js';
import { checkApproximateParams } from './query-params.js';

const { RoaringBitmap32 } = roaring;


export type QueryInput = string | Readonly<Record<string, number>>;

export interface SearchRequest {
  /** Text (encoded by the collection's encoders) or a sparse vector {term: weight}. */
  readonly query?: QueryInput;
  /** A dense query vector (collections with a dense side). */
  readonly denseVector?: unknown;
  /**
   * Which sides answer: "sparse", "dense", "hybrid" (both, fused) or "auto" (default): hybrid when
   * the request has a dense side (a dense vector, or text and a dense encoder), sparse otherwise,
   * dense when only a dense vector is given.
   */
  readonly retrieval?: Retrieval;
  /** How hybrid lists are fused (see fusion/fuse.ts fusionSpec); default RRF, k 60, depth max(k, 100). */
  readonly fusion?: Readonly<Record<string, unknown>>;
  readonly k?: number;
  /** Hits to skip before the k returned (paging): from + k is at most MAX_K. */
  readonly from?: number;
  /** Stored fields to return: true for all, a list for some, false/absent for none. */
  readonly fields?: boolean | readonly string[];
  readonly explain?: boolean;
  /** External ids never returned (BEIR's "remove query": the query's own id). */
  readonly excludeIds?: readonly string[];
  /** A filter on stored fields (see engine/filter.ts). */
  readonly filter?: Filter;
  /**
   * "exact" scores every matching document (BM25 exactly as Lucene); "approximate" searches the
   * Seismic segments plus the unbuilt tail; "auto" (default) is approximate once segments exist;
   * "safe" returns the exact top-k of the segments' stored vectors, proven by block-max bounds
   * without scoring every match (bit for bit the exact engine's answer where segments store f32
   * weights and, for BM25, the statistics have not moved since the build).
   */
  readonly mode?: SearchMode;
  /** Per-query parameters of the approximate index. */
  readonly approximate?: { readonly queryCut?: number; readonly heapFactor?: number; readonly knn?: number };
  /** Fragments of the stored text fields with the tokens that matched marked (see engine/highlighting.ts). */
  readonly highlight?: HighlightRequest;
  /**
   * Per encoder field (e.g. "title", "text" of a multifield BM25 collection), a factor for the
   * query's weights there: 0 leaves the field out, 2 counts it double. Fields not named keep 1
   * unless `onlyBoostedFields`, which leaves them out.
   */
  readonly fieldBoosts?: Readonly<Record<string, number>>;
  readonly onlyBoostedFields?: boolean;
  /**
   * Most distinct terms a text query may analyse into (TOO_MANY_QUERY_TERMS past it), checked on the
   * one encoding the search uses. Model encoders bound their own output (top-k pruning), so only
   * synchronous (BM25) text queries are counted.
   */
  readonly maxQueryTerms?: number;
  /**
   * Counts per value (terms) or per range of stored fields, over every document the query and the
   * filter match (all matches counted exactly, not only the k returned; a dense-only search counts
   * the documents the filter passes).
   */
  readonly facets?: Readonly<Record<string, FacetRequest>>;
}

/** How many documents matched: exactly, or at least this many when only the top was looked at. */
export interface HitTotal {
  readonly value: number;
  readonly relation: 'eq' | 'gte';
}

export type SearchMode = 'auto' | 'exact' | 'approximate' | 'safe';
export type Retrieval = 'auto' | 'sparse' | 'dense' | 'hybrid';

/** The saved HNSW graph's file name in the collection's segment directory (index-format/README.md). */
export const DENSE_GRAPH_FILE = 'dense.hnsw';

/** Hits taken from each list before fusion, unless the request says: at least k, at least this. */
export const DEFAULT_HYBRID_DEPTH = 100;

export interface TermExplanation {
  readonly term: string;
  readonly field: string;
  readonly queryWeight: number;
  readonly documentValue: number;
  readonly score: number;
}

export interface SearchHit {
  readonly id: string;
  readonly score: number;
  readonly fields?: Record<string, unknown>;
  readonly explain?: TermExplanation[];
  /** Hybrid hits with explain: each list's rank, score and share of the fused score. */
  readonly fusion?: FusionComponent[];
  /** With a highlight request: fragments per stored field. */
  readonly highlight?: HitHighlight;
}

export interface SearchResponse {
  readonly hits: SearchHit[];
  readonly took_ms: number;
  /** How the sparse side was answered ("exact" also for dense-only answers). */
  readonly mode: 'exact' | 'approximate' | 'safe';
  /** Which sides answered. */
  readonly retrieval: 'sparse' | 'dense' | 'hybrid';
  /** Query terms absent from the collection (they cannot match anything). */
  readonly unknown_terms?: string[];
  readonly warnings?: string[];
  /** Documents that matched (exact answers count them all; approximate ones give a lower bound). */
  readonly total?: HitTotal;
  /** With facets: the counts per field. */
  readonly facets?: Record<string, FacetResult>;
}

export interface RejectedDocument {
  readonly id?: string;
  /** 1-based position in the caller's input, when it has one. */
  readonly line?: number;
  readonly code: string;
  readonly message: string;
}

export interface UpsertResult {
  readonly inserted: number;
  readonly updated: number;
  readonly rejected: RejectedDocument[];
}

export const MAX_K = 10_000;
/** Facets one search may ask for. */
export const MAX_FACETS = 10;
/** Documents read from the store per addMany call when an index is loaded. */
const LOAD_CHUNK = 8192;

function* chunked<T>(items: Iterable<T>, size: number): Generator<T[]> {
  let chunk: T[] = [];
  for (const item of items) {
    chunk.push(item);
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}
export const DEFAULT_K = 10;

/**
 * One collection: its encoder, term dictionary, durable documents and the in-memory exact index.
 * Every entry point (CLI, server, evaluation) writes and searches through this class.
 */
export class Collection {
  record: CollectionRecord;
  readonly encoder: SparseEncoder;
  /** The dense side, for collections created with one. */
  readonly dense: DenseSide | undefined;
  private readonly store: Store;
  private dictionary: TermDictionary;
  private index: ExactIndex | undefined;
  /** Liveness, ids and weights from the store, for the approximate side when the exact index is not loaded. */
  private view: StoreDocumentView | undefined;
  private segments: SegmentSet | undefined;
  segmentSettings: SegmentSettings;
  /** SQLite's data_version when the index was last known to match the database. */
  private seenDataVersion = -1;

  private readonly threads: { readonly searchPool?: SearchPool; readonly searchThreadsMinDocs?: number };

  constructor(
    store: Store,
    record: CollectionRecord,
    encoder: SparseEncoder,
    dense?: DenseSide,
    threads: { readonly searchPool?: SearchPool; readonly searchThreadsMinDocs?: number } = {},
  ) {
    this.threads = threads;
    this.store = store;
    this.record = record;
    this.encoder = encoder;
    this.dense = dense;
    this.dictionary = TermDictionary.load(store, record.id, encoder.fieldNames.length);
    this.segmentSettings = segmentSettings(record.indexSettings);
  }

  get name(): string {
    return this.record.name;
  }

  /**
   * Encodes and writes a batch in one transaction. A document that cannot be encoded is rejected
   * alone; a storage failure rolls back the whole batch and is thrown.
   */
  upsert(documents: readonly IngestDocument[], lines?: readonly number[]): UpsertResult {
    if (this.needsAsync) {
      throw new SparrowError('ENCODER_NEEDS_ASYNC', `collection ${JSON.stringify(this.name)} encodes by a model run or has a dense side: use upsertAsync`);
    }
    const encoded = documents.map((document) => encodeForCollection(this.encoder, document));
    return this.upsertEncoded(documents, encoded, lines);
  }

  /** Whether writes and text queries must take the asynchronous path (model runs, dense side). */
  get needsAsync(): boolean {
    return this.dense !== undefined || this.encoder.encodeDocumentsAsync !== undefined;
  }

  /** Encodes (by every encoder the collection has, model runs included) and writes a batch. */
  async upsertAsync(documents: readonly IngestDocument[], lines?: readonly number[]): Promise<UpsertResult> {
    const encoded = await encodeBatchForCollection(this.encoder, this.dense, documents);
    return this.upsertEncoded(documents, encoded, lines);
  }

  /**
   * Writes documents already encoded (by `encodeForCollection`, possibly in a worker thread with
   * an encoder built from the same configuration). `encoded[i]` belongs to `documents[i]`.
   */
  upsertEncoded(documents: readonly IngestDocument[], encoded: readonly EncodingOutcome[], lines?: readonly number[]): UpsertResult {
    this.refreshIfChangedElsewhere();
    const rejected: RejectedDocument[] = [];
    const writes: DocumentWrite[] = [];
    const newTerms: TermEntry[] = [];
    for (let i = 0; i < documents.length; i++) {
      const document = documents[i]!;
      const outcome = encoded[i]!;
      const line = lines?.[i];
      if ('error' in outcome) {
        rejected.push({ id: document.id, ...(line !== undefined ? { line } : {}), code: outcome.error.code, message: outcome.error.message });
        continue;
      }
      if (this.dense && !outcome.dense) {
        rejected.push({ id: document.id, ...(line !== undefined ? { line } : {}), code: 'VECTOR_MISSING', message: 'the document has no dense vector' });
        continue;
      }
      const { indices, values } = this.dictionary.assign(outcome.terms, newTerms);
      writes.push({
        externalId: document.id,
        storedJson: JSON.stringify(storedFieldsOf(this.encoder, this.dense, document.fields)),
        indices,
        values,
        fieldLengths: outcome.lengths,
        ...(this.dense && outcome.dense ? { dense: outcome.dense } : {}),
      });
    }
    const outcome = this.commitWrites(writes, newTerms);
    return { inserted: outcome.inserted, updated: outcome.updated, rejected };
  }

  /**
   * Writes a batch encoded off this thread (see jobs/line-encoder.ts). `lines[i]` is the input
   * line of `batch.outcomes[i]`; rejections come back in line order. The resolver belongs to the
   * encoder whose token tables the batch's local ids refer to.
   */
  upsertPacked(batch: PackedBatch, lines: ArrayLike<number>, resolver: TokenResolver): UpsertResult & { readonly ids: string[] } {
    this.refreshIfChangedElsewhere();
    resolver.learn(batch.newTokens);
    const rejected: RejectedDocument[] = [];
    const writes: DocumentWrite[] = [];
    const ids: string[] = [];
    const newTerms: TermEntry[] = [];
    const { termStart, termField, termLocal, termValues, lengths, fieldCount } = batch;
    let globalIds = new Uint32Array(1024);
    let document = 0;
    for (let i = 0; i < batch.outcomes.length; i++) {
      const outcome = batch.outcomes[i]!;
      const line = lines[i]!;
      if (outcome.kind === 'rejected') {
        rejected.push({ id: outcome.id, line, code: outcome.code, message: outcome.message });
        continue;
      }
      if (outcome.kind !== 'document') continue;
      const start = termStart[document]!;
      const end = termStart[document + 1]!;
      const count = end - start;
      if (globalIds.length < count) globalIds = new Uint32Array(count * 2);
      for (let t = 0; t < count; t++) globalIds[t] = resolver.resolve(termField[start + t]!, termLocal[start + t]!, this.dictionary, newTerms);
      const { indices, values } = sortedVector(globalIds, termValues.subarray(start, end), count);
      ids.push(outcome.id);
      writes.push({
        externalId: outcome.id,
        storedJson: batch.storedFields[document]!,
        indices,
        values,
        fieldLengths: lengths.slice(document * fieldCount, (document + 1) * fieldCount),
        ...(batch.dense ? { dense: batch.dense.slice(document * batch.denseDimension!, (document + 1) * batch.denseDimension!) } : {}),
      });
      document++;
    }
    let outcome;
    try {
      outcome = this.commitWrites(writes, newTerms);
    } catch (error) {
      resolver.forgetAbove(this.dictionary.size);
      throw error;
    }
    return { inserted: outcome.inserted, updated: outcome.updated, rejected, ids };
  }

  /** One transaction for the batch, then the in-memory indexes follow what was committed. */
  private commitWrites(writes: DocumentWrite[], newTerms: TermEntry[]): BatchOutcome {
    let outcome: BatchOutcome;
    try {
      outcome = this.store.writeBatch(this.record.id, newTerms, writes);
    } catch (error) {
      this.dictionary.rollback();
      throw error;
    }
    this.dictionary.commit();
    this.afterOwnWrite();
    const removedNumbers = new Set(outcome.removed.map((r) => r.docNumber));
    if (this.view) {
      this.view.removed(removedNumbers);
      this.view.added(outcome.added.filter(({ docNumber }) => !removedNumbers.has(docNumber)).map(({ docNumber, write }) => ({ docNumber, externalId: write.externalId })));
    }
    if (this.index) {
      for (const term of newTerms) this.index.setTermField(term.termId, term.field);
      this.index.addMany(
        outcome.added
          .filter(({ docNumber }) => !removedNumbers.has(docNumber))
          .map(({ docNumber, write }) => ({ docNumber, externalId: write.externalId, indices: write.indices, values: write.values, fieldLengths: write.fieldLengths })),
      );
      for (const removed of outcome.removed) this.index.remove(removed.docNumber, removed.indices, removed.fieldLengths);
      if (this.dense) {
        for (const removed of outcome.removed) this.dense.remove(removed.docNumber);
        for (const { docNumber, write } of outcome.added) {
          if (!removedNumbers.has(docNumber) && write.dense) this.dense.add(docNumber, write.dense, this.tieKey);
        }
      }
    }
    if (this.segments) {
      for (const removed of outcome.removed) this.segments.remove(removed.docNumber);
      const documents = this.documents();
      const added = outcome.added
        .filter(({ docNumber }) => !removedNumbers.has(docNumber))
        .map(({ docNumber, write }) => ({ docNumber, indices: write.indices, weights: documents.documentWeights(write.indices, write.values, write.fieldLengths) }));
      if (this.segments.bulkActive) {
        this.segments.addManyToBulk(added, documents);
      } else {
        this.segments.addManyToTail(added);
        void this.segments.maybeBuild(documents);
      }
    }
    return outcome;
  }

  /** Deletes by external id; returns how many existed. Removed from search at once. */
  delete(ids: readonly string[]): number {
    this.refreshIfChangedElsewhere();
    const removed = this.store.deleteDocuments(this.record.id, ids);
    this.afterOwnWrite();
    if (this.index) for (const r of removed) this.index.remove(r.docNumber, r.indices, r.fieldLengths);
    this.view?.removed(removed.map((r) => r.docNumber));
    if (this.segments) for (const r of removed) this.segments.remove(r.docNumber);
    if (this.dense) for (const r of removed) this.dense.remove(r.docNumber);
    return removed.length;
  }

  get(id: string): { id: string; fields: Record<string, unknown>; version: number; docNumber: number } | undefined {
    const stored = this.store.getDocument(this.record.id, id);
    return stored ? { id: stored.externalId, fields: stored.fields, version: stored.version, docNumber: stored.docNumber } : undefined;
  }

  /**
   * Live documents from a doc number on, in doc-number order, with their stored fields, their
   * sparse vector as {term: weight} (dot-product encoders' single field) and their dense vector.
   */
  *documentsFrom(fromDocNumber = 0): Generator<{ docNumber: number; id: string; fields: Record<string, unknown>; sparse: Record<string, number> | undefined; dense: number[] | undefined }> {
    const withVector = this.encoder.scoring === 'dot';
    for (const stored of this.store.iterateDocuments(this.record.id, fromDocNumber)) {
      let sparse: Record<string, number> | undefined;
      if (withVector) {
        sparse = {};
        for (let i = 0; i < stored.indices.length; i++) sparse[this.dictionary.entry(stored.indices[i]!)!.text] = stored.values[i]!;
      }
      yield { docNumber: stored.docNumber, id: stored.externalId, fields: stored.fields, sparse, dense: stored.dense ? Array.from(stored.dense) : undefined };
    }
  }

  /** A document's dense vector (collections with a dense side whose vectors come with the documents). */
  denseVectorOf(id: string): number[] | undefined {
    const stored = this.store.getDocument(this.record.id, id);
    if (!stored || !this.dense) return undefined;
    for (const row of this.store.iterateDense(this.record.id, stored.docNumber)) return row.docNumber === stored.docNumber ? Array.from(row.vector) : undefined;
    return undefined;
  }

  /** A document's stored sparse vector as {term: weight} (one encoder field; the first when there are several). */
  sparseVectorOf(id: string): Record<string, number> | undefined {
    const stored = this.store.getDocument(this.record.id, id);
    if (!stored) return undefined;
    const out: Record<string, number> = {};
    for (let i = 0; i < stored.indices.length; i++) out[this.dictionary.entry(stored.indices[i]!)!.text] = stored.values[i]!;
    return out;
  }

  statistics(): { documents: number; terms: number; fields: { name: string; docCount: number; sumTotalTermFreq: number }[] } {
    const stats = this.store.fieldStatistics(this.record.id);
    return {
      documents: this.store.countDocuments(this.record.id),
      terms: this.dictionary.size,
      fields: this.encoder.fieldNames.map((name, field) => {
        const s = stats.find((x) => x.field === field);
        return { name, docCount: s?.docCount ?? 0, sumTotalTermFreq: s?.sumTotalTermFreq ?? 0 };
      }),
    };
  }

  /**
   * Stores new default query parameters (queryCut, heapFactor) with the collection, and a record
   * of how they were chosen; searches without their own parameters use them from now on.
   */
  setQueryDefaults(query: { readonly queryCut: number; readonly heapFactor: number; readonly knn?: number }, tuned: Readonly<Record<string, unknown>>): void {
    const indexSettings = { ...this.record.indexSettings, query, tuned };
    const settings = segmentSettings(indexSettings);
    this.store.updateIndexSettings(this.record.id, indexSettings);
    this.record = { ...this.record, indexSettings };
    this.segmentSettings = settings;
    this.segments?.setQueryDefaults(settings.query);
  }

  /**
   * Changes the index settings that apply from now on without a rebuild: the default query
   * parameters (queryCut, heapFactor, knn), and when segments are built and merged
   * (segmentMinDocs, mergeFactor, maxSegmentDocs, filterExactBelow). Build parameters shape the
   * segments already written, so changing them is refused with the way to do it instead.
   */
  changeSettings(changes: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const changeable = ['query', 'segmentMinDocs', 'mergeFactor', 'maxSegmentDocs', 'filterExactBelow'];
    for (const key of Object.keys(changes)) {
      if (key === 'build') {
        throw new SparrowError('SETTING_NEEDS_REBUILD', 'build settings shape the segments already written: create a collection with the new ones, index into it, and move an alias to it', { setting: key });
      }
      if (!changeable.includes(key)) throw new SparrowError('INVALID_INDEX_SETTINGS', `unknown or unchangeable index setting ${JSON.stringify(key)}; changeable: ${changeable.join(', ')}`, { setting: key });
    }
    const query = changes['query'] !== undefined ? { ...((this.record.indexSettings['query'] as object | undefined) ?? {}), ...(changes['query'] as object) } : this.record.indexSettings['query'];
    const indexSettings = { ...this.record.indexSettings, ...changes, ...(query !== undefined ? { query } : {}) };
    const settings = segmentSettings(indexSettings);
    this.store.updateIndexSettings(this.record.id, indexSettings);
    this.record = { ...this.record, indexSettings };
    this.segmentSettings = settings;
    this.segments?.applySettings(settings);
    return indexSettings;
  }

  /**
   * Up to `count` live documents drawn at random (seeded) as queries: each one's `terms` heaviest
   * components as {term: weight}. For learned-sparse collections, whose documents and queries
   * share one weighting.
   */
  sampleDocumentQueries(count: number, seed: number, terms: number): { id: string; query: Record<string, number> }[] {
    const random = new SeededRandom(seed);
    const chosen: string[] = [];
    let seen = 0;
    // Reservoir sampling over the live documents, in doc-number order.
    this.store.forEachLiveDocument(this.record.id, (_docNumber, externalId) => {
      seen++;
      if (chosen.length < count) chosen.push(externalId);
      else {
        const slot = random.nextInt(seen);
        if (slot < count) chosen[slot] = externalId;
      }
    });
    return chosen.map((id) => {
      const stored = this.store.getDocument(this.record.id, id)!;
      const order = Array.from(stored.indices.keys()).sort((a, b) => stored.values[b]! - stored.values[a]! || stored.indices[a]! - stored.indices[b]!);
      const query: Record<string, number> = {};
      for (const i of order.slice(0, terms)) query[this.dictionary.entry(stored.indices[i]!)!.text] = stored.values[i]!;
      return { id, query };
    });
  }

  /** Whether the exact in-memory index is loaded (a second copy of every vector; see ARCHITECTURE.md). */
  get exactIndexLoaded(): boolean {
    return this.index !== undefined;
  }

  /** Builds the in-memory index now instead of on the first search. */
  warm(): void {
    if (this.approximateWithoutExactIndex()) this.segmentSet();
    else this.exactIndex();
  }

  /** warm(), plus the models (sparse and dense) and the dense index, so first queries run no loads. */
  async warmAsync(): Promise<void> {
    this.warm();
    await this.encoder.load?.();
    if (this.dense) {
      await this.dense.encoder.load();
      this.denseIndex();
    }
  }

  /**
   * Searches with a query the sparse encoder can encode synchronously (BM25, vectors,
   * inference-free SPLADE). Everything else (model runs, dense and hybrid search) goes through
   * searchAsync, which the server, the CLI and the evaluation use for every query.
   */
  search(request: SearchRequest): SearchResponse {
    const started = process.hrtime.bigint();
    const { k, from } = windowOf(request);
    if (request.query === undefined) throw new SparrowError('EMPTY_QUERY', 'the request has no query');
    const encoded = this.withFieldBoosts(this.encodeQuery(request.query), request);
    const highlighter = request.highlight !== undefined ? this.highlighter(request.highlight, encoded) : undefined;
    return this.withFacets(this.withHighlights(pageOf(this.searchSparse(request, k, encoded, started), from), highlighter), request, encoded);
  }

  /** The response with facet counts over every match of the request (see SearchRequest.facets). */
  private withFacets(response: SearchResponse, request: SearchRequest, sparse: EncodedQuery | undefined): SearchResponse {
    const facets = request.facets;
    if (!facets) return response;
    const fields = Object.keys(facets);
    if (fields.length > MAX_FACETS) throw new SparrowError('INVALID_FACET', `at most ${MAX_FACETS} facets per search, got ${fields.length}`);
    let matches: Uint32Array | undefined;
    if (sparse) {
      // Every match, counted by the exact engine under the same filter and exclusions.
      const plan = this.planSparse({ ...request, mode: 'exact' }, 1, sparse);
      const found: number[] = [];
      const accept = plan.accept;
      this.exactIndex().search(plan.query, { k: 1, accept: (doc) => (accept && !accept(doc) ? false : (found.push(doc), true)) });
      matches = Uint32Array.from(found);
    } else if (request.filter !== undefined) {
      matches = Uint32Array.from(this.allowList(request.filter, undefined));
    }
    const out: Record<string, FacetResult> = {};
    for (const field of fields) out[field] = this.store.facet(this.record.id, field, facets[field]!, matches);
    return { ...response, facets: out };
  }

  /** The query with its weights in each encoder field scaled by the request's fieldBoosts. */
  private withFieldBoosts(encoded: EncodedQuery, request: SearchRequest): EncodedQuery {
    const limit = request.maxQueryTerms;
    if (limit !== undefined && typeof request.query === 'string' && !this.encoder.encodeQueryAsync) {
      const terms = new Set<string>();
      for (const field of encoded.terms) for (const term of field.keys()) terms.add(term);
      if (terms.size > limit) throw new SparrowError('TOO_MANY_QUERY_TERMS', `the query has ${terms.size} distinct terms; at most ${limit} are allowed`, { limit });
    }
    const boosts = request.fieldBoosts;
    if (!boosts) return encoded;
    const names = this.encoder.fieldNames;
    for (const [name, factor] of Object.entries(boosts)) {
      if (!names.includes(name)) throw new SparrowError('INVALID_QUERY', `fieldBoosts names ${JSON.stringify(name)}, not a field of this collection's encoder (${names.join(', ')})`);
      if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 0) throw new SparrowError('INVALID_QUERY', `the boost of field ${JSON.stringify(name)} must be a finite number >= 0`);
    }
    return {
      terms: encoded.terms.map((terms, field) => {
        const factor = boosts[names[field]!] ?? (request.onlyBoostedFields ? 0 : 1);
        if (factor === 1) return terms;
        const scaled = new Map<string, number>();
        if (factor > 0) for (const [term, weight] of terms) scaled.set(term, weight * factor);
        return scaled;
      }),
    };
  }

  /**
   * Live documents in doc-number order (the order they were last written), under an optional
   * filter: what an unscored query (match everything, or filters only) lists.
   */
  scan(options: { readonly filter?: Filter; readonly offset: number; readonly limit: number }): { ids: string[]; total: number } {
    this.refreshIfChangedElsewhere();
    const ids: string[] = [];
    const end = options.offset + options.limit;
    if (options.filter !== undefined) {
      const allow = this.allowList(options.filter, undefined);
      let i = 0;
      const documents = this.documents();
      for (const doc of allow) {
        if (i >= end) break;
        if (i >= options.offset) ids.push(documents.externalId(doc));
        i++;
      }
      return { ids, total: allow.size };
    }
    // Only the page is read; the count comes from the table.
    return { ids: this.store.liveExternalIds(this.record.id, options.offset, options.limit), total: this.store.countDocuments(this.record.id) };
  }

  /** Checks the highlight settings before the search runs, so a bad setting costs no search. */
  private highlighter(request: HighlightRequest, encoded: EncodedQuery): Highlighter {
    const query = this.exactQuery(encoded);
    const weights = this.encoder.scoring === 'bm25' ? this.exactIndex().dotQueryWeights(query) : query.weights;
    const highlighter = new Highlighter(request, this.encoder, this.dictionary, { termIds: query.termIds, weights });
    highlighter.checkFields(this.encoder.textFields ?? []);
    return highlighter;
  }

  private withHighlights(response: SearchResponse, highlighter: Highlighter | undefined): SearchResponse {
    if (!highlighter) return response;
    const hits = response.hits.map((hit) => {
      const stored = this.store.getDocument(this.record.id, hit.id);
      return stored ? { ...hit, highlight: highlighter.highlight(stored) } : hit;
    });
    const warnings = [...(response.warnings ?? []), ...highlighter.warnings];
    return { ...response, hits, ...(warnings.length > 0 ? { warnings } : {}) };
  }

  /** Searches by every side the request and the collection have: sparse, dense or both fused. */
  async searchAsync(request: SearchRequest): Promise<SearchResponse> {
    const started = process.hrtime.bigint();
    const { k, from } = windowOf(request);
    const retrieval = request.retrieval ?? 'auto';
    if (!['auto', 'sparse', 'dense', 'hybrid'].includes(retrieval)) {
      throw new SparrowError('INVALID_RETRIEVAL', `retrieval must be auto, sparse, dense or hybrid, got ${JSON.stringify(retrieval)}`);
    }
    const text = typeof request.query === 'string' ? request.query : undefined;
    if (request.denseVector !== undefined && !this.dense) {
      throw new SparrowError('NO_DENSE_SIDE', `collection ${JSON.stringify(this.name)} has no dense side; create it with "dense" settings to search by vector`);
    }
    const denseAvailable = this.dense !== undefined && (request.denseVector !== undefined || (text !== undefined && !this.dense.fromClient));
    const sparseAvailable = request.query !== undefined;
    const useDense = retrieval === 'dense' || retrieval === 'hybrid' || (retrieval === 'auto' && denseAvailable);
    const useSparse = retrieval === 'sparse' || retrieval === 'hybrid' || (retrieval === 'auto' && sparseAvailable);
    if (useDense && !this.dense) {
      throw new SparrowError('NO_DENSE_SIDE', `collection ${JSON.stringify(this.name)} has no dense side`);
    }
    if (useDense && !denseAvailable) {
      throw new SparrowError(
        'QUERY_VECTOR_REQUIRED',
        this.dense!.fromClient
          ? `collection ${JSON.stringify(this.name)} takes dense vectors from the client: send dense_vector`
          : 'a dense search needs query text (for the dense encoder) or dense_vector',
      );
    }
    if (useSparse && !sparseAvailable) throw new SparrowError('EMPTY_QUERY', 'the request has no query for the sparse side');
    if (!useSparse && !useDense) throw new SparrowError('EMPTY_QUERY', 'the request has no query');
    if (typeof request.query === 'string' && request.query.trim().length === 0) throw new SparrowError('EMPTY_QUERY', 'the query text is empty');
    const [sparseQuery, denseQuery] = await Promise.all([
      useSparse ? this.encodeQueryAsync(request.query!).then((encoded) => this.withFieldBoosts(encoded, request)) : undefined,
      useDense ? this.dense!.queryVector({ ...(request.denseVector !== undefined ? { vector: request.denseVector } : {}), ...(text !== undefined ? { text } : {}) }) : undefined,
    ]);
    // A dense-only search by text still highlights the words its sparse encoding would match.
    const highlightQuery = request.highlight === undefined ? undefined : (sparseQuery ?? (text !== undefined ? await this.encodeQueryAsync(text) : undefined));
    const highlighter = highlightQuery ? this.highlighter(request.highlight!, highlightQuery) : undefined;
    let response: SearchResponse;
    if (!denseQuery) response = await this.searchSparseAsync(request, k, sparseQuery!, started);
    else if (!sparseQuery) response = this.searchDenseOnly(request, k, denseQuery, started);
    else response = this.searchHybrid(request, k, sparseQuery, denseQuery, started);
    response = this.withFacets(this.withHighlights(pageOf(response, from), highlighter), request, sparseQuery);
    if (text !== undefined && this.encoder.encodeQueryAsync && response.unknown_terms) {
      // A model's query expansion reaches far beyond the collection's vocabulary: not worth listing.
      const { unknown_terms: _expansion, ...rest } = response;
      return rest;
    }
    return response;
  }

  /** `docNumberOf`, when given, learns the doc number of every hit (hybrid search needs them). */
  private searchSparse(request: SearchRequest, k: number, encoded: EncodedQuery, started: bigint, docNumberOf?: Map<string, number>): SearchResponse {
    const plan = this.planSparse(request, k, encoded);
    const candidates = plan.approximate ? plan.approximate.segments.search(plan.approximate.query, plan.approximate.options) : undefined;
    return this.finishSparse(plan, request, k, candidates, started, docNumberOf);
  }

  /** searchSparse, with the segments searched by the search threads when the collection has them. */
  private async searchSparseAsync(request: SearchRequest, k: number, encoded: EncodedQuery, started: bigint): Promise<SearchResponse> {
    const plan = this.planSparse(request, k, encoded);
    const candidates = plan.approximate ? await plan.approximate.segments.searchAsync(plan.approximate.query, plan.approximate.options) : undefined;
    return this.finishSparse(plan, request, k, candidates, started);
  }

  /** What a sparse search will do: the resolved query, its filter, and whether segments answer it. */
  private planSparse(request: SearchRequest, k: number, encoded: EncodedQuery) {
    const requested = request.mode ?? 'auto';
    if (requested !== 'auto' && requested !== 'exact' && requested !== 'approximate' && requested !== 'safe') {
      throw new SparrowError('INVALID_MODE', `mode must be auto, exact, approximate or safe, got ${JSON.stringify(requested)}`);
    }
    // The exact index is loaded only where it is needed: exact answers, explanations, and BM25's idf.
    const needsExactIndex = requested === 'exact' || request.explain === true || !this.approximateWithoutExactIndex();
    const documents = needsExactIndex ? this.exactIndex() : this.documents();
    const resolved = this.dictionary.resolve(encoded.terms);
    const warnings: string[] = [];
    if (resolved.termIds.length === 0) {
      const analyzedToNothing = typeof request.query === 'string' && encoded.terms.every((field) => field.size === 0);
      warnings.push(
        analyzedToNothing
          ? 'every word of the query is a stop word or holds no letter or digit, so the analyzer keeps no term; nothing can match'
          : 'the query has no term present in the collection; nothing can match',
      );
    }
    const excluded = request.excludeIds && request.excludeIds.length > 0 ? new Set(request.excludeIds) : undefined;
    const query: ExactQuery = { termIds: resolved.termIds, weights: resolved.weights };
    const allow = request.filter !== undefined ? this.allowList(request.filter, excluded) : undefined;
    const accept =
      allow !== undefined
        ? (doc: number) => allow.has(doc)
        : excluded
          ? (doc: number) => !excluded.has(documents.externalId(doc))
          : undefined;
    if (request.approximate) checkApproximateParams(request.approximate);
    const segments = requested === 'exact' ? undefined : this.segmentSet();
    const smallFilter = allow !== undefined && allow.size <= this.segmentSettings.filterExactBelow;
    // While documents are being packed from the store into segments, only the exact index sees them.
    const complete = segments !== undefined && segments.pendingOutsideTail === 0;
    if (segments && !complete && (requested === 'approximate' || requested === 'safe')) {
      warnings.push(`${segments.pendingOutsideTail} documents are being built into segments; answered exactly meanwhile`);
    }
    const safe = requested === 'safe';
    const useApproximate =
      segments !== undefined && complete && (safe ? segments.segmentCount > 0 : !smallFilter && (requested === 'approximate' || segments.segmentCount > 0));
    // Excluded ids are few (a query's own id): ask for that many more and drop them after.
    const extra = excluded ? excluded.size : 0;
    const approximate = useApproximate
      ? {
          segments: segments!,
          query: { termIds: query.termIds, weights: documents.dotQueryWeights(query) },
          options: { k: k + extra, ...(safe ? { safe } : (request.approximate ?? {})), ...(allow ? { allow } : {}) },
        }
      : undefined;
    return { documents, resolved, warnings, excluded, query, accept, approximate, mode: useApproximate ? (safe ? 'safe' : 'approximate') : 'exact' } as const;
  }

  private finishSparse(
    plan: ReturnType<Collection['planSparse']>,
    request: SearchRequest,
    k: number,
    candidates: Candidate[] | undefined,
    started: bigint,
    docNumberOf?: Map<string, number>,
  ): SearchResponse {
    const { documents, resolved, warnings, excluded, query, accept } = plan;
    let result: { docNumbers: Uint32Array; scores: Float64Array; matched?: number };
    if (candidates) {
      const top = new TopK(k, (doc) => documents.externalId(doc));
      for (const c of candidates) {
        if (excluded && excluded.has(documents.externalId(c.docNumber))) continue;
        top.push(c.docNumber, c.score);
      }
      const drained = top.drain();
      result = { docNumbers: drained.docs, scores: drained.scores };
    } else {
      result = this.exactIndex().search(query, { k, ...(accept ? { accept } : {}) });
    }
    const hits: SearchHit[] = [];
    for (let i = 0; i < result.docNumbers.length; i++) {
      const docNumber = result.docNumbers[i]!;
      const hit: { id: string; score: number; fields?: Record<string, unknown>; explain?: TermExplanation[] } = {
        id: documents.externalId(docNumber),
        score: result.scores[i]!,
      };
      if (request.fields) hit.fields = this.selectFields(docNumber, request.fields);
      if (request.explain) hit.explain = this.explainHit(this.exactIndex(), query, docNumber);
      docNumberOf?.set(hit.id, docNumber);
      hits.push(hit);
    }
    return {
      hits,
      took_ms: elapsedMs(started),
      mode: plan.mode,
      retrieval: 'sparse',
      // The exact engine counts every match; segments stop early, so only a lower bound is known.
      total: result.matched !== undefined ? { value: result.matched, relation: 'eq' } : { value: hits.length, relation: 'gte' },
      ...(resolved.unknown.length > 0 ? { unknown_terms: resolved.unknown } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  }

  private searchDenseOnly(request: SearchRequest, k: number, vector: Float32Array, started: bigint): SearchResponse {
    const index = this.exactIndex();
    const result = this.denseSearch(request, k, vector);
    const hits: SearchHit[] = [];
    for (let i = 0; i < result.docNumbers.length; i++) {
      const docNumber = result.docNumbers[i]!;
      hits.push({
        id: index.externalId(docNumber),
        score: result.scores[i]!,
        ...(request.fields ? { fields: this.selectFields(docNumber, request.fields) } : {}),
      });
    }
    return { hits, took_ms: elapsedMs(started), mode: 'exact', retrieval: 'dense', total: { value: hits.length, relation: 'gte' } };
  }

  /**
   * Both sides, each asked for `depth` hits under the same filter and exclusions, fused as the
   * request's fusion setting says; explain adds each list's rank and score to every hit.
   */
  private searchHybrid(request: SearchRequest, k: number, sparseQuery: EncodedQuery, vector: Float32Array, started: bigint): SearchResponse {
    const spec = fusionSpec({ depth: Math.max(k, DEFAULT_HYBRID_DEPTH), ...(request.fusion ?? {}) }, 2);
    const index = this.exactIndex();
    const docNumberOf = new Map<string, number>();
    const sparse = this.searchSparse({ ...request, fields: false, explain: false }, Math.min(spec.depth, MAX_K), sparseQuery, started, docNumberOf);
    const dense = this.denseSearch(request, Math.min(spec.depth, MAX_K), vector);
    const denseHits: RankedHit[] = [];
    for (let i = 0; i < dense.docNumbers.length; i++) {
      const id = index.externalId(dense.docNumbers[i]!);
      docNumberOf.set(id, dense.docNumbers[i]!);
      denseHits.push({ id, score: dense.scores[i]! });
    }
    const fused = fuse(
      [
        { name: 'sparse', hits: sparse.hits },
        { name: 'dense', hits: denseHits },
      ],
      spec,
      { k, explain: request.explain ?? false },
    );
    const hits: SearchHit[] = fused.map((f) => {
      const docNumber = docNumberOf.get(f.id);
      const hit: { id: string; score: number; fields?: Record<string, unknown>; explain?: TermExplanation[]; fusion?: FusionComponent[] } = { id: f.id, score: f.score };
      if (request.fields && docNumber !== undefined) hit.fields = this.selectFields(docNumber, request.fields);
      if (request.explain) {
        if (docNumber !== undefined) hit.explain = this.explainHit(index, this.exactQuery(sparseQuery), docNumber);
        hit.fusion = f.components ?? [];
      }
      return hit;
    });
    return {
      hits,
      took_ms: elapsedMs(started),
      mode: sparse.mode,
      retrieval: 'hybrid',
      total: { value: Math.max(sparse.total?.value ?? 0, hits.length), relation: 'gte' },
      ...(sparse.unknown_terms ? { unknown_terms: sparse.unknown_terms } : {}),
      ...(sparse.warnings ? { warnings: sparse.warnings } : {}),
    };
  }

  /** The dense side's top hits under the request's filter and exclusions. */
  private denseSearch(request: SearchRequest, k: number, vector: Float32Array): DenseSearchResult {
    const index = this.documents();
    const dense = this.denseIndex();
    // No vectors yet, or a query with no known word (the zero vector): every score would tie at 0.
    if (!dense || vector.every((x) => x === 0)) return { docNumbers: new Uint32Array(0), scores: new Float64Array(0) };
    if (vector.length !== dense.dimension) {
      throw new SparrowError('VECTOR_DIMENSION_MISMATCH', `the query vector has ${vector.length} numbers; this collection's dense vectors have ${dense.dimension}`);
    }
    const excluded = request.excludeIds && request.excludeIds.length > 0 ? new Set(request.excludeIds) : undefined;
    const allow = request.filter !== undefined ? this.allowList(request.filter, excluded) : undefined;
    const accept = allow ? (doc: number) => allow.has(doc) : excluded ? (doc: number) => !excluded.has(index.externalId(doc)) : undefined;
    return dense.search(vector, k, accept ? { accept } : {});
  }

  /** Dense ties fall to the larger external id, as sparse ties and trec_eval do. */
  private readonly tieKey = (docNumber: number): string => this.documents().externalId(docNumber);

  /** The dense index, loaded or built on first use (DenseSide.indexOr). */
  private denseIndex(): DenseIndex | undefined {
    return this.dense!.indexOr(() => this.store.iterateDense(this.record.id), this.tieKey, this.savedGraph());
  }

  /** Where the HNSW graph is saved: beside the segments, as a cache of the rows' vectors. */
  private savedGraph(): SavedGraph {
    return {
      file: path.join(this.store.dataDir, 'segments', String(this.record.id), DENSE_GRAPH_FILE),
      owner: crc32(`${this.record.id}\n${this.record.name}\n${this.record.createdAt}`),
      nextDocNumber: () => this.store.nextDocNumber(this.record.id),
      isAlive: (docNumber) => this.documents().isAlive(docNumber),
      vectorsFrom: (docNumber) => this.store.iterateDense(this.record.id, docNumber),
      onProblem: (message) => process.emitWarning(message, { code: 'SPARROW_DENSE_GRAPH' }),
    };
  }

  private exactQuery(encoded: EncodedQuery): ExactQuery {
    const resolved = this.dictionary.resolve(encoded.terms);
    return { termIds: resolved.termIds, weights: resolved.weights };
  }

  private async encodeQueryAsync(query: QueryInput): Promise<EncodedQuery> {
    if (typeof query === 'string' && (this.encoder.encodeQueryAsync || this.encoder.load)) {
      if (query.trim().length === 0) throw new SparrowError('EMPTY_QUERY', 'the query text is empty');
      return encodeQueryText(this.encoder, query);
    }
    return this.encodeQuery(query);
  }

  /**
   * Starts a bulk load (see SegmentSet.beginBulk): documents written from now on go straight into
   * segment builds, until buildSegments. Only learned-sparse collections, whose document weights do
   * not depend on collection statistics; returns whether the load is packed that way.
   */
  beginBulkLoad(): boolean {
    if (this.encoder.scoring !== 'dot') return false;
    this.segmentSet().beginBulk();
    return true;
  }

  /** Builds the approximate index's segments now (all pending documents and the dense graph when forced) and waits. */
  async buildSegments(options: { force?: boolean } = {}): Promise<{ segments: number; tail: number; error?: { code: string; message: string } }> {
    const segments = this.segmentSet();
    await segments.endBulk(this.documents(), options.force ?? false);
    await segments.idle();
    await segments.maybeBuild(this.documents(), options.force ?? false);
    await segments.idle();
    // A forced build makes the dense HNSW graph too (and saves it), so the next open loads both.
    if (options.force && this.dense?.settings.index === 'hnsw') this.denseIndex();
    return { segments: segments.segmentCount, tail: segments.tailSize, ...(segments.error ? { error: segments.error } : {}) };
  }

  /** Segment statistics (opens the approximate index if needed). */
  segmentStatistics(): ReturnType<SegmentSet['statistics']> {
    return this.segmentSet().statistics();
  }

  /** The segment build or merge running now, if any (rate and time left included). */
  segmentBuildProgress(): ReturnType<SegmentSet['buildProgress']> {
    return this.segments?.buildProgress();
  }

  /** Waits for background segment work (builds, merges) to finish. */
  async idle(): Promise<void> {
    await this.segments?.idle();
  }

  close(): void {
    this.dense?.saveGraph(this.savedGraph());
    this.segments?.close();
    this.segments = undefined;
    void this.dense?.dispose();
    void this.encoder.dispose?.();
  }

  private segmentSet(): SegmentSet {
    this.refreshIfChangedElsewhere();
    if (this.segments) return this.segments;
    const documents = this.documents();
    const directory = path.join(this.store.dataDir, 'segments', String(this.record.id));
    const segments = SegmentSet.open(this.store, this.record.id, directory, this.segmentSettings, () => this.segmentMetadata(documents), documents, this.threads);
    // Only live documents no segment holds are read again: a few go to the tail, a bulk load's
    // worth is packed from the store straight into segments.
    const missing: number[] = [];
    for (let doc = 0; doc < documents.capacity; doc++) if (documents.isAlive(doc) && !segments.contains(doc)) missing.push(doc);
    this.segments = segments;
    if (missing.length >= this.segmentSettings.segmentMinDocs) {
      void segments.buildFromStore(Uint32Array.from(missing), documents);
      return segments;
    }
    const store = this.store;
    const collectionId = this.record.id;
    const pending = (function* () {
      if (missing.length === 0) return;
      for (const doc of store.iterateVectorsInRange(collectionId, missing[0]!, missing[missing.length - 1]!)) {
        if (!documents.isAlive(doc.docNumber) || segments.contains(doc.docNumber)) continue;
        yield { docNumber: doc.docNumber, indices: doc.indices, weights: documents.documentWeights(doc.indices, doc.values, doc.fieldLengths) };
      }
    })();
    documents.averageLengths();
    for (const chunk of chunked(pending, LOAD_CHUNK)) segments.addManyToTail(chunk);
    void segments.maybeBuild(documents);
    return segments;
  }

  /** The exact index when it is loaded, else the store's view (created on first use). */
  private documents(): DocumentView {
    this.refreshIfChangedElsewhere();
    if (this.index) return this.index;
    this.view ??= new StoreDocumentView(this.store, this.record.id, this.encoder.scoring, this.encoder.fieldNames.length, this.encoder.bm25, () => this.dictionary);
    return this.view;
  }

  /**
   * Learned-sparse collections with segments answer approximate queries from the segments alone:
   * their query weights need no collection statistics. BM25 needs document frequencies for idf,
   * which the exact index holds.
   */
  private approximateWithoutExactIndex(): boolean {
    return this.encoder.scoring === 'dot' && (this.segments !== undefined || this.store.listSegments(this.record.id).length > 0);
  }

  private segmentMetadata(index: DocumentView): Record<string, string | number | (string | number)[]> {
    return {
      collection: this.record.name,
      scoring: this.encoder.scoring,
      fields: [...this.encoder.fieldNames],
      ...(this.encoder.bm25 ? { k1: this.encoder.bm25.k1, b: this.encoder.bm25.b, averageLengths: index.averageLengths() } : {}),
      dictionarySize: this.dictionary.size,
    };
  }

  private allowList(filter: Filter, excluded: Set<string> | undefined): InstanceType<typeof RoaringBitmap32> {
    const numbers = this.store.docNumbersMatching(this.record.id, filter);
    const allow = new RoaringBitmap32(numbers);
    if (excluded) {
      const index = this.exactIndex();
      for (const doc of numbers) if (excluded.has(index.externalId(doc))) allow.remove(doc);
    }
    return allow;
  }

  private encodeQuery(query: QueryInput) {
    if (typeof query === 'string') {
      if (query.trim().length === 0) throw new SparrowError('EMPTY_QUERY', 'the query text is empty');
      return this.encoder.encodeQuery(query);
    }
    if (query === null || typeof query !== 'object' || Array.isArray(query)) {
      throw new SparrowError('INVALID_QUERY', 'query must be a string or an object of {term: weight}');
    }
    const entries = Object.entries(query);
    if (entries.length === 0) throw new SparrowError('EMPTY_QUERY', 'the query vector has no terms');
    for (const [term, weight] of entries) {
      if (typeof weight !== 'number' || !Number.isFinite(weight)) {
        throw new SparrowError('INVALID_WEIGHT', `weight of term ${JSON.stringify(term)} must be a finite number`, { term });
      }
      if (weight < 0) throw new SparrowError('NEGATIVE_WEIGHT', `weight of term ${JSON.stringify(term)} is negative`, { term });
    }
    return this.encoder.vectorQuery(query);
  }

  private selectFields(docNumber: number, wanted: true | readonly string[]): Record<string, unknown> {
    const all = this.store.getFieldsByNumber(this.record.id, docNumber) ?? {};
    if (wanted === true) return all;
    const picked: Record<string, unknown> = {};
    for (const name of wanted) if (name in all) picked[name] = all[name];
    return picked;
  }

  private explainHit(index: ExactIndex, query: ExactQuery, docNumber: number): TermExplanation[] {
    return index
      .explain(query, docNumber)
      .terms.map((t) => {
        const entry = this.dictionary.entry(t.termId)!;
        return {
          term: entry.text,
          field: this.encoder.fieldNames[entry.field] ?? String(entry.field),
          queryWeight: t.queryWeight,
          documentValue: t.documentValue,
          score: t.score,
        };
      })
      .sort((a, b) => b.score - a.score);
  }

  private exactIndex(): ExactIndex {
    this.refreshIfChangedElsewhere();
    if (this.index) return this.index;
    const index = new ExactIndex(this.encoder.scoring, this.encoder.fieldNames.length, this.encoder.bm25);
    for (let termId = 0; termId < this.dictionary.size; termId++) index.setTermField(termId, this.dictionary.entry(termId)!.field);
    for (const chunk of chunked(this.store.iterateVectors(this.record.id), LOAD_CHUNK)) index.addMany(chunk);
    this.index = index;
    this.seenDataVersion = this.dataVersion();
    return index;
  }

  /** Another process (say, a CLI import) committed to this database: reload what is cached. */
  private refreshIfChangedElsewhere(): void {
    if (this.seenDataVersion === -1) {
      this.seenDataVersion = this.dataVersion();
      return;
    }
    const version = this.dataVersion();
    if (version === this.seenDataVersion) return;
    this.seenDataVersion = version;
    this.dictionary = TermDictionary.load(this.store, this.record.id, this.encoder.fieldNames.length);
    this.index = undefined;
    this.view = undefined;
    this.dense?.reset();
    this.segments?.close();
    this.segments = undefined;
  }

  /** data_version moves only for commits made by other connections, so our own writes keep the cache. */
  private afterOwnWrite(): void {
    this.seenDataVersion = this.dataVersion();
  }

  private dataVersion(): number {
    return this.store.dataVersion();
  }
}

export type EncodingOutcome = (EncodedDocument & { readonly dense?: Float32Array }) | { readonly error: { readonly code: string; readonly message: string } };

function checkK(value: number | undefined): number {
  const k = value ?? DEFAULT_K;
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
    throw new SparrowError('INVALID_K', `k must be an integer from 1 to ${MAX_K}, got ${String(k)}`);
  }
  return k;
}

/** How many hits a search must find for the page [from, from + k): checked against MAX_K. */
function windowOf(request: SearchRequest): { k: number; from: number } {
  const k = checkK(request.k);
  const from = request.from ?? 0;
  if (!Number.isInteger(from) || from < 0) throw new SparrowError('INVALID_K', `from must be a whole number >= 0, got ${String(from)}`);
  if (from + k > MAX_K) {
    throw new SparrowError('RESULT_WINDOW_TOO_LARGE', `from + k must be at most ${MAX_K}, got ${from + k}: page deeper with a narrower filter`, { limit: MAX_K });
  }
  return { k: from + k, from };
}

/** The page of a response found `from + k` deep: its first `from` hits dropped. */
function pageOf(response: SearchResponse, from: number): SearchResponse {
  return from === 0 ? response : { ...response, hits: response.hits.slice(from) };
}

function elapsedMs(started: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - started) / 1e3) / 1000;
}

/** What a collection stores of a document's fields: not the sparse encoder's vector, nor client dense vectors. */
export function storedFieldsOf(encoder: SparseEncoder, dense: DenseSide | undefined, fields: Record<string, unknown>): Record<string, unknown> {
  const kept = encoder.storedFields ? encoder.storedFields(fields) : fields;
  const vectorField = dense?.clientField;
  if (vectorField === undefined || !(vectorField in kept)) return kept;
  const { [vectorField]: _vector, ...rest } = kept;
  return rest;
}

/**
 * Encodes a batch by every encoder a collection has (the sparse one, model runs included, and
 * the dense side), one outcome per document in input order; a document either encoder rejects is
 * rejected alone. Pure like encodeForCollection: bulk jobs run it in worker threads.
 */
export async function encodeBatchForCollection(encoder: SparseEncoder, dense: DenseSide | undefined, documents: readonly IngestDocument[]): Promise<EncodingOutcome[]> {
  const fields = documents.map((d) => d.fields);
  const [sparse, vectors] = await Promise.all([
    encodeDocuments(encoder, fields),
    dense ? dense.encodeDocuments(fields) : Promise.resolve(undefined as DenseOutcome[] | undefined),
  ]);
  return documents.map((document, i): EncodingOutcome => {
    const outcome = sparse[i]!;
    if ('error' in outcome) return outcome;
    const checked = checkText(encoder, document, outcome);
    if ('error' in checked) return checked;
    const vector = vectors?.[i];
    if (vector === undefined) return checked;
    if (!(vector instanceof Float32Array)) return vector;
    return { ...checked, dense: vector };
  });
}

/**
 * Encodes one document for a collection's encoder, or says why it cannot be indexed. Pure: it
 * touches no store, so bulk jobs may run it in worker threads.
 */
export function encodeForCollection(encoder: SparseEncoder, document: IngestDocument): EncodingOutcome {
  try {
    return checkText(encoder, document, encoder.encodeDocument(document.fields));
  } catch (error) {
    return { error: { code: errorCode(error) ?? 'ENCODING_FAILED', message: (error as Error).message } };
  }
}

function checkText(encoder: SparseEncoder, document: IngestDocument, encoded: EncodedDocument): EncodingOutcome {
  if (hasText(encoder, encoded.terms, document.fields)) return encoded;
  const config = encoder.config as { textFields?: readonly string[] };
  const fields = (config.textFields ?? encoder.fieldNames).map((f) => JSON.stringify(f)).join(', ');
  return { error: { code: 'EMPTY_DOCUMENT', message: `document ${JSON.stringify(document.id)} has no text in ${fields}` } };
}

function hasText(encoder: SparseEncoder, terms: readonly Map<string, number>[], fields: Record<string, unknown>): boolean {
  if (terms.some((m) => m.size > 0)) return true;
  // Text that analyses to nothing (only stop words, say) is still a document; blank text is not.
  const config = encoder.config as { textFields?: readonly string[] };
  return (config.textFields ?? []).some((name) => {
    const value = fields[name];
    return (typeof value === 'string' && value.trim().length > 0) || typeof value === 'number';
  });
}
