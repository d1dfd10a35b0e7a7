import { EnglishAnalyzer } from '../analysis/english-analyzer.js';
import { StandardAnalyzer } from '../analysis/standard-analyzer.js';
import { DEFAULT_BM25, type Bm25Parameters } from '../scoring/lucene-bm25.js';
import { EncoderError, type EncodedDocument, type EncodedQuery, type FieldTerms, type SparseEncoder, type TermSpan } from './encoder.js';

/**
 * BM25 as a sparse encoder, matching Lucene/Anserini.
 *
 * Where each part of BM25 lives:
 * - document side (stored per document): term frequencies and the token count of each field. These
 *   never change once a document is written.
 * - collection side (live statistics): docFreq per term and, per field, the number of documents and
 *   the sum of their lengths. They change as the collection grows; idf and avgdl are computed from them
 *   at query time, so a growing collection never leaves stale weights behind in the exact engine.
 * - query side: the boost of each term = number of occurrences in the query x field weight; the
 *   query's weight for a term is boost x idf.
 * An index that must freeze document weights (the approximate segments) takes avgdl at build time.
 *
 * Fields: "flat" indexes title and text as one field (title + " " + text); "multifield" scores each
 * text field separately with its own statistics and sums the weighted field scores.
 */
export interface Bm25EncoderConfig {
  readonly type: 'bm25';
  readonly k1: number;
  readonly b: number;
  readonly fields: 'flat' | 'multifield';
  /** Document fields that hold text, in order; defaults to ["title", "text"]. */
  readonly textFields: readonly string[];
  /** multifield only: weight per text field (default 1 each). */
  readonly fieldWeights: Readonly<Record<string, number>>;
  /** "english": Lucene's EnglishAnalyzer (stop words, Porter stems); "standard": StandardAnalyzer (lower case only). */
  readonly analyzer: 'english' | 'standard';
}

export function bm25Config(partial: Partial<Bm25EncoderConfig> = {}): Bm25EncoderConfig {
  const config: Bm25EncoderConfig = {
    type: 'bm25',
    k1: partial.k1 ?? DEFAULT_BM25.k1,
    b: partial.b ?? DEFAULT_BM25.b,
    fields: partial.fields ?? 'flat',
    textFields: partial.textFields ?? ['title', 'text'],
    fieldWeights: partial.fieldWeights ?? {},
    analyzer: partial.analyzer ?? 'english',
  };
  if (!(Number.isFinite(config.k1) && config.k1 >= 0)) throw new EncoderError('INVALID_ENCODER_CONFIG', `k1 must be a finite number >= 0, got ${config.k1}`);
  if (!(Number.isFinite(config.b) && config.b >= 0 && config.b <= 1)) throw new EncoderError('INVALID_ENCODER_CONFIG', `b must be within [0, 1], got ${config.b}`);
  if (config.fields !== 'flat' && config.fields !== 'multifield') {
    throw new EncoderError('INVALID_ENCODER_CONFIG', `fields must be "flat" or "multifield", got ${JSON.stringify(config.fields)}`);
  }
  if (!Array.isArray(config.textFields) || config.textFields.length === 0 || config.textFields.some((f) => typeof f !== 'string')) {
    throw new EncoderError('INVALID_ENCODER_CONFIG', 'textFields must be a non-empty list of field names');
  }
  for (const [field, weight] of Object.entries(config.fieldWeights)) {
    if (!(typeof weight === 'number' && Number.isFinite(weight) && weight >= 0)) {
      throw new EncoderError('INVALID_ENCODER_CONFIG', `field weight for ${field} must be a finite number >= 0`);
    }
  }
  if (config.analyzer !== 'english' && config.analyzer !== 'standard') {
    throw new EncoderError('INVALID_ENCODER_CONFIG', `analyzer must be "english" or "standard", got ${JSON.stringify(config.analyzer)}`);
  }
  return config;
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

function countTerms(tokens: readonly string[], into: Map<string, number>): void {
  for (const token of tokens) into.set(token, (into.get(token) ?? 0) + 1);
}

export class Bm25Encoder implements SparseEncoder {
  readonly config: Bm25EncoderConfig;
  readonly fieldNames: readonly string[];
  readonly scoring = 'bm25' as const;
  readonly bm25: Bm25Parameters;
  private readonly analyzer: EnglishAnalyzer | StandardAnalyzer;
  private readonly weights: readonly number[];

  constructor(config: Bm25EncoderConfig) {
    this.config = config;
    this.analyzer = config.analyzer === 'standard' ? new StandardAnalyzer() : new EnglishAnalyzer();
    this.bm25 = { k1: config.k1, b: config.b };
    this.fieldNames = config.fields === 'flat' ? ['contents'] : [...config.textFields];
    this.weights = this.fieldNames.map((name) => (config.fields === 'flat' ? 1 : (config.fieldWeights[name] ?? 1)));
  }

  encodeDocument(document: Readonly<Record<string, unknown>>): EncodedDocument {
    const texts = this.config.textFields.map((field) => textOf(document[field]));
    const fieldTexts = this.config.fields === 'flat' ? [texts.join(' ')] : texts;
    const terms: FieldTerms = [];
    const lengths = new Uint32Array(fieldTexts.length);
    for (let field = 0; field < fieldTexts.length; field++) {
      const tokens = this.analyzer.analyze(fieldTexts[field]!);
      const counts = new Map<string, number>();
      countTerms(tokens, counts);
      terms.push(counts);
      lengths[field] = tokens.length;
    }
    return { terms, lengths };
  }

  encodeQuery(text: string): EncodedQuery {
    const counts = new Map<string, number>();
    countTerms(this.analyzer.analyze(text), counts);
    return { terms: this.weights.map((weight) => scaled(counts, weight)) };
  }

  vectorQuery(weights: Readonly<Record<string, number>>): EncodedQuery {
    const terms = new Map<string, number>(Object.entries(weights));
    return { terms: this.weights.map((weight) => scaled(terms, weight)) };
  }

  get textFields(): readonly string[] {
    return this.config.textFields;
  }

  /** Each text field analyzed on its own: joining fields with a space (flat) breaks no token. */
  termSpans(document: Readonly<Record<string, unknown>>): Map<string, TermSpan[]> {
    const spans = new Map<string, TermSpan[]>();
    this.config.textFields.forEach((name, i) => {
      const text = textOf(document[name]);
      if (text.length === 0) return;
      const field = this.config.fields === 'flat' ? 0 : i;
      const list: TermSpan[] = [];
      this.analyzer.analyzeSpans(text, (term, start, end) => list.push({ field, term, start, end }));
      spans.set(name, list);
    });
    return spans;
  }
}

function scaled(terms: Map<string, number>, weight: number): Map<string, number> {
  if (weight === 1) return terms;
  const out = new Map<string, number>();
  if (weight === 0) return out;
  for (const [term, value] of terms) out.set(term, value * weight);
  return out;
}
