import fs from 'node:fs';
import path from 'node:path';
import type { DenseEncoder } from '../encoders/dense.js';
import { ClientVectors, denseVectorOf } from '../encoders/dense.js';
import { createDenseEncoder } from '../encoders/dense-registry.js';
import { ExactDenseIndex, type DenseIndex, type DenseMetric, type DenseStorage } from '../index/dense/exact.js';
import { graphFileDimension } from '../index/dense/graph-file.js';
import { HnswDenseIndex } from '../index/dense/hnsw.js';
import { errorOf } from '../encoders/encode.js';
import { SparrowError } from '../common/errors.js';

/** Where a collection's HNSW graph is saved, and what bringing a loaded one up to date needs. */
export interface SavedGraph {
  readonly file: string;
  /** The collection's tag in the file's footer (see GraphFooter.owner). */
  readonly owner: number;
  /** The collection's next doc number (every document so far is numbered below it). */
  readonly nextDocNumber: () => number;
  readonly isAlive: (docNumber: number) => boolean;
  /** Dense vectors of live documents numbered docNumber or above. */
  readonly vectorsFrom: (docNumber: number) => Iterable<{ docNumber: number; vector: Float32Array }>;
  /** Told why a saved graph was not used or could not be written (the graph is rebuilt). */
  readonly onProblem?: (message: string) => void;
}

/**
 * A collection's dense side: where its document and query vectors come from and how they are
 * searched. Stored with the collection as JSON (collections.dense); vectors live in the
 * documents' rows. The exact index over them is filled from those rows when first needed; an HNSW
 * graph is saved next to the segments and loaded from there (see SavedGraph).
 *
 * - encoder: {"type": "client", "dimension": D, "field": "dense_vector"} (vectors come with the
 *   documents and queries), {"type": "static", ...} (IDF-weighted word vectors) or
 *   {"type": "transformers", "model": DIR, ...} (feature extraction); see encoders/dense-registry.ts.
 * - metric: "cosine" (default) or "dot".
 * - storage: "f32" (default) or "int8" (4x smaller rows for the exact scan, scores within ~1%).
 * - index: "exact" (default: every vector scanned by the WebAssembly kernel) or "hnsw" (usearch
 *   graph; for collections where a scan per query is too slow).
 */
export interface DenseSettings {
  readonly encoder: Record<string, unknown>;
  readonly metric: DenseMetric;
  readonly storage: DenseStorage;
  readonly index: 'exact' | 'hnsw';
}

/** Client vectors arrive in this document field unless the settings name another. */
export const DEFAULT_DENSE_FIELD = 'dense_vector';

function invalid(message: string): SparrowError {
  return new SparrowError('INVALID_DENSE_SETTINGS', message);
}

export function denseSettings(partial: unknown): DenseSettings {
  if (partial === null || typeof partial !== 'object' || Array.isArray(partial)) throw invalid('dense must be an object {encoder, metric, storage, index}');
  const input = partial as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!['encoder', 'metric', 'storage', 'index'].includes(key)) throw invalid(`unknown dense setting ${JSON.stringify(key)}; known: encoder, metric, storage, index`);
  }
  const encoderInput = input['encoder'];
  if (encoderInput === null || typeof encoderInput !== 'object' || Array.isArray(encoderInput)) {
    throw invalid('dense.encoder must be an object, e.g. {"type": "client", "dimension": 384} or {"type": "static"}');
  }
  const raw = encoderInput as Record<string, unknown>;
  const withField = raw['type'] === 'client' && raw['field'] === undefined ? { ...raw, field: DEFAULT_DENSE_FIELD } : raw;
  const encoder = { ...createDenseEncoder(withField).config } as Record<string, unknown>;
  const metric = input['metric'] ?? 'cosine';
  if (metric !== 'cosine' && metric !== 'dot') throw invalid(`dense.metric must be "cosine" or "dot", got ${JSON.stringify(metric)}`);
  const storage = input['storage'] ?? 'f32';
  if (storage !== 'f32' && storage !== 'int8') throw invalid(`dense.storage must be "f32" or "int8", got ${JSON.stringify(storage)}`);
  const index = input['index'] ?? 'exact';
  if (index !== 'exact' && index !== 'hnsw') throw invalid(`dense.index must be "exact" or "hnsw", got ${JSON.stringify(index)}`);
  return { encoder, metric, storage, index };
}

