import type { EncodedDocument, SparseEncoder } from '../encoders/encoder.js';
import { ExactIndex, type ExactQuery } from '../index/exact.js';
import type { CollectionRecord, DocumentWrite, Store, TermEntry } from '../store/store.js';
import { TermDictionary } from './dictionary.js';
import type { IngestDocument } from './documents.js';
import { SparrowError, errorCode } from './errors.js';
import { compileFilter, type Filter } from './filter.js';
import { SegmentSet, segmentSettings, type SegmentSettings } from './segments.js';
import { TopK } from '../index/top-k.js';
import path from 'node:path';
import roaring from 'roaring';

const { RoaringBitmap32 } = roaring;


export type QueryInput = string | Readonly<Record<string, number>>;

export interface SearchRequest {
  readonly query: QueryInput;
  readonly k?: number;
  /** Stored fields to return: true for all, a list for some, false/absent for none. */
  readonly fields?: boolean | readonly string[];
  readonly explain?: boolean;
  /** External ids never returned (BEIR's "remove query": the query's own id). */
  readonly excludeIds?: readonly string[];
  /** A filter on stored fields (see engine/filter.ts). */
  readonly filter?: Filter;
  /**
   * "exact" scores every matching document (BM25 exactly as Lucene); "approximate" searches the
   * Seismic segments plus the unbuilt tail; "auto" (default) is approximate once segments exist.
   */
  readonly mode?: SearchMode;
  /** Per-query parameters of the approximate index. */
  readonly approximate?: { readonly queryCut?: number; readonly heapFactor?: number };
}

export type SearchMode = 'auto' | 'exact' | 'approximate';

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
}

export interface SearchResponse {
  readonly hits: SearchHit[];
  readonly took_ms: number;
  /** How the query was answered. */
  readonly mode: 'exact' | 'approximate';
  /** Query terms absent from the collection (they cannot match anything). */
  readonly unknown_terms?: string[];
  readonly warnings?: string[];
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
export const DEFAULT_K = 10;

/**
 * One collection: its encoder, term dictionary, durable documents and the in-memory exact index.
 * Every entry point (CLI, server, evaluation) writes and searches through this class.
 */
export class Collection {
  readonly record: CollectionRecord;
  readonly encoder: SparseEncoder;
  private readonly store: Store;
  private dictionary: TermDictionary;
  private index: ExactIndex | undefined;
  private segments: SegmentSet | undefined;
  readonly segmentSettings: SegmentSettings;
  /** SQLite's data_version when the index was last known to match the database. */
  private seenDataVersion = -1;

  constructor(store: Store, record: CollectionRecord, encoder: SparseEncoder) {
    this.store = store;
    this.record = record;
    this.encoder = encoder;
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
    const encoded = documents.map((document) => encodeForCollection(this.encoder, document));
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
      const { indices, values } = this.dictionary.assign(outcome.terms, newTerms);
      writes.push({ externalId: document.id, fields: this.encoder.storedFields ? this.encoder.storedFields(document.fields) : document.fields, indices, values, fieldLengths: outcome.lengths });
    }
    let outcome;
    try {
      outcome = this.store.writeBatch(this.record.id, newTerms, writes);
    } catch (error) {
      this.dictionary.rollback();
      throw error;
    }
    this.dictionary.commit();
    this.afterOwnWrite();
    if (this.index) {
      for (const term of newTerms) this.index.setTermField(term.termId, term.field);
      const removedNumbers = new Set(outcome.removed.map((r) => r.docNumber));
      for (const { docNumber, write } of outcome.added) {
        if (!removedNumbers.has(docNumber)) this.index.add(docNumber, write.externalId, write.indices, write.values, write.fieldLengths);
      }
      for (const removed of outcome.removed) this.index.remove(removed.docNumber, removed.indices, removed.fieldLengths);
      if (this.segments) {
        for (const removed of outcome.removed) this.segments.remove(removed.docNumber);
        for (const { docNumber, write } of outcome.added) {
          if (removedNumbers.has(docNumber)) continue;
          this.segments.addToTail(docNumber, write.indices, this.index.documentWeights(write.indices, write.values, write.fieldLengths));
        }
        void this.segments.maybeBuild(this.index);
      }
    }
    return { inserted: outcome.inserted, updated: outcome.updated, rejected };
  }

