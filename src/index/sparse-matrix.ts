/**
 * A compressed-sparse-row matrix of term-weight vectors: row r holds the nonzeros
 * indices[indptr[r] .. indptr[r+1]) with their weights in values. Term ids inside a row are
 * strictly increasing. This is the hand-off format between the store (which keeps one vector per
 * document) and every index built over those vectors (exact postings, approximate segments).
 */
export interface SparseMatrix {
  /** Number of rows (documents or queries). */
  readonly rows: number;
  /** Size of the term space: every term id is < dim. */
  readonly dim: number;
  /** rows + 1 offsets into indices/values. */
  readonly indptr: Uint32Array;
  readonly indices: Uint32Array;
  readonly values: Float32Array;
}

/** A single sparse vector with strictly increasing term ids. */
export interface SparseVector {
  readonly indices: Uint32Array;
  readonly values: Float32Array;
}

export function rowOf(matrix: SparseMatrix, row: number): SparseVector {
  const start = matrix.indptr[row]!;
  const end = matrix.indptr[row + 1]!;
  return { indices: matrix.indices.subarray(start, end), values: matrix.values.subarray(start, end) };
}

/** Builds a CSR matrix from per-row vectors (copies). */
export function matrixFromRows(rows: readonly SparseVector[], dim: number): SparseMatrix {
  const indptr = new Uint32Array(rows.length + 1);
  let nnz = 0;
  for (let r = 0; r < rows.length; r++) {
    nnz += rows[r]!.indices.length;
    indptr[r + 1] = nnz;
  }
  const indices = new Uint32Array(nnz);
  const values = new Float32Array(nnz);
  for (let r = 0; r < rows.length; r++) {
    indices.set(rows[r]!.indices, indptr[r]!);
    values.set(rows[r]!.values, indptr[r]!);
  }
  return { rows: rows.length, dim, indptr, indices, values };
}
