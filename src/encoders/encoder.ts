import type { Bm25Parameters } from '../scoring/lucene-bm25.js';
import { CodedError } from '../common/errors.js';

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

/** Where one index term came from in a stored text: UTF-16 offsets [start, end) of its token. */
export interface TermSpan {
  /** The encoder field (index into fieldNames) the term is indexed under. */
  readonly field: number;
  readonly term: string;
  readonly start: number;
  readonly end: number;
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
  /**
   * Reads model files. An encoder that has it must be loaded before it encodes; calling it again
   * returns the same promise. Encoders without models (BM25) omit it.
   */
  load?(): Promise<void>;
  /**
   * Encodes a batch of documents by a model run (asynchronous); results in input order. Where an
   * encoder has it, callers use it instead of encodeDocument, which such an encoder refuses.
   */
  encodeDocumentsAsync?(documents: readonly Readonly<Record<string, unknown>>[]): Promise<EncodedDocument[]>;
  /** Encodes a query by a model run; where an encoder has it, callers use it instead of encodeQuery. */
  encodeQueryAsync?(text: string): Promise<EncodedQuery>;
  /** Frees native resources (model sessions). */
  dispose?(): Promise<void>;
  /**
   * The index terms of each stored text field the encoder reads, with the offsets of the tokens
   * they came from (what highlighting maps matches back to). Encoders that do not read text
   * (client vectors) omit it; a model encoder must be loaded first.
   */
  termSpans?(document: Readonly<Record<string, unknown>>): Map<string, TermSpan[]>;
  /** The stored fields whose text the encoder reads (encoders with termSpans have them). */
  readonly textFields?: readonly string[];
  /** The fields kept as the document's stored fields (default: all of them). */
  storedFields?(fields: Readonly<Record<string, unknown>>): Record<string, unknown>;
}

export class EncoderError extends CodedError {}
