import path from 'node:path';
import { EncoderError, type EncodedDocument, type EncodedQuery, type SparseEncoder, type TermSpan } from './encoder.js';
import { InferenceFreeQueries } from './inference-free.js';
import { checkModelFolder, resolveModelSource, type ModelSource } from './model-files.js';
import { TextTokenizer, TransformerModel } from './transformers-runtime.js';

/**
 * SPLADE: a masked-LM's logits turned into one weight per vocabulary term,
 *   w_v = max over real tokens t of log(1 + ReLU(logit[t, v]))
 * (padding excluded by the attention mask). Terms are the tokenizer's vocabulary strings, so a
 * {"token": weight} query addresses the same space. Scoring is the dot product.
 *
 * Queries are encoded either by a model (the document model or a separate query model) or, in
 * inference-free mode, by the tokenizer alone with weights from an IDF table (OpenSearch's
 * doc-only mode), so no model runs at query time.
 */
export interface SpladeEncoderConfig {
  readonly type: 'splade';
  /** Document model: a folder (config.json, tokenizer files, onnx/model.onnx) or a hub id. */
  readonly model: string;
  /** Query model when queryMode is "model" (default: the document model); in inference-free mode only its tokenizer is used. */
  readonly queryModel?: string;
  readonly queryMode: 'model' | 'inference-free';
  /** Inference-free mode: JSON file {token: idf}. */
  readonly idf?: string;
  /** Tokens per text, special tokens included (capped by the model's position table). */
  readonly maxLength: number;
  /** Texts per model run. */
  readonly batchSize: number;
  /** Keep at most this many document terms (the largest weights). */
  readonly docTopK?: number;
  /** Drop document terms whose weight is below this. */
  readonly docThreshold?: number;
  readonly queryTopK?: number;
  readonly queryThreshold?: number;
  /** onnxruntime intra-op threads per model (default: onnxruntime's choice, every core). */
  readonly threads?: number;
  /** Document fields joined (with a space) into the encoded text. */
  readonly textFields: readonly string[];
}

export const SPLADE_DEFAULTS = { maxLength: 256, batchSize: 16, queryMode: 'model', textFields: ['title', 'text'] } as const;

const OPTIONAL_POSITIVE_INTEGERS = ['docTopK', 'queryTopK', 'threads'] as const;
const OPTIONAL_THRESHOLDS = ['docThreshold', 'queryThreshold'] as const;

function invalid(message: string): EncoderError {
  return new EncoderError('INVALID_ENCODER_CONFIG', message);
}