  /** Deletes by external id; returns how many existed. Removed from search at once. */
  delete(ids: readonly string[]): number {
    this.refreshIfChangedElsewhere();
    const removed = this.store.deleteDocuments(this.record.id, ids);
    this.afterOwnWrite();
    if (this.index) for (const r of removed) this.index.remove(r.docNumber, r.indices, r.fieldLengths);
    if (this.segments) for (const r of removed) this.segments.remove(r.docNumber);
    return removed.length;
  }

  get(id: string): { id: string; fields: Record<string, unknown> } | undefined {
    const stored = this.store.getDocument(this.record.id, id);
    return stored ? { id: stored.externalId, fields: stored.fields } : undefined;
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

  /** Builds the in-memory index now instead of on the first search. */
  warm(): void {
    this.exactIndex();
  }

  search(request: SearchRequest): SearchResponse {
    const started = process.hrtime.bigint();
    const k = request.k ?? DEFAULT_K;
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) {
      throw new SparrowError('INVALID_K', `k must be an integer from 1 to ${MAX_K}, got ${String(k)}`);
    }
    const encoded = this.encodeQuery(request.query);
    const index = this.exactIndex();
    const resolved = this.dictionary.resolve(encoded.terms);
    const warnings: string[] = [];
    if (resolved.termIds.length === 0) {
      warnings.push('the query has no term present in the collection; nothing can match');
    }
    const excluded = request.excludeIds && request.excludeIds.length > 0 ? new Set(request.excludeIds) : undefined;
    const query: ExactQuery = { termIds: resolved.termIds, weights: resolved.weights };
    const allow = request.filter !== undefined ? this.allowList(request.filter, excluded) : undefined;
    const accept =
      allow !== undefined
        ? (doc: number) => allow.has(doc)
        : excluded
          ? (doc: number) => !excluded.has(index.externalId(doc))
          : undefined;
    const requested = request.mode ?? 'auto';
    if (requested !== 'auto' && requested !== 'exact' && requested !== 'approximate') {
      throw new SparrowError('INVALID_MODE', `mode must be auto, exact or approximate, got ${JSON.stringify(requested)}`);
    }
    const segments = requested === 'exact' ? undefined : this.segmentSet();
    const smallFilter = allow !== undefined && allow.size <= this.segmentSettings.filterExactBelow;
    const useApproximate = segments !== undefined && !smallFilter && (requested === 'approximate' || segments.segmentCount > 0);
    let result: { docNumbers: Uint32Array; scores: Float64Array };
    if (useApproximate) {
      const dotWeights = index.dotQueryWeights(query);
      const approximateOptions = request.approximate ?? {};
      // Excluded ids are few (a query's own id): ask for that many more and drop them after.
      const extra = excluded ? excluded.size : 0;
      const candidates = segments.search(
        { termIds: query.termIds, weights: dotWeights },
        { k: k + extra, ...approximateOptions, ...(allow ? { allow } : {}) },
      );
      const top = new TopK(k, (doc) => index.externalId(doc));
      for (const c of candidates) {
        if (excluded && excluded.has(index.externalId(c.docNumber))) continue;
        top.push(c.docNumber, c.score);
      }
      const drained = top.drain();
      result = { docNumbers: drained.docs, scores: drained.scores };
    } else {
      result = index.search(query, { k, ...(accept ? { accept } : {}) });
    }
    const hits: SearchHit[] = [];
    for (let i = 0; i < result.docNumbers.length; i++) {
      const docNumber = result.docNumbers[i]!;
      const hit: { id: string; score: number; fields?: Record<string, unknown>; explain?: TermExplanation[] } = {
        id: index.externalId(docNumber),
        score: result.scores[i]!,
      };
      if (request.fields) hit.fields = this.selectFields(docNumber, request.fields);
      if (request.explain) hit.explain = this.explainHit(index, query, docNumber);
      hits.push(hit);
    }
    const tookMs = Number(process.hrtime.bigint() - started) / 1e6;
    return {
      hits,
      took_ms: Math.round(tookMs * 1000) / 1000,
      mode: useApproximate ? 'approximate' : 'exact',
      ...(resolved.unknown.length > 0 ? { unknown_terms: resolved.unknown } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  }

  /** Builds the approximate index's segments now (all pending documents when forced) and waits. */
  async buildSegments(options: { force?: boolean } = {}): Promise<{ segments: number; tail: number; error?: { code: string; message: string } }> {
    const index = this.exactIndex();
    const segments = this.segmentSet();
    await segments.idle();
    await segments.maybeBuild(index, options.force ?? false);
    await segments.idle();
    return { segments: segments.segmentCount, tail: segments.tailSize, ...(segments.error ? { error: segments.error } : {}) };
  }

  /** Segment statistics (opens the approximate index if needed). */
  segmentStatistics(): ReturnType<SegmentSet['statistics']> {
    return this.segmentSet().statistics();
  }

  /** Waits for background segment work (builds, merges) to finish. */
  async idle(): Promise<void> {
    await this.segments?.idle();
  }

  close(): void {
    this.segments?.close();
    this.segments = undefined;
  }

  private segmentSet(): SegmentSet {
    const index = this.exactIndex();
    if (this.segments) return this.segments;
    const directory = path.join(this.store.dataDir, 'segments', String(this.record.id));
    const segments = SegmentSet.open(this.store, this.record.id, directory, this.segmentSettings, () => this.segmentMetadata(index), index);
    for (const doc of this.store.iterateVectors(this.record.id)) {
      if (!index.isAlive(doc.docNumber) || segments.contains(doc.docNumber)) continue;
      segments.addToTail(doc.docNumber, doc.indices, index.documentWeights(doc.indices, doc.values, doc.fieldLengths));
    }
    this.segments = segments;
    void segments.maybeBuild(index);
    return segments;
  }

  private segmentMetadata(index: ExactIndex): Record<string, string | number | (string | number)[]> {
    return {
      collection: this.record.name,
      scoring: this.encoder.scoring,
      fields: [...this.encoder.fieldNames],
      ...(this.encoder.bm25 ? { k1: this.encoder.bm25.k1, b: this.encoder.bm25.b, averageLengths: index.averageLengths() } : {}),
      dictionarySize: this.dictionary.size,
    };
  }

  private allowList(filter: Filter, excluded: Set<string> | undefined): InstanceType<typeof RoaringBitmap32> {
    const compiled = compileFilter(filter);
    const numbers = this.store.docNumbersWhere(this.record.id, compiled.sql, compiled.params);
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
    for (const doc of this.store.iterateVectors(this.record.id)) {
      index.add(doc.docNumber, doc.externalId, doc.indices, doc.values, doc.fieldLengths);
    }
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
    this.segments?.close();
    this.segments = undefined;
  }

  /** data_version moves only for commits made by other connections, so our own writes keep the cache. */
  private afterOwnWrite(): void {
    this.seenDataVersion = this.dataVersion();
  }

  private dataVersion(): number {
    return this.store.db.pragma('data_version', { simple: true }) as number;
  }
}

export type EncodingOutcome = EncodedDocument | { readonly error: { readonly code: string; readonly message: string } };

/**
 * Encodes one document for a collection's encoder, or says why it cannot be indexed. Pure: it
 * touches no store, so bulk jobs may run it in worker threads.
 */
export function encodeForCollection(encoder: SparseEncoder, document: IngestDocument): EncodingOutcome {
  try {
    const encoded = encoder.encodeDocument(document.fields);
    if (!hasText(encoder, encoded.terms, document.fields)) {
      const config = encoder.config as { textFields?: readonly string[] };
      const fields = (config.textFields ?? encoder.fieldNames).map((f) => JSON.stringify(f)).join(', ');
      return { error: { code: 'EMPTY_DOCUMENT', message: `document ${JSON.stringify(document.id)} has no text in ${fields}` } };
    }
    return encoded;
  } catch (error) {
    return { error: { code: errorCode(error) ?? 'ENCODING_FAILED', message: (error as Error).message } };
  }
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