export type DenseOutcome = Float32Array | { readonly error: { readonly code: string; readonly message: string } };

/** The encoder and the in-memory index of one collection's dense side. */
export class DenseSide {
  readonly settings: DenseSettings;
  readonly encoder: DenseEncoder;
  private index: DenseIndex | undefined;
  /** Whether the in-memory index holds every stored vector (it is built on first use). */
  private built = false;
  /** Whether the HNSW graph differs from the saved one (see saveGraph). */
  private changedSinceSave = false;
  /**
   * Every live document numbered below this is in the graph. Writes of this process follow it;
   * another process's writes reset the index instead (reset), so it is never overstated.
   */
  private coversBelow = 0;
  private origin: 'none' | 'built' | 'loaded' = 'none';

  constructor(settings: DenseSettings) {
    this.settings = settings;
    this.encoder = createDenseEncoder(settings.encoder);
  }

  /** True when vectors come from the client, so a text query has no dense side by itself. */
  get fromClient(): boolean {
    return this.encoder instanceof ClientVectors;
  }

  /** The document field that carries client vectors (kept out of the stored fields). */
  get clientField(): string | undefined {
    return this.encoder instanceof ClientVectors ? this.encoder.config.field : undefined;
  }

  get dimension(): number | undefined {
    return this.index?.dimension ?? this.encoder.dimension;
  }

  /** Where the HNSW graph in memory came from: built from the rows, or loaded from its saved file. */
  get graphOrigin(): 'none' | 'built' | 'loaded' {
    return this.origin;
  }

  get indexedCount(): number {
    return this.index?.size ?? 0;
  }

  /** One vector or one coded error per document, in input order; one bad document fails alone. */
  async encodeDocuments(documents: readonly Readonly<Record<string, unknown>>[]): Promise<DenseOutcome[]> {
    await this.encoder.load();
    let vectors: Float32Array[] | undefined;
    try {
      vectors = await this.encoder.encodeDocuments(documents);
    } catch {
      // Retried one by one below, to find the culprit.
    }
    const outcomes: DenseOutcome[] = [];
    for (let i = 0; i < documents.length; i++) {
      try {
        const vector = vectors ? vectors[i]! : (await this.encoder.encodeDocuments([documents[i]!]))[0]!;
        this.checkDimension(vector, 'the document vector');
        outcomes.push(vector);
      } catch (error) {
        outcomes.push({ error: errorOf(error) });
      }
    }
    return outcomes;
  }

  /** The query vector: the client's (validated) or the encoder's for the query text. */
  async queryVector(input: { vector?: unknown; text?: string }): Promise<Float32Array> {
    if (input.vector !== undefined) {
      const vector = denseVectorOf(input.vector, this.dimension, 'dense_vector');
      return vector;
    }
    if (input.text === undefined) throw new SparrowError('QUERY_VECTOR_REQUIRED', 'a dense search needs dense_vector or a query text');
    await this.encoder.load();
    const vector = await this.encoder.encodeQuery(input.text);
    this.checkDimension(vector, 'the query vector');
    return vector;
  }

  /**
   * The index, made the first time it is needed: for an HNSW graph, loaded from the saved graph
   * when `saved` names one that matches (then brought up to date: documents deleted since are
   * removed, documents added since are inserted), else built from every vector and saved.
   */
  indexOr(build: () => Iterable<{ docNumber: number; vector: Float32Array }>, tieKey: (docNumber: number) => string, saved?: SavedGraph): DenseIndex | undefined {
    if (this.built) return this.index;
    let index: DenseIndex | undefined;
    if (this.settings.index === 'hnsw') {
      index = saved ? this.loadSavedGraph(saved, tieKey) : undefined;
      if (!index) {
        // Read before the vectors: a document another process adds meanwhile is then re-read on
        // the next load rather than taken for covered.
        this.coversBelow = saved?.nextDocNumber() ?? 0;
        index = this.buildGraph(build(), tieKey);
        this.changedSinceSave = index !== undefined;
        this.origin = index ? 'built' : 'none';
        this.index = index;
        if (saved) this.saveGraph(saved);
      }
    } else {
      for (const { docNumber, vector } of build()) {
        index ??= this.newIndex(vector.length, tieKey);
        index.add(docNumber, vector);
      }
    }
    this.index = index;
    this.built = true;
    return index;
  }

