import fs from 'node:fs';
import path from 'node:path';
import { SeededRandom } from '../../src/common/random.js';
import { GraphBuilder, ONNX_FLOAT, ONNX_INT64 } from './onnx-graph.js';

/**
 * A tiny BERT-shaped masked-language model with random weights drawn from a seed: the same graph
 * a converted BertForMaskedLM has (embeddings, post-norm encoder layers with erf GELU, the MLM
 * head with its output projection tied to the word embeddings), small enough to build in a test.
 * It knows nothing, but it exercises every step of SPLADE encoding through real model files.
 *
 * Outputs: `logits` [batch, sequence, vocab] and `last_hidden_state` [batch, sequence, hidden], so
 * the same file serves masked-LM (SPLADE) and feature-extraction (dense) loaders.
 */
export interface TinyBertOptions {
  readonly seed: number;
  /** 30522 matches bert-base-uncased, so its tokenizer files can sit beside the model. */
  readonly vocabSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly intermediate: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  /**
   * Added to every output logit. Random weights give logits centred on 0, so about half the
   * vocabulary would survive ReLU; a negative bias keeps vectors sparse, as trained SPLADE ones are.
   */
  readonly logitBias: number;
}

export const TINY_BERT_DEFAULTS: TinyBertOptions = {
  seed: 42,
  vocabSize: 30522,
  hidden: 32,
  layers: 2,
  heads: 2,
  intermediate: 64,
  maxPositions: 512,
  typeVocabSize: 2,
  logitBias: -3,
};

const LAYER_NORM_EPSILON = 1e-12;

export function buildTinyBertOnnx(partial: Partial<TinyBertOptions> = {}): Uint8Array {
  const o = { ...TINY_BERT_DEFAULTS, ...partial };
  if (o.hidden % o.heads !== 0) throw new Error(`hidden (${o.hidden}) must be a multiple of heads (${o.heads})`);
  const random = new SeededRandom(o.seed);
  const g = new GraphBuilder();
  const headDim = o.hidden / o.heads;

  const gaussian = (count: number, std: number, mean = 0): Float32Array => {
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = mean + std * random.nextGaussian();
    return data;
  };
  const weight = (name: string, rows: number, cols: number): string => g.initializer(name, [rows, cols], gaussian(rows * cols, 1 / Math.sqrt(rows)));
  const bias = (name: string, size: number): string => g.initializer(name, [size], gaussian(size, 0.02));
  const layerNorm = (name: string, x: string): string =>
    g.op('LayerNormalization', [x, g.initializer(`${name}.gamma`, [o.hidden], gaussian(o.hidden, 0.05, 1)), bias(`${name}.beta`, o.hidden)], {
      axis: { int: -1 },
      epsilon: { float: LAYER_NORM_EPSILON },
    });
  const dense = (name: string, x: string, inSize: number, outSize: number): string =>
    g.op('Add', [g.op('MatMul', [x, weight(`${name}.weight`, inSize, outSize)]), bias(`${name}.bias`, outSize)]);
  const half = g.constant([0.5], []);
  const one = g.constant([1], []);
  const sqrt2 = g.constant([Math.SQRT2], []);
  const gelu = (x: string): string => g.op('Mul', [g.op('Mul', [x, g.op('Add', [g.op('Erf', [g.op('Div', [x, sqrt2])]), one])]), half]);

  const inputIds = g.input('input_ids', ONNX_INT64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', ONNX_INT64, ['batch_size', 'sequence_length']);
  const tokenTypeIds = g.input('token_type_ids', ONNX_INT64, ['batch_size', 'sequence_length']);

  // Embeddings: word + position + token type, then LayerNorm.
  const wordEmbeddings = g.initializer('embeddings.word', [o.vocabSize, o.hidden], gaussian(o.vocabSize * o.hidden, 1 / Math.sqrt(o.hidden)));
  const positionEmbeddings = g.initializer('embeddings.position', [o.maxPositions, o.hidden], gaussian(o.maxPositions * o.hidden, 0.1));
  const typeEmbeddings = g.initializer('embeddings.token_type', [o.typeVocabSize, o.hidden], gaussian(o.typeVocabSize * o.hidden, 0.1));
  const sequenceLength = g.op('Gather', [g.op('Shape', [inputIds]), g.constant([1], [], 'int64')], { axis: { int: 0 } });
  const positions = g.op('Range', [g.constant([0], [], 'int64'), sequenceLength, g.constant([1], [], 'int64')]);
  let hidden = g.op('Add', [
    g.op('Add', [g.op('Gather', [wordEmbeddings, inputIds]), g.op('Gather', [positionEmbeddings, positions])]),
    g.op('Gather', [typeEmbeddings, tokenTypeIds]),
  ]);
  hidden = layerNorm('embeddings.norm', hidden);

  // Additive attention mask [batch, 1, 1, sequence]: 0 where attended, -10000 on padding.
  const maskFloat = g.op('Cast', [attentionMask], { to: { int: ONNX_FLOAT } });
  const additiveMask = g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [one, maskFloat]), g.constant([-10000], [])]), g.constant([1, 2], [2], 'int64')]);
  const splitHeads = g.constant([0, 0, o.heads, headDim], [4], 'int64');
  const mergeHeads = g.constant([0, 0, o.hidden], [3], 'int64');
  const scale = g.constant([1 / Math.sqrt(headDim)], []);

  for (let layer = 0; layer < o.layers; layer++) {
    const p = `layer${layer}`;
    const heads = (name: string, perm: number[]): string =>
      g.op('Transpose', [g.op('Reshape', [dense(`${p}.${name}`, hidden, o.hidden, o.hidden), splitHeads])], { perm: { ints: perm } });
    const query = heads('query', [0, 2, 1, 3]);
    const keyT = heads('key', [0, 2, 3, 1]);
    const value = heads('value', [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [query, keyT]), scale]), additiveMask]);
    const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: { int: -1 } }), value]);
    const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: { ints: [0, 2, 1, 3] } }), mergeHeads]);
    const attended = layerNorm(`${p}.attention.norm`, g.op('Add', [dense(`${p}.attention.output`, merged, o.hidden, o.hidden), hidden]));
    const intermediate = gelu(dense(`${p}.intermediate`, attended, o.hidden, o.intermediate));
    hidden = layerNorm(`${p}.output.norm`, g.op('Add', [dense(`${p}.output`, intermediate, o.intermediate, o.hidden), attended]));
  }
  g.op('Identity', [hidden], {}, 'last_hidden_state');

  // MLM head: dense + GELU + LayerNorm, then the word embeddings transposed (tied) plus a bias.
  const transformed = layerNorm('head.norm', gelu(dense('head.transform', hidden, o.hidden, o.hidden)));
  const decoderBias = g.initializer('head.decoder.bias', [o.vocabSize], gaussian(o.vocabSize, 0.3, o.logitBias));
  g.op('Add', [g.op('MatMul', [transformed, g.op('Transpose', [wordEmbeddings], { perm: { ints: [1, 0] } })]), decoderBias], {}, 'logits');

  g.output('logits', ONNX_FLOAT, ['batch_size', 'sequence_length', o.vocabSize]);
  g.output('last_hidden_state', ONNX_FLOAT, ['batch_size', 'sequence_length', o.hidden]);
  return g.toModel(17, 'sparrow tiny-bert');
}

