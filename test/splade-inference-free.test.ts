import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { buildIdfTable, InferenceFreeQueries, readIdfTable, writeIdfTable } from '../src/encoders/inference-free.js';
import { resolveModelSource } from '../src/encoders/model-files.js';
import { createEncoder } from '../src/encoders/registry.js';
import type { SpladeEncoder } from '../src/encoders/splade.js';
import { TextTokenizer } from '../src/encoders/transformers-runtime.js';
import { tinyModelFolder } from './support/tiny-model.js';
import { tempDir } from './support/tmp.js';

const bm25Idf = (documents: number, df: number): number => Math.fround(Math.log(1 + (documents - df + 0.5) / (df + 0.5)));

t.test('buildIdfTable counts documents, not occurrences, as BM25 idf', async (t) => {
  const tokenizer = await TextTokenizer.load(resolveModelSource(tinyModelFolder(t)));
  const table = buildIdfTable(tokenizer, ['white matter white matter', 'grey matter', 'the brain']);
  t.equal(table['matter'], bm25Idf(3, 2), 'matter: in 2 of 3 documents');
  t.equal(table['white'], bm25Idf(3, 1), 'white: twice in one document counts once');
  t.equal(table['brain'], bm25Idf(3, 1));
  t.notOk('[CLS]' in table || '[SEP]' in table, 'special tokens stay out');
  t.notOk('hello' in table, 'unseen tokens stay out');
});

t.test('inference-free queries: tokenizer plus IDF, no model', async (t) => {
  const modelDir = tinyModelFolder(t);
  const idfFile = path.join(tempDir(t), 'idf.json');
  writeIdfTable(idfFile, { white: 2.5, matter: 1.25, brain: 4, the: 0 });
  t.same(readIdfTable(idfFile), { white: 2.5, matter: 1.25, brain: 4, the: 0 });

  const encoder = createEncoder({ type: 'splade', model: modelDir, queryMode: 'inference-free', idf: idfFile }) as SpladeEncoder;
  t.throws(() => encoder.encodeQuery('white matter'), { code: 'ENCODER_NOT_LOADED' });
  await encoder.load();
  // "hello" is not in the table: it weighs the table's largest idf (4). "the" weighs 0 and is dropped.
  const query = encoder.encodeQuery('White matter the white HELLO');
  t.same(query.terms[0], new Map([['white', 2.5], ['matter', 1.25], ['hello', 4]]), 'distinct tokens weighted by idf');
  t.same((await encoder.encodeQueryAsync('white matter')).terms[0], new Map([['white', 2.5], ['matter', 1.25]]), 'the async path agrees');

  const pruned = createEncoder({ type: 'splade', model: modelDir, queryMode: 'inference-free', idf: idfFile, queryTopK: 1 }) as SpladeEncoder;
  await pruned.load();
  t.same(pruned.encodeQuery('white matter brain').terms[0], new Map([['brain', 4]]), 'queryTopK applies');

  // The query side needs no model file at all.
  const tokenizerOnly = tinyModelFolder(t);
  fs.rmSync(path.join(tokenizerOnly, 'onnx'), { recursive: true });
  const queriesOnly = createEncoder({ type: 'splade', model: tokenizerOnly, queryMode: 'inference-free', idf: idfFile }) as SpladeEncoder;
  await queriesOnly.load();
  t.same(queriesOnly.encodeQuery('white matter').terms[0], new Map([['white', 2.5], ['matter', 1.25]]), 'queries without onnx/model.onnx');
  await t.rejects(queriesOnly.encodeDocumentsAsync([{ text: 'white matter' }]), { code: 'MODEL_FILES_MISSING' }, 'documents need it');

  // Documents still go through the model.
  const [document] = await encoder.encodeDocumentsAsync([{ title: 'White matter', text: 'in the brain' }]);
  t.ok(document!.terms[0]!.size > 10, 'documents are expanded by the model');
  await encoder.dispose();
  await pruned.dispose();
});

t.test('InferenceFreeQueries ignores table entries outside the vocabulary and refuses bad values', async (t) => {
  const tokenizer = await TextTokenizer.load(resolveModelSource(tinyModelFolder(t)));
  const queries = new InferenceFreeQueries(tokenizer, { 'not-a-token-anywhere': 9, brain: 3 }, 32);
  t.equal(queries.missingIdf, 3, 'the largest idf among known tokens');
  t.same([...queries.encode('brain').ids], [tokenizer.idsByToken.get('brain')]);
  t.throws(() => new InferenceFreeQueries(tokenizer, { brain: Number.NaN }, 32), { code: 'INVALID_IDF_TABLE' });
  t.throws(() => readIdfTable(path.join(tempDir(t), 'absent.json')), { code: 'IDF_TABLE_NOT_FOUND' });
});
