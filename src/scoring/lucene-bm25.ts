/**
 * BM25 arithmetic exactly as Lucene 8 evaluates it, so that sparrow's BM25 scores equal Lucene's
 * to the last float bit. Every intermediate is rounded to float32 (Math.fround) where Lucene's Java
 * code computes in float, and kept in double where Java uses double.
 *
 * Lucene 8 (BM25Similarity):
 *   idf(t)       = (float) ln(1 + (docCount - docFreq + 0.5) / (docFreq + 0.5))      (double, then float)
 *   avgdl        = (float) (sumTotalTermFreq / docCount)                             (double, then float)
 *   weight       = boost * idf                                                       (float)
 *   normInverse[n] = 1 / (k1 * ((1 - b) + b * LENGTH_TABLE[n] / avgdl))              (float)
 *   termScore    = weight - weight / (1 + freq * normInverse[n])                     (float)
 *   docScore     = (float) sum of termScores accumulated in double
 * which is weight * freq / (freq + k1 * (1 - b + b * dl / avgdl)) with no (k1 + 1) factor.
 *
 * Document length dl is not the exact token count: Lucene stores it in one byte (SmallFloat.intToByte4),
 * so long documents share a quantised length. That loss changes scores and rankings; it is reproduced here.
 */

/** Lengths 0..23 are stored exactly; above, 3 mantissa bits + exponent. */
const EXACT_LENGTHS = 24;

function bitLength(value: number): number {
  return value === 0 ? 0 : 32 - Math.clz32(value);
}

/** Encodes a non-negative int (< 2^31) as a 4-bit-mantissa float in 8 bits (values 0..255 of the byte). */
function encodeMantissa4(value: number): number {
  const bits = bitLength(value);
  if (bits < 4) return value;
  const shift = bits - 4;
  // Drop the implicit leading one: three explicit mantissa bits remain.
  return ((value >>> shift) & 0x07) | ((shift + 1) << 3);
}

function decodeMantissa4(code: number): number {
  const mantissa = code & 0x07;
  const shift = (code >>> 3) - 1;
  return shift === -1 ? mantissa : (mantissa | 0x08) * 2 ** shift;
}

/** Lucene's length-norm byte (0..255) for a field of `length` tokens. */
export function lengthToNormByte(length: number): number {
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`field length must be a non-negative integer, got ${length}`);
  const clamped = Math.min(length, 0x7fffffff);
  if (clamped < EXACT_LENGTHS) return clamped;
  return EXACT_LENGTHS + encodeMantissa4(clamped - EXACT_LENGTHS);
}

/** The length a norm byte stands for (lossy inverse of lengthToNormByte). */
export function normByteToLength(normByte: number): number {
  if (normByte < EXACT_LENGTHS) return normByte;
  return Math.min(EXACT_LENGTHS + decodeMantissa4(normByte - EXACT_LENGTHS), 0x7fffffff);
}

const LENGTH_TABLE: Float32Array = (() => {
  const table = new Float32Array(256);
  for (let i = 0; i < 256; i++) table[i] = normByteToLength(i);
  return table;
})();

export interface Bm25Parameters {
  readonly k1: number;
  readonly b: number;
}

export const DEFAULT_BM25: Bm25Parameters = Object.freeze({ k1: 0.9, b: 0.4 });

/** Lucene's idf as a float32 value. */
export function bm25Idf(docFreq: number, docCount: number): number {
  return Math.fround(Math.log(1 + (docCount - docFreq + 0.5) / (docFreq + 0.5)));
}

/** Lucene's average field length (float32). Zero documents give avgdl 1, as Lucene does. */
export function bm25AverageLength(sumTotalTermFreq: number, docCount: number): number {
  if (docCount <= 0 || sumTotalTermFreq <= 0) return 1;
  return Math.fround(sumTotalTermFreq / docCount);
}

/**
 * The 256 per-norm-byte factors 1 / (k1 * (1 - b + b * dl / avgdl)), computed once per query
 * (they depend on avgdl, which moves as the collection grows) and then looked up per posting.
 */
export function bm25NormInverseTable(params: Bm25Parameters, averageLength: number): Float32Array {
  const k1 = Math.fround(params.k1);
  const b = Math.fround(params.b);
  const avgdl = Math.fround(averageLength);
  const oneMinusB = Math.fround(1 - b);
  const table = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const lengthRatio = Math.fround(Math.fround(b * LENGTH_TABLE[i]!) / avgdl);
    table[i] = Math.fround(1 / Math.fround(k1 * Math.fround(oneMinusB + lengthRatio)));
  }
  return table;
}

/** One term's contribution, float32 as Lucene computes it; `weight` = fround(boost * idf). */
export function bm25TermScore(weight: number, freq: number, normInverse: number): number {
  return Math.fround(weight - Math.fround(weight / Math.fround(1 + Math.fround(freq * normInverse))));
}

/**
 * The same contribution written as a product query weight x document weight, the form the sparse
 * vector index stores: docWeight = freq / (freq + k1 * (1 - b + b * dl / avgdl)). Equal to
 * bm25TermScore up to float rounding; used where a document vector must stand alone (approximate index).
 */
export function bm25DocumentWeight(freq: number, normInverse: number): number {
  const scaled = freq * normInverse;
  return Math.fround(scaled / (1 + scaled));
}