/** config.json as transformers.js (and Hugging Face transformers) read it for a BERT masked LM. */
export function tinyBertConfig(partial: Partial<TinyBertOptions> = {}): Record<string, unknown> {
  const o = { ...TINY_BERT_DEFAULTS, ...partial };
  return {
    architectures: ['BertForMaskedLM'],
    model_type: 'bert',
    vocab_size: o.vocabSize,
    hidden_size: o.hidden,
    num_hidden_layers: o.layers,
    num_attention_heads: o.heads,
    intermediate_size: o.intermediate,
    hidden_act: 'gelu',
    max_position_embeddings: o.maxPositions,
    type_vocab_size: o.typeVocabSize,
    layer_norm_eps: LAYER_NORM_EPSILON,
    pad_token_id: 0,
    sparrow_tiny_model: { seed: o.seed, logit_bias: o.logitBias },
  };
}

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;

/**
 * Writes a model folder as transformers.js loads it: config.json, the tokenizer files copied from
 * `tokenizerDir` (whose vocabulary size must equal the model's), and onnx/model.onnx.
 */
export function writeTinyModelFolder(dir: string, tokenizerDir: string, partial: Partial<TinyBertOptions> = {}): { dir: string; modelFile: string } {
  fs.mkdirSync(path.join(dir, 'onnx'), { recursive: true });
  for (const name of TOKENIZER_FILES) {
    fs.copyFileSync(path.join(tokenizerDir, name), path.join(dir, name));
    // The shared originals are read-only; the copies belong to this folder.
    fs.chmodSync(path.join(dir, name), 0o644);
  }
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyBertConfig(partial), null, 2) + '\n');
  const modelFile = path.join(dir, 'onnx', 'model.onnx');
  fs.writeFileSync(modelFile, buildTinyBertOnnx(partial));
  return { dir, modelFile };
}