/** Validates a configuration and fills defaults; local paths become absolute (stored configurations outlive the working directory). */
export function spladeConfig(partial: Readonly<Record<string, unknown>>): SpladeEncoderConfig {
  const model = partial['model'];
  if (typeof model !== 'string' || model.length === 0) throw invalid('splade needs "model": a model folder or a hub id');
  const queryMode = partial['queryMode'] ?? SPLADE_DEFAULTS.queryMode;
  if (queryMode !== 'model' && queryMode !== 'inference-free') throw invalid(`queryMode must be "model" or "inference-free", got ${JSON.stringify(queryMode)}`);
  const config: Record<string, unknown> = {
    type: 'splade',
    model: canonicalModel(model),
    queryMode,
    maxLength: partial['maxLength'] ?? SPLADE_DEFAULTS.maxLength,
    batchSize: partial['batchSize'] ?? SPLADE_DEFAULTS.batchSize,
    textFields: partial['textFields'] ?? [...SPLADE_DEFAULTS.textFields],
  };
  for (const key of ['maxLength', 'batchSize'] as const) {
    const value = config[key];
    if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1)) throw invalid(`${key} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  if ((config['maxLength'] as number) < 3) throw invalid('maxLength must leave room for one token besides [CLS] and [SEP] (>= 3)');
  const fields = config['textFields'];
  if (!Array.isArray(fields) || fields.length === 0 || fields.some((f) => typeof f !== 'string')) throw invalid('textFields must be a non-empty list of field names');
  for (const key of OPTIONAL_POSITIVE_INTEGERS) {
    const value = partial[key];
    if (value === undefined) continue;
    if (!(typeof value === 'number' && Number.isInteger(value) && value >= 1)) throw invalid(`${key} must be a positive integer, got ${JSON.stringify(value)}`);
    config[key] = value;
  }
  for (const key of OPTIONAL_THRESHOLDS) {
    const value = partial[key];
    if (value === undefined) continue;
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) throw invalid(`${key} must be a finite number >= 0, got ${JSON.stringify(value)}`);
    config[key] = value;
  }
  const queryModel = partial['queryModel'];
  if (queryModel !== undefined) {
    if (typeof queryModel !== 'string' || queryModel.length === 0) throw invalid('queryModel must be a model folder or a hub id');
    config['queryModel'] = canonicalModel(queryModel);
  }
  const idf = partial['idf'];
  if (idf !== undefined) {
    if (typeof idf !== 'string' || idf.length === 0) throw invalid('idf must be the path of a JSON file {token: idf}');
    config['idf'] = path.resolve(idf);
  }
  if (queryMode === 'inference-free' && config['idf'] === undefined) throw invalid('inference-free queries need "idf": a JSON file {token: idf} (see buildIdfTable)');
  return config as unknown as SpladeEncoderConfig;
}

function canonicalModel(spec: string): string {
  const source = resolveModelSource(spec);
  return source.kind === 'folder' ? source.path : source.id;
}

/** A sparse vector over token ids: ids strictly increasing, weights > 0. */
export interface TokenWeights {
  readonly ids: Uint32Array;
  readonly weights: Float32Array;
}

/** Vocabulary entries per pooling block: 8 KiB of float32 maxima. */
const POOL_BLOCK = 2048;

/**
 * SPLADE pooling of one batch of logits [rows, sequenceLength, vocabSize] in which row r has
 * lengths[r] real tokens followed by padding. Takes the maximum raw logit per term first and
 * applies log(1 + ReLU(.)) once per term: the transform is monotone, so the result is the same
 * as transforming every logit, at a fraction of the logarithms.
 */
export function spladePool(logits: Float32Array, lengths: ArrayLike<number>, sequenceLength: number, vocabSize: number): TokenWeights[] {
  const rows = lengths.length;
  if (logits.length !== rows * sequenceLength * vocabSize) {
    throw new EncoderError('MODEL_OUTPUT_SHAPE', `logits hold ${logits.length} values, expected ${rows} x ${sequenceLength} x ${vocabSize}`);
  }
  const best = new Float32Array(vocabSize);
  const out: TokenWeights[] = [];
  for (let r = 0; r < rows; r++) {
    best.fill(0);
    const tokens = lengths[r]!;
    // The vocabulary is walked in blocks small enough that a block of running maxima stays in the
    // L1 cache while every token's logits for it stream past (about twice as fast as whole rows).
    for (let start = 0; start < vocabSize; start += POOL_BLOCK) {
      const end = Math.min(vocabSize, start + POOL_BLOCK);
      for (let t = 0; t < tokens; t++) {
        const base = (r * sequenceLength + t) * vocabSize;
        for (let v = start; v < end; v++) {
          const x = logits[base + v]!;
          if (x > best[v]!) best[v] = x;
        }
      }
    }
    let count = 0;
    for (let v = 0; v < vocabSize; v++) if (best[v]! > 0) count++;
    const ids = new Uint32Array(count);
    const weights = new Float32Array(count);
    let n = 0;
    for (let v = 0; v < vocabSize; v++) {
      const x = best[v]!;
      if (x > 0) {
        ids[n] = v;
        weights[n++] = Math.log1p(x);
      }
    }
    out.push({ ids, weights });
  }
  return out;
}

export interface PruneOptions {
  /** Keep at most this many terms: the largest weights, ties to the smaller token id. */
  readonly topK?: number | undefined;
  /** Drop terms whose weight is below this. */
  readonly threshold?: number | undefined;
}

/** Applies the threshold, then top-k; the result keeps ids increasing. */
export function pruneTokenWeights(vector: TokenWeights, options: PruneOptions): TokenWeights {
  if ((options.threshold === undefined || options.threshold <= 0) && (options.topK === undefined || vector.ids.length <= options.topK)) return vector;
  let { ids, weights } = vector;
  const threshold = options.threshold;
  if (threshold !== undefined && threshold > 0) {
    let kept = 0;
    for (let i = 0; i < weights.length; i++) if (weights[i]! >= threshold) kept++;
    if (kept < weights.length) {
      const keptIds = new Uint32Array(kept);
      const keptWeights = new Float32Array(kept);
      let n = 0;
      for (let i = 0; i < weights.length; i++) {
        if (weights[i]! >= threshold) {
          keptIds[n] = ids[i]!;
          keptWeights[n++] = weights[i]!;
        }
      }
      ids = keptIds;
      weights = keptWeights;
    }
  }
  const topK = options.topK;
  if (topK !== undefined && weights.length > topK) {
    const order = new Uint32Array(weights.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const w = weights;
    const id = ids;
    order.sort((a, b) => w[b]! - w[a]! || id[a]! - id[b]!);
    const chosen = order.subarray(0, topK).sort();
    const keptIds = new Uint32Array(topK);
    const keptWeights = new Float32Array(topK);
    for (let i = 0; i < topK; i++) {
      keptIds[i] = id[chosen[i]!]!;
      keptWeights[i] = w[chosen[i]!]!;
    }
    ids = keptIds;
    weights = keptWeights;
  }
  return { ids, weights };
}

/** A masked-LM model with its tokenizer, encoding texts into SPLADE vectors. */
export class SpladeModel {
  readonly tokenizer: TextTokenizer;
  readonly model: TransformerModel;
  readonly source: ModelSource;

  private constructor(source: ModelSource, tokenizer: TextTokenizer, model: TransformerModel) {
    this.source = source;
    this.tokenizer = tokenizer;
    this.model = model;
  }

  static async load(spec: string, options: { threads?: number } = {}): Promise<SpladeModel> {
    const source = resolveModelSource(spec);
    if (source.kind === 'folder') checkModelFolder(source.path, 'model');
    const tokenizer = await TextTokenizer.load(source);
    const model = await TransformerModel.load(source, 'masked-lm', options);
    if (model.vocabSize !== 0 && model.vocabSize !== tokenizer.vocabulary.length) {
      throw new EncoderError(
        'MODEL_TOKENIZER_MISMATCH',
        `${spec}: config.json says vocab_size ${model.vocabSize} but the tokenizer has ${tokenizer.vocabulary.length} tokens`,
      );
    }
    return new SpladeModel(source, tokenizer, model);
  }

  get vocabSize(): number {
    return this.tokenizer.vocabulary.length;
  }

  /**
   * Encodes texts in batches of `batchSize`. Texts are grouped by token count before batching so
   * little compute goes to padding; results come back in input order.
   */
  async encode(texts: readonly string[], options: { maxLength: number; batchSize: number } & PruneOptions): Promise<TokenWeights[]> {
    const maxLength = Math.min(options.maxLength, this.model.maxPositions);
    const tokenIds = this.tokenizer.encode(texts, maxLength);
    const order = Array.from(tokenIds.keys()).sort((a, b) => tokenIds[a]!.length - tokenIds[b]!.length || a - b);
    const results = new Array<TokenWeights>(texts.length);
    for (let start = 0; start < order.length; start += options.batchSize) {
      const members = order.slice(start, start + options.batchSize);
      const batch = this.model.batch(
        members.map((i) => tokenIds[i]!),
        this.tokenizer.padId,
      );
      const logits = await this.model.run(batch, 'logits');
      const pooled = spladePool(logits, batch.lengths, batch.sequenceLength, this.vocabSize);
      for (let m = 0; m < members.length; m++) results[members[m]!] = pruneTokenWeights(pooled[m]!, options);
    }
    return results;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/** Sparse vector -> {token: weight} as an encoder field map. */
export function termsOf(vector: TokenWeights, vocabulary: readonly string[]): Map<string, number> {
  const terms = new Map<string, number>();
  for (let i = 0; i < vector.ids.length; i++) terms.set(vocabulary[vector.ids[i]!]!, vector.weights[i]!);
  return terms;
}

/**
 * The SPLADE sparse encoder. Model inference is asynchronous: call `load()` once, then
 * `encodeDocumentsAsync` / `encodeQueryAsync`. The synchronous `encodeDocument` refuses (coded
 * ENCODER_NEEDS_ASYNC); `encodeQuery` works synchronously in inference-free mode only.
 */
export class SpladeEncoder implements SparseEncoder {
  readonly config: SpladeEncoderConfig;
  readonly fieldNames = ['contents'] as const;
  readonly scoring = 'dot' as const;
  readonly bm25 = undefined;
  private loading: Promise<void> | undefined;
  private documentLoading: Promise<SpladeModel> | undefined;
  private documentModel: SpladeModel | undefined;
  private queryModel: SpladeModel | undefined;
  private inferenceFree: InferenceFreeQueries | undefined;

  constructor(config: SpladeEncoderConfig) {
    this.config = config;
  }

  /**
   * Loads what queries need: the query model, or in inference-free mode only the tokenizer and
   * the IDF table (a search process then never loads the document model). The document model
   * loads on the first document encoded; in "model" mode without a separate query model it is
   * the query model and loads here.
   */
  load(): Promise<void> {
    this.loading ??= this.loadQuerySide().catch((error: unknown) => {
      this.loading = undefined;
      throw error;
    });
    return this.loading;
  }

  private threadOptions(): { threads?: number } {
    return this.config.threads !== undefined ? { threads: this.config.threads } : {};
  }

  private async loadQuerySide(): Promise<void> {
    if (this.config.queryMode === 'inference-free') {
      const tokenizer = await TextTokenizer.load(resolveModelSource(this.config.queryModel ?? this.config.model));
      this.inferenceFree = InferenceFreeQueries.fromFile(tokenizer, this.config.idf!, this.config.maxLength);
    } else if (this.config.queryModel !== undefined && this.config.queryModel !== this.config.model) {
      this.queryModel = await SpladeModel.load(this.config.queryModel, this.threadOptions());
    } else {
      this.queryModel = await this.documentSide();
    }
  }

  private documentSide(): Promise<SpladeModel> {
    this.documentLoading ??= SpladeModel.load(this.config.model, this.threadOptions()).then(
      (model) => (this.documentModel = model),
      (error: unknown) => {
        this.documentLoading = undefined;
        throw error;
      },
    );
    return this.documentLoading;
  }

  /** Term names (the tokenizer vocabulary), once loaded. */
  get vocabulary(): readonly string[] {
    const tokenizer = this.documentModel?.tokenizer ?? this.queryModel?.tokenizer ?? this.inferenceFree?.tokenizer;
    if (!tokenizer) throw new EncoderError('ENCODER_NOT_LOADED', 'the SPLADE encoder is not loaded yet: await encoder.load() first');
    return tokenizer.vocabulary;
  }

  documentText(document: Readonly<Record<string, unknown>>): string {
    return this.config.textFields
      .map((field) => textOf(document[field]))
      .filter((text) => text.length > 0)
      .join(' ');
  }

  encodeDocument(): EncodedDocument {
    throw new EncoderError('ENCODER_NEEDS_ASYNC', 'SPLADE documents are encoded by a model run: use encodeDocumentsAsync');
  }

  /** Raw SPLADE vectors of texts (document side, pruned with the document settings). */
  async encodeDocumentTexts(texts: readonly string[]): Promise<TokenWeights[]> {
    const model = await this.documentSide();
    return model.encode(texts, { maxLength: this.config.maxLength, batchSize: this.config.batchSize, topK: this.config.docTopK, threshold: this.config.docThreshold });
  }

  async encodeDocumentsAsync(documents: readonly Readonly<Record<string, unknown>>[]): Promise<EncodedDocument[]> {
    const texts = documents.map((d) => this.documentText(d));
    const vectors = await this.encodeDocumentTexts(texts);
    const vocabulary = this.documentModel!.tokenizer.vocabulary;
    return vectors.map((vector) => ({ terms: [termsOf(vector, vocabulary)], lengths: Uint32Array.of(vector.ids.length) }));
  }

  /** The query's sparse vector over token ids (model or inference-free, pruned with the query settings). */
  async encodeQueryText(text: string): Promise<TokenWeights> {
    await this.load();
    return this.queryVectorNow(text) ?? (await this.queryModel!.encode([text], this.queryOptions()))[0]!;
  }

  private queryOptions() {
    return { maxLength: this.config.maxLength, batchSize: 1, topK: this.config.queryTopK, threshold: this.config.queryThreshold };
  }

  /** Inference-free queries need no model run: they are answered synchronously. */
  private queryVectorNow(text: string): TokenWeights | undefined {
    if (!this.inferenceFree) return undefined;
    return pruneTokenWeights(this.inferenceFree.encode(text), { topK: this.config.queryTopK, threshold: this.config.queryThreshold });
  }

  async encodeQueryAsync(text: string): Promise<EncodedQuery> {
    const vector = await this.encodeQueryText(text);
    return { terms: [termsOf(vector, this.queryVocabulary())] };
  }

  encodeQuery(text: string): EncodedQuery {
    if (this.config.queryMode === 'inference-free' && this.inferenceFree) return { terms: [termsOf(this.queryVectorNow(text)!, this.queryVocabulary())] };
    if (this.config.queryMode === 'inference-free') throw new EncoderError('ENCODER_NOT_LOADED', 'the SPLADE encoder is not loaded yet: await encoder.load() first');
    throw new EncoderError('ENCODER_NEEDS_ASYNC', 'SPLADE queries in "model" mode are encoded by a model run: use encodeQueryAsync');
  }

  private queryVocabulary(): readonly string[] {
    return this.inferenceFree ? this.inferenceFree.tokenizer.vocabulary : this.queryModel!.tokenizer.vocabulary;
  }

  vectorQuery(weights: Readonly<Record<string, number>>): EncodedQuery {
    return { terms: [new Map(Object.entries(weights))] };
  }

  get textFields(): readonly string[] {
    return this.config.textFields;
  }

  /** Word pieces of each text field (the model reads them joined with a space, as one field). */
  termSpans(document: Readonly<Record<string, unknown>>): Map<string, TermSpan[]> {
    const tokenizer = this.documentModel?.tokenizer ?? this.queryModel?.tokenizer ?? this.inferenceFree?.tokenizer;
    if (!tokenizer) throw new EncoderError('ENCODER_NOT_LOADED', 'the SPLADE encoder is not loaded yet: await encoder.load() first');
    const spans = new Map<string, TermSpan[]>();
    for (const name of this.config.textFields) {
      const text = textOf(document[name]);
      if (text.length > 0) spans.set(name, tokenizer.tokenSpans(text).map((s) => ({ field: 0, term: s.token, start: s.start, end: s.end })));
    }
    return spans;
  }

  async dispose(): Promise<void> {
    const models = new Set([this.documentModel, this.queryModel].filter((m): m is SpladeModel => m !== undefined));
    this.documentModel = undefined;
    this.queryModel = undefined;
    this.inferenceFree = undefined;
    this.loading = undefined;
    this.documentLoading = undefined;
    for (const model of models) await model.dispose();
  }
}
