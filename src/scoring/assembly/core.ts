// sparrow scoring core: the hot loops of the approximate (Seismic) search, compiled to wasm32
// with SIMD. The host (src/scoring/wasm-core.ts, src/index/seismic/query-wasm.ts) owns the
// layout: it reserves memory through allocate(), copies the index arrays in, hands their
// addresses to configure(), then writes each query into the buffers reserveQuery() provides.
// Nothing here uses the managed heap; every array is a raw address into linear memory.
//
// The arithmetic must stay operation-for-operation identical to TsSeismicSearcher
// (src/index/seismic/query-ts.ts): f32 throughout, the same accumulation order, the same
// tie-breaking. Both scorers are tested to return bit-identical results.

// Status codes (negative returns); the host maps them to ScoringCoreError codes.
const STATUS_OUT_OF_MEMORY: i32 = -1;
const STATUS_BAD_QUERY: i32 = -2;
const STATUS_NOT_CONFIGURED: i32 = -3;

// Forward-index value formats.
const VALUES_F32: u32 = 0;
const VALUES_F16: u32 = 1;
const VALUES_U8: u32 = 2;

// 2^112: the exponent-bias gap between f16 and f32 (see f16 widening below).
const HALF_TO_SINGLE: f32 = 5.192296858534828e33;

// ---------------------------------------------------------------------------------------------
// Memory: a bump allocator above the static data. The index lives as long as the memory, so
// nothing is ever freed; a searcher that outgrows its scratch allocates a larger one.
//
// The memory is shared: several instances (the host's and those of search threads) allocate from
// it at once, so the top of the heap lives in the memory itself (the first word, which no data
// uses) and moves by compare-and-swap. Each instance keeps its own globals and scratch.

const HEAP_TOP_AT: usize = 0;
const RESERVED_BYTES: usize = 16;

/** Reserves bytes (16-byte aligned, zero-filled since memory only grows). 0 when out of memory. */
export function allocate(bytes: u32): usize {
  while (true) {
    let start = <usize>atomic.load<u32>(HEAP_TOP_AT);
    const observed = start;
    if (start == 0) {
      start = (__heap_base + 15) & ~(<usize>15);
      if (start < RESERVED_BYTES) start = RESERVED_BYTES;
    }
    const end: u64 = (<u64>start + <u64>bytes + 15) & ~(<u64>15);
    // wasm32 addresses stop at 4 GiB.
    if (end > 0xffff_0000) return 0;
    const neededPages = <i32>((end + 0xffff) >> 16);
    const currentPages = memory.size();
    if (neededPages > currentPages && memory.grow(neededPages - currentPages) < 0 && memory.size() < neededPages) return 0;
    if (atomic.cmpxchg<u32>(HEAP_TOP_AT, <u32>observed, <u32>end) == <u32>observed) return start;
  }
}

/** Bytes of linear memory in use (static data included), by every instance on this memory. */
export function usedBytes(): usize {
  return <usize>atomic.load<u32>(HEAP_TOP_AT);
}

// ---------------------------------------------------------------------------------------------
// The index (addresses of the arrays the host copied in; layout as in SeismicIndexData).

let configured = false;
let docCount: u32 = 0;
let dim: u32 = 0;
let wideTerms = false;
let valueFormat: u32 = VALUES_F32;
let forwardIndptr: usize = 0;
let forwardTerms: usize = 0;
let forwardValues: usize = 0;
let forwardScales: usize = 0;
let forwardOffsets: usize = 0;
let listBlockStart: usize = 0;
let blockDocStart: usize = 0;
let postingDocs: usize = 0;
let summaryStart: usize = 0;
let summaryTerms: usize = 0;
let summaryValues: usize = 0;
let summaryScale: usize = 0;
let summaryOffset: usize = 0;

// Scratch sized at configure time.
let denseQuery: usize = 0;
let visitedBits: usize = 0;
let excludedBits: usize = 0;
let bitsetWords: u32 = 0;

// Unvisited documents of the block being scored (as many as the largest block).
let blockCandidates: usize = 0;
// Summary scores and visiting order of the blocks of one list (as many as the longest list).
let listBlockScores: usize = 0;
let listBlockOrder: usize = 0;

// Scratch that grows with the query and with k.
let queryTerms: usize = 0;
let queryValues: usize = 0;
let queryOrder: usize = 0;
let queryCapacity: u32 = 0;
let heapScores: usize = 0;
let heapDocs: usize = 0;
let heapCapacity: u32 = 0;
let heapSize: u32 = 0;

// Work counters of the last search.
let statListsVisited: u32 = 0;
let statBlocksScored: u32 = 0;
let statBlocksSkipped: u32 = 0;
let statDocsScored: u32 = 0;

export function configure(
  documents: u32,
  dimension: u32,
  termBytes: u32,
  format: u32,
  forwardIndptrAt: usize,
  forwardTermsAt: usize,
  forwardValuesAt: usize,
  forwardScalesAt: usize,
  forwardOffsetsAt: usize,
  listBlockStartAt: usize,
  blockDocStartAt: usize,
  postingDocsAt: usize,
  summaryStartAt: usize,
  summaryTermsAt: usize,
  summaryValuesAt: usize,
  summaryScaleAt: usize,
  summaryOffsetAt: usize,
): i32 {
  configured = false;
  docCount = documents;
  dim = dimension;
  wideTerms = termBytes == 4;
  valueFormat = format;
  forwardIndptr = forwardIndptrAt;
  forwardTerms = forwardTermsAt;
  forwardValues = forwardValuesAt;
  forwardScales = forwardScalesAt;
  forwardOffsets = forwardOffsetsAt;
  listBlockStart = listBlockStartAt;
  blockDocStart = blockDocStartAt;
  postingDocs = postingDocsAt;
  summaryStart = summaryStartAt;
  summaryTerms = summaryTermsAt;
  summaryValues = summaryValuesAt;
  summaryScale = summaryScaleAt;
  summaryOffset = summaryOffsetAt;

  bitsetWords = (docCount + 31) >> 5;
  denseQuery = allocate(dim << 2);
  visitedBits = allocate(bitsetWords << 2);
  excludedBits = allocate(bitsetWords << 2);
  let largestBlock: u32 = 0;
  for (let b: u32 = 0; b < load<u32>(listBlockStart + (<usize>dim << 2)); b++) {
    const size = load<u32>(blockDocStart + (<usize>(b + 1) << 2)) - load<u32>(blockDocStart + (<usize>b << 2));
    if (size > largestBlock) largestBlock = size;
  }
  let mostBlocks: u32 = 0;
  for (let t: u32 = 0; t < dim; t++) {
    const blocks = load<u32>(listBlockStart + (<usize>(t + 1) << 2)) - load<u32>(listBlockStart + (<usize>t << 2));
    if (blocks > mostBlocks) mostBlocks = blocks;
  }
  blockCandidates = allocate(largestBlock << 2);
  listBlockScores = allocate(mostBlocks << 2);
  listBlockOrder = allocate(mostBlocks << 2);
  if (denseQuery == 0 || visitedBits == 0 || excludedBits == 0 || blockCandidates == 0 || listBlockScores == 0 || listBlockOrder == 0) {
    return STATUS_OUT_OF_MEMORY;
  }
  configured = true;
  return 0;
}

