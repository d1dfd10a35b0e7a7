import { bm25AverageLength, bm25DocumentWeight, bm25Idf, bm25NormInverseTable, bm25TermScore, lengthToNormByte, type Bm25Parameters } from '../scoring/lucene-bm25.js';
import type { ScoringModel } from '../encoders/encoder.js';
import { TopK } from './top-k.js';

export interface ExactQuery {
  readonly termIds: Uint32Array;
  /** Query weight per term: the boost for BM25, the term weight for dot products. */
  readonly weights: Float32Array;
}

export interface ExactSearchOptions {
  readonly k: number;
  /** Optional allow-list: documents for which this returns false are never scored into results. */
  readonly accept?: (docNumber: number) => boolean;
}

export interface ExactResult {
  readonly docNumbers: Uint32Array;
  readonly scores: Float64Array;
  /** Documents that matched (had a query term and passed accept), not only the k returned. */
  readonly matched?: number;
}

export interface TermContribution {
  readonly termId: number;
  readonly queryWeight: number;
  readonly documentValue: number;
  readonly score: number;
}

const INITIAL_POSTING_CAPACITY = 4;

/**
 * The exact engine: an in-memory inverted index over every live document with exhaustive
 * term-at-a-time scoring. It is the oracle the approximate index is tested against, and it serves
 * small collections and the small unbuilt tail of large ones. Deletes are tombstones; dead postings
 * are dropped by compaction once they outnumber live ones.
 */
export class ExactIndex {
  readonly scoring: ScoringModel;
  readonly bm25: Bm25Parameters | undefined;
  readonly fieldCount: number;

  private postingDocs: Uint32Array[] = [];
  private postingValues: Float32Array[] = [];
  private postingSize: Int32Array = new Int32Array(0);
  private liveDocFreq: Int32Array = new Int32Array(0);
  private termField: Int32Array = new Int32Array(0);

  private alive: Uint8Array = new Uint8Array(0);
  private externalIds: string[] = [];
  private norms: Uint8Array[];
  private fieldDocCount: Float64Array;
  private fieldTokenCount: Float64Array;
  private liveDocs = 0;
  private deadPostings = 0;
  private livePostings = 0;

  // Reused per query: accumulators and a generation stamp marking which ones are in use.
  private accumulators: Float64Array = new Float64Array(0);
  private stamps: Uint32Array = new Uint32Array(0);
  private touched: Uint32Array = new Uint32Array(0);
  private generation = 0;
  /** addMany's per-term counts, all zero between calls. */
  private batchCounts: Int32Array = new Int32Array(0);
  private normTableCache = new Map<string, Float32Array>();

  constructor(scoring: ScoringModel, fieldCount: number, bm25?: Bm25Parameters) {
    this.scoring = scoring;
    this.fieldCount = fieldCount;
    this.bm25 = bm25;
    this.norms = Array.from({ length: fieldCount }, () => new Uint8Array(0));
    this.fieldDocCount = new Float64Array(fieldCount);
    this.fieldTokenCount = new Float64Array(fieldCount);
    if (scoring === 'bm25' && !bm25) throw new Error('BM25 scoring needs BM25 parameters');
  }

  get documentCount(): number {
    return this.liveDocs;
  }

  get capacity(): number {
    return this.alive.length;
  }

  isAlive(docNumber: number): boolean {
    return docNumber < this.alive.length && this.alive[docNumber] === 1;
  }

  externalId(docNumber: number): string {
    return this.externalIds[docNumber] ?? '';
  }

  docFreq(termId: number): number {
    return termId < this.liveDocFreq.length ? this.liveDocFreq[termId]! : 0;
  }

  fieldStatistics(field: number): { docCount: number; sumTotalTermFreq: number } {
    return { docCount: this.fieldDocCount[field]!, sumTotalTermFreq: this.fieldTokenCount[field]! };
  }

  /**
   * Sets a field's statistics directly: an index that holds no documents can then weigh documents
   * (documentWeights) and report averageLengths exactly as the full index would.
   */
  setFieldStatistics(field: number, docCount: number, sumTotalTermFreq: number): void {
    this.fieldDocCount[field] = docCount;
    this.fieldTokenCount[field] = sumTotalTermFreq;
  }

  /** Declares which field a term belongs to (BM25 needs it to pick statistics and norms). */
  setTermField(termId: number, field: number): void {
    this.ensureTerms(termId + 1);
    this.termField[termId] = field;
  }

