import path from 'node:path';
import { Engine } from '../../engine/engine.js';
import { EncoderPool } from '../../jobs/encoder-pool.js';
import { DEFAULT_CHUNK_DOCUMENTS, exportCollection, importExport } from '../../opensearch/export.js';
import { EXIT, UsageError, parse, dataDirOf, positiveInt, help } from '../shared.js';

export async function commandExport(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: 'string' },
    index: { type: 'string' },
    'chunk-docs': { type: 'string' },
    'sparse-type': { type: 'string' },
  });
  if (values.help) return help();
  const [target, name] = positionals;
  if (target !== 'opensearch' || !name || positionals.length > 2) throw new UsageError('usage: sparrow export opensearch COLLECTION --out DIR');
  if (!values.out) throw new UsageError('export needs --out DIR');
  const sparseType = (values['sparse-type'] as string | undefined) ?? 'sparse_vector';
  if (sparseType !== 'sparse_vector' && sparseType !== 'rank_features') throw new UsageError('--sparse-type must be sparse_vector or rank_features');
  const chunkDocuments = positiveInt(values['chunk-docs'], '--chunk-docs') ?? DEFAULT_CHUNK_DOCUMENTS;
  const engine = Engine.openExisting(dataDirOf(values));
  try {
    const manifest = exportCollection(engine.collection(name), {
      out: values.out as string,
      chunkDocuments,
      sparseType,
      ...(values.index ? { index: values.index as string } : {}),
      onChunk: (chunk, m) => {
        if (!values.json) process.stderr.write(`${chunk.file}: ${chunk.documents} documents (${m.documents} so far)\n`);
      },
    });
    if (values.json) process.stdout.write(JSON.stringify(manifest, null, 2) + '\n');
    else process.stdout.write(`exported ${manifest.documents} documents of ${name} as index ${manifest.index} in ${manifest.chunks.length} bulk files to ${path.resolve(values.out as string)}\n`);
    return EXIT.ok;
  } finally {
    engine.close();
  }
}

export async function commandImport(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { collection: { type: 'string' } });
  if (values.help) return help();
  const [source, dir] = positionals;
  if (source !== 'opensearch' || !dir || positionals.length > 2) throw new UsageError('usage: sparrow import opensearch DIR [--collection NAME]');
  const engine = Engine.open(dataDirOf(values));
  const pool = new EncoderPool(0);
  try {
    const result = await importExport(engine, pool, dir, { ...(values.collection ? { collection: values.collection as string } : {}) });
    if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(`imported ${result.documents} documents into ${result.collection}${result.failed ? `, ${result.failed} refused` : ''}\n`);
    return result.failed > 0 ? EXIT.partial : EXIT.ok;
  } finally {
    await pool.close();
    engine.close();
  }
}
