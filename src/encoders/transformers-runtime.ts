import type { PreTrainedModel, PreTrainedTokenizer, Tensor } from '@huggingface/transformers';
import { EncoderError } from './encoder.js';
import { checkModelFolder, hubLoadError, pretrainedOptions, sourceName, type ModelSource } from './model-files.js';

/**
 * The production path to a model: transformers.js' AutoTokenizer / AutoModel* over the native
 * onnxruntime CPU backend, from a checked local folder (offline) or a hub id. Batches are padded
 * here rather than by the tokenizer, so a folder whose tokenizer_config.json names no pad token
 * still works and the padding side is always right (what pooling assumes).
 *
 * transformers.js is imported on first use: it takes most of a second to load, which every
 * command that never touches a model would otherwise pay.
 */
type Transformers = typeof import('@huggingface/transformers');
let transformersModule: Promise<Transformers> | undefined;

export function transformers(): Promise<Transformers> {
  transformersModule ??= import('@huggingface/transformers');
  return transformersModule;
}

export class TextTokenizer {
  readonly tokenizer: PreTrainedTokenizer;
  /** Token strings by id: the term names of sparse vectors. */
  readonly vocabulary: readonly string[];
  readonly idsByToken: ReadonlyMap<string, number>;
  readonly padId: number;
  readonly specialIds: ReadonlySet<number>;
  /** The token standing for a word the vocabulary cannot spell (tokenizer configs often leave unk_token unset). */
  readonly unknownToken: string;

  constructor(tokenizer: PreTrainedTokenizer) {
    this.tokenizer = tokenizer;
    const vocab = tokenizer.get_vocab();
    const vocabulary: string[] = [];
    for (const [token, id] of vocab) vocabulary[id] = token;
    for (let i = 0; i < vocabulary.length; i++) vocabulary[i] ??= `[unused-id-${i}]`;
    this.vocabulary = vocabulary;
    this.idsByToken = vocab;
    this.padId = typeof tokenizer.pad_token_id === 'number' ? tokenizer.pad_token_id : (vocab.get('[PAD]') ?? 0);
    this.specialIds = new Set(tokenizer.all_special_ids);
    this.unknownToken = tokenizer.unk_token ?? '[UNK]';
  }

  static async load(source: ModelSource): Promise<TextTokenizer> {
    if (source.kind === 'folder') checkModelFolder(source.path, 'tokenizer');
    try {
      const { AutoTokenizer } = await transformers();
      return new TextTokenizer(await AutoTokenizer.from_pretrained(sourceName(source), pretrainedOptions(source)));
    } catch (error) {
      if (source.kind === 'hub') throw hubLoadError(source.id, 'tokenizer', error);
      throw new EncoderError('MODEL_LOAD_FAILED', `cannot load the tokenizer in ${source.path}: ${(error as Error).message}`);
    }
  }

  /**
   * The text's word pieces with the UTF-16 offsets [start, end) they cover in `text`. The
   * tokenizer gives no offsets, so each piece is found again in a copy of the text normalized as
   * BERT's normalizer does (lower case, accents stripped) whose characters remember where they came
   * from. A piece that cannot be placed ([UNK], a normalization this does not mirror) is left out:
   * a missing highlight, never a wrong one.
   */
  tokenSpans(text: string): { token: string; start: number; end: number }[] {
    const spans: { token: string; start: number; end: number }[] = [];
    if (text.length === 0) return spans;
    let normalized = '';
    const origin: number[] = [];
    for (let i = 0; i < text.length; ) {
      const codePoint = text.codePointAt(i)!;
      const width = codePoint > 0xffff ? 2 : 1;
      const char = String.fromCodePoint(codePoint);
      // BERT's normalizer drops NUL, U+FFFD and control and format characters (tab and newlines are spaces).
      const folded =
        codePoint < 0x80
          ? codePoint === 0 || (codePoint < 0x20 && codePoint !== 9 && codePoint !== 10 && codePoint !== 13) || codePoint === 0x7f
            ? ''
            : String.fromCharCode(codePoint >= 0x41 && codePoint <= 0x5a ? codePoint + 32 : codePoint)
          : codePoint === 0xfffd || /[\p{Cc}\p{Cf}]/u.test(char)
            ? ''
            : char.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
      for (let j = 0; j < folded.length; j++) origin.push(i);
      normalized += folded;
      i += width;
    }
    origin.push(text.length);
    const endOf = (n: number): number => (n >= origin.length - 1 ? text.length : origin[n]! + (text.codePointAt(origin[n]!)! > 0xffff ? 2 : 1));
    let cursor = 0;
    for (const token of this.tokenizer.tokenize(text)) {
      const continuation = token.startsWith('##');
      const piece = continuation ? token.slice(2) : token;
      if (piece.length === 0 || token === this.unknownToken) {
        // Skip the word the unknown token stands for.
        while (cursor < normalized.length && /\s/u.test(normalized[cursor]!)) cursor++;
        while (cursor < normalized.length && !/[\s\p{P}]/u.test(normalized[cursor]!)) cursor++;
        continue;
      }
      const found = normalized.startsWith(piece, cursor) ? cursor : normalized.indexOf(piece, cursor);
      // A word starts after nothing but spaces; a continuation right here.
      if (found < 0 || (continuation ? found !== cursor : !/^\s*$/u.test(normalized.slice(cursor, found)))) continue;
      spans.push({ token, start: origin[found]!, end: endOf(found + piece.length - 1) });
      cursor = found + piece.length;
    }
    return spans;
  }

