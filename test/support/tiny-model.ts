import path from 'node:path';
import { writeTinyModelFolder, type TinyBertOptions } from '../../scripts/tiny-model/tiny-bert.js';
import { sharedDir } from './paths.js';
import { tempDir } from './tmp.js';

export const bertTokenizerDir = path.join(sharedDir, 'data', 'tokenizers', 'bert-base-uncased');

/** A tiny masked-LM model folder (real bert-base-uncased tokenizer) built into a temporary folder. */
export function tinyModelFolder(t: { teardown: (fn: () => unknown) => void }, options: Partial<TinyBertOptions> = {}): string {
  const dir = path.join(tempDir(t, 'sparrow-tiny-model-'), 'model');
  writeTinyModelFolder(dir, bertTokenizerDir, options);
  return dir;
}
