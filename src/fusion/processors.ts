import type { RankedHit } from './fuse.js';

/**
 * Hybrid score processing as OpenSearch's search pipelines define it (the normalization-processor
 * and the score-ranker-processor), so a hybrid query answered through the OpenSearch-compatible
 * API ranks and scores as OpenSearch would over the same sub-query results:
 * - min_max: (s - min) / (max - min) per sub-query; a lone score (max = min = s) is 1; a score
 *   that normalizes to exactly 0 becomes 0.001, so the document still counts as found;
 * - l2: s / sqrt(sum of squares) per sub-query (0 when every score is 0);
 * - z_score: (s - mean) / standard deviation per sub-query (population deviation over the
 *   returned hits; a score equal to the mean is 1);
 * - rrf: 1 / (rank_constant + rank), rank from 1 in each sub-query's list.
 * Combination: arithmetic_mean = sum of w_i x n_i / sum of w_i over the sub-queries that returned
 * the document; rrf sums w_i x n_i. The answer keeps as many hits as the longest sub-query list.
 */
export type ProcessorNormalization = 'min_max' | 'l2' | 'z_score' | 'rrf';

export interface ProcessorSpec {
  readonly normalization: ProcessorNormalization;
  /** rrf only; OpenSearch's default is 60, its range 1 to 10,000. */
  readonly rankConstant?: number;
  /** One per sub-query (default 1 each). */
  readonly weights?: readonly number[];
}

export interface ProcessedHit {
  readonly id: string;
  readonly score: number;
  /** Per sub-query: its normalized score, or undefined where it did not return the document. */
  readonly normalized: (number | undefined)[];
}

const MIN_SCORE = 0.001;

function normalizeList(hits: readonly RankedHit[], spec: ProcessorSpec): number[] {
  const scores = hits.map((h) => Math.fround(h.score));
  switch (spec.normalization) {
    case 'min_max': {
      const min = Math.min(...scores);
      const max = Math.max(...scores);
      return scores.map((s) => {
        if (max === min) return 1;
        const n = Math.fround((s - min) / (max - min));
        return n === 0 ? MIN_SCORE : n;
      });
    }
    case 'l2': {
      const norm = Math.fround(Math.sqrt(scores.reduce((sum, s) => sum + s * s, 0)));
      return scores.map((s) => (norm === 0 ? 0 : Math.fround(s / norm)));
    }
    case 'z_score': {
      if (scores.length === 0) return [];
      const mean = Math.fround(scores.reduce((a, b) => a + b, 0) / scores.length);
      const deviation = Math.fround(Math.sqrt(scores.reduce((sum, s) => sum + (s - mean) ** 2, 0) / scores.length));
      return scores.map((s) => (s === mean ? 1 : deviation === 0 ? 0 : Math.fround((s - mean) / deviation)));
    }
    case 'rrf': {
      const constant = spec.rankConstant ?? 60;
      return scores.map((_, i) => Math.fround(1 / (constant + i + 1)));
    }
  }
}

export function processHybrid(lists: readonly (readonly RankedHit[])[], spec: ProcessorSpec): ProcessedHit[] {
  if (spec.weights && spec.weights.length !== lists.length) {
    throw new RangeError(`the number of weights (${spec.weights.length}) must match the number of sub-queries (${lists.length})`);
  }
  const byId = new Map<string, (number | undefined)[]>();
  lists.forEach((hits, q) => {
    const normalized = normalizeList(hits, spec);
    hits.forEach((hit, i) => {
      let entry = byId.get(hit.id);
      if (!entry) byId.set(hit.id, (entry = new Array<number | undefined>(lists.length).fill(undefined)));
      entry[q] = normalized[i]!;
    });
  });
  const out: ProcessedHit[] = [];
  for (const [id, normalized] of byId) {
    let sum = 0;
    let weights = 0;
    normalized.forEach((n, q) => {
      if (n === undefined) return;
      const w = spec.weights?.[q] ?? 1;
      sum += w * n;
      weights += w;
    });
    const score = weights === 0 ? 0 : spec.normalization === 'rrf' ? sum : sum / weights;
    out.push({ id, score: Math.fround(score), normalized });
  }
  // Best first; equal scores by id, descending, as sparrow's other rankings break ties.
  out.sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const keep = Math.max(0, ...lists.map((l) => l.length));
  return out.slice(0, keep);
}
