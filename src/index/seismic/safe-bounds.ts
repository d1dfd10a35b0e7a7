import { f16DecodeTable } from './f16.js';
import type { SeismicIndexData, TermIdArray } from './index-data.js';

/**
 * Block-max upper bounds for rank-safe search (mode "safe"), in the manner of BMP (Mallia et al.,
 * SIGIR 2024): the segment's rows are grouped into fixed-size blocks of similar documents, and for
 * every term the blocks containing it are listed with an upper bound of its weight there. A query
 * adds up q_t × bound over its terms' lists (one pass, no per-document work), then scores whole
 * blocks from the forward index, best bound first, until the next bound cannot reach the k-th
 * score. Nothing is pruned from the lists, so the result is the exact top-k of the segment's
 * stored vectors.
 *
 * Rows are grouped by their heaviest term, then their second heaviest (two stable counting
 * sorts): documents led by the same terms share a block, so each block's bound on those terms is
 * close to what its documents hold. The scoring core builds the same arrays from the forward index
 * in its memory when the first safe query reaches a segment (buildSafe in
 * src/scoring/assembly/core.ts); this is the readable reference it is tested against. Nothing is
 * stored in the segment file.
 */
export interface SafeBounds {
  /** Rows in block order: block b holds rowOrder[b × blockSize .. min(N, (b + 1) × blockSize)). */
  readonly rowOrder: Uint32Array;
  readonly blockSize: number;
  readonly blockCount: number;
  /** Term t's bounds are entries listStart[t] .. listStart[t + 1] of listBlocks/listLevels. */
  readonly listStart: Uint32Array;
  /** Block numbers, ascending within a term (16 bits: safeBlockSize keeps blocks under 65536). */
  readonly listBlocks: Uint16Array;
  /** Bound of the term's weight in that block: termScale[t] × level ≥ every weight it holds there (f32 arithmetic). */
  readonly listLevels: Uint8Array;
  readonly termScale: Float32Array;
  /**
   * A stored weight below zero: bounds of max(0, w) would not bound a negative query weight's
   * contribution, so every block is scored (still exact, no longer fast).
   */
  readonly unbounded: boolean;
}

/**
 * Rows per block. Smaller blocks bound tighter (fewer documents scored) but list more entries per
 * term (more bound arithmetic per query), and the bound pass grows with the collection while the
 * documents scored do not: 4 rows at SciFact's 5k documents, 8 at 100k, 16 from 300k (measured
 * with scripts/bench-compare.ts and the safe-mode probe: at 100k, 8 rows scored 175 documents per
 * query against 464 with 16, same p50, half the p99; at 5k, 4 rows were 3x faster than 16).
 */
export function defaultSafeBlockSize(docCount: number): number {
  const wanted = 8 * Math.sqrt(docCount / 100_000);
  let size = 4;
  while (size < 16 && size < wanted) size *= 2;
  return size;
}

export type ForwardIndex = Pick<
  SeismicIndexData,
  'docCount' | 'dim' | 'forwardIndptr' | 'forwardTerms' | 'forwardValues' | 'forwardScales' | 'forwardOffsets'
> & { readonly params: { readonly forwardValues: 'f32' | 'f16' | 'u8' } };

/** Weight of forward entry i of row d, widened to f32 as the scorers widen it. */
type WeightAt = (i: number, d: number) => number;

function weightReader(index: ForwardIndex): WeightAt {
  const { forwardValues, forwardScales, forwardOffsets } = index;
  const format = index.params.forwardValues;
  if (format === 'f32') {
    const values = forwardValues as Float32Array;
    return (i) => values[i]!;
  }
  if (format === 'f16') {
    const table = f16DecodeTable();
    const values = forwardValues as Uint16Array;
    return (i) => table[values[i]!]!;
  }
  const values = forwardValues as Uint8Array;
  // The scorers compute offset + scale × level in f32: the same rounding here.
  return (i, d) => Math.fround(forwardOffsets[d]! + Math.fround(forwardScales[d]! * values[i]!));
}

/** Each row's heaviest and second heaviest term (dim when it has none). */
function leadingTerms(index: ForwardIndex, weightAt: WeightAt): { first: Uint32Array; second: Uint32Array } {
  const { docCount, dim, forwardIndptr, forwardTerms } = index;
  const first = new Uint32Array(docCount).fill(dim);
  const second = new Uint32Array(docCount).fill(dim);
  for (let d = 0; d < docCount; d++) {
    let best = -Infinity;
    let runnerUp = -Infinity;
    for (let i = forwardIndptr[d]!; i < forwardIndptr[d + 1]!; i++) {
      const w = weightAt(i, d);
      if (w > best) {
        runnerUp = best;
        second[d] = first[d]!;
        best = w;
        first[d] = forwardTerms[i]!;
      } else if (w > runnerUp) {
        runnerUp = w;
        second[d] = forwardTerms[i]!;
      }
    }
  }
  return { first, second };
}

