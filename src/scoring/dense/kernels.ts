/**
 * Dense scan kernels: the score of one query against every row of a row-major matrix. Written
 * against this interface so a WebAssembly implementation can replace the TypeScript one without
 * touching the index. Accumulation is float64 in the TypeScript kernels, 4 rows' partial sums
 * unrolled by dimension blocks of 4 to keep V8's loop overhead down.
 */
export interface DenseScanKernel {
  /** out[r] = dot(rows[r], query) for r < rowCount (float32 rows). */
  scoreF32(rows: Float32Array, rowCount: number, dimension: number, query: Float32Array, out: Float64Array): void;
  /** out[r] = scales[r] * dot(rows[r], query) (int8 rows, one scale per row). */
  scoreInt8(rows: Int8Array, scales: Float32Array, rowCount: number, dimension: number, query: Float32Array, out: Float64Array): void;
  /** Rows [fromRow, toRow) changed in place since the last call (kernels that keep a copy of the rows need to know). */
  invalidate?(fromRow: number, toRow: number): void;
}

/** dot(rows[base .. base + dimension), query) with four independent sums (fewer dependent adds). */
function rowDot(rows: Float32Array | Int8Array, base: number, dimension: number, query: Float32Array): number {
  const blocked = dimension & ~3;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i < blocked; i += 4) {
    s0 += rows[base + i]! * query[i]!;
    s1 += rows[base + i + 1]! * query[i + 1]!;
    s2 += rows[base + i + 2]! * query[i + 2]!;
    s3 += rows[base + i + 3]! * query[i + 3]!;
  }
  for (; i < dimension; i++) s0 += rows[base + i]! * query[i]!;
  return s0 + s1 + s2 + s3;
}

export const typescriptKernel: DenseScanKernel = {
  scoreF32(rows, rowCount, dimension, query, out) {
    for (let r = 0; r < rowCount; r++) out[r] = rowDot(rows, r * dimension, dimension, query);
  },
  scoreInt8(rows, scales, rowCount, dimension, query, out) {
    for (let r = 0; r < rowCount; r++) out[r] = scales[r]! * rowDot(rows, r * dimension, dimension, query);
  },
};

/**
 * Symmetric per-vector int8 quantization: q = round(x / scale), scale = max|x| / 127, so the
 * largest component is exact and every other is within scale / 2. Writes q into `into` at
 * `offset`; returns the scale (0 for a zero vector).
 */
export function quantizeInt8(vector: Float32Array, into: Int8Array, offset: number): number {
  let largest = 0;
  for (let i = 0; i < vector.length; i++) largest = Math.max(largest, Math.abs(vector[i]!));
  if (largest === 0) {
    into.fill(0, offset, offset + vector.length);
    return 0;
  }
  const scale = largest / 127;
  for (let i = 0; i < vector.length; i++) into[offset + i] = Math.round(vector[i]! / scale);
  return scale;
}