  /** Token ids of each text, truncated to maxLength (special tokens included when asked). */
  encode(texts: readonly string[], maxLength: number, addSpecialTokens = true): number[][] {
    if (texts.length === 0) return [];
    const encoded = this.tokenizer(texts as string[], {
      add_special_tokens: addSpecialTokens,
      padding: false,
      truncation: true,
      max_length: maxLength,
      return_tensor: false,
    }) as unknown as { input_ids: number[][] };
    return encoded.input_ids;
  }
}

/** A padded batch: row r holds lengths[r] real tokens, then padding. */
export interface TokenBatch {
  readonly rows: number;
  readonly sequenceLength: number;
  readonly lengths: Int32Array;
  readonly inputs: { input_ids: Tensor; attention_mask: Tensor; token_type_ids: Tensor };
}

export function padBatch(TensorClass: Transformers['Tensor'], rows: readonly (readonly number[])[], padId: number): TokenBatch {
  let sequenceLength = 1;
  for (const r of rows) sequenceLength = Math.max(sequenceLength, r.length);
  const size = rows.length * sequenceLength;
  const ids = new BigInt64Array(size).fill(BigInt(padId));
  const mask = new BigInt64Array(size);
  const lengths = new Int32Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r]!;
    lengths[r] = row.length;
    const base = r * sequenceLength;
    for (let i = 0; i < row.length; i++) {
      ids[base + i] = BigInt(row[i]!);
      mask[base + i] = 1n;
    }
  }
  const dims = [rows.length, sequenceLength];
  return {
    rows: rows.length,
    sequenceLength,
    lengths,
    inputs: {
      input_ids: new TensorClass('int64', ids, dims),
      attention_mask: new TensorClass('int64', mask, dims),
      token_type_ids: new TensorClass('int64', new BigInt64Array(size), dims),
    },
  };
}

export interface ModelRuntimeOptions {
  /** onnxruntime intra-op threads for this model's session (default: onnxruntime's choice). */
  readonly threads?: number;
}

export type ModelHead = 'masked-lm' | 'base';

/** A loaded ONNX model and what its config says about input limits. */
export class TransformerModel {
  readonly model: PreTrainedModel;
  readonly maxPositions: number;
  readonly vocabSize: number;
  readonly hiddenSize: number;

  private readonly TensorClass: Transformers['Tensor'];

  private constructor(model: PreTrainedModel, TensorClass: Transformers['Tensor']) {
    this.model = model;
    this.TensorClass = TensorClass;
    const config = model.config as unknown as Record<string, unknown>;
    this.maxPositions = typeof config['max_position_embeddings'] === 'number' ? config['max_position_embeddings'] : 512;
    this.vocabSize = typeof config['vocab_size'] === 'number' ? config['vocab_size'] : 0;
    this.hiddenSize = typeof config['hidden_size'] === 'number' ? config['hidden_size'] : 0;
  }

  static async load(source: ModelSource, head: ModelHead, options: ModelRuntimeOptions = {}): Promise<TransformerModel> {
    if (source.kind === 'folder') checkModelFolder(source.path, 'model');
    const sessionOptions = options.threads !== undefined ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {};
    const loadOptions = { ...pretrainedOptions(source), dtype: 'fp32' as const, device: 'cpu' as const, session_options: sessionOptions };
    try {
      const { AutoModel, AutoModelForMaskedLM, Tensor } = await transformers();
      const loader = head === 'masked-lm' ? AutoModelForMaskedLM : AutoModel;
      return new TransformerModel(await loader.from_pretrained(sourceName(source), loadOptions), Tensor);
    } catch (error) {
      if (source.kind === 'hub') throw hubLoadError(source.id, 'model', error);
      throw new EncoderError('MODEL_LOAD_FAILED', `cannot load the model in ${source.path}: ${(error as Error).message}`);
    }
  }

  /** Pads token-id rows into one batch (right padding). */
  batch(rows: readonly (readonly number[])[], padId: number): TokenBatch {
    return padBatch(this.TensorClass, rows, padId);
  }

  /** Runs one batch; returns the named output as a flat float32 array. */
  async run(batch: TokenBatch, output: 'logits' | 'last_hidden_state'): Promise<Float32Array> {
    const result = (await this.model(batch.inputs)) as Record<string, Tensor | undefined>;
    const tensor = result[output];
    if (!tensor) throw new EncoderError('MODEL_OUTPUT_MISSING', `the model gave no ${output} output (it gave ${Object.keys(result).join(', ')})`);
    return tensor.data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