  add(docNumber: number, externalId: string, indices: Uint32Array, values: Float32Array, fieldLengths: Uint32Array): void {
    this.addMany([{ docNumber, externalId, indices, values, fieldLengths }]);
  }

  /**
   * add() for many documents at once: each posting list the batch touches grows once, to its final
   * size, and is then filled in one pass (a store of 100k SPLADE-like documents loads ~5x faster
   * than one add() at a time, which grows lists by doubling).
   */
  addMany(docs: readonly { readonly docNumber: number; readonly externalId: string; readonly indices: Uint32Array; readonly values: Float32Array; readonly fieldLengths: Uint32Array }[]): void {
    let maxTerm = -1;
    let maxDoc = -1;
    for (const doc of docs) {
      if (this.isAlive(doc.docNumber)) this.remove(doc.docNumber);
      if (doc.indices.length > 0) maxTerm = Math.max(maxTerm, doc.indices[doc.indices.length - 1]!);
      maxDoc = Math.max(maxDoc, doc.docNumber);
    }
    this.ensureTerms(maxTerm + 1);
    this.ensureDocs(maxDoc + 1);
    // Count the batch's postings per term, then grow each touched list once.
    if (this.batchCounts.length < this.postingSize.length) this.batchCounts = new Int32Array(this.postingSize.length);
    const counts = this.batchCounts;
    const touched: number[] = [];
    for (const doc of docs) {
      const indices = doc.indices;
      for (let i = 0; i < indices.length; i++) {
        const term = indices[i]!;
        if (counts[term]!++ === 0) touched.push(term);
      }
    }
    // The batch's postings grouped by term first (a counting sort into two flat arrays), so each
    // list is then appended to with one copy instead of one indirect write per posting.
    let total = 0;
    for (const term of touched) {
      const count = counts[term]!;
      counts[term] = total;
      total += count;
    }
    const batchDocs = new Uint32Array(total);
    const batchValues = new Float32Array(total);
    for (const doc of docs) {
      const { docNumber, indices, values, fieldLengths } = doc;
      this.alive[docNumber] = 1;
      this.externalIds[docNumber] = doc.externalId;
      this.liveDocs++;
      for (let field = 0; field < this.fieldCount; field++) {
        const length = fieldLengths[field] ?? 0;
        this.norms[field]![docNumber] = lengthToNormByte(length);
        if (length > 0) {
          this.fieldDocCount[field]!++;
          this.fieldTokenCount[field]! += length;
        }
      }
      for (let i = 0; i < indices.length; i++) {
        const slot = counts[indices[i]!]!++;
        batchDocs[slot] = docNumber;
        batchValues[slot] = values[i]!;
      }
      this.livePostings += indices.length;
    }
    // counts[term] is now the end of the term's group; groups follow `touched` order.
    let start = 0;
    for (const term of touched) {
      const end = counts[term]!;
      counts[term] = 0;
      const count = end - start;
      this.liveDocFreq[term]! += count;
      const size = this.postingSize[term]!;
      let listDocs = this.postingDocs[term]!;
      let listValues = this.postingValues[term]!;
      if (size + count > listDocs.length) {
        // Geometric growth (x1.25) keeps one-at-a-time adds amortized O(1) with little slack.
        const capacity = Math.max(size + count, Math.ceil(size * 1.25), INITIAL_POSTING_CAPACITY);
        const grownDocs = new Uint32Array(capacity);
        grownDocs.set(listDocs.subarray(0, size));
        const grownValues = new Float32Array(capacity);
        grownValues.set(listValues.subarray(0, size));
        this.postingDocs[term] = listDocs = grownDocs;
        this.postingValues[term] = listValues = grownValues;
      }
      listDocs.set(batchDocs.subarray(start, end), size);
      listValues.set(batchValues.subarray(start, end), size);
      this.postingSize[term] = size + count;
      start = end;
    }
  }

  /** Tombstones a document; `indices` and `fieldLengths` are the removed version's (for statistics). */
  remove(docNumber: number, indices?: Uint32Array, fieldLengths?: Uint32Array): void {
    if (!this.isAlive(docNumber)) return;
    this.alive[docNumber] = 0;
    this.liveDocs--;
    if (indices) {
      for (let i = 0; i < indices.length; i++) this.liveDocFreq[indices[i]!]!--;
      this.livePostings -= indices.length;
      this.deadPostings += indices.length;
    } else {
      this.recountAfterBlindRemoval(docNumber);
    }
    for (let field = 0; field < this.fieldCount; field++) {
      const length = fieldLengths ? (fieldLengths[field] ?? 0) : 0;
      if (length > 0) {
        this.fieldDocCount[field]!--;
        this.fieldTokenCount[field]! -= length;
      }
    }
    if (this.deadPostings > 1024 && this.deadPostings > this.livePostings) this.compact();
  }

