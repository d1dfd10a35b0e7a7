import fs from 'node:fs';
import { readQueries } from './beir-eval.js';
import os from 'node:os';
import path from 'node:path';
import type { DenseEncoder } from '../encoders/dense.js';
import { createDenseEncoder } from '../encoders/dense-registry.js';
import { StaticEmbeddingEncoder } from '../encoders/static-embeddings.js';
import type { Collection } from '../engine/collection.js';
import { toIngestDocument } from '../engine/documents.js';
import { Engine } from '../engine/engine.js';
import { SparrowError } from '../engine/errors.js';
import { ExactDenseIndex, type DenseStorage } from '../index/dense/exact.js';
import { HnswDenseIndex } from '../index/dense/hnsw.js';
import type { DenseIndex } from '../index/dense/exact.js';
import { openBeirFolder, type BeirFolder } from '../jobs/beir.js';
import { ingestFile, type IngestSummary } from '../jobs/ingest.js';
import { openInput, readJsonLines } from '../jobs/json-lines.js';
import type { Qrels, Run, ScoredDocument } from './metrics.js';
import { readQrels } from './trec-files.js';

/**
 * The two retrievers of a hybrid evaluation over one BEIR folder: BM25 through the engine (the
 * same ingestion and search the server uses) and a dense encoder over an in-memory dense index.
 * Built once; `runs(split)` answers every judged query of a split with both.
 */
export interface HybridRetrieverOptions {
  readonly dir: string;
  /** Dense encoder configuration (see createDenseEncoder); default the static GloVe encoder. */
  readonly dense?: Readonly<Record<string, unknown>>;
  readonly denseIndex?: 'exact' | 'hnsw';
  readonly denseStorage?: DenseStorage;
  /** BM25 fields setting ("flat" default). */
  readonly fields?: 'flat' | 'multifield';
  /** Drop a document whose id equals the query id (BEIR reference runs do). Default true. */
  readonly removeQuery?: boolean;
  readonly onProgress?: (stage: string, done: number, total: number) => void;
}

export interface SplitRuns {
  readonly split: string;
  readonly qrels: Qrels;
  readonly sparse: Run;
  readonly dense: Run;
  /** Milliseconds per query: [sparse, dense]. */
  readonly latencies: { readonly sparse: number[]; readonly dense: number[] };
}

export const DEFAULT_DENSE_ENCODER = { type: 'static' } as const;

export class HybridRetriever {
  readonly folder: BeirFolder;
  readonly dataset: string;
  readonly queries: Map<string, string>;
  readonly sparseSetting: string;
  readonly denseConfig: object;
  readonly indexing: IngestSummary;
  readonly denseEncodingMs: number;
  private readonly engine: Engine;
  private readonly dataDir: string;
  private readonly collection: Collection;
  private readonly denseEncoder: DenseEncoder;
  private readonly denseIndex: DenseIndex;
  private readonly documentIds: string[];
  private readonly removeQuery: boolean;

  private constructor(init: {
    folder: BeirFolder;
    queries: Map<string, string>;
    engine: Engine;
    dataDir: string;
    collection: Collection;
    indexing: IngestSummary;
    sparseSetting: string;
    denseEncoder: DenseEncoder;
    denseIndex: DenseIndex;
    documentIds: string[];
    denseEncodingMs: number;
    removeQuery: boolean;
  }) {
    this.folder = init.folder;
    this.dataset = path.basename(path.resolve(init.folder.dir));
    this.queries = init.queries;
    this.engine = init.engine;
    this.dataDir = init.dataDir;
    this.collection = init.collection;
    this.indexing = init.indexing;
    this.sparseSetting = init.sparseSetting;
    this.denseEncoder = init.denseEncoder;
    this.denseConfig = init.denseEncoder.config;
    this.denseIndex = init.denseIndex;
    this.documentIds = init.documentIds;
    this.denseEncodingMs = init.denseEncodingMs;
    this.removeQuery = init.removeQuery;
  }

