import path from 'node:path';
import { EXIT, UsageError, parse, positiveInt, help } from '../shared.js';

/** `sparrow idf`: the IDF table inference-free SPLADE queries are weighted with. */
export async function commandIdf(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { model: { type: 'string' }, out: { type: 'string' }, 'max-length': { type: 'string' } });
  if (values.help) return help();
  const [input] = positionals;
  if (!input || positionals.length > 1 || !values.model || !values.out) throw new UsageError('usage: sparrow idf FILE|BEIR_DIR --model DIR --out idf.json');
  const maxLength = positiveInt(values['max-length'], '--max-length') ?? 512;
  const { TextTokenizer } = await import('../../encoders/transformers-runtime.js');
  const { buildIdfTable, writeIdfTable } = await import('../../encoders/inference-free.js');
  const { resolveModelSource } = await import('../../encoders/model-files.js');
  const { isBeirFolder, openBeirFolder } = await import('../../jobs/beir.js');
  const { openInput, readJsonLines } = await import('../../common/json-lines.js');
  const { toIngestDocument } = await import('../../engine/documents.js');
  const { documentText } = await import('../../encoders/dense.js');
  const tokenizer = await TextTokenizer.load(resolveModelSource(values.model as string));
  const corpus = isBeirFolder(path.resolve(input)) ? openBeirFolder(path.resolve(input)).corpus : path.resolve(input);
  const texts: string[] = [];
  let skipped = 0;
  for await (const entry of readJsonLines(openInput(corpus).stream)) {
    try {
      if (entry.error) throw new Error(entry.error.message);
      // The same text SPLADE encodes: title and text, joined.
      texts.push(documentText(toIngestDocument(entry.value).fields, ['title', 'text']));
    } catch {
      skipped++;
    }
  }
  const table = buildIdfTable(tokenizer, texts, maxLength);
  const out = path.resolve(values.out as string);
  writeIdfTable(out, table);
  process.stdout.write(`wrote ${out}: ${Object.keys(table).length} tokens from ${texts.length} documents${skipped ? ` (${skipped} unreadable lines skipped)` : ''}\n`);
  return EXIT.ok;
}