  /** Drops postings of dead documents. */
  compact(): void {
    for (let term = 0; term < this.postingDocs.length; term++) {
      const docs = this.postingDocs[term]!;
      const values = this.postingValues[term]!;
      const size = this.postingSize[term]!;
      let kept = 0;
      for (let i = 0; i < size; i++) {
        const doc = docs[i]!;
        if (this.alive[doc] === 1) {
          docs[kept] = doc;
          values[kept] = values[i]!;
          kept++;
        }
      }
      this.postingSize[term] = kept;
    }
    this.deadPostings = 0;
  }

  search(query: ExactQuery, options: ExactSearchOptions): ExactResult {
    const k = Math.max(0, Math.floor(options.k));
    const top = new TopK(k, (doc) => this.externalIds[doc]!);
    if (k === 0 || this.liveDocs === 0) return { docNumbers: new Uint32Array(0), scores: new Float64Array(0) };
    const touchedCount = this.accumulate(query);
    const accept = options.accept;
    let matched = 0;
    for (let i = 0; i < touchedCount; i++) {
      const doc = this.touched[i]!;
      if (accept && !accept(doc)) continue;
      matched++;
      // Lucene sums term scores in double and returns the sum as a float.
      const score = Math.fround(this.accumulators[doc]!);
      if (top.admits(score)) top.push(doc, score);
    }
    const { docs, scores } = top.drain();
    return { docNumbers: docs, scores, matched };
  }

  /** Score of one document for a query, term by term (for explain and for tests). */
  explain(query: ExactQuery, docNumber: number): { score: number; terms: TermContribution[] } {
    const terms: TermContribution[] = [];
    let sum = 0;
    if (!this.isAlive(docNumber)) return { score: 0, terms };
    for (let q = 0; q < query.termIds.length; q++) {
      const term = query.termIds[q]!;
      if (term >= this.postingSize.length) continue;
      const docs = this.postingDocs[term]!;
      const size = this.postingSize[term]!;
      for (let i = 0; i < size; i++) {
        if (docs[i] !== docNumber) continue;
        const value = this.postingValues[term]![i]!;
        const { weight, normInverse } = this.termWeight(term, query.weights[q]!);
        const score =
          this.scoring === 'bm25'
            ? bm25TermScore(weight, value, normInverse![this.norms[this.termField[term]!]![docNumber]!]!)
            : Math.fround(weight * value);
        terms.push({ termId: term, queryWeight: weight, documentValue: value, score });
        sum += score;
      }
    }
    return { score: Math.fround(sum), terms };
  }

  /**
   * Query weights for dot-product scoring against document weights (see documentWeights): for BM25
   * boost x idf from the live statistics, for learned vectors the weights as given.
   */
  dotQueryWeights(query: ExactQuery): Float32Array {
    const weights = new Float32Array(query.termIds.length);
    for (let q = 0; q < weights.length; q++) {
      const term = query.termIds[q]!;
      if (this.scoring === 'dot') weights[q] = query.weights[q]!;
      else if (term < this.liveDocFreq.length && this.liveDocFreq[term]! > 0) weights[q] = this.termWeight(term, query.weights[q]!).weight;
    }
    return weights;
  }

  /**
   * A document's stored values as dot-product weights: for BM25 the saturated, length-normalised
   * term frequency freq / (freq + k1 (1 - b + b dl / avgdl)) with today's avgdl, so that
   * query weight x document weight is BM25. Indexes that must freeze weights (segments) use this.
   */
  documentWeights(indices: Uint32Array, values: Float32Array, fieldLengths: Uint32Array): Float32Array {
    if (this.scoring === 'dot') return values;
    const weights = new Float32Array(values.length);
    for (let i = 0; i < indices.length; i++) {
      const term = indices[i]!;
      const field = term < this.termField.length ? this.termField[term]! : 0;
      const docCount = this.fieldDocCount[field]!;
      const table = this.normInverseTable(bm25AverageLength(this.fieldTokenCount[field]!, docCount));
      weights[i] = bm25DocumentWeight(values[i]!, table[lengthToNormByte(fieldLengths[field] ?? 0)]!);
    }
    return weights;
  }

