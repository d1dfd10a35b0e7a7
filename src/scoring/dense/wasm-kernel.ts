import { DENSE_KERNEL_WASM_BASE64 } from './dense-kernel-wasm.js';
import type { DenseScanKernel } from './kernels.js';

/**
 * The dense scan kernel in WebAssembly (SIMD, float32 lanes; source dense-kernel.wat). It keeps a
 * mirror of the index's rows in its own linear memory and copies only what changed since the last
 * query: rows appended since, and rows the index reported through invalidate() (a replaced
 * vector, a row moved by a removal). A new backing array (the index grew) is copied whole.
 *
 * Arithmetic: float32 products summed in four float32 lanes, then across lanes; the TypeScript
 * kernel sums in float64. Scores agree to float32 rounding, not bit for bit.
 *
 * One instance serves one index (the mirror is per index).
 */
let compiled: WebAssembly.Module | undefined;

function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Buffer.from(DENSE_KERNEL_WASM_BASE64, 'base64'));
  return compiled;
}

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  scoreF32(rows: number, count: number, dim: number, query: number, out: number): void;
  scoreInt8(rows: number, scales: number, count: number, dim: number, query: number, out: number): void;
}

const align = (bytes: number): number => (bytes + 15) & ~15;

export class WasmDenseKernel implements DenseScanKernel {
  private readonly exports: KernelExports;
  private source: Float32Array | Int8Array | undefined;
  private mirroredRows = 0;
  private capacityRows = 0;
  private dimension = 0;
  private dirtyFrom = Infinity;
  private dirtyTo = -1;
  // Byte offsets of the regions in linear memory.
  private queryAt = 0;
  private outAt = 0;
  private scalesAt = 0;
  private rowsAt = 0;

  constructor() {
    this.exports = new WebAssembly.Instance(kernelModule(), {}).exports as unknown as KernelExports;
  }

  invalidate(fromRow: number, toRow: number): void {
    this.dirtyFrom = Math.min(this.dirtyFrom, fromRow);
    this.dirtyTo = Math.max(this.dirtyTo, toRow);
  }

  scoreF32(rows: Float32Array, rowCount: number, dimension: number, query: Float32Array, out: Float64Array): void {
    this.sync(rows, undefined, rowCount, dimension, 4);
    this.writeQuery(query);
    this.exports.scoreF32(this.rowsAt, rowCount, dimension, this.queryAt, this.outAt);
    this.readScores(rowCount, out);
  }

  scoreInt8(rows: Int8Array, scales: Float32Array, rowCount: number, dimension: number, query: Float32Array, out: Float64Array): void {
    this.sync(rows, scales, rowCount, dimension, 1);
    this.writeQuery(query);
    this.exports.scoreInt8(this.rowsAt, this.scalesAt, rowCount, dimension, this.queryAt, this.outAt);
    this.readScores(rowCount, out);
  }

  private layout(capacityRows: number, dimension: number, rowBytes: number): void {
    this.queryAt = 0;
    this.outAt = align(dimension * 4);
    this.scalesAt = this.outAt + align(capacityRows * 4);
    this.rowsAt = this.scalesAt + align(capacityRows * 4);
    const needed = this.rowsAt + capacityRows * dimension * rowBytes;
    const memory = this.exports.memory;
    const pages = Math.ceil(needed / 65536) - memory.buffer.byteLength / 65536;
    if (pages > 0) memory.grow(pages);
    this.capacityRows = capacityRows;
  }

  private sync(rows: Float32Array | Int8Array, scales: Float32Array | undefined, rowCount: number, dimension: number, rowBytes: number): void {
    let from: number;
    let to: number;
    if (rows !== this.source || dimension !== this.dimension || rowCount > this.capacityRows) {
      if (rowCount > this.capacityRows || dimension !== this.dimension) this.layout(Math.max(rowCount, this.capacityRows * 2, 16), dimension, rowBytes);
      this.source = rows;
      this.dimension = dimension;
      from = 0;
      to = rowCount;
    } else {
      from = Math.min(this.dirtyFrom, this.mirroredRows);
      to = Math.min(rowCount, Math.max(this.dirtyTo, rowCount > this.mirroredRows ? rowCount : -1));
    }
    if (to > from) {
      const buffer = this.exports.memory.buffer;
      const span = rows.subarray(from * dimension, to * dimension);
      new Uint8Array(buffer, this.rowsAt + from * dimension * rowBytes, span.byteLength).set(new Uint8Array(span.buffer, span.byteOffset, span.byteLength));
      if (scales) new Float32Array(buffer, this.scalesAt, this.capacityRows).set(scales.subarray(from, to), from);
    }
    this.mirroredRows = rowCount;
    this.dirtyFrom = Infinity;
    this.dirtyTo = -1;
  }

  private writeQuery(query: Float32Array): void {
    new Float32Array(this.exports.memory.buffer, this.queryAt, query.length).set(query);
  }

  private readScores(rowCount: number, out: Float64Array): void {
    const scores = new Float32Array(this.exports.memory.buffer, this.outAt, rowCount);
    for (let r = 0; r < rowCount; r++) out[r] = scores[r]!;
  }
}
