import path from 'node:path';
import { Engine } from '../../engine/engine.js';
import { ingestFile } from '../../jobs/ingest.js';
import { ProgressBar, ingestDetail, segmentDetail } from '../progress.js';
import { EXIT, UsageError, parse, dataDirOf, positiveInt, nonNegativeInt, fieldsOption, jsonObjectOption, help } from '../shared.js';

export async function commandIndex(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    fields: { type: 'string' },
    'batch-size': { type: 'string' },
    strict: { type: 'boolean', default: false },
    workers: { type: 'string' },
    vectors: { type: 'string' },
    'build-segments': { type: 'boolean', default: false },
    encoder: { type: 'string' },
    model: { type: 'string' },
    'query-model': { type: 'string' },
    'query-mode': { type: 'string' },
    idf: { type: 'string' },
    'max-length': { type: 'string' },
    'doc-top-k': { type: 'string' },
    'encoder-settings': { type: 'string' },
    dense: { type: 'string' },
    'index-settings': { type: 'string' },
  });
  if (values.help) return help();
  const vectorsFile = values.vectors as string | undefined;
  const [name, positionalInput] = positionals;
  const input = vectorsFile ?? positionalInput;
  if (!name || !input || positionals.length > (vectorsFile ? 1 : 2)) {
    throw new UsageError('usage: sparrow index COLLECTION FILE|BEIR_DIR, or sparrow index COLLECTION --vectors FILE');
  }
  if (vectorsFile && values.fields) throw new UsageError('--fields applies to BM25 collections, not to --vectors');
  const fields = fieldsOption(values.fields);
  const batchSize = positiveInt(values['batch-size'], '--batch-size');
  const workers = nonNegativeInt(values.workers, '--workers');
  const encoderSettings = encoderSettingsOf(values, vectorsFile !== undefined, fields);
  const denseSettings = values.dense !== undefined ? jsonObjectOption(values.dense, '--dense', '{"encoder": {"type": "static"}}') : undefined;
  const indexSettings =
    values['index-settings'] !== undefined ? jsonObjectOption(values['index-settings'], '--index-settings', '{"build": {"knnNeighbors": 8}}') : undefined;
  const engine = Engine.open(dataDirOf(values));
  try {
    const existing = engine.findCollection(name);
    const existingType = existing ? (existing.encoder.config as { type?: string }).type : undefined;
    if (existing && (encoderSettings.explicit || denseSettings || indexSettings)) {
      throw new UsageError(`collection ${name} already exists; --encoder, --model, --dense, --index-settings and the other encoder options apply when a collection is created`);
    }
    if (existing && vectorsFile && existingType !== 'precomputed') {
      throw new UsageError(`collection ${name} has a ${existingType} encoder; --vectors needs a collection of precomputed vectors`);
    }
    if (existing && !vectorsFile && existingType === 'precomputed') {
      throw new UsageError(`collection ${name} holds precomputed vectors: index it with --vectors FILE`);
    }
    if (existing && fields && (existing.encoder.config as { fields?: string }).fields !== fields) {
      throw new UsageError(`collection ${name} already exists with fields=${(existing.encoder.config as { fields?: string }).fields}; --fields cannot change it`);
    }
    const collection =
      existing ??
      engine.createCollection(name, { encoder: encoderSettings.encoder, ...(denseSettings ? { dense: denseSettings } : {}), ...(indexSettings ? { index: indexSettings } : {}) });
    // Vectors are packed into segment builds as they are committed, not read back afterwards.
    if (values['build-segments']) collection.beginBulkLoad();
    const bar = new ProgressBar(`indexing ${name}`);
    const summary = await ingestFile(collection, path.resolve(input), {
      ...(batchSize ? { batchSize } : {}),
      ...(workers !== undefined ? { workers } : {}),
      failFast: values.strict as boolean,
      onProgress: (p) => {
        const { fraction, detail } = ingestDetail(p);
        bar.update(fraction, detail);
      },
    });
    bar.done();
    const segmentBar = new ProgressBar(`building segments of ${name}`);
    segmentBar.update(undefined, 'reading documents');
    const drawSegments = setInterval(() => {
      const { fraction, detail } = segmentDetail(collection.segmentBuildProgress());
      segmentBar.update(fraction, detail);
    }, 250);
    let segments: Awaited<ReturnType<typeof collection.buildSegments>>;
    try {
      segments = await collection.buildSegments({ force: values['build-segments'] as boolean });
    } finally {
      clearInterval(drawSegments);
    }
    segmentBar.done();
    if (values.json) {
      process.stdout.write(JSON.stringify({ collection: name, ...summary, segments }, null, 2) + '\n');
    } else {
      const out = process.stdout;
      out.write(
        `${name}: ${summary.indexed} indexed, ${summary.updated} updated, ${summary.rejected} rejected` +
          ` in ${(summary.elapsedMs / 1000).toFixed(2)} s (${summary.docsPerSecond.toFixed(0)} docs/s)\n`,
      );
      out.write(`${name}: ${segments.segments} approximate-index segments, ${segments.tail} documents searched exactly until a segment is built\n`);
      if (segments.error) process.stderr.write(`segment build failed: [${segments.error.code}] ${segments.error.message}\n`);
      if (summary.duplicateIds > 0) out.write(`${summary.duplicateIds} ids occurred more than once in the input; the last occurrence of each was kept\n`);
      for (const e of summary.errors) process.stderr.write(`rejected ${e.line !== undefined ? `line ${e.line}` : ''}${e.id ? ` (id ${JSON.stringify(e.id)})` : ''}: [${e.code}] ${e.message}\n`);
      if (summary.rejected > summary.errors.length) process.stderr.write(`... and ${summary.rejected - summary.errors.length} more rejected lines\n`);
      if (summary.stopped) process.stderr.write(`stopped at line ${summary.stopped.line ?? '?'} (--strict); the batches committed before its batch are kept (--batch-size sets their size)\n`);
    }
    if (summary.stopped) return EXIT.failed;
    return summary.rejected > 0 ? EXIT.partial : EXIT.ok;
  } finally {
    engine.close();
  }
}