  static async open(options: HybridRetrieverOptions): Promise<HybridRetriever> {
    const folder = openBeirFolder(options.dir);
    const queries = await readQueries(folder.queries);
    const fields = options.fields ?? 'flat';
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-hybrid-'));
    const engine = Engine.open(dataDir);
    try {
      const collection = engine.createCollection('hybrid', { encoder: { type: 'bm25', fields } });
      const indexing = await ingestFile(collection, folder.corpus, options.onProgress ? { onProgress: (p) => options.onProgress!('sparse index', p.processed, 0) } : {});
      collection.warm();

      const documents = await readCorpus(folder.corpus);
      const denseEncoder = createDenseEncoder(options.dense ?? DEFAULT_DENSE_ENCODER);
      const started = process.hrtime.bigint();
      await denseEncoder.load();
      if (denseEncoder instanceof StaticEmbeddingEncoder && denseEncoder.config.idf === undefined) {
        denseEncoder.fitIdf(documents.map((d) => denseEncoder.documentText(d.fields)));
      }
      const documentIds = documents.map((d) => d.id);
      const vectors: Float32Array[] = [];
      const chunk = 256;
      for (let start = 0; start < documents.length; start += chunk) {
        vectors.push(...(await denseEncoder.encodeDocuments(documents.slice(start, start + chunk).map((d) => d.fields))));
        options.onProgress?.('dense encoding', Math.min(start + chunk, documents.length), documents.length);
      }
      const denseEncodingMs = Number(process.hrtime.bigint() - started) / 1e6;
      const dimension = vectors[0]?.length ?? denseEncoder.dimension ?? 1;
      const tieKey = (doc: number): string => documentIds[doc]!;
      const denseIndex: DenseIndex =
        options.denseIndex === 'hnsw'
          ? new HnswDenseIndex(dimension, { metric: 'cosine', tieKey })
          : new ExactDenseIndex(dimension, { metric: 'cosine', storage: options.denseStorage ?? 'f32', tieKey });
      vectors.forEach((vector, doc) => denseIndex.add(doc, vector));
      return new HybridRetriever({
        folder,
        queries,
        engine,
        dataDir,
        collection,
        indexing,
        sparseSetting: `bm25-${fields}`,
        denseEncoder,
        denseIndex,
        documentIds,
        denseEncodingMs,
        removeQuery: options.removeQuery ?? true,
      });
    } catch (error) {
      engine.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Both runs, top k per query, over the judged queries of a split that have text. */
  /** A split's judgements, and its judged queries that have text. */
  async judged(split: string): Promise<{ qrels: Qrels; queryIds: string[] }> {
    const qrels = await readQrels(this.folder.qrels(split));
    return { qrels, queryIds: [...qrels.keys()].filter((id) => this.queries.has(id)) };
  }

  async runs(split: string, k: number, options: { queryIds?: readonly string[] } = {}): Promise<SplitRuns> {
    const judged = await this.judged(split);
    const qrels = judged.qrels;
    const ids = options.queryIds ?? judged.queryIds;
    const sparse: Run = new Map();
    const dense: Run = new Map();
    const latencies = { sparse: [] as number[], dense: [] as number[] };
    for (const queryId of ids) {
      const text = this.queries.get(queryId) ?? '';
      let started = process.hrtime.bigint();
      const sparseHits: ScoredDocument[] =
        text.trim().length === 0
          ? []
          : (await this.collection.searchAsync({ query: text, k, ...(this.removeQuery ? { excludeIds: [queryId] } : {}) })).hits.map((h) => ({ docId: h.id, score: h.score }));
      latencies.sparse.push(Number(process.hrtime.bigint() - started) / 1e6);
      sparse.set(queryId, sparseHits);

      started = process.hrtime.bigint();
      const queryVector = await this.denseEncoder.encodeQuery(text);
      const excluded = this.removeQuery ? queryId : undefined;
      const found = this.denseIndex.search(queryVector, k, excluded !== undefined ? { accept: (doc) => this.documentIds[doc] !== excluded } : {});
      const denseHits: ScoredDocument[] = [];
      for (let i = 0; i < found.docNumbers.length; i++) denseHits.push({ docId: this.documentIds[found.docNumbers[i]!]!, score: found.scores[i]! });
      latencies.dense.push(Number(process.hrtime.bigint() - started) / 1e6);
      dense.set(queryId, denseHits);
    }
    return { split, qrels, sparse, dense, latencies };
  }

  async close(): Promise<void> {
    await this.denseEncoder.dispose?.();
    this.engine.close();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function readCorpus(file: string): Promise<{ id: string; fields: Record<string, unknown> }[]> {
  const { stream } = openInput(file);
  const documents: { id: string; fields: Record<string, unknown> }[] = [];
  const position = new Map<string, number>();
  for await (const entry of readJsonLines(stream)) {
    if (entry.error) continue;
    let document;
    try {
      document = toIngestDocument(entry.value);
    } catch {
      continue;
    }
    // A repeated id keeps its last version, as the sparse index does.
    const at = position.get(document.id);
    if (at !== undefined) documents[at] = document;
    else {
      position.set(document.id, documents.length);
      documents.push(document);
    }
  }
  return documents;
}

export { readQueries };