/** Makes room for a query of `length` components; the host then fills queryTermsAt/queryValuesAt. */
export function reserveQuery(length: u32): i32 {
  if (length <= queryCapacity) return 0;
  const terms = allocate(length << 2);
  const values = allocate(length << 2);
  const order = allocate(length << 2);
  if (terms == 0 || values == 0 || order == 0) return STATUS_OUT_OF_MEMORY;
  queryTerms = terms;
  queryValues = values;
  queryOrder = order;
  queryCapacity = length;
  return 0;
}

export function queryTermsAt(): usize {
  return queryTerms;
}
export function queryValuesAt(): usize {
  return queryValues;
}
/** The host copies the deletion bitset here (bitsetWords() words at most) before search(). */
export function excludedAt(): usize {
  return excludedBits;
}
export function bitsetWordCount(): u32 {
  return bitsetWords;
}
/** Results of the last search, best first: documents and their scores. */
export function resultDocsAt(): usize {
  return heapDocs;
}
export function resultScoresAt(): usize {
  return heapScores;
}
export function lastListsVisited(): u32 {
  return statListsVisited;
}
export function lastBlocksScored(): u32 {
  return statBlocksScored;
}
export function lastBlocksSkipped(): u32 {
  return statBlocksSkipped;
}
export function lastDocsScored(): u32 {
  return statDocsScored;
}

// ---------------------------------------------------------------------------------------------
// Top-k heap: root = worst kept result. Worse = lower score, or equal score and higher doc.

// @ts-ignore: decorator
@inline function worse(scoreA: f32, docA: u32, scoreB: f32, docB: u32): bool {
  return scoreA < scoreB || (scoreA == scoreB && docA > docB);
}

function siftDown(score: f32, doc: u32, size: u32): void {
  let i: u32 = 0;
  while (true) {
    let child: u32 = 2 * i + 1;
    if (child >= size) break;
    const right = child + 1;
    if (right < size) {
      const rightScore = load<f32>(heapScores + (<usize>right << 2));
      const leftScore = load<f32>(heapScores + (<usize>child << 2));
      if (worse(rightScore, load<u32>(heapDocs + (<usize>right << 2)), leftScore, load<u32>(heapDocs + (<usize>child << 2)))) child = right;
    }
    const childScore = load<f32>(heapScores + (<usize>child << 2));
    const childDoc = load<u32>(heapDocs + (<usize>child << 2));
    if (!worse(childScore, childDoc, score, doc)) break;
    store<f32>(heapScores + (<usize>i << 2), childScore);
    store<u32>(heapDocs + (<usize>i << 2), childDoc);
    i = child;
  }
  store<f32>(heapScores + (<usize>i << 2), score);
  store<u32>(heapDocs + (<usize>i << 2), doc);
}

// @ts-ignore: decorator
@inline function heapOffer(score: f32, doc: u32, k: u32): void {
  if (heapSize < k) {
    let i = heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentScore = load<f32>(heapScores + (<usize>parent << 2));
      const parentDoc = load<u32>(heapDocs + (<usize>parent << 2));
      if (!worse(score, doc, parentScore, parentDoc)) break;
      store<f32>(heapScores + (<usize>i << 2), parentScore);
      store<u32>(heapDocs + (<usize>i << 2), parentDoc);
      i = parent;
    }
    store<f32>(heapScores + (<usize>i << 2), score);
    store<u32>(heapDocs + (<usize>i << 2), doc);
    return;
  }
  if (worse(score, doc, load<f32>(heapScores), load<u32>(heapDocs))) return;
  siftDown(score, doc, heapSize);
}

/** Heap sort in place: best result first. */
function drainHeap(): void {
  for (let end = heapSize; end > 1; ) {
    end--;
    const lastScore = load<f32>(heapScores + (<usize>end << 2));
    const lastDoc = load<u32>(heapDocs + (<usize>end << 2));
    store<f32>(heapScores + (<usize>end << 2), load<f32>(heapScores));
    store<u32>(heapDocs + (<usize>end << 2), load<u32>(heapDocs));
    siftDown(lastScore, lastDoc, end);
  }
}

// ---------------------------------------------------------------------------------------------
// Query component order: the largest weights first, equal weights by position (= term order).

// @ts-ignore: decorator
@inline function comesBefore(a: u32, b: u32): bool {
  const valueA = load<f32>(queryValues + (<usize>a << 2));
  const valueB = load<f32>(queryValues + (<usize>b << 2));
  return valueA > valueB || (valueA == valueB && a < b);
}

function orderSiftDown(start: u32, size: u32): void {
  // Max-heap on "comes after": the root is the component that goes last.
  let i = start;
  const item = load<u32>(queryOrder + (<usize>i << 2));
  while (true) {
    let child: u32 = 2 * i + 1;
    if (child >= size) break;
    const right = child + 1;
    if (right < size && comesBefore(load<u32>(queryOrder + (<usize>child << 2)), load<u32>(queryOrder + (<usize>right << 2)))) child = right;
    const childItem = load<u32>(queryOrder + (<usize>child << 2));
    if (!comesBefore(item, childItem)) break;
    store<u32>(queryOrder + (<usize>i << 2), childItem);
    i = child;
  }
  store<u32>(queryOrder + (<usize>i << 2), item);
}

function orderQuery(length: u32): void {
  for (let i: u32 = 0; i < length; i++) store<u32>(queryOrder + (<usize>i << 2), i);
  if (length <= 64) {
    for (let i: u32 = 1; i < length; i++) {
      const item = load<u32>(queryOrder + (<usize>i << 2));
      let j = i;
      while (j > 0 && comesBefore(item, load<u32>(queryOrder + (<usize>(j - 1) << 2)))) {
        store<u32>(queryOrder + (<usize>j << 2), load<u32>(queryOrder + (<usize>(j - 1) << 2)));
        j--;
      }
      store<u32>(queryOrder + (<usize>j << 2), item);
    }
    return;
  }
  for (let i = <i32>(length >> 1) - 1; i >= 0; i--) orderSiftDown(<u32>i, length);
  for (let end = length - 1; end > 0; end--) {
    const top = load<u32>(queryOrder);
    store<u32>(queryOrder, load<u32>(queryOrder + (<usize>end << 2)));
    store<u32>(queryOrder + (<usize>end << 2), top);
    orderSiftDown(0, end);
  }
}