/** The sparse encoder of a new collection, from `index`'s flags. */
function encoderSettingsOf(values: Record<string, unknown>, vectors: boolean, fields: 'flat' | 'multifield' | undefined): { encoder: Record<string, unknown>; explicit: boolean } {
  const type = (values['encoder'] as string | undefined) ?? (vectors ? 'precomputed' : 'bm25');
  if (!['bm25', 'splade', 'precomputed'].includes(type)) throw new UsageError(`--encoder must be bm25 or splade, got ${JSON.stringify(type)}`);
  if (vectors && type !== 'precomputed') throw new UsageError('--vectors indexes precomputed vectors; it takes no --encoder');
  const spladeOnly = ['model', 'query-model', 'query-mode', 'idf', 'max-length', 'doc-top-k'].filter((flag) => values[flag] !== undefined);
  if (type !== 'splade' && spladeOnly.length > 0) throw new UsageError(`--${spladeOnly[0]} applies to --encoder splade`);
  if (type === 'splade' && fields) throw new UsageError('--fields applies to BM25 collections');
  const extra = values['encoder-settings'] !== undefined ? jsonObjectOption(values['encoder-settings'], '--encoder-settings', '{"k1": 1.2}') : {};
  const encoder: Record<string, unknown> = { type, ...extra };
  if (type === 'bm25' && fields) encoder['fields'] = fields;
  if (type === 'splade') {
    if (values['model'] === undefined) throw new UsageError('--encoder splade needs --model DIR (a folder with config.json, tokenizer files and onnx/model.onnx)');
    encoder['model'] = path.resolve(values['model'] as string);
    if (values['query-model'] !== undefined) encoder['queryModel'] = path.resolve(values['query-model'] as string);
    const queryMode = values['query-mode'] as string | undefined;
    if (queryMode !== undefined && queryMode !== 'model' && queryMode !== 'inference-free') throw new UsageError('--query-mode must be model or inference-free');
    if (queryMode !== undefined) encoder['queryMode'] = queryMode;
    if (queryMode === 'inference-free' && values['idf'] === undefined) throw new UsageError('--query-mode inference-free needs --idf FILE (a JSON table {token: idf})');
    if (values['idf'] !== undefined) encoder['idf'] = path.resolve(values['idf'] as string);
    const maxLength = positiveInt(values['max-length'], '--max-length');
    if (maxLength !== undefined) encoder['maxLength'] = maxLength;
    const docTopK = positiveInt(values['doc-top-k'], '--doc-top-k');
    if (docTopK !== undefined) encoder['docTopK'] = docTopK;
  }
  return { encoder, explicit: values['encoder'] !== undefined || values['encoder-settings'] !== undefined || spladeOnly.length > 0 };
}
