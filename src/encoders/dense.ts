import { EncoderError } from './encoder.js';
import { checkModelFolder, resolveModelSource } from './model-files.js';
import { TextTokenizer, TransformerModel } from './transformers-runtime.js';

/**
 * Dense encoders: a document or query becomes one float32 vector. Three sources:
 * - "client": the client supplies vectors at index and query time (this module only validates);
 * - "transformers": a transformers.js feature-extraction model from a local folder, mean or CLS
 *   pooling of its last hidden state under the attention mask, L2-normalized by default;
 * - "static" (static-embeddings.ts): IDF-weighted average of word vectors, no model run.
 */
export interface DenseEncoder {
  readonly config: object;
  /** Vector length; known from the configuration or once loaded. */
  readonly dimension: number | undefined;
  /** Reads model files; must resolve before encoding. Idempotent. */
  load(): Promise<void>;
  encodeDocuments(documents: readonly Readonly<Record<string, unknown>>[]): Promise<Float32Array[]>;
  encodeQuery(text: string): Promise<Float32Array>;
  dispose?(): Promise<void>;
}

/** Validates a client-supplied vector: finite numbers, the expected length. */
export function denseVectorOf(value: unknown, dimension: number | undefined, what = 'vector'): Float32Array {
  if (!(Array.isArray(value) || value instanceof Float32Array || value instanceof Float64Array)) {
    throw new EncoderError('INVALID_VECTOR', `${what} must be a list of numbers`);
  }
  if (value.length === 0) throw new EncoderError('INVALID_VECTOR', `${what} is empty`);
  if (dimension !== undefined && value.length !== dimension) {
    throw new EncoderError('VECTOR_DIMENSION_MISMATCH', `${what} has ${value.length} numbers; this collection's vectors have ${dimension}`);
  }
  const vector = new Float32Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const x = value[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new EncoderError('INVALID_VECTOR', `${what}[${i}] is not a finite number`);
    vector[i] = x;
  }
  return vector;
}

/** Scales a vector to unit length in place (a zero vector stays zero); returns it. */
export function normalizeInPlace(vector: Float32Array): Float32Array {
  let squares = 0;
  for (let i = 0; i < vector.length; i++) squares += vector[i]! * vector[i]!;
  if (squares > 0) {
    const inverse = 1 / Math.sqrt(squares);
    for (let i = 0; i < vector.length; i++) vector[i] = vector[i]! * inverse;
  }
  return vector;
}

function invalid(message: string): EncoderError {
  return new EncoderError('INVALID_ENCODER_CONFIG', message);
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

export function documentText(document: Readonly<Record<string, unknown>>, textFields: readonly string[]): string {
  return textFields
    .map((field) => textOf(document[field]))
    .filter((text) => text.length > 0)
    .join(' ');
}

// ---------------------------------------------------------------------------------------------
// Client-supplied vectors.

export interface ClientVectorsConfig {
  readonly type: 'client';
  readonly dimension: number;
  /** The document field that holds each document's vector. */
  readonly field: string;
}

export function clientVectorsConfig(partial: Readonly<Record<string, unknown>>): ClientVectorsConfig {
  const dimension = partial['dimension'];
  if (!(typeof dimension === 'number' && Number.isInteger(dimension) && dimension >= 1)) throw invalid('client vectors need "dimension", a positive integer');
  const field = partial['field'] ?? 'vector';
  if (typeof field !== 'string' || field.length === 0) throw invalid('field must name the document field holding the vector');
  return { type: 'client', dimension, field };
}

/** Vectors come with the documents and the queries; nothing is computed. */
export class ClientVectors implements DenseEncoder {
  readonly config: ClientVectorsConfig;
  constructor(config: ClientVectorsConfig) {
    this.config = config;
  }
  get dimension(): number {
    return this.config.dimension;
  }
  async load(): Promise<void> {}
  async encodeDocuments(documents: readonly Readonly<Record<string, unknown>>[]): Promise<Float32Array[]> {
    return documents.map((d) => this.vectorOf(d));
  }
  vectorOf(document: Readonly<Record<string, unknown>>): Float32Array {
    const value = document[this.config.field];
    if (value === undefined) throw new EncoderError('VECTOR_MISSING', `the document has no "${this.config.field}" vector`);
    return denseVectorOf(value, this.config.dimension, `"${this.config.field}"`);
  }
  async encodeQuery(): Promise<Float32Array> {
    throw new EncoderError('QUERY_VECTOR_REQUIRED', 'this collection\'s dense vectors come from the client: send the query as a vector');
  }
}

// ---------------------------------------------------------------------------------------------
// transformers.js feature extraction.

export type DensePooling = 'mean' | 'cls';

export interface TransformersDenseConfig {
  readonly type: 'transformers';
  readonly model: string;
  readonly pooling: DensePooling;
  readonly normalize: boolean;
  readonly maxLength: number;
  readonly batchSize: number;
  /** Prepended to queries / documents (e5-style "query: " prefixes). */
  readonly queryPrefix: string;
  readonly documentPrefix: string;
  readonly textFields: readonly string[];
  readonly threads?: number;
}

export function transformersDenseConfig(partial: Readonly<Record<string, unknown>>): TransformersDenseConfig {
  const model = partial['model'];
  if (typeof model !== 'string' || model.length === 0) throw invalid('a dense model needs "model": a model folder or a hub id');
  const source = resolveModelSource(model);
  const config: Record<string, unknown> = {
    type: 'transformers',
    model: source.kind === 'folder' ? source.path : source.id,
    pooling: partial['pooling'] ?? 'mean',
    normalize: partial['normalize'] ?? true,
    maxLength: partial['maxLength'] ?? 256,
    batchSize: partial['batchSize'] ?? 16,
    queryPrefix: partial['queryPrefix'] ?? '',
    documentPrefix: partial['documentPrefix'] ?? '',
    textFields: partial['textFields'] ?? ['title', 'text'],
  };
  if (config['pooling'] !== 'mean' && config['pooling'] !== 'cls') throw invalid(`pooling must be "mean" or "cls", got ${JSON.stringify(config['pooling'])}`);
  if (typeof config['normalize'] !== 'boolean') throw invalid('normalize must be true or false');
  for (const key of ['maxLength', 'batchSize']) {
    const v = config[key];
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1)) throw invalid(`${key} must be a positive integer`);
  }
  for (const key of ['queryPrefix', 'documentPrefix']) if (typeof config[key] !== 'string') throw invalid(`${key} must be a string`);
  const fields = config['textFields'];
  if (!Array.isArray(fields) || fields.length === 0 || fields.some((f) => typeof f !== 'string')) throw invalid('textFields must be a non-empty list of field names');
  const threads = partial['threads'];
  if (threads !== undefined) {
    if (!(typeof threads === 'number' && Number.isInteger(threads) && threads >= 1)) throw invalid('threads must be a positive integer');
    config['threads'] = threads;
  }
  return config as unknown as TransformersDenseConfig;
}

