import fs from 'node:fs';
import path from 'node:path';
import { Engine } from '../../engine/engine.js';
import { runQueryFile, writeQueryFileResult } from '../../eval/query-file.js';
import { checkApproximateParams } from '../../engine/query-params.js';
import { EXIT, UsageError, CLI_PARAMETER_NAMES, usageOf, parse, dataDirOf, positiveInt, nonNegativeInt, jsonObjectOption, help } from '../shared.js';

export async function commandSearch(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    k: { type: 'string', short: 'k' },
    from: { type: 'string' },
    explain: { type: 'boolean', default: false },
    highlight: { type: 'boolean', default: false },
    vectors: { type: 'string' },
    out: { type: 'string' },
    mode: { type: 'string' },
    'query-cut': { type: 'string' },
    'heap-factor': { type: 'string' },
    knn: { type: 'string' },
    filter: { type: 'string' },
    'dense-vector': { type: 'string' },
    retrieval: { type: 'string' },
    fusion: { type: 'string' },
  });
  if (values.help) return help();
  const k = positiveInt(values.k, '-k') ?? 10;
  const retrieval = values.retrieval as string | undefined;
  if (retrieval !== undefined && !['auto', 'sparse', 'dense', 'hybrid'].includes(retrieval)) throw new UsageError('--retrieval must be auto, sparse, dense or hybrid');
  let denseVector: unknown;
  if (values['dense-vector'] !== undefined) {
    try {
      denseVector = JSON.parse(values['dense-vector'] as string);
    } catch {
      throw new UsageError('--dense-vector must be a JSON list of numbers, e.g. [0.1, -0.3, 0.7]');
    }
    if (!Array.isArray(denseVector)) throw new UsageError('--dense-vector must be a JSON list of numbers, e.g. [0.1, -0.3, 0.7]');
  }
  const fusion = values.fusion !== undefined ? jsonObjectOption(values.fusion, '--fusion', '{"method": "convex", "weights": [0.7, 0.3]}') : undefined;
  const mode = values.mode as string | undefined;
  if (mode !== undefined && !['auto', 'exact', 'approximate', 'safe'].includes(mode)) throw new UsageError('--mode must be auto, exact, approximate or safe');
  const queryCut = positiveInt(values['query-cut'], '--query-cut');
  const heapFactorText = values['heap-factor'] as string | undefined;
  const heapFactor = heapFactorText === undefined ? undefined : Number(heapFactorText);
  let filter: Record<string, unknown> | undefined;
  if (values.filter !== undefined) {
    try {
      filter = JSON.parse(values.filter as string) as Record<string, unknown>;
    } catch {
      throw new UsageError('--filter must be JSON, e.g. \'{"year": {"gte": 2020}}\'');
    }
  }
  const knnText = values.knn as string | undefined;
  const knn = knnText === undefined ? undefined : Number(knnText);
  usageOf(() => checkApproximateParams({ ...(queryCut !== undefined ? { queryCut } : {}), ...(heapFactor !== undefined ? { heapFactor } : {}), ...(knn !== undefined ? { knn } : {}) }, CLI_PARAMETER_NAMES));
  const approximate =
    queryCut !== undefined || heapFactor !== undefined || knn !== undefined
      ? { ...(queryCut ? { queryCut } : {}), ...(heapFactor !== undefined ? { heapFactor } : {}), ...(knn !== undefined ? { knn } : {}) }
      : undefined;
  const searchOptions = {
    ...(mode ? { mode: mode as 'auto' | 'exact' | 'approximate' | 'safe' } : {}),
    ...(approximate ? { approximate } : {}),
    ...(filter ? { filter } : {}),
    ...(retrieval ? { retrieval: retrieval as 'auto' | 'sparse' | 'dense' | 'hybrid' } : {}),
    ...(fusion ? { fusion } : {}),
  };
  if (values.vectors !== undefined) {
    const [name] = positionals;
    if (!name || positionals.length > 1) throw new UsageError('usage: sparrow search COLLECTION --vectors QUERIES -k 10 --out RUN');
    if (!values.out) throw new UsageError('--vectors needs --out RUN');
    const engine = Engine.openExisting(dataDirOf(values));
    try {
      const collection = engine.collection(name);
      const result = await runQueryFile(collection, path.resolve(values.vectors as string), { k, ...searchOptions });
      const out = path.resolve(values.out as string);
      await writeQueryFileResult(result, out, `sparrow-${name}`);
      const statsFile = `${out}.latency.json`;
      fs.writeFileSync(statsFile, JSON.stringify({ collection: name, k, ...searchOptions, modes: result.modes, ...result.latency }, null, 2) + '\n');
      const l = result.latency;
      process.stdout.write(
        `${l.queries} queries: mean ${l.mean_us} us, p50 ${l.p50_us} us, p99 ${l.p99_us} us (${Object.entries(result.modes).map(([m, n]) => `${n} ${m}`).join(', ')})\n` +
          `wrote ${out} and ${statsFile}\n`,
      );
      return EXIT.ok;
    } finally {
      engine.close();
    }
  }
  const [name, text] = positionals;
  if (!name || (text === undefined && denseVector === undefined) || positionals.length > 2) {
    throw new UsageError('usage: sparrow search COLLECTION "query text" [-k 10] (or --dense-vector JSON)');
  }
  const engine = Engine.openExisting(dataDirOf(values));
  try {
    const response = await engine.collection(name).searchAsync({
      ...(text !== undefined ? { query: text } : {}),
      ...(denseVector !== undefined ? { denseVector } : {}),
      k,
      ...(values.from !== undefined ? { from: nonNegativeInt(values.from, '--from') ?? 0 } : {}),
      fields: true,
      explain: values.explain as boolean,
      ...(values.highlight
        ? {
            highlight: {
              encoder: 'none' as const,
              numberOfFragments: 1,
              fragmentSize: 160,
              ...(process.stdout.isTTY ? { preTag: '\x1b[1m', postTag: '\x1b[22m' } : { preTag: '**', postTag: '**' }),
            },
          }
        : {}),
      ...searchOptions,
    });
    if (values.json) {
      process.stdout.write(JSON.stringify(response, null, 2) + '\n');
      return EXIT.ok;
    }
    for (const warning of response.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
    response.hits.forEach((hit, i) => {
      const title = typeof hit.fields?.['title'] === 'string' && hit.fields['title'] ? hit.fields['title'] : String(hit.fields?.['text'] ?? '');
      process.stdout.write(`${String(i + 1).padStart(3)}. ${hit.score.toFixed(4)}  ${hit.id}  ${title.slice(0, 100)}\n`);
      for (const [field, fragments] of Object.entries(hit.highlight ?? {})) {
        for (const fragment of fragments) process.stdout.write(`       ${field}: ${String(fragment).replace(/\s+/gu, ' ')}\n`);
      }
      if (hit.explain) {
        for (const t of hit.explain) process.stdout.write(`       ${t.score.toFixed(4)}  ${t.field}:${t.term} (query ${t.queryWeight.toFixed(3)}, doc ${t.documentValue})\n`);
      }
      for (const c of hit.fusion ?? []) {
        process.stdout.write(`       ${c.contribution.toFixed(4)}  ${c.list}: rank ${c.rank ?? '-'}, score ${c.score === null ? '-' : c.score.toFixed(4)}\n`);
      }
    });
    process.stdout.write(`${response.hits.length} hits in ${response.took_ms} ms (${response.retrieval})\n`);
    return EXIT.ok;
  } finally {
    engine.close();
  }
}