/** Stable counting sort of `rows` by key[row] (keys 0..keyCount-1). */
function sortRowsBy(rows: Uint32Array, key: Uint32Array, keyCount: number): Uint32Array {
  const counts = new Uint32Array(keyCount + 1);
  for (let i = 0; i < rows.length; i++) counts[key[rows[i]!]! + 1]!++;
  for (let k = 0; k < keyCount; k++) counts[k + 1]! += counts[k]!;
  const out = new Uint32Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[counts[key[rows[i]!]!]!++] = rows[i]!;
  return out;
}

export function buildSafeBounds(index: ForwardIndex, blockSize = safeBlockSize(index.docCount)): SafeBounds {
  const { docCount, dim, forwardIndptr } = index;
  const forwardTerms: TermIdArray = index.forwardTerms;
  const weightAt = weightReader(index);
  let unbounded = false;
  const termMax = new Float32Array(dim);
  for (let d = 0; d < docCount; d++) {
    for (let i = forwardIndptr[d]!; i < forwardIndptr[d + 1]!; i++) {
      const w = weightAt(i, d);
      if (w < 0) unbounded = true;
      const t = forwardTerms[i]!;
      if (w > termMax[t]!) termMax[t] = w;
    }
  }
  const { first, second } = leadingTerms(index, weightAt);
  let rowOrder: Uint32Array = new Uint32Array(docCount);
  for (let d = 0; d < docCount; d++) rowOrder[d] = d;
  rowOrder = sortRowsBy(rowOrder, second, dim + 1);
  rowOrder = sortRowsBy(rowOrder, first, dim + 1);

  // A level of 255 must reach the term's largest weight even after f32 rounding of scale × 255.
  const termScale = new Float32Array(dim);
  for (let t = 0; t < dim; t++) termScale[t] = termMax[t]! > 0 ? Math.fround((termMax[t]! / 255) * (1 + 2 ** -20)) : 0;

  const blockCount = Math.ceil(docCount / blockSize);
  // Per block: each term's largest weight (clamped at 0), -1 for terms not seen in the block.
  const blockMax = new Float32Array(dim).fill(-1);
  const touched = new Uint32Array(dim);
  const listStart = new Uint32Array(dim + 1);
  // Pass 1 counts each term's blocks, pass 2 fills them: no entry buffer the size of the index.
  let listBlocks = new Uint16Array(0);
  let listLevels = new Uint8Array(0);
  let next = new Uint32Array(0);
  for (let pass = 0; pass < 2; pass++) {
    for (let b = 0; b < blockCount; b++) {
      let touchedCount = 0;
      const end = Math.min(docCount, (b + 1) * blockSize);
      for (let r = b * blockSize; r < end; r++) {
        const row = rowOrder[r]!;
        for (let i = forwardIndptr[row]!; i < forwardIndptr[row + 1]!; i++) {
          const t = forwardTerms[i]!;
          const weight = weightAt(i, row);
          const w = weight > 0 ? weight : 0;
          const max = blockMax[t]!;
          if (max < 0) {
            blockMax[t] = w;
            touched[touchedCount++] = t;
          } else if (w > max) blockMax[t] = w;
        }
      }
      for (let j = 0; j < touchedCount; j++) {
        const t = touched[j]!;
        if (pass === 0) listStart[t + 1]!++;
        else {
          const at = next[t]!++;
          listBlocks[at] = b;
          listLevels[at] = boundLevel(blockMax[t]!, termScale[t]!);
        }
        blockMax[t] = -1;
      }
    }
    if (pass === 0) {
      for (let t = 0; t < dim; t++) listStart[t + 1]! += listStart[t]!;
      listBlocks = new Uint16Array(listStart[dim]!);
      listLevels = new Uint8Array(listStart[dim]!);
      next = listStart.slice(0, dim);
    }
  }
  return { rowOrder, blockSize, blockCount, listStart, listBlocks, listLevels, termScale, unbounded };
}

/** Rows per block for a segment: as asked (default defaultSafeBlockSize), or more where that many blocks would not fit 16-bit ids. */
export function safeBlockSize(docCount: number, wanted = defaultSafeBlockSize(docCount)): number {
  return Math.max(wanted, Math.ceil(docCount / 65536));
}

/** The smallest level whose f32 product with scale is at least max. */
function boundLevel(max: number, scale: number): number {
  if (max <= 0 || scale === 0) return 0;
  let level = Math.min(255, Math.ceil(max / scale));
  while (level < 255 && Math.fround(scale * level) < max) level++;
  return level;
}