/**
 * Pools hidden states [rows, sequenceLength, hidden] where row r has lengths[r] real tokens:
 * "mean" averages those tokens, "cls" takes the first. Accumulates in float64.
 */
export function poolHiddenStates(hidden: Float32Array, lengths: ArrayLike<number>, sequenceLength: number, hiddenSize: number, pooling: DensePooling): Float32Array[] {
  const out: Float32Array[] = [];
  const sum = new Float64Array(hiddenSize);
  for (let r = 0; r < lengths.length; r++) {
    const tokens = pooling === 'cls' ? 1 : lengths[r]!;
    sum.fill(0);
    for (let t = 0; t < tokens; t++) {
      const base = (r * sequenceLength + t) * hiddenSize;
      for (let h = 0; h < hiddenSize; h++) sum[h] += hidden[base + h]!;
    }
    const vector = new Float32Array(hiddenSize);
    for (let h = 0; h < hiddenSize; h++) vector[h] = tokens > 0 ? sum[h]! / tokens : 0;
    out.push(vector);
  }
  return out;
}

export class TransformersDenseEncoder implements DenseEncoder {
  readonly config: TransformersDenseConfig;
  private loading: Promise<void> | undefined;
  private tokenizer: TextTokenizer | undefined;
  private model: TransformerModel | undefined;

  constructor(config: TransformersDenseConfig) {
    this.config = config;
  }

  get dimension(): number | undefined {
    return this.model?.hiddenSize;
  }

  load(): Promise<void> {
    this.loading ??= (async () => {
      const source = resolveModelSource(this.config.model);
      if (source.kind === 'folder') checkModelFolder(source.path, 'model');
      this.tokenizer = await TextTokenizer.load(source);
      this.model = await TransformerModel.load(source, 'base', this.config.threads !== undefined ? { threads: this.config.threads } : {});
    })().catch((error: unknown) => {
      this.loading = undefined;
      throw error;
    });
    return this.loading;
  }

  async encodeTexts(texts: readonly string[]): Promise<Float32Array[]> {
    await this.load();
    const tokenizer = this.tokenizer!;
    const model = this.model!;
    const ids = tokenizer.encode(texts, Math.min(this.config.maxLength, model.maxPositions));
    const order = Array.from(ids.keys()).sort((a, b) => ids[a]!.length - ids[b]!.length || a - b);
    const out = new Array<Float32Array>(texts.length);
    for (let start = 0; start < order.length; start += this.config.batchSize) {
      const members = order.slice(start, start + this.config.batchSize);
      const batch = model.batch(
        members.map((i) => ids[i]!),
        tokenizer.padId,
      );
      const hidden = await model.run(batch, 'last_hidden_state');
      const hiddenSize = hidden.length / (batch.rows * batch.sequenceLength);
      const pooled = poolHiddenStates(hidden, batch.lengths, batch.sequenceLength, hiddenSize, this.config.pooling);
      for (let m = 0; m < members.length; m++) out[members[m]!] = this.config.normalize ? normalizeInPlace(pooled[m]!) : pooled[m]!;
    }
    return out;
  }

  encodeDocuments(documents: readonly Readonly<Record<string, unknown>>[]): Promise<Float32Array[]> {
    return this.encodeTexts(documents.map((d) => this.config.documentPrefix + documentText(d, this.config.textFields)));
  }

  async encodeQuery(text: string): Promise<Float32Array> {
    return (await this.encodeTexts([this.config.queryPrefix + text]))[0]!;
  }

  async dispose(): Promise<void> {
    const model = this.model;
    this.model = undefined;
    this.tokenizer = undefined;
    this.loading = undefined;
    await model?.dispose();
  }
}
