import { TopK } from '../top-k.js';
import { quantizeInt8, typescriptKernel, type DenseScanKernel } from '../../scoring/dense/kernels.js';
import { WasmDenseKernel } from '../../scoring/dense/wasm-kernel.js';
import { CodedError } from '../../common/errors.js';

/**
 * Dense vectors' top-k by exhaustive scan: the oracle every approximate dense index is tested
 * against, and fast enough alone for collections of up to a few hundred thousand vectors.
 *
 * - metric "dot" scores the inner product; "cosine" normalizes vectors (stored and query) to unit
 *   length first, so the inner product is the cosine.
 * - storage "f32" keeps vectors as they are; "int8" keeps a quarter of the bytes (one byte per
 *   component plus one float scale per vector) and scores the float32 query against them
 *   (asymmetric: only the documents are approximated).
 *
 * Documents are identified by their number; results are ordered by score descending, then by the
 * tie key descending (the external id, as trec_eval orders ties; default: the number).
 */
export type DenseMetric = 'dot' | 'cosine';
export type DenseStorage = 'f32' | 'int8';

export interface DenseSearchOptions {
  /** Documents for which this returns false are skipped. */
  readonly accept?: (docNumber: number) => boolean;
}

export interface DenseSearchResult {
  readonly docNumbers: Uint32Array;
  readonly scores: Float64Array;
}

/** What every dense index (exact or approximate) offers. */
export interface DenseIndex {
  readonly dimension: number;
  readonly metric: DenseMetric;
  readonly size: number;
  /** Adds a document's vector, replacing any earlier vector of the same number. */
  add(docNumber: number, vector: Float32Array): void;
  /** True when the document was there. */
  remove(docNumber: number): boolean;
  search(query: Float32Array, k: number, options?: DenseSearchOptions): DenseSearchResult;
}

export class DenseIndexError extends CodedError {}

export interface ExactDenseOptions {
  readonly metric?: DenseMetric;
  readonly storage?: DenseStorage;
  readonly tieKey?: (docNumber: number) => string;
  /** "wasm" (default: SIMD WebAssembly), "typescript", or a kernel instance (one per index). */
  readonly kernel?: 'wasm' | 'typescript' | DenseScanKernel;
}

const numberKey = (docNumber: number): string => String(docNumber).padStart(10, '0');

export function checkVector(vector: Float32Array, dimension: number, what: string): void {
  if (!(vector instanceof Float32Array)) throw new DenseIndexError('INVALID_VECTOR', `${what} must be a Float32Array`);
  if (vector.length !== dimension) throw new DenseIndexError('VECTOR_DIMENSION_MISMATCH', `${what} has ${vector.length} components, the index ${dimension}`);
  for (let i = 0; i < vector.length; i++) if (!Number.isFinite(vector[i])) throw new DenseIndexError('INVALID_VECTOR', `${what}[${i}] is not finite`);
}

/** A unit-length copy (a zero vector stays zero). */
export function unitCopy(vector: Float32Array): Float32Array {
  let squares = 0;
  for (let i = 0; i < vector.length; i++) squares += vector[i]! * vector[i]!;
  const out = new Float32Array(vector);
  if (squares > 0) {
    const inverse = 1 / Math.sqrt(squares);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! * inverse;
  }
  return out;
}

export class ExactDenseIndex implements DenseIndex {
  readonly dimension: number;
  readonly metric: DenseMetric;
  readonly storage: DenseStorage;
  private readonly tieKey: (docNumber: number) => string;
  private readonly kernel: DenseScanKernel;
  private capacity = 0;
  private count = 0;
  private f32 = new Float32Array(0);
  private int8 = new Int8Array(0);
  private scales = new Float32Array(0);
  private docs = new Uint32Array(0);
  private readonly slotOf = new Map<number, number>();
  private scratch = new Float64Array(0);