  /**
   * Writes the HNSW graph next to the segments if it changed since it was loaded or saved, so the
   * next open loads it. Its failure costs only that: the graph is rebuilt on the next open.
   */
  saveGraph(saved: SavedGraph): void {
    if (!(this.index instanceof HnswDenseIndex) || !this.changedSinceSave) return;
    try {
      fs.mkdirSync(path.dirname(saved.file), { recursive: true });
      this.index.saveGraph(saved.file, this.coversBelow, saved.owner);
      this.changedSinceSave = false;
    } catch (error) {
      saved.onProblem?.(`could not save the dense graph to ${saved.file}: ${(error as Error).message}`);
    }
  }

  private buildGraph(vectors: Iterable<{ docNumber: number; vector: Float32Array }>, tieKey: (docNumber: number) => string): HnswDenseIndex | undefined {
    // The graph is built in one call, on every core: inserting one by one is several times slower.
    const numbers: number[] = [];
    const rows: Float32Array[] = [];
    for (const { docNumber, vector } of vectors) {
      numbers.push(docNumber);
      rows.push(vector);
    }
    if (rows.length === 0) return undefined;
    const graph = this.newIndex(rows[0]!.length, tieKey) as HnswDenseIndex;
    graph.addMany(numbers, rows);
    return graph;
  }

  private loadSavedGraph(saved: SavedGraph, tieKey: (docNumber: number) => string): HnswDenseIndex | undefined {
    if (!fs.existsSync(saved.file)) return undefined;
    const dimension = this.encoder.dimension ?? graphFileDimension(saved.file);
    if (dimension === undefined) return undefined;
    const graph = this.newIndex(dimension, tieKey) as HnswDenseIndex;
    let footer;
    try {
      footer = graph.loadGraph(saved.file, saved.owner);
    } catch (error) {
      saved.onProblem?.(`the saved dense graph is not used (${(error as Error).message}); it is rebuilt`);
      return undefined;
    }
    let changed = false;
    for (let docNumber = 0; docNumber < footer.coversBelow; docNumber++) {
      if (!saved.isAlive(docNumber) && graph.contains(docNumber)) {
        graph.remove(docNumber);
        changed = true;
      }
    }
    this.coversBelow = saved.nextDocNumber();
    const numbers: number[] = [];
    const rows: Float32Array[] = [];
    for (const { docNumber, vector } of saved.vectorsFrom(footer.coversBelow)) {
      // Doc numbers are never reused, so a number the graph holds holds the same vector.
      if (graph.contains(docNumber)) continue;
      numbers.push(docNumber);
      rows.push(vector);
    }
    if (rows.length > 0) {
      graph.addMany(numbers, rows);
      changed = true;
    }
    this.changedSinceSave = changed;
    this.origin = 'loaded';
    return graph;
  }

  /** Follows a committed write; before the index is first built there is nothing to follow. */
  add(docNumber: number, vector: Float32Array, tieKey: (docNumber: number) => string): void {
    if (!this.built) return;
    this.index ??= this.newIndex(vector.length, tieKey);
    this.index.add(docNumber, vector);
    this.changedSinceSave = true;
    if (docNumber >= this.coversBelow) this.coversBelow = docNumber + 1;
  }

  remove(docNumber: number): void {
    if (this.index?.remove(docNumber)) this.changedSinceSave = true;
  }

  /** Forgets the in-memory index (another process changed the collection). */
  reset(): void {
    this.index = undefined;
    this.built = false;
    this.changedSinceSave = false;
    this.coversBelow = 0;
    this.origin = 'none';
  }

  async dispose(): Promise<void> {
    await this.encoder.dispose?.();
  }

  private checkDimension(vector: Float32Array, what: string): void {
    const dimension = this.index?.dimension ?? (this.fromClient ? this.encoder.dimension : undefined);
    if (dimension !== undefined && vector.length !== dimension) {
      throw new SparrowError('VECTOR_DIMENSION_MISMATCH', `${what} has ${vector.length} numbers; this collection's dense vectors have ${dimension}`);
    }
  }

  private newIndex(dimension: number, tieKey: (docNumber: number) => string): DenseIndex {
    return this.settings.index === 'hnsw'
      ? new HnswDenseIndex(dimension, { metric: this.settings.metric, tieKey })
      : new ExactDenseIndex(dimension, { metric: this.settings.metric, storage: this.settings.storage, tieKey });
  }
}
