import { ExactIndex, type ExactQuery } from '../index/exact.js';
import type { Store } from '../store/store.js';
import type { TermDictionary } from './dictionary.js';

/**
 * What the approximate index needs to know about a collection's documents: which doc numbers are
 * live, their external ids (results and tie-breaks), and the weights a stored vector gets in a
 * segment (for BM25, today's length normalisation). The exact in-memory index answers all of it;
 * StoreDocumentView answers it from the store without holding a second copy of the vectors.
 */
export interface DocumentView {
  /** Doc numbers below this may be live: the bound of a scan over every document. */
  readonly capacity: number;
  isAlive(docNumber: number): boolean;
  externalId(docNumber: number): string;
  documentWeights(indices: Uint32Array, values: Float32Array, fieldLengths: Uint32Array): Float32Array;
  averageLengths(): number[];
  /** Query weights for dot-product scoring against documentWeights (for BM25, boost × idf). */
  dotQueryWeights(query: ExactQuery): Float32Array;
}

/**
 * A DocumentView over the store: one byte per doc number for liveness and the external ids, both
 * read in one scan of the store's external-id index (a few tens of bytes per document), and field
 * statistics read again after every write.
 * The collection keeps it in step with its own writes (added / removed) and drops it when another
 * process writes.
 */
export class StoreDocumentView implements DocumentView {
  private alive: Uint8Array;
  private readonly externalIds: string[] = [];
  private statistics: ExactIndex | undefined;

  constructor(
    private readonly store: Store,
    private readonly collectionId: number,
    private readonly scoring: ConstructorParameters<typeof ExactIndex>[0],
    private readonly fieldCount: number,
    private readonly bm25: ConstructorParameters<typeof ExactIndex>[2],
    private readonly dictionary: () => TermDictionary,
  ) {
    const numbers: number[] = [];
    let largest = -1;
    store.forEachLiveDocument(collectionId, (docNumber, externalId) => {
      numbers.push(docNumber);
      this.externalIds[docNumber] = externalId;
      if (docNumber > largest) largest = docNumber;
    });
    this.alive = new Uint8Array(largest + 1);
    for (const doc of numbers) this.alive[doc] = 1;
  }

  /** Doc numbers below this may be live; the loop bound for scans of every document. */
  get capacity(): number {
    return this.alive.length;
  }

  isAlive(docNumber: number): boolean {
    return docNumber < this.alive.length && this.alive[docNumber] === 1;
  }

  externalId(docNumber: number): string {
    return this.externalIds[docNumber] ?? '';
  }

  added(documents: Iterable<{ docNumber: number; externalId: string }>): void {
    for (const { docNumber: doc, externalId } of documents) {
      this.externalIds[doc] = externalId;
      if (doc >= this.alive.length) {
        const grown = new Uint8Array(Math.max(doc + 1, Math.ceil(this.alive.length * 1.5)));
        grown.set(this.alive);
        this.alive = grown;
      }
      this.alive[doc] = 1;
    }
    this.statistics = undefined;
  }

  removed(docNumbers: Iterable<number>): void {
    for (const doc of docNumbers) {
      if (doc < this.alive.length) this.alive[doc] = 0;
      delete this.externalIds[doc];
    }
    this.statistics = undefined;
  }

  documentWeights(indices: Uint32Array, values: Float32Array, fieldLengths: Uint32Array): Float32Array {
    if (this.scoring === 'dot') return values;
    return this.weigher().documentWeights(indices, values, fieldLengths);
  }

  averageLengths(): number[] {
    return this.weigher().averageLengths();
  }

  /**
   * Learned-sparse weights are used as given. BM25's idf needs live document frequencies, which
   * only the exact index holds: a BM25 collection never answers through this view.
   */
  dotQueryWeights(query: ExactQuery): Float32Array {
    if (this.scoring !== 'dot') throw new Error('BM25 query weights need the exact index (document frequencies)');
    return Float32Array.from(query.weights);
  }

  /** An exact index with no documents but the collection's field statistics and term fields. */
  private weigher(): ExactIndex {
    if (this.statistics) return this.statistics;
    const index = new ExactIndex(this.scoring, this.fieldCount, this.bm25);
    const dictionary = this.dictionary();
    for (let termId = 0; termId < dictionary.size; termId++) index.setTermField(termId, dictionary.entry(termId)!.field);
    for (const { field, docCount, sumTotalTermFreq } of this.store.fieldStatistics(this.collectionId)) index.setFieldStatistics(field, docCount, sumTotalTermFreq);
    this.statistics = index;
    return index;
  }
}
