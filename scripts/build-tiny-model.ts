/**
 * Writes a tiny BERT-shaped masked-LM model folder (config.json, tokenizer files, onnx/model.onnx)
 * from a seed. Same seed, same bytes.
 *
 *   node dist/scripts/build-tiny-model.js OUT_DIR [--seed N] [--tokenizer DIR] [--logit-bias X]
 *
 * The tokenizer defaults to ../shared/data/tokenizers/bert-base-uncased beside the repository.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TINY_BERT_DEFAULTS, writeTinyModelFolder } from './tiny-model/tiny-bert.js';

export const DEFAULT_TOKENIZER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data', 'tokenizers', 'bert-base-uncased');

function main(argv: readonly string[]): void {
  const positional: string[] = [];
  let seed = TINY_BERT_DEFAULTS.seed;
  let logitBias = TINY_BERT_DEFAULTS.logitBias;
  let tokenizer = DEFAULT_TOKENIZER_DIR;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--seed') seed = Number(argv[++i]);
    else if (arg === '--logit-bias') logitBias = Number(argv[++i]);
    else if (arg === '--tokenizer') tokenizer = argv[++i]!;
    else if (arg.startsWith('-')) positional.length = 2; // an unknown flag (or --help): print the usage
    else positional.push(arg);
  }
  if (positional.length !== 1 || !Number.isInteger(seed) || !Number.isFinite(logitBias)) {
    console.error('usage: build-tiny-model OUT_DIR [--seed N] [--tokenizer DIR] [--logit-bias X]');
    process.exit(2);
  }
  const { modelFile } = writeTinyModelFolder(positional[0]!, tokenizer, { seed, logitBias });
  console.log(`wrote ${modelFile}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
