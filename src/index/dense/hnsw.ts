import { createRequire } from 'node:module';
import os from 'node:os';
import { checkGraphFile, GraphFileError, writeGraphFile, type GraphFooter, type GraphSettings } from './graph-file.js';
import { checkVector, DenseIndexError, unitCopy, type DenseIndex, type DenseMetric, type DenseSearchOptions, type DenseSearchResult } from './exact.js';

/**
 * Approximate dense top-k over an HNSW graph (usearch, npm `usearch`, whose package ships prebuilt
 * binaries for linux x64/arm64 and macOS). For large collections where an exhaustive scan costs
 * too much; ExactDenseIndex is its oracle. Cosine is served as the inner product of unit vectors,
 * so scores equal the exact index's up to the graph's misses.
 *
 * usearch is an optional dependency: it is loaded on first use, and a missing package is a coded
 * error (HNSW_UNAVAILABLE) rather than a failure at import time.
 */
export interface HnswOptions {
  readonly metric?: DenseMetric;
  /** Graph degree M (default 16). */
  readonly connectivity?: number;
  /** Candidate list size while inserting (default 128). */
  readonly expansionAdd?: number;
  /** Candidate list size while searching (default 64; raised to k when k is larger). */
  readonly expansionSearch?: number;
  /** Vector storage inside the graph (default f32). */
  readonly quantization?: 'f32' | 'f16' | 'i8';
  readonly tieKey?: (docNumber: number) => string;
}

interface UsearchMatches {
  readonly keys: BigUint64Array;
  readonly distances: Float32Array;
}

interface UsearchIndex {
  add(keys: bigint | BigUint64Array, vectors: Float32Array, threads: number): void;
  search(vector: Float32Array, k: number, threads: number): UsearchMatches;
  remove(keys: bigint): number;
  contains(keys: bigint): boolean;
  size(): number;
  save(path: string): void;
  load(path: string): void;
}

interface UsearchModule {
  Index: new (config: { dimensions: number; metric: string; quantization: string; connectivity: number; expansion_add: number; expansion_search: number; multi: boolean }) => UsearchIndex;
}

let usearchModule: UsearchModule | undefined;

function usearch(): UsearchModule {
  if (!usearchModule) {
    try {
      usearchModule = createRequire(import.meta.url)('usearch') as UsearchModule;
    } catch (error) {
      throw new DenseIndexError('HNSW_UNAVAILABLE', `the HNSW index needs the npm package usearch (npm install usearch): ${(error as Error).message}`);
    }
  }
  return usearchModule;
}

/** True when usearch can be loaded here. */
export function hnswAvailable(): boolean {
  try {
    usearch();
    return true;
  } catch {
    return false;
  }
}

export class HnswDenseIndex implements DenseIndex {
  readonly dimension: number;
  readonly metric: DenseMetric;
  readonly expansionSearch: number;
  readonly connectivity: number;
  readonly quantization: 'f32' | 'f16' | 'i8';
  private readonly index: UsearchIndex;
  private readonly tieKey: (docNumber: number) => string;

  constructor(dimension: number, options: HnswOptions = {}) {
    if (!Number.isInteger(dimension) || dimension < 1) throw new DenseIndexError('INVALID_DIMENSION', `dimension must be a positive integer, got ${dimension}`);
    this.dimension = dimension;
    this.metric = options.metric ?? 'cosine';
    this.expansionSearch = options.expansionSearch ?? 64;
    this.tieKey = options.tieKey ?? ((doc) => String(doc).padStart(10, '0'));
    this.connectivity = options.connectivity ?? 16;
    this.quantization = options.quantization ?? 'f32';
    const { Index } = usearch();
    this.index = new Index({
      dimensions: dimension,
      metric: 'ip',
      quantization: this.quantization,
      connectivity: this.connectivity,
      expansion_add: options.expansionAdd ?? 128,
      expansion_search: this.expansionSearch,
      multi: false,
    });
  }

  get size(): number {
    return this.index.size();
  }

