import type { SparseMatrix } from '../src/index/sparse-matrix.js';
import { SeededRandom } from '../src/common/random.js';

/**
 * Deterministic SPLADE-like collections for tests and benchmarks.
 *
 * Model: a BERT-sized vocabulary whose term popularity is Zipf-like (over a shuffled term order);
 * latent topics, each a few hundred terms drawn from that popularity (so common terms recur across
 * topics) and drawn inside the topic with Zipf-like frequency. A document mixes 1-3 topics plus
 * 30% background terms; a query mixes 1-3 topics plus 20% background terms. Weights are
 * heavy-tailed (the top tenth of a vector holds about 40% of its L1 mass): a lognormal spread
 * (sigma 1) around a level that decays slowly with the term's rank in its topic, so which terms
 * of a topic weigh most differs from vector to vector, as with learned sparse encoders.
 * Generation is linear in the number of nonzeros (one alias-table draw per term, one table
 * lookup per weight): about 3 s per 100k documents on one core.
 */
export interface SyntheticOptions {
  readonly docs: number;
  readonly queries: number;
  readonly seed?: number;
  /** Vocabulary size (BERT WordPiece: 30522). */
  readonly dim?: number;
  readonly topics?: number;
  /** Terms per topic. */
  readonly topicSize?: number;
  readonly docLength?: readonly [number, number];
  readonly queryLength?: readonly [number, number];
}

export interface SyntheticCollection {
  readonly docs: SparseMatrix;
  readonly queries: SparseMatrix;
}

const DEFAULTS = {
  seed: 42,
  dim: 30522,
  topics: 1000,
  topicSize: 300,
  docLength: [120, 200] as const,
  queryLength: [20, 40] as const,
};

/** Walker alias table: O(1) draws from a discrete distribution. */
class AliasTable {
  private readonly threshold: Float64Array;
  private readonly alias: Uint32Array;
  readonly size: number;

  constructor(weights: Float64Array) {
    const n = weights.length;
    this.size = n;
    this.threshold = new Float64Array(n);
    this.alias = new Uint32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i]!;
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i]! * n) / total;
      (scaled[i]! < 1 ? small : large).push(i);
    }
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large[large.length - 1]!;
      this.threshold[s] = scaled[s]!;
      this.alias[s] = l;
      scaled[l] = scaled[l]! + scaled[s]! - 1;
      if (scaled[l]! < 1) {
        large.pop();
        small.push(l);
      }
    }
    for (const i of large) this.threshold[i] = 1;
    for (const i of small) this.threshold[i] = 1;
  }

  /** One uniform draw supplies both the column and the coin. */
  sample(random: SeededRandom): number {
    const u = random.nextFloat() * this.size;
    const column = u | 0;
    return u - column < this.threshold[column]! ? column : this.alias[column]!;
  }
}

/** exp(SPREAD_SIGMA z) at SPREAD_SIZE evenly spaced normal quantiles: a lognormal draw is one lookup. */
const SPREAD_SIZE = 4096;
const SPREAD_SIGMA = 1.0;
const lognormalSpread = (() => {
  const table = new Float64Array(SPREAD_SIZE);
  for (let i = 0; i < SPREAD_SIZE; i++) table[i] = Math.exp(SPREAD_SIGMA * normalQuantile((i + 0.5) / SPREAD_SIZE));
  return table;
})();

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tail = 0.02425;
  if (p < tail) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (p > 1 - tail) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

function zipfWeights(n: number, exponent: number, shift: number): Float64Array {
  const weights = new Float64Array(n);
  for (let r = 0; r < n; r++) weights[r] = 1 / Math.pow(r + shift, exponent);
  return weights;
}