// ---------------------------------------------------------------------------------------------
// Hot loops take their arrays as parameters: locals stay in registers, globals are reloaded.

// @ts-ignore: decorator
@inline function gatherOne<T>(query: usize, terms: usize, position: usize): f32 {
  return load<f32>(query + (<usize>load<T>(terms + (position << alignof<T>())) << 2));
}

// @ts-ignore: decorator
@inline function gatherFour<T>(query: usize, terms: usize, position: usize): v128 {
  const at = terms + (position << alignof<T>());
  let lanes = f32x4.splat(load<f32>(query + (<usize>load<T>(at) << 2)));
  lanes = f32x4.replace_lane(lanes, 1, load<f32>(query + (<usize>load<T>(at, sizeof<T>()) << 2)));
  lanes = f32x4.replace_lane(lanes, 2, load<f32>(query + (<usize>load<T>(at, 2 * sizeof<T>()) << 2)));
  lanes = f32x4.replace_lane(lanes, 3, load<f32>(query + (<usize>load<T>(at, 3 * sizeof<T>()) << 2)));
  return lanes;
}

// @ts-ignore: decorator
@inline function widenHalf(half: u32): f32 {
  // (half & 0x7fff) << 13 read as f32 is the half's magnitude times 2^-112, for normal and
  // subnormal halves alike; the index never stores infinities or NaN.
  const magnitude = reinterpret<f32>((half & 0x7fff) << 13) * HALF_TO_SINGLE;
  return half & 0x8000 ? -magnitude : magnitude;
}

// Block summary against the dense query: offset_b × Σ q + scale_b × Σ q·level over the summary's
// entries, both sums over four lanes (entry i -> lane i mod 4) combined as (l0 + l1) + (l2 + l3).
function summaryScore<T>(block: u32, query: usize, terms: usize, levelsAt: usize): f32 {
  const start = <usize>load<u32>(summaryStart + (<usize>block << 2));
  const end = <usize>load<u32>(summaryStart + (<usize>(block + 1) << 2));
  let weights = f32x4.splat(0);
  let weighted = f32x4.splat(0);
  let i = start;
  const end4 = start + ((end - start) & ~(<usize>3));
  for (; i < end4; i += 4) {
    const q = gatherFour<T>(query, terms, i);
    const levels = f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(levelsAt + i))));
    weights = f32x4.add(weights, q);
    weighted = f32x4.add(weighted, f32x4.mul(q, levels));
  }
  let w0 = f32x4.extract_lane(weights, 0);
  let w1 = f32x4.extract_lane(weights, 1);
  let w2 = f32x4.extract_lane(weights, 2);
  const w3 = f32x4.extract_lane(weights, 3);
  let v0 = f32x4.extract_lane(weighted, 0);
  let v1 = f32x4.extract_lane(weighted, 1);
  let v2 = f32x4.extract_lane(weighted, 2);
  const v3 = f32x4.extract_lane(weighted, 3);
  if (i < end) {
    const q = gatherOne<T>(query, terms, i);
    w0 += q;
    v0 += q * <f32>load<u8>(levelsAt + i);
  }
  if (i + 1 < end) {
    const q = gatherOne<T>(query, terms, i + 1);
    w1 += q;
    v1 += q * <f32>load<u8>(levelsAt + i + 1);
  }
  if (i + 2 < end) {
    const q = gatherOne<T>(query, terms, i + 2);
    w2 += q;
    v2 += q * <f32>load<u8>(levelsAt + i + 2);
  }
  const weightSum = w0 + w1 + (w2 + w3);
  const weightedSum = v0 + v1 + (v2 + v3);
  return load<f32>(summaryOffset + (<usize>block << 2)) * weightSum + load<f32>(summaryScale + (<usize>block << 2)) * weightedSum;
}

// Exact document scores against the dense query. Four lanes: entry i of a document goes to lane
// i mod 4; the lanes are combined as (l0 + l1) + (l2 + l3).

// @ts-ignore: decorator
@inline function valuesF32(values: usize, i: usize): v128 {
  return v128.load(values + (i << 2));
}

// @ts-ignore: decorator
@inline function valuesF16(values: usize, i: usize): v128 {
  const halves = i32x4.extend_low_i16x8_u(v128.load64_zero(values + (i << 1)));
  const magnitude = f32x4.mul(i32x4.shl(v128.and(halves, i32x4.splat(0x7fff)), 13), f32x4.splat(HALF_TO_SINGLE));
  return v128.or(magnitude, i32x4.shl(v128.and(halves, i32x4.splat(0x8000)), 16));
}

// @ts-ignore: decorator
@inline function finishF32<T>(lanes: v128, i: usize, end: usize, query: usize, terms: usize, values: usize): f32 {
  let a0 = f32x4.extract_lane(lanes, 0);
  let a1 = f32x4.extract_lane(lanes, 1);
  let a2 = f32x4.extract_lane(lanes, 2);
  const a3 = f32x4.extract_lane(lanes, 3);
  if (i < end) a0 += gatherOne<T>(query, terms, i) * load<f32>(values + (i << 2));
  if (i + 1 < end) a1 += gatherOne<T>(query, terms, i + 1) * load<f32>(values + ((i + 1) << 2));
  if (i + 2 < end) a2 += gatherOne<T>(query, terms, i + 2) * load<f32>(values + ((i + 2) << 2));
  return a0 + a1 + (a2 + a3);
}

// @ts-ignore: decorator
@inline function finishF16<T>(lanes: v128, i: usize, end: usize, query: usize, terms: usize, values: usize): f32 {
  let a0 = f32x4.extract_lane(lanes, 0);
  let a1 = f32x4.extract_lane(lanes, 1);
  let a2 = f32x4.extract_lane(lanes, 2);
  const a3 = f32x4.extract_lane(lanes, 3);
  if (i < end) a0 += gatherOne<T>(query, terms, i) * widenHalf(load<u16>(values + (i << 1)));
  if (i + 1 < end) a1 += gatherOne<T>(query, terms, i + 1) * widenHalf(load<u16>(values + ((i + 1) << 1)));
  if (i + 2 < end) a2 += gatherOne<T>(query, terms, i + 2) * widenHalf(load<u16>(values + ((i + 2) << 1)));
  return a0 + a1 + (a2 + a3);
}

function dotF32<T>(start: usize, end: usize, query: usize, terms: usize, values: usize): f32 {
  let lanes = f32x4.splat(0);
  let i = start;
  const end4 = start + ((end - start) & ~(<usize>3));
  for (; i < end4; i += 4) lanes = f32x4.add(lanes, f32x4.mul(gatherFour<T>(query, terms, i), valuesF32(values, i)));
  return finishF32<T>(lanes, i, end, query, terms, values);
}