  add(docNumber: number, vector: Float32Array): void {
    checkVector(vector, this.dimension, 'vector');
    const key = BigInt(docNumber);
    if (this.index.contains(key)) this.index.remove(key);
    // One thread: a single vector gains nothing from usearch's thread pool, and pays for it.
    this.index.add(key, this.metric === 'cosine' ? unitCopy(vector) : vector, 1);
  }

  /**
   * Adds many new documents at once on `threads` threads (usearch inserts in parallel): how a
   * collection's graph is built when it is opened. The numbers must not be in the index yet.
   */
  addMany(docNumbers: ArrayLike<number>, vectors: readonly Float32Array[], threads = Math.max(1, os.availableParallelism())): void {
    if (docNumbers.length !== vectors.length) throw new DenseIndexError('INVALID_VECTOR', `${docNumbers.length} numbers for ${vectors.length} vectors`);
    if (vectors.length === 0) return;
    const rows = new Float32Array(vectors.length * this.dimension);
    const keys = new BigUint64Array(vectors.length);
    for (let i = 0; i < vectors.length; i++) {
      checkVector(vectors[i]!, this.dimension, 'vector');
      rows.set(this.metric === 'cosine' ? unitCopy(vectors[i]!) : vectors[i]!, i * this.dimension);
      keys[i] = BigInt(docNumbers[i]!);
    }
    this.index.add(keys, rows, threads);
  }

  remove(docNumber: number): boolean {
    return this.index.remove(BigInt(docNumber)) > 0;
  }

  contains(docNumber: number): boolean {
    return this.index.contains(BigInt(docNumber));
  }

  /** What a saved graph must match to be loaded into this index (see graph-file.ts). */
  get graphSettings(): GraphSettings {
    return { dimension: this.dimension, metric: this.metric, quantization: this.quantization, connectivity: this.connectivity };
  }

  /** Saves the graph with a footer (graph-file.ts): every live document below coversBelow is in it; owner names its collection. */
  saveGraph(file: string, coversBelow: number, owner = 0): void {
    writeGraphFile(file, { ...this.graphSettings, owner, size: this.size, coversBelow }, (temporary) => this.index.save(temporary));
  }

  /** Replaces this index's contents by a saved graph; checks it first (throws GraphFileError). */
  loadGraph(file: string, owner = 0): GraphFooter {
    const footer = checkGraphFile(file, this.graphSettings, owner);
    this.index.load(file);
    if (this.index.size() !== footer.size) throw new GraphFileError('checksum', `${file}: the graph holds ${this.index.size()} vectors, its footer says ${footer.size}`);
    return footer;
  }

  search(query: Float32Array, k: number, options: DenseSearchOptions = {}): DenseSearchResult {
    if (!Number.isInteger(k) || k < 1) throw new DenseIndexError('INVALID_K', `k must be a positive integer, got ${k}`);
    checkVector(query, this.dimension, 'query');
    const q = this.metric === 'cosine' ? unitCopy(query) : query;
    const size = this.size;
    // usearch has no filter callback: fetch more until k accepted documents are in hand.
    let fetch = Math.min(Math.max(k, this.expansionSearch), size);
    for (;;) {
      const matches = fetch > 0 ? this.index.search(q, fetch, 1) : { keys: new BigUint64Array(0), distances: new Float32Array(0) };
      const hits: { doc: number; score: number }[] = [];
      for (let i = 0; i < matches.keys.length; i++) {
        const doc = Number(matches.keys[i]!);
        if (options.accept && !options.accept(doc)) continue;
        // usearch's inner-product distance is 1 - dot.
        hits.push({ doc, score: 1 - matches.distances[i]! });
      }
      if (hits.length >= k || fetch >= size) {
        hits.sort((a, b) => b.score - a.score || (this.tieKey(b.doc) > this.tieKey(a.doc) ? 1 : -1));
        const top = hits.slice(0, k);
        return { docNumbers: Uint32Array.from(top, (h) => h.doc), scores: Float64Array.from(top, (h) => h.score) };
      }
      fetch = Math.min(fetch * 4, size);
    }
  }
}
