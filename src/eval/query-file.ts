import type { Collection, SearchRequest } from '../engine/collection.js';
import { SparrowError } from '../common/errors.js';
import { openInput, readJsonLines } from '../common/json-lines.js';
import { percentile } from './latency.js';
import type { ScoredDocument } from './metrics.js';
import { writeRun } from './trec-files.js';

export interface QueryFileOptions {
  readonly k: number;
  readonly mode?: SearchRequest['mode'];
  readonly approximate?: SearchRequest['approximate'];
  readonly filter?: SearchRequest['filter'];
  readonly retrieval?: SearchRequest['retrieval'];
  readonly fusion?: SearchRequest['fusion'];
}

export interface QueryFileResult {
  readonly run: Map<string, ScoredDocument[]>;
  readonly latency: {
    readonly queries: number;
    readonly mean_us: number;
    readonly p50_us: number;
    readonly p99_us: number;
    readonly max_us: number;
    readonly per_query_us: Record<string, number>;
  };
  readonly modes: Record<string, number>;
}

/** The sparse queries of a JSON-lines file ({"id" or "_id", and "vector": {"token": weight} or "text"}). */
export async function readSparseQueries(file: string): Promise<{ id: string; query: SearchRequest['query'] & object }[]> {
  const { stream } = openInput(file);
  const queries: { id: string; query: SearchRequest['query'] & object }[] = [];
  for await (const entry of readJsonLines(stream)) {
    if (entry.error) throw new SparrowError(entry.error.code, `${file}: ${entry.error.message}`, { line: entry.line });
    const value = entry.value as { id?: unknown; _id?: unknown; vector?: unknown; text?: unknown } | null;
    const id = value?.id ?? value?._id;
    if (typeof id !== 'string' && typeof id !== 'number') throw new SparrowError('INVALID_QUERY_FILE', `${file}: line ${entry.line} has no "id"`, { line: entry.line });
    const query = value?.vector ?? value?.text;
    const isVector = query !== null && typeof query === 'object' && !Array.isArray(query);
    if (typeof query !== 'string' && !isVector) {
      throw new SparrowError('INVALID_QUERY_FILE', `${file}: line ${entry.line} needs "vector" ({"token": weight}) or "text"`, { line: entry.line });
    }
    queries.push({ id: String(id), query: query as SearchRequest['query'] & object });
  }
  return queries;
}

/**
 * Runs every query of a JSON-lines file ({"id" or "_id", and "vector": {"token": weight} or
 * "text", and/or "dense_vector": [...] for collections with a dense side}) against a collection,
 * one at a time on this thread, timing each search.
 */
export async function runQueryFile(collection: Collection, file: string, options: QueryFileOptions): Promise<QueryFileResult> {
  const { stream } = openInput(file);
  const run = new Map<string, ScoredDocument[]>();
  const perQuery: Record<string, number> = {};
  const samples: number[] = [];
  const modes: Record<string, number> = {};
  for await (const entry of readJsonLines(stream)) {
    if (entry.error) throw new SparrowError(entry.error.code, `${file}: ${entry.error.message}`, { line: entry.line });
    const value = entry.value as { id?: unknown; _id?: unknown; vector?: unknown; text?: unknown; dense_vector?: unknown } | null;
    const id = value?.id ?? value?._id;
    if (typeof id !== 'string' && typeof id !== 'number') {
      throw new SparrowError('INVALID_QUERY_FILE', `${file}: line ${entry.line} has no "id"`, { line: entry.line });
    }
    const query = value?.vector ?? value?.text;
    const denseVector = value?.dense_vector;
    if (query === undefined && denseVector === undefined) {
      throw new SparrowError('INVALID_QUERY_FILE', `${file}: line ${entry.line} needs "vector", "text" or "dense_vector"`, { line: entry.line });
    }
    const started = process.hrtime.bigint();
    const response = await collection.searchAsync({
      ...(query !== undefined ? { query: query as SearchRequest['query'] } : {}),
      ...(denseVector !== undefined ? { denseVector } : {}),
      ...(options.retrieval ? { retrieval: options.retrieval } : {}),
      ...(options.fusion ? { fusion: options.fusion } : {}),
      k: options.k,
      ...(options.mode ? { mode: options.mode } : {}),
      ...(options.approximate ? { approximate: options.approximate } : {}),
      ...(options.filter ? { filter: options.filter } : {}),
    });
    const micros = Number(process.hrtime.bigint() - started) / 1000;
    samples.push(micros);
    perQuery[String(id)] = Math.round(micros * 10) / 10;
    const how = response.retrieval === 'sparse' ? response.mode : response.retrieval;
    modes[how] = (modes[how] ?? 0) + 1;
    run.set(String(id), response.hits.map((hit) => ({ docId: hit.id, score: hit.score })));
  }
  const sorted = Float64Array.from(samples).sort();
  const round = (x: number): number => Math.round(x * 10) / 10;
  return {
    run,
    latency: {
      queries: samples.length,
      mean_us: round(samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length)),
      p50_us: round(percentile(sorted, 50)),
      p99_us: round(percentile(sorted, 99)),
      max_us: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
      per_query_us: perQuery,
    },
    modes,
  };
}

export async function writeQueryFileResult(result: QueryFileResult, out: string, tag: string): Promise<void> {
  await writeRun(out, result.run, tag);
}
