import { EncoderError, type EncodedDocument, type EncodedQuery, type SparseEncoder } from './encoder.js';

/**
 * Vectors computed outside sparrow (a SPLADE model run offline, say), given per document as
 * {"vector": {"token": weight}}, the format the Seismic tools use. Scores are dot products.
 *
 * Outcomes for bad vectors (documented in docs/errors.md):
 * - a weight that is NaN, infinite or not a number: the document is rejected (INVALID_WEIGHT);
 * - a negative weight: rejected (NEGATIVE_WEIGHT); learned sparse weights are non-negative by construction;
 * - zero weights are dropped; a vector left with no positive weight is rejected (EMPTY_VECTOR);
 * - more than maxTerms entries: rejected (VECTOR_TOO_LARGE);
 * - a token that is empty or longer than maxTokenLength: rejected (INVALID_TOKEN);
 * - tokens never seen before simply enter the dictionary; in a query they are reported as unknown terms.
 */
export interface PrecomputedEncoderConfig {
  readonly type: 'precomputed';
  /** The document field holding the vector. */
  readonly vectorField: string;
  readonly maxTerms: number;
  readonly maxTokenLength: number;
}

export function precomputedConfig(partial: Partial<PrecomputedEncoderConfig> = {}): PrecomputedEncoderConfig {
  const config: PrecomputedEncoderConfig = {
    type: 'precomputed',
    vectorField: partial.vectorField ?? 'vector',
    maxTerms: partial.maxTerms ?? 16384,
    maxTokenLength: partial.maxTokenLength ?? 256,
  };
  if (typeof config.vectorField !== 'string' || config.vectorField.length === 0) {
    throw new EncoderError('INVALID_ENCODER_CONFIG', 'vectorField must be a non-empty field name');
  }
  for (const key of ['maxTerms', 'maxTokenLength'] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 1) throw new EncoderError('INVALID_ENCODER_CONFIG', `${key} must be a positive integer`);
  }
  return config;
}

export class PrecomputedEncoder implements SparseEncoder {
  readonly config: PrecomputedEncoderConfig;
  readonly fieldNames = ['vector'] as const;
  readonly scoring = 'dot' as const;
  readonly bm25 = undefined;

  constructor(config: PrecomputedEncoderConfig) {
    this.config = config;
  }

  /** Stored fields leave the vector out: it is kept once, as the packed sparse vector. */
  storedFields(fields: Readonly<Record<string, unknown>>): Record<string, unknown> {
    const { [this.config.vectorField]: _vector, ...rest } = fields;
    return rest;
  }

  encodeDocument(document: Readonly<Record<string, unknown>>): EncodedDocument {
    const raw = document[this.config.vectorField];
    if (raw === undefined) throw new EncoderError('MISSING_VECTOR', `document has no "${this.config.vectorField}" object`);
    const terms = this.checkedWeights(raw, 'document');
    if (terms.size === 0) throw new EncoderError('EMPTY_VECTOR', 'the vector has no positive weight');
    return { terms: [terms], lengths: Uint32Array.of(0) };
  }

  encodeQuery(_text: string): EncodedQuery {
    throw new EncoderError(
      'TEXT_QUERY_UNSUPPORTED',
      'this collection holds precomputed vectors and has no text encoder: send the query as {"token": weight}',
    );
  }

  vectorQuery(weights: Readonly<Record<string, number>>): EncodedQuery {
    return { terms: [this.checkedWeights(weights, 'query')] };
  }

  private checkedWeights(raw: unknown, what: 'document' | 'query'): Map<string, number> {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new EncoderError('INVALID_VECTOR', `the ${what} vector must be an object of {"token": weight}`);
    }
    const entries = Object.entries(raw as Record<string, unknown>);
    if (entries.length > this.config.maxTerms) {
      throw new EncoderError('VECTOR_TOO_LARGE', `the ${what} vector has ${entries.length} terms; at most ${this.config.maxTerms} are allowed`);
    }
    const terms = new Map<string, number>();
    for (const [token, weight] of entries) {
      if (token.length === 0 || token.length > this.config.maxTokenLength) {
        throw new EncoderError('INVALID_TOKEN', `a token must have 1 to ${this.config.maxTokenLength} characters`);
      }
      if (typeof weight !== 'number' || !Number.isFinite(weight)) {
        throw new EncoderError('INVALID_WEIGHT', `weight of ${JSON.stringify(token)} must be a finite number, got ${JSON.stringify(weight) ?? String(weight)}`);
      }
      if (weight < 0) throw new EncoderError('NEGATIVE_WEIGHT', `weight of ${JSON.stringify(token)} is negative (${weight})`);
      if (weight > 0) terms.set(token, weight);
    }
    return terms;
  }
}