  /** Average length per field as BM25 sees it now (what a segment freezes). */
  averageLengths(): number[] {
    return Array.from({ length: this.fieldCount }, (_, f) => bm25AverageLength(this.fieldTokenCount[f]!, this.fieldDocCount[f]!));
  }

  /** Live documents in doc-number order. */
  *liveDocNumbers(): Generator<number> {
    for (let doc = 0; doc < this.alive.length; doc++) if (this.alive[doc] === 1) yield doc;
  }

  private termWeight(term: number, queryWeight: number): { weight: number; normInverse: Float32Array | undefined } {
    if (this.scoring === 'dot') return { weight: Math.fround(queryWeight), normInverse: undefined };
    const field = this.termField[term]!;
    const docCount = this.fieldDocCount[field]!;
    const idf = bm25Idf(this.liveDocFreq[term]!, docCount);
    const avgdl = bm25AverageLength(this.fieldTokenCount[field]!, docCount);
    return { weight: Math.fround(Math.fround(queryWeight) * idf), normInverse: this.normInverseTable(avgdl) };
  }

  private normInverseTable(avgdl: number): Float32Array {
    const key = String(avgdl);
    let table = this.normTableCache.get(key);
    if (!table) {
      if (this.normTableCache.size > 64) this.normTableCache.clear();
      table = bm25NormInverseTable(this.bm25!, avgdl);
      this.normTableCache.set(key, table);
    }
    return table;
  }

  private accumulate(query: ExactQuery): number {
    if (this.accumulators.length < this.alive.length) {
      this.accumulators = new Float64Array(this.alive.length);
      this.stamps = new Uint32Array(this.alive.length);
      this.touched = new Uint32Array(this.alive.length);
      this.generation = 0;
    }
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.stamps.fill(0);
      this.generation = 1;
    }
    const generation = this.generation;
    const accumulators = this.accumulators;
    const stamps = this.stamps;
    const touched = this.touched;
    const alive = this.alive;
    let touchedCount = 0;
    for (let q = 0; q < query.termIds.length; q++) {
      const term = query.termIds[q]!;
      if (term >= this.postingSize.length || this.liveDocFreq[term]! <= 0) continue;
      const { weight, normInverse } = this.termWeight(term, query.weights[q]!);
      const docs = this.postingDocs[term]!;
      const values = this.postingValues[term]!;
      const size = this.postingSize[term]!;
      const norms = this.scoring === 'bm25' ? this.norms[this.termField[term]!]! : undefined;
      for (let i = 0; i < size; i++) {
        const doc = docs[i]!;
        if (alive[doc] !== 1) continue;
        const score = norms ? bm25TermScore(weight, values[i]!, normInverse![norms[doc]!]!) : Math.fround(weight * values[i]!);
        if (stamps[doc] !== generation) {
          stamps[doc] = generation;
          accumulators[doc] = score;
          touched[touchedCount++] = doc;
        } else {
          accumulators[doc]! += score;
        }
      }
    }
    return touchedCount;
  }

  private recountAfterBlindRemoval(docNumber: number): void {
    for (let term = 0; term < this.postingDocs.length; term++) {
      const docs = this.postingDocs[term]!;
      const size = this.postingSize[term]!;
      for (let i = 0; i < size; i++) {
        if (docs[i] === docNumber) {
          this.liveDocFreq[term]!--;
          this.livePostings--;
          this.deadPostings++;
        }
      }
    }
  }

  private ensureTerms(count: number): void {
    if (count <= this.postingSize.length) return;
    const capacity = Math.max(count, this.postingSize.length * 2, 1024);
    const size = new Int32Array(capacity);
    size.set(this.postingSize);
    const df = new Int32Array(capacity);
    df.set(this.liveDocFreq);
    const field = new Int32Array(capacity);
    field.set(this.termField);
    for (let t = this.postingDocs.length; t < capacity; t++) {
      this.postingDocs.push(new Uint32Array(0));
      this.postingValues.push(new Float32Array(0));
    }
    this.postingSize = size;
    this.liveDocFreq = df;
    this.termField = field;
  }

  private ensureDocs(count: number): void {
    if (count <= this.alive.length) return;
    const capacity = Math.max(count, this.alive.length * 2, 1024);
    const alive = new Uint8Array(capacity);
    alive.set(this.alive);
    this.alive = alive;
    this.norms = this.norms.map((old) => {
      const grown = new Uint8Array(capacity);
      grown.set(old);
      return grown;
    });
  }
}