export function generateSynthetic(options: SyntheticOptions): SyntheticCollection {
  const seed = options.seed ?? DEFAULTS.seed;
  const dim = options.dim ?? DEFAULTS.dim;
  const topicCount = options.topics ?? DEFAULTS.topics;
  const topicSize = Math.min(options.topicSize ?? DEFAULTS.topicSize, dim);
  const docLength = options.docLength ?? DEFAULTS.docLength;
  const queryLength = options.queryLength ?? DEFAULTS.queryLength;
  const random = new SeededRandom(seed);

  // Term popularity: Zipf over a random permutation of the term ids.
  const byPopularity = new Uint32Array(dim);
  for (let i = 0; i < dim; i++) byPopularity[i] = i;
  for (let i = dim - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    const swap = byPopularity[i]!;
    byPopularity[i] = byPopularity[j]!;
    byPopularity[j] = swap;
  }
  const background = new AliasTable(zipfWeights(dim, 1.0, 10));
  // Topic vocabularies lean towards popular terms but less steeply than the background does.
  const topicVocabulary = new AliasTable(zipfWeights(dim, 0.6, 10));
  const topicTerms = new Uint32Array(topicCount * topicSize);
  const memberStamp = new Int32Array(dim).fill(-1);
  for (let topic = 0; topic < topicCount; topic++) {
    let filled = 0;
    while (filled < topicSize) {
      const term = byPopularity[topicVocabulary.sample(random)]!;
      if (memberStamp[term] === topic) continue;
      memberStamp[term] = topic;
      topicTerms[topic * topicSize + filled++] = term;
    }
  }
  // Inside a topic, earlier members are more frequent and weigh more.
  const withinTopic = new AliasTable(zipfWeights(topicSize, 0.9, 3));

  const makeRows = (rows: number, length: readonly [number, number], mixture: readonly number[], backgroundShare: number, topicBoost: number, rowSeed: number): SparseMatrix => {
    const rowRandom = new SeededRandom(rowSeed);
    const indptr = new Uint32Array(rows + 1);
    for (let r = 0; r < rows; r++) indptr[r + 1] = indptr[r]! + length[0] + rowRandom.nextInt(length[1] - length[0] + 1);
    const nnz = indptr[rows]!;
    const indices = new Uint32Array(nnz);
    const values = new Float32Array(nnz);
    const stamp = new Int32Array(dim).fill(-1);
    const importance = new Float32Array(dim);
    const rowTopics = new Uint32Array(4);
    const rowTopicShare = new Float64Array(4);
    const maxAttempts = 20;
    // Rows come up short only when the vocabulary is too small for the requested length.
    const filledLength = new Uint32Array(rows);
    let shortRows = 0;
    for (let r = 0; r < rows; r++) {
      const start = indptr[r]!;
      const target = indptr[r + 1]! - start;
      // Number of topics from the mixture distribution, then their shares (the first dominates).
      let topicsInRow = 1;
      let u = rowRandom.nextFloat();
      for (let m = 0; m < mixture.length - 1 && u >= mixture[m]!; m++) {
        u -= mixture[m]!;
        topicsInRow = m + 2;
      }
      let shareTotal = 0;
      for (let m = 0; m < topicsInRow; m++) {
        rowTopics[m] = rowRandom.nextInt(topicCount);
        rowTopicShare[m] = m === 0 ? 1 : 0.2 + 0.5 * rowRandom.nextFloat();
        shareTotal += rowTopicShare[m]!;
      }
      let filled = 0;
      let attempts = 0;
      while (filled < target && attempts < target * maxAttempts) {
        attempts++;
        let term: number;
        let level: number;
        if (rowRandom.nextFloat() < backgroundShare) {
          term = byPopularity[background.sample(rowRandom)]!;
          level = 0.1;
        } else {
          let pick = rowRandom.nextFloat() * shareTotal;
          let m = 0;
          while (m < topicsInRow - 1 && pick >= rowTopicShare[m]!) {
            pick -= rowTopicShare[m]!;
            m++;
          }
          const rank = withinTopic.sample(rowRandom);
          term = topicTerms[rowTopics[m]! * topicSize + rank]!;
          level = (rowTopicShare[m]! / rowTopicShare[0]!) * topicBoost / Math.pow(1 + rank / 4, 0.3);
        }
        if (stamp[term] === r) {
          if (level > importance[term]!) importance[term] = level;
          continue;
        }
        stamp[term] = r;
        importance[term] = level;
        indices[start + filled++] = term;
      }
      const row = indices.subarray(start, start + filled).sort();
      for (let i = 0; i < filled; i++) {
        const term = row[i]!;
        const weight = (0.05 + importance[term]!) * lognormalSpread[rowRandom.nextUint32() & (SPREAD_SIZE - 1)]!;
        values[start + i] = Math.min(weight, 4);
      }
      filledLength[r] = filled;
      if (filled < target) shortRows++;
    }
    const matrix = { rows, dim, indptr, indices, values };
    return shortRows === 0 ? matrix : compact(matrix, filledLength);
  };

  // Documents: 1-3 topics (probabilities 0.3/0.4/0.3), 30% background terms. Queries: 1-3 topics
  // (0.4/0.4/0.2), 20% background terms.
  const docs = makeRows(options.docs, docLength, [0.3, 0.4, 0.3], 0.3, 1.6, seed ^ 0x0d0c5);
  const queries = makeRows(options.queries, queryLength, [0.4, 0.4, 0.2], 0.2, 2.0, seed ^ 0x9e4e5);
  return { docs, queries };
}

/** Closes the gaps left by rows shorter than their reserved length. */
function compact(matrix: SparseMatrix, filledLength: Uint32Array): SparseMatrix {
  const { rows, indptr, indices, values } = matrix;
  const newIndptr = new Uint32Array(rows + 1);
  for (let r = 0; r < rows; r++) newIndptr[r + 1] = newIndptr[r]! + filledLength[r]!;
  const newIndices = new Uint32Array(newIndptr[rows]!);
  const newValues = new Float32Array(newIndptr[rows]!);
  for (let r = 0; r < rows; r++) {
    const length = filledLength[r]!;
    newIndices.set(indices.subarray(indptr[r]!, indptr[r]! + length), newIndptr[r]!);
    newValues.set(values.subarray(indptr[r]!, indptr[r]! + length), newIndptr[r]!);
  }
  return { rows, dim: matrix.dim, indptr: newIndptr, indices: newIndices, values: newValues };
}
