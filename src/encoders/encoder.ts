import type { Bm25Parameters } from '../scoring/lucene-bm25.js';

/**
 * How an index turns a document's stored values and a query's weights into a score.
 * - "bm25": stored values are term frequencies; the score is Lucene's BM25 with idf from live
 *   collection statistics and each field's length norm. The query weight is the term's boost.
 * - "dot": stored values are term weights (learned sparse vectors); the score is the dot product.
 */
export type ScoringModel = 'bm25' | 'dot';

/** Term -> value maps, one per encoder field (index = field number). */
export type FieldTerms = Map<string, number>[];

export interface EncodedDocument {
  readonly terms: FieldTerms;
  /** Tokens per field after analysis (what BM25 length norms are built from). */
  readonly lengths: Uint32Array;
}

export interface EncodedQuery {
  readonly terms: FieldTerms;
}

export interface SparseEncoder {
  readonly config: object;
  readonly fieldNames: readonly string[];
  readonly scoring: ScoringModel;
  readonly bm25: Bm25Parameters | undefined;
  encodeDocument(document: Readonly<Record<string, unknown>>): EncodedDocument;
  encodeQuery(text: string): EncodedQuery;
  /**
   * A query given directly as {term: weight}: terms are taken as they are (already analysed),
   * applied to every field with the field's weight.
   */
  vectorQuery(weights: Readonly<Record<string, number>>): EncodedQuery;
}

export class EncoderError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'EncoderError';
    this.code = code;
  }
}