function dotF16<T>(start: usize, end: usize, query: usize, terms: usize, values: usize): f32 {
  let lanes = f32x4.splat(0);
  let i = start;
  const end4 = start + ((end - start) & ~(<usize>3));
  for (; i < end4; i += 4) lanes = f32x4.add(lanes, f32x4.mul(gatherFour<T>(query, terms, i), valuesF16(values, i)));
  return finishF16<T>(lanes, i, end, query, terms, values);
}

function dotU8<T>(start: usize, end: usize, query: usize, terms: usize, values: usize, scale: f32, offset: f32): f32 {
  let lanes = f32x4.splat(0);
  const scales = f32x4.splat(scale);
  const offsets = f32x4.splat(offset);
  let i = start;
  const end4 = start + ((end - start) & ~(<usize>3));
  for (; i < end4; i += 4) {
    const levels = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(values + i)));
    const weights = f32x4.add(offsets, f32x4.mul(scales, f32x4.convert_i32x4_u(levels)));
    lanes = f32x4.add(lanes, f32x4.mul(gatherFour<T>(query, terms, i), weights));
  }
  let a0 = f32x4.extract_lane(lanes, 0);
  let a1 = f32x4.extract_lane(lanes, 1);
  let a2 = f32x4.extract_lane(lanes, 2);
  const a3 = f32x4.extract_lane(lanes, 3);
  if (i < end) a0 += gatherOne<T>(query, terms, i) * (offset + scale * <f32>load<u8>(values + i));
  if (i + 1 < end) a1 += gatherOne<T>(query, terms, i + 1) * (offset + scale * <f32>load<u8>(values + i + 1));
  if (i + 2 < end) a2 += gatherOne<T>(query, terms, i + 2) * (offset + scale * <f32>load<u8>(values + i + 2));
  return a0 + a1 + (a2 + a3);
}

// @ts-ignore: decorator
@inline function scoreDocument<T>(doc: u32, query: usize, terms: usize, values: usize): f32 {
  const start = <usize>load<u32>(forwardIndptr + (<usize>doc << 2));
  const end = <usize>load<u32>(forwardIndptr + (<usize>(doc + 1) << 2));
  if (valueFormat == VALUES_F32) return dotF32<T>(start, end, query, terms, values);
  if (valueFormat == VALUES_F16) return dotF16<T>(start, end, query, terms, values);
  return dotU8<T>(start, end, query, terms, values, load<f32>(forwardScales + (<usize>doc << 2)), load<f32>(forwardOffsets + (<usize>doc << 2)));
}

// Two documents scored in lockstep: their loads are independent, so the memory system fetches
// both at once instead of one after the other (wasm has no prefetch instruction). Each document
// keeps its own lanes, so both scores are bit-identical to scoring them one at a time. The
// second score is left in pairSecond. (u8 documents are scored one after the other.)
let pairSecond: f32 = 0;

function dotPairF32<T>(startA: usize, endA: usize, startB: usize, endB: usize, query: usize, terms: usize, values: usize): f32 {
  let lanesA = f32x4.splat(0);
  let lanesB = f32x4.splat(0);
  let i = startA;
  let j = startB;
  const endA4 = startA + ((endA - startA) & ~(<usize>3));
  const endB4 = startB + ((endB - startB) & ~(<usize>3));
  for (; i < endA4 && j < endB4; i += 4, j += 4) {
    lanesA = f32x4.add(lanesA, f32x4.mul(gatherFour<T>(query, terms, i), valuesF32(values, i)));
    lanesB = f32x4.add(lanesB, f32x4.mul(gatherFour<T>(query, terms, j), valuesF32(values, j)));
  }
  for (; i < endA4; i += 4) lanesA = f32x4.add(lanesA, f32x4.mul(gatherFour<T>(query, terms, i), valuesF32(values, i)));
  for (; j < endB4; j += 4) lanesB = f32x4.add(lanesB, f32x4.mul(gatherFour<T>(query, terms, j), valuesF32(values, j)));
  pairSecond = finishF32<T>(lanesB, j, endB, query, terms, values);
  return finishF32<T>(lanesA, i, endA, query, terms, values);
}

function dotPairF16<T>(startA: usize, endA: usize, startB: usize, endB: usize, query: usize, terms: usize, values: usize): f32 {
  let lanesA = f32x4.splat(0);
  let lanesB = f32x4.splat(0);
  let i = startA;
  let j = startB;
  const endA4 = startA + ((endA - startA) & ~(<usize>3));
  const endB4 = startB + ((endB - startB) & ~(<usize>3));
  for (; i < endA4 && j < endB4; i += 4, j += 4) {
    lanesA = f32x4.add(lanesA, f32x4.mul(gatherFour<T>(query, terms, i), valuesF16(values, i)));
    lanesB = f32x4.add(lanesB, f32x4.mul(gatherFour<T>(query, terms, j), valuesF16(values, j)));
  }
  for (; i < endA4; i += 4) lanesA = f32x4.add(lanesA, f32x4.mul(gatherFour<T>(query, terms, i), valuesF16(values, i)));
  for (; j < endB4; j += 4) lanesB = f32x4.add(lanesB, f32x4.mul(gatherFour<T>(query, terms, j), valuesF16(values, j)));
  pairSecond = finishF16<T>(lanesB, j, endB, query, terms, values);
  return finishF16<T>(lanesA, i, endA, query, terms, values);
}

// @ts-ignore: decorator
@inline function scorePair<T>(docA: u32, docB: u32, query: usize, terms: usize, values: usize): f32 {
  const startA = <usize>load<u32>(forwardIndptr + (<usize>docA << 2));
  const endA = <usize>load<u32>(forwardIndptr + (<usize>(docA + 1) << 2));
  const startB = <usize>load<u32>(forwardIndptr + (<usize>docB << 2));
  const endB = <usize>load<u32>(forwardIndptr + (<usize>(docB + 1) << 2));
  if (valueFormat == VALUES_F32) return dotPairF32<T>(startA, endA, startB, endB, query, terms, values);
  if (valueFormat == VALUES_F16) return dotPairF16<T>(startA, endA, startB, endB, query, terms, values);
  pairSecond = dotU8<T>(startB, endB, query, terms, values, load<f32>(forwardScales + (<usize>docB << 2)), load<f32>(forwardOffsets + (<usize>docB << 2)));
  return dotU8<T>(startA, endA, query, terms, values, load<f32>(forwardScales + (<usize>docA << 2)), load<f32>(forwardOffsets + (<usize>docA << 2)));
}

// Blocks of a list are visited best summary first (ties: lower block first), so the heap fills
// with strong documents early and the first block below the threshold ends the list.

// @ts-ignore: decorator
@inline function blockComesBefore(a: u32, b: u32): bool {
  const scoreA = load<f32>(listBlockScores + (<usize>a << 2));
  const scoreB = load<f32>(listBlockScores + (<usize>b << 2));
  return scoreA > scoreB || (scoreA == scoreB && a < b);
}

