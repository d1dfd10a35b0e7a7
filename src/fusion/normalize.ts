/**
 * Score normalizations for convex-combination fusion (Bruch, Gai and Ingber, "An Analysis of
 * Fusion Functions for Hybrid Retrieval", 2023). Each maps one ranked list's scores (its fusion
 * window) to a comparable scale; the list is given whole because every method needs list-wide
 * statistics.
 *
 * - min-max: (s - min) / (max - min). A list whose scores are all equal maps to 1 (every
 *   document is the list's best).
 * - z-score: (s - mean) / standard deviation (population). All-equal scores map to 0.
 * - theoretical-min-max: (s - lower) / (upper - lower) where `lower` is the scoring function's
 *   theoretical minimum (0 for BM25 and SPLADE, -1 for cosine) and `upper` is the given
 *   theoretical maximum or, absent, the list's largest score (Bruch et al.'s TMM).
 * - l2: s / sqrt(sum of squares). All-zero scores stay 0.
 * - none: scores as they are.
 */
export type Normalization = 'min-max' | 'z-score' | 'theoretical-min-max' | 'l2' | 'none';

export const NORMALIZATIONS: readonly Normalization[] = ['min-max', 'z-score', 'theoretical-min-max', 'l2', 'none'];

/** Theoretical score range of one list's scoring function. */
export interface ScoreBounds {
  readonly min: number;
  /** Absent: the largest score in the list. */
  readonly max?: number;
}

export function normalizeScores(scores: Float64Array, method: Normalization, bounds?: ScoreBounds): Float64Array {
  const n = scores.length;
  const out = new Float64Array(n);
  if (n === 0) return out;
  switch (method) {
    case 'none':
      out.set(scores);
      return out;
    case 'min-max': {
      let min = Infinity;
      let max = -Infinity;
      for (const s of scores) {
        if (s < min) min = s;
        if (s > max) max = s;
      }
      const range = max - min;
      for (let i = 0; i < n; i++) out[i] = range > 0 ? (scores[i]! - min) / range : 1;
      return out;
    }
    case 'z-score': {
      let sum = 0;
      for (const s of scores) sum += s;
      const mean = sum / n;
      let squares = 0;
      for (const s of scores) squares += (s - mean) * (s - mean);
      const std = Math.sqrt(squares / n);
      for (let i = 0; i < n; i++) out[i] = std > 0 ? (scores[i]! - mean) / std : 0;
      return out;
    }
    case 'theoretical-min-max': {
      if (!bounds) throw new RangeError('theoretical-min-max needs the scoring function\'s bounds');
      let max = bounds.max ?? -Infinity;
      if (bounds.max === undefined) for (const s of scores) if (s > max) max = s;
      const range = max - bounds.min;
      for (let i = 0; i < n; i++) out[i] = range > 0 ? (scores[i]! - bounds.min) / range : 1;
      return out;
    }
    case 'l2': {
      let squares = 0;
      for (const s of scores) squares += s * s;
      const norm = Math.sqrt(squares);
      for (let i = 0; i < n; i++) out[i] = norm > 0 ? scores[i]! / norm : 0;
      return out;
    }
  }
}
