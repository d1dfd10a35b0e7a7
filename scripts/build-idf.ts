/**
 * Writes the IDF table of a corpus for inference-free SPLADE queries: JSON {token: idf} over the
 * model's tokenizer, df counting the documents (title + text) that hold each token.
 *
 *   node dist/scripts/build-idf.js CORPUS.jsonl --model MODEL_DIR --out idf.json
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIdfTable, writeIdfTable } from '../src/encoders/inference-free.js';
import { resolveModelSource } from '../src/encoders/model-files.js';
import { TextTokenizer } from '../src/encoders/transformers-runtime.js';

async function main(argv: readonly string[]): Promise<void> {
  const positional: string[] = [];
  let model: string | undefined;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--model') model = argv[++i];
    else if (argv[i] === '--out') out = argv[++i];
    else positional.push(argv[i]!);
  }
  if (positional.length !== 1 || !model || !out) {
    console.error('usage: build-idf CORPUS.jsonl --model MODEL_DIR --out idf.json');
    process.exit(2);
  }
  const tokenizer = await TextTokenizer.load(resolveModelSource(model));
  const texts = fs
    .readFileSync(positional[0]!, 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const d = JSON.parse(line) as { title?: unknown; text?: unknown };
      return [d.title, d.text].filter((s): s is string => typeof s === 'string' && s.length > 0).join(' ');
    });
  const table = buildIdfTable(tokenizer, texts);
  writeIdfTable(out, table);
  console.log(`wrote ${path.resolve(out)}: ${Object.keys(table).length} tokens from ${texts.length} documents`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