function blockOrderSiftDown(start: u32, size: u32): void {
  // Max-heap on "comes after": the root is the block visited last.
  let i = start;
  const item = load<u32>(listBlockOrder + (<usize>i << 2));
  while (true) {
    let child: u32 = 2 * i + 1;
    if (child >= size) break;
    const right = child + 1;
    if (right < size && blockComesBefore(load<u32>(listBlockOrder + (<usize>child << 2)), load<u32>(listBlockOrder + (<usize>right << 2)))) child = right;
    const childItem = load<u32>(listBlockOrder + (<usize>child << 2));
    if (!blockComesBefore(item, childItem)) break;
    store<u32>(listBlockOrder + (<usize>i << 2), childItem);
    i = child;
  }
  store<u32>(listBlockOrder + (<usize>i << 2), item);
}

function orderBlocks(count: u32): void {
  for (let i: u32 = 0; i < count; i++) store<u32>(listBlockOrder + (<usize>i << 2), i);
  if (count <= 16) {
    for (let i: u32 = 1; i < count; i++) {
      const item = load<u32>(listBlockOrder + (<usize>i << 2));
      let j = i;
      while (j > 0 && blockComesBefore(item, load<u32>(listBlockOrder + (<usize>(j - 1) << 2)))) {
        store<u32>(listBlockOrder + (<usize>j << 2), load<u32>(listBlockOrder + (<usize>(j - 1) << 2)));
        j--;
      }
      store<u32>(listBlockOrder + (<usize>j << 2), item);
    }
    return;
  }
  for (let i = <i32>(count >> 1) - 1; i >= 0; i--) blockOrderSiftDown(<u32>i, count);
  for (let end = count - 1; end > 0; end--) {
    const top = load<u32>(listBlockOrder);
    store<u32>(listBlockOrder, load<u32>(listBlockOrder + (<usize>end << 2)));
    store<u32>(listBlockOrder + (<usize>end << 2), top);
    blockOrderSiftDown(0, end);
  }
}

// ---------------------------------------------------------------------------------------------
// Search.

/** Scores the unvisited, undeleted documents of block b into the heap. */
function scoreBlock<T>(b: u32, k: u32, excludedWords: u32, query: usize, docTerms: usize, docValues: usize): void {
  const postingEnd = load<u32>(blockDocStart + (<usize>(b + 1) << 2));
  let candidates: u32 = 0;
  for (let p = load<u32>(blockDocStart + (<usize>b << 2)); p < postingEnd; p++) {
    const doc = load<u32>(postingDocs + (<usize>p << 2));
    const word = doc >> 5;
    const bit: u32 = 1 << (doc & 31);
    const wordAt = visitedBits + (<usize>word << 2);
    const visited = load<u32>(wordAt);
    if (visited & bit) continue;
    store<u32>(wordAt, visited | bit);
    if (word < excludedWords && (load<u32>(excludedBits + (<usize>word << 2)) & bit)) continue;
    store<u32>(blockCandidates + (<usize>candidates << 2), doc);
    candidates++;
  }
  statDocsScored += candidates;
  // The heap's content after the block does not depend on the order of offers.
  let c: u32 = 0;
  for (; c + 1 < candidates; c += 2) {
    const docA = load<u32>(blockCandidates + (<usize>c << 2));
    const docB = load<u32>(blockCandidates + (<usize>(c + 1) << 2));
    const scoreA = scorePair<T>(docA, docB, query, docTerms, docValues);
    heapOffer(scoreA, docA, k);
    heapOffer(pairSecond, docB, k);
  }
  if (c < candidates) {
    const doc = load<u32>(blockCandidates + (<usize>c << 2));
    heapOffer(scoreDocument<T>(doc, query, docTerms, docValues), doc, k);
  }
}

