import { SparrowError } from '../common/errors.js';
import { MAX_KNN_NEIGHBORS } from '../index/seismic/params.js';

/**
 * The approximate index's per-query parameters, one range for every door (HTTP, CLI search and
 * eval, stored query settings, tuning grids):
 * - queryCut: only the query's heaviest terms are visited, a whole number >= 1;
 * - heapFactor: a block whose bound is below heapFactor x the current k-th score is skipped, from
 *   0 (never skip: every block is scored) to 1 (skip the most);
 * - knn: neighbours of each result scored from the segments' kNN graph, 0 (off) to 256.
 */
export const APPROXIMATE_RANGES = {
  queryCut: { min: 1 },
  heapFactor: { min: 0, max: 1 },
  knn: { min: 0, max: MAX_KNN_NEIGHBORS },
} as const;

export interface ApproximateParams {
  readonly queryCut?: number;
  readonly heapFactor?: number;
  readonly knn?: number;
}

/** Checks approximate parameters; `where` names the door in the message (e.g. "--heap-factor"). */
export function checkApproximateParams(params: ApproximateParams, names: { queryCut: string; heapFactor: string; knn: string } = { queryCut: 'queryCut', heapFactor: 'heapFactor', knn: 'knn' }): ApproximateParams {
  const { queryCut, heapFactor, knn } = params;
  if (queryCut !== undefined && !(Number.isInteger(queryCut) && queryCut >= APPROXIMATE_RANGES.queryCut.min)) {
    throw new SparrowError('INVALID_APPROXIMATE_PARAMS', `${names.queryCut} must be a whole number >= 1, got ${String(queryCut)}`);
  }
  if (heapFactor !== undefined && !(typeof heapFactor === 'number' && heapFactor >= APPROXIMATE_RANGES.heapFactor.min && heapFactor <= APPROXIMATE_RANGES.heapFactor.max)) {
    throw new SparrowError('INVALID_APPROXIMATE_PARAMS', `${names.heapFactor} must be a number from 0 (never skip a block) to 1 (skip the most), got ${String(heapFactor)}`);
  }
  if (knn !== undefined && !(Number.isInteger(knn) && knn >= APPROXIMATE_RANGES.knn.min && knn <= APPROXIMATE_RANGES.knn.max)) {
    throw new SparrowError('INVALID_APPROXIMATE_PARAMS', `${names.knn} must be a whole number from 0 to ${APPROXIMATE_RANGES.knn.max}, got ${String(knn)}`);
  }
  return params;
}