  constructor(dimension: number, options: ExactDenseOptions = {}) {
    if (!Number.isInteger(dimension) || dimension < 1) throw new DenseIndexError('INVALID_DIMENSION', `dimension must be a positive integer, got ${dimension}`);
    this.dimension = dimension;
    this.metric = options.metric ?? 'cosine';
    this.storage = options.storage ?? 'f32';
    this.tieKey = options.tieKey ?? numberKey;
    const kernel = options.kernel ?? 'wasm';
    this.kernel = kernel === 'wasm' ? new WasmDenseKernel() : kernel === 'typescript' ? typescriptKernel : kernel;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by vectors (and scales), for comparing storages. */
  get vectorBytes(): number {
    return this.storage === 'f32' ? this.count * this.dimension * 4 : this.count * (this.dimension + 4);
  }

  private grow(): void {
    const capacity = Math.max(16, this.capacity * 2);
    if (this.storage === 'f32') {
      const next = new Float32Array(capacity * this.dimension);
      next.set(this.f32);
      this.f32 = next;
    } else {
      const next = new Int8Array(capacity * this.dimension);
      next.set(this.int8);
      this.int8 = next;
      const scales = new Float32Array(capacity);
      scales.set(this.scales);
      this.scales = scales;
    }
    const docs = new Uint32Array(capacity);
    docs.set(this.docs);
    this.docs = docs;
    this.capacity = capacity;
  }

  add(docNumber: number, vector: Float32Array): void {
    checkVector(vector, this.dimension, 'vector');
    const stored = this.metric === 'cosine' ? unitCopy(vector) : vector;
    let slot = this.slotOf.get(docNumber);
    if (slot === undefined) {
      if (this.count === this.capacity) this.grow();
      slot = this.count++;
      this.slotOf.set(docNumber, slot);
      this.docs[slot] = docNumber;
    }
    if (this.storage === 'f32') this.f32.set(stored, slot * this.dimension);
    else this.scales[slot] = quantizeInt8(stored, this.int8, slot * this.dimension);
    this.kernel.invalidate?.(slot, slot + 1);
  }

  remove(docNumber: number): boolean {
    const slot = this.slotOf.get(docNumber);
    if (slot === undefined) return false;
    // The last vector moves into the freed slot, keeping the scanned rows contiguous.
    const last = --this.count;
    this.slotOf.delete(docNumber);
    if (slot !== last) {
      const d = this.dimension;
      if (this.storage === 'f32') this.f32.copyWithin(slot * d, last * d, last * d + d);
      else {
        this.int8.copyWithin(slot * d, last * d, last * d + d);
        this.scales[slot] = this.scales[last]!;
      }
      this.docs[slot] = this.docs[last]!;
      this.slotOf.set(this.docs[slot]!, slot);
      this.kernel.invalidate?.(slot, slot + 1);
    }
    return true;
  }

  /** Every document's score, in slot order (for fusion and tests). */
  scoreAll(query: Float32Array): { docNumbers: Uint32Array; scores: Float64Array } {
    checkVector(query, this.dimension, 'query');
    const q = this.metric === 'cosine' ? unitCopy(query) : query;
    if (this.scratch.length < this.count) this.scratch = new Float64Array(this.capacity);
    const scores = this.scratch.subarray(0, this.count);
    if (this.storage === 'f32') this.kernel.scoreF32(this.f32, this.count, this.dimension, q, scores);
    else this.kernel.scoreInt8(this.int8, this.scales, this.count, this.dimension, q, scores);
    return { docNumbers: this.docs.subarray(0, this.count), scores };
  }

  search(query: Float32Array, k: number, options: DenseSearchOptions = {}): DenseSearchResult {
    if (!Number.isInteger(k) || k < 1) throw new DenseIndexError('INVALID_K', `k must be a positive integer, got ${k}`);
    const { docNumbers, scores } = this.scoreAll(query);
    const top = new TopK(k, this.tieKey);
    const accept = options.accept;
    for (let slot = 0; slot < docNumbers.length; slot++) {
      const score = scores[slot]!;
      if (!top.admits(score)) continue;
      const doc = docNumbers[slot]!;
      if (accept && !accept(doc)) continue;
      top.push(doc, score);
    }
    const { docs, scores: best } = top.drain();
    return { docNumbers: docs, scores: best };
  }
}