function searchLists<T>(k: u32, listsVisited: u32, heapFactor: f32, excludedWords: u32): void {
  const query = denseQuery;
  const docTerms = forwardTerms;
  const docValues = forwardValues;
  const blockTerms = summaryTerms;
  const blockLevels = summaryValues;
  for (let l: u32 = 0; l < listsVisited; l++) {
    const term = load<u32>(queryTerms + (<usize>load<u32>(queryOrder + (<usize>l << 2)) << 2));
    const firstBlock = load<u32>(listBlockStart + (<usize>term << 2));
    const blockCount = load<u32>(listBlockStart + (<usize>(term + 1) << 2)) - firstBlock;
    if (blockCount == 0) continue;
    statListsVisited++;
    if (heapFactor <= 0) {
      // Nothing is ever skipped: no summaries needed, natural order.
      for (let b: u32 = 0; b < blockCount; b++) scoreBlock<T>(firstBlock + b, k, excludedWords, query, docTerms, docValues);
      statBlocksScored += blockCount;
      continue;
    }
    for (let b: u32 = 0; b < blockCount; b++) {
      store<f32>(listBlockScores + (<usize>b << 2), summaryScore<T>(firstBlock + b, query, blockTerms, blockLevels));
    }
    orderBlocks(blockCount);
    for (let position: u32 = 0; position < blockCount; position++) {
      const b = load<u32>(listBlockOrder + (<usize>position << 2));
      // Summary scores only fall from here on and the threshold only rises: the rest is skipped.
      if (heapSize == k && load<f32>(listBlockScores + (<usize>b << 2)) < heapFactor * load<f32>(heapScores)) {
        statBlocksSkipped += blockCount - position;
        break;
      }
      statBlocksScored++;
      scoreBlock<T>(firstBlock + b, k, excludedWords, query, docTerms, docValues);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// kNN refinement: each result's nearest documents (the segment's kNN graph, format version 2)
// are scored too, once the lists are done.

const NO_NEIGHBOR: u32 = 0xffffffff;
let knnNeighbors: usize = 0;
let knnStored: u32 = 0;
// The results whose neighbours are scored (a copy: the heap changes while they are).
let knnSeeds: usize = 0;
let knnSeedCapacity: u32 = 0;

/** Installs the kNN graph: row d's neighbours are u32 entries d × stored .. (d + 1) × stored. */
export function configureKnn(neighborsAt: usize, stored: u32): i32 {
  if (!configured) return STATUS_NOT_CONFIGURED;
  knnNeighbors = neighborsAt;
  knnStored = stored;
  return 0;
}

function refineWithNeighbors<T>(k: u32, perResult: u32, excludedWords: u32): void {
  const seeds = heapSize;
  if (seeds > knnSeedCapacity) {
    const at = allocate(seeds << 2);
    if (at == 0) return;
    knnSeeds = at;
    knnSeedCapacity = seeds;
  }
  memory.copy(knnSeeds, heapDocs, <usize>seeds << 2);
  const used = perResult < knnStored ? perResult : knnStored;
  const query = denseQuery;
  const docTerms = forwardTerms;
  const docValues = forwardValues;
  for (let s: u32 = 0; s < seeds; s++) {
    const row = <usize>load<u32>(knnSeeds + (<usize>s << 2)) * knnStored;
    for (let n: u32 = 0; n < used; n++) {
      const doc = load<u32>(knnNeighbors + ((row + n) << 2));
      if (doc == NO_NEIGHBOR) break;
      const word = doc >> 5;
      const bit: u32 = 1 << (doc & 31);
      const wordAt = visitedBits + (<usize>word << 2);
      const visited = load<u32>(wordAt);
      if (visited & bit) continue;
      store<u32>(wordAt, visited | bit);
      if (word < excludedWords && (load<u32>(excludedBits + (<usize>word << 2)) & bit)) continue;
      statDocsScored++;
      // A neighbour that shares no term with the query scores 0: it is no result.
      const score = scoreDocument<T>(doc, query, docTerms, docValues);
      if (score > 0) heapOffer(score, doc, k);
    }
  }
}

/**
 * Top-k of the query in queryTermsAt()/queryValuesAt() (ascending term ids). Returns the number
 * of results (read them at resultDocsAt()/resultScoresAt()) or a negative status.
 * excludedWords: how many words of the deletion bitset the host copied (0 = none).
 * knn: neighbours of each result to score from the kNN graph (0: none; at most those stored).
 */
export function search(queryLength: u32, k: u32, queryCut: u32, heapFactor: f32, excludedWords: u32, knn: u32): i32 {
  if (!configured) return STATUS_NOT_CONFIGURED;
  const ready = beginSearch(queryLength, k);
  if (ready <= 0) return ready;
  k = <u32>ready;
  if (excludedWords > bitsetWords) excludedWords = bitsetWords;
  orderQuery(queryLength);
  const listsVisited = queryCut < queryLength ? queryCut : queryLength;
  if (wideTerms) searchLists<u32>(k, listsVisited, heapFactor, excludedWords);
  else searchLists<u16>(k, listsVisited, heapFactor, excludedWords);
  if (knn > 0 && knnStored > 0) {
    if (wideTerms) refineWithNeighbors<u32>(k, knn, excludedWords);
    else refineWithNeighbors<u16>(k, knn, excludedWords);
  }
  memory.fill(visitedBits, 0, <usize>bitsetWords << 2);
  return endSearch(queryLength);
}

/**
 * What every search does first: resets the counters, checks the query, makes room for k results
 * and spreads the query into the dense array. Returns k (capped at the documents), 0 when there
 * is nothing to do, or a negative status.
 */
function beginSearch(queryLength: u32, k: u32): i32 {
  statListsVisited = 0;
  statBlocksScored = 0;
  statBlocksSkipped = 0;
  statDocsScored = 0;
  if (k > docCount) k = docCount;
  if (k == 0 || queryLength == 0) return 0;
  if (queryLength > queryCapacity) return STATUS_BAD_QUERY;
  for (let j: u32 = 0; j < queryLength; j++) {
    if (load<u32>(queryTerms + (<usize>j << 2)) >= dim) return STATUS_BAD_QUERY;
  }
  if (k > heapCapacity) {
    const scores = allocate(k << 2);
    const docs = allocate(k << 2);
    if (scores == 0 || docs == 0) return STATUS_OUT_OF_MEMORY;
    heapScores = scores;
    heapDocs = docs;
    heapCapacity = k;
  }
  heapSize = 0;
  for (let j: u32 = 0; j < queryLength; j++) {
    store<f32>(denseQuery + (<usize>load<u32>(queryTerms + (<usize>j << 2)) << 2), load<f32>(queryValues + (<usize>j << 2)));
  }
  return <i32>k;
}

/** What every search does last: clears the dense query and sorts the results, best first. */
function endSearch(queryLength: u32): i32 {
  for (let j: u32 = 0; j < queryLength; j++) {
    store<f32>(denseQuery + (<usize>load<u32>(queryTerms + (<usize>j << 2)) << 2), 0);
  }
  drainHeap();
  return <i32>heapSize;
}

// ---------------------------------------------------------------------------------------------
// Rank-safe search (mode "safe"): block-max bounds over fixed-size row blocks, built by the host
// (src/index/seismic/safe-bounds.ts). Scores use the exact engine's arithmetic (f32 products,
// summed in f64 in ascending term order, rounded to f32 once), so a segment built with f32
// forward values answers bit for bit what brute force over the same vectors answers.

let safeConfigured = false;
let safeRowOrder: usize = 0;
let safeBlockSize: u32 = 0;
let safeBlockCount: u32 = 0;
let safeListStart: usize = 0;
let safeListBlocks: usize = 0;
let safeListLevels: usize = 0;
let safeTermScale: usize = 0;
let safeUnbounded = false;
// Scratch: each block's bound, whether this query touched it, and the visiting heap.
let safeBounds: usize = 0;
let safeMarks: usize = 0;
let safeHeap: usize = 0;

// The bounds are built here, from the forward index already in this memory (the host's
// reference implementation, buildSafeBounds in src/index/seismic/safe-bounds.ts, is tested to
// give the same arrays). Temporaries stay allocated: the bump allocator never frees.
// @ts-ignore: decorator
@inline function termAt<T>(i: usize): u32 {
  return <u32>load<T>(forwardTerms + (i << alignof<T>()));
}

// @ts-ignore: decorator
@inline function weightOf(i: usize, doc: u32): f32 {
  if (valueFormat == VALUES_U8) return forwardWeight(i, load<f32>(forwardScales + (<usize>doc << 2)), load<f32>(forwardOffsets + (<usize>doc << 2)));
  return forwardWeight(i, 0, 0);
}

/** Stable counting sort of rows (u32 × docCount at `from`) by key[row] (< keyCount) into `to`. */
function sortRowsBy(from: usize, to: usize, key: usize, counts: usize, keyCount: u32): void {
  memory.fill(counts, 0, (<usize>keyCount + 1) << 2);
  for (let i: u32 = 0; i < docCount; i++) {
    const at = counts + ((<usize>load<u32>(key + (<usize>load<u32>(from + (<usize>i << 2)) << 2)) + 1) << 2);
    store<u32>(at, load<u32>(at) + 1);
  }
  for (let k: u32 = 0; k < keyCount; k++) {
    store<u32>(counts + ((<usize>k + 1) << 2), load<u32>(counts + ((<usize>k + 1) << 2)) + load<u32>(counts + (<usize>k << 2)));
  }
  for (let i: u32 = 0; i < docCount; i++) {
    const row = load<u32>(from + (<usize>i << 2));
    const at = counts + (<usize>load<u32>(key + (<usize>row << 2)) << 2);
    const slot = load<u32>(at);
    store<u32>(at, slot + 1);
    store<u32>(to + (<usize>slot << 2), row);
  }
}

// @ts-ignore: decorator
@inline function boundLevel(max: f32, scale: f32): u32 {
  if (max <= 0 || scale == 0) return 0;
  const quotient = Math.ceil(<f64>max / <f64>scale);
  let level: u32 = quotient > 255 ? 255 : <u32>quotient;
  while (level < 255 && scale * <f32>level < max) level++;
  return level;
}

function buildSafeWith<T>(blockSize: u32): i32 {
  const rows = docCount;
  const termMax = allocate(dim << 2);
  const first = allocate(rows << 2);
  const second = allocate(rows << 2);
  const counts = allocate((dim + 2) << 2);
  const order = allocate(rows << 2);
  const spare = allocate(rows << 2);
  const blockMax = allocate(dim << 2);
  const touched = allocate(dim << 2);
  const listStart = allocate((dim + 1) << 2);
  const termScale = allocate(dim << 2);
  if (termMax == 0 || first == 0 || second == 0 || counts == 0 || order == 0 || spare == 0 || blockMax == 0 || touched == 0 || listStart == 0 || termScale == 0) {
    return STATUS_OUT_OF_MEMORY;
  }
  let unbounded = false;
  // Each term's largest weight, and each row's heaviest and second heaviest term (dim: none).
  for (let d: u32 = 0; d < rows; d++) {
    let best: f32 = -Infinity;
    let runnerUp: f32 = -Infinity;
    let bestTerm = dim;
    let secondTerm = dim;
    const end = <usize>load<u32>(forwardIndptr + ((<usize>d + 1) << 2));
    for (let i = <usize>load<u32>(forwardIndptr + (<usize>d << 2)); i < end; i++) {
      const w = weightOf(i, d);
      const t = termAt<T>(i);
      if (w < 0) unbounded = true;
      const maxAt = termMax + (<usize>t << 2);
      if (w > load<f32>(maxAt)) store<f32>(maxAt, w);
      if (w > best) {
        runnerUp = best;
        secondTerm = bestTerm;
        best = w;
        bestTerm = t;
      } else if (w > runnerUp) {
        runnerUp = w;
        secondTerm = t;
      }
    }
    store<u32>(first + (<usize>d << 2), bestTerm);
    store<u32>(second + (<usize>d << 2), secondTerm);
  }
  for (let d: u32 = 0; d < rows; d++) store<u32>(spare + (<usize>d << 2), d);
  sortRowsBy(spare, order, second, counts, dim + 1);
  sortRowsBy(order, spare, first, counts, dim + 1);
  const rowOrder = spare;
  // A level of 255 must reach the term's largest weight even after f32 rounding of scale × 255.
  for (let t: u32 = 0; t < dim; t++) {
    const max = load<f32>(termMax + (<usize>t << 2));
    store<f32>(termScale + (<usize>t << 2), max > 0 ? <f32>((<f64>max / 255) * (1 + 9.5367431640625e-7)) : 0);
  }
  const blockCount = (rows + blockSize - 1) / blockSize;
  for (let t: u32 = 0; t < dim; t++) store<f32>(blockMax + (<usize>t << 2), -1);
  // Pass 0 counts each term's blocks, pass 1 fills them.
  let listBlocks: usize = 0;
  let listLevels: usize = 0;
  const next = counts;
  for (let pass = 0; pass < 2; pass++) {
    for (let b: u32 = 0; b < blockCount; b++) {
      let touchedCount: u32 = 0;
      const endRow = b * blockSize + blockSize < rows ? b * blockSize + blockSize : rows;
      for (let r = b * blockSize; r < endRow; r++) {
        const row = load<u32>(rowOrder + (<usize>r << 2));
        const end = <usize>load<u32>(forwardIndptr + ((<usize>row + 1) << 2));
        for (let i = <usize>load<u32>(forwardIndptr + (<usize>row << 2)); i < end; i++) {
          const t = termAt<T>(i);
          const weight = weightOf(i, row);
          const w: f32 = weight > 0 ? weight : 0;
          const maxAt = blockMax + (<usize>t << 2);
          const max = load<f32>(maxAt);
          if (max < 0) {
            store<f32>(maxAt, w);
            store<u32>(touched + (<usize>touchedCount << 2), t);
            touchedCount++;
          } else if (w > max) store<f32>(maxAt, w);
        }
      }
      for (let j: u32 = 0; j < touchedCount; j++) {
        const t = load<u32>(touched + (<usize>j << 2));
        const maxAt = blockMax + (<usize>t << 2);
        if (pass == 0) {
          const at = listStart + ((<usize>t + 1) << 2);
          store<u32>(at, load<u32>(at) + 1);
        } else {
          const at = next + (<usize>t << 2);
          const slot = load<u32>(at);
          store<u32>(at, slot + 1);
          store<u16>(listBlocks + (<usize>slot << 1), <u16>b);
          store<u8>(listLevels + <usize>slot, <u8>boundLevel(load<f32>(maxAt), load<f32>(termScale + (<usize>t << 2))));
        }
        store<f32>(maxAt, -1);
      }
    }
    if (pass == 0) {
      for (let t: u32 = 0; t < dim; t++) {
        store<u32>(listStart + ((<usize>t + 1) << 2), load<u32>(listStart + ((<usize>t + 1) << 2)) + load<u32>(listStart + (<usize>t << 2)));
      }
      const entries = load<u32>(listStart + (<usize>dim << 2));
      listBlocks = allocate(entries << 1);
      listLevels = allocate(entries);
      if (entries > 0 && (listBlocks == 0 || listLevels == 0)) return STATUS_OUT_OF_MEMORY;
      memory.copy(next, listStart, <usize>dim << 2);
    }
  }
  safeRowOrder = rowOrder;
  safeBlockSize = blockSize;
  safeBlockCount = blockCount;
  safeListStart = listStart;
  safeListBlocks = listBlocks;
  safeListLevels = listLevels;
  safeTermScale = termScale;
  safeUnbounded = unbounded;
  return 0;
}

/**
 * Builds the safe-mode bounds over blocks of blockSize rows (block numbers must fit 16 bits).
 * Addresses of the arrays: safeArraysAt(); 0 or a negative status.
 */
export function buildSafe(blockSize: u32): i32 {
  if (!configured) return STATUS_NOT_CONFIGURED;
  if (blockSize == 0 || (docCount + blockSize - 1) / blockSize > 65536) return STATUS_BAD_QUERY;
  safeConfigured = false;
  const status = wideTerms ? buildSafeWith<u32>(blockSize) : buildSafeWith<u16>(blockSize);
  if (status < 0) return status;
  safeBounds = allocate(safeBlockCount << 2);
  safeMarks = allocate(safeBlockCount);
  safeHeap = allocate(safeBlockCount << 2);
  if (safeBlockCount > 0 && (safeBounds == 0 || safeMarks == 0 || safeHeap == 0)) return STATUS_OUT_OF_MEMORY;
  safeConfigured = true;
  return 0;
}

/** Where the bounds live: 0 row order, 1 list starts, 2 list blocks (u16), 3 list levels, 4 term scales, 5 block count, 6 unbounded. */
export function safeArrayAt(which: u32): usize {
  if (which == 0) return safeRowOrder;
  if (which == 1) return safeListStart;
  if (which == 2) return safeListBlocks;
  if (which == 3) return safeListLevels;
  if (which == 4) return safeTermScale;
  if (which == 5) return safeBlockCount;
  return safeUnbounded ? 1 : 0;
}

// Set by exactScore: whether the document holds any query term (only those are results, as in
// the exact engine, which sees a document only through the query's posting lists).
let safeMatched = false;

// @ts-ignore: decorator
@inline function forwardWeight(i: usize, scale: f32, offset: f32): f32 {
  if (valueFormat == VALUES_F32) return load<f32>(forwardValues + (i << 2));
  if (valueFormat == VALUES_F16) return widenHalf(load<u16>(forwardValues + (i << 1)));
  return offset + scale * <f32>load<u8>(forwardValues + i);
}

function exactScore<T>(doc: u32, query: usize): f32 {
  const start = <usize>load<u32>(forwardIndptr + (<usize>doc << 2));
  const end = <usize>load<u32>(forwardIndptr + (<usize>(doc + 1) << 2));
  let scale: f32 = 0;
  let offset: f32 = 0;
  if (valueFormat == VALUES_U8) {
    scale = load<f32>(forwardScales + (<usize>doc << 2));
    offset = load<f32>(forwardOffsets + (<usize>doc << 2));
  }
  let sum: f64 = 0;
  let matched = false;
  for (let i = start; i < end; i++) {
    const q = gatherOne<T>(query, forwardTerms, i);
    if (q != 0) {
      matched = true;
      sum += <f64>(q * forwardWeight(i, scale, offset));
    }
  }
  safeMatched = matched;
  return <f32>sum;
}

// @ts-ignore: decorator
@inline function boundBefore(a: u32, b: u32): bool {
  const boundA = load<f32>(safeBounds + (<usize>a << 2));
  const boundB = load<f32>(safeBounds + (<usize>b << 2));
  return boundA > boundB || (boundA == boundB && a < b);
}

function safeHeapSiftDown(start: u32, size: u32): void {
  // Max-heap on the bound: the root is the block visited next.
  let i = start;
  const item = load<u32>(safeHeap + (<usize>i << 2));
  while (true) {
    let child: u32 = 2 * i + 1;
    if (child >= size) break;
    const right = child + 1;
    if (right < size && boundBefore(load<u32>(safeHeap + (<usize>right << 2)), load<u32>(safeHeap + (<usize>child << 2)))) child = right;
    const childItem = load<u32>(safeHeap + (<usize>child << 2));
    if (!boundBefore(childItem, item)) break;
    store<u32>(safeHeap + (<usize>i << 2), childItem);
    i = child;
  }
  store<u32>(safeHeap + (<usize>i << 2), item);
}

function safeSearchWith<T>(queryLength: u32, k: u32, excludedWords: u32): void {
  const query = denseQuery;
  let touched: u32 = 0;
  for (let j: u32 = 0; j < queryLength; j++) {
    const term = load<u32>(queryTerms + (<usize>j << 2));
    const q = load<f32>(queryValues + (<usize>j << 2));
    // Document weights are >= 0 (else unbounded): a negative query weight adds at most 0.
    const qs: f32 = q > 0 ? q * load<f32>(safeTermScale + (<usize>term << 2)) : 0;
    const end = load<u32>(safeListStart + (<usize>(term + 1) << 2));
    for (let e = load<u32>(safeListStart + (<usize>term << 2)); e < end; e++) {
      const b = <u32>load<u16>(safeListBlocks + (<usize>e << 1));
      const boundAt = safeBounds + (<usize>b << 2);
      const contribution = qs * <f32>load<u8>(safeListLevels + <usize>e);
      if (load<u8>(safeMarks + <usize>b) == 0) {
        store<u8>(safeMarks + <usize>b, 1);
        store<u32>(safeHeap + (<usize>touched << 2), b);
        touched++;
        store<f32>(boundAt, safeUnbounded ? Infinity : contribution);
      } else if (!safeUnbounded) {
        store<f32>(boundAt, load<f32>(boundAt) + contribution);
      }
    }
  }
  // The bounds are f32 sums of rounded products: widened by more than their worst rounding error
  // (one part in 2^22 per term), so a block is skipped only when no document in it can reach,
  // let alone tie, the k-th score.
  const margin: f32 = 1 + <f32>(queryLength + 4) * <f32>2.384185791015625e-7;
  for (let i = <i32>(touched >> 1) - 1; i >= 0; i--) safeHeapSiftDown(<u32>i, touched);
  let remaining = touched;
  while (remaining > 0) {
    const b = load<u32>(safeHeap);
    if (heapSize == k && load<f32>(safeBounds + (<usize>b << 2)) * margin < load<f32>(heapScores)) break;
    // Swap the root to the end: the array keeps every touched block, for the stats.
    remaining--;
    store<u32>(safeHeap, load<u32>(safeHeap + (<usize>remaining << 2)));
    store<u32>(safeHeap + (<usize>remaining << 2), b);
    safeHeapSiftDown(0, remaining);
    statBlocksScored++;
    const firstRow = b * safeBlockSize;
    const endRow = firstRow + safeBlockSize < docCount ? firstRow + safeBlockSize : docCount;
    for (let r = firstRow; r < endRow; r++) {
      const doc = load<u32>(safeRowOrder + (<usize>r << 2));
      const word = doc >> 5;
      if (word < excludedWords && (load<u32>(excludedBits + (<usize>word << 2)) & (<u32>1 << (doc & 31)))) continue;
      const score = exactScore<T>(doc, query);
      statDocsScored++;
      if (safeMatched) heapOffer(score, doc, k);
    }
  }
  statBlocksSkipped = remaining;
  statListsVisited = queryLength;
}

/**
 * The exact top-k of the query (ascending term ids in queryTermsAt()/queryValuesAt()) by the
 * bounds configureSafe() installed. Returns the number of results or a negative status.
 */
export function safeSearch(queryLength: u32, k: u32, excludedWords: u32): i32 {
  if (!configured || !safeConfigured) return STATUS_NOT_CONFIGURED;
  const ready = beginSearch(queryLength, k);
  if (ready <= 0) return ready;
  if (excludedWords > bitsetWords) excludedWords = bitsetWords;
  if (wideTerms) safeSearchWith<u32>(queryLength, <u32>ready, excludedWords);
  else safeSearchWith<u16>(queryLength, <u32>ready, excludedWords);
  memory.fill(safeMarks, 0, <usize>safeBlockCount);
  return endSearch(queryLength);
}
