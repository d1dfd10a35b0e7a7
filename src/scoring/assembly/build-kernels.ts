// sparrow build kernels: the two hot loops of the approximate index build (clustering a posting
// list's documents around its centroids, and the coordinate-wise maximum of a block), compiled to
// wasm32 over one shared memory that every build thread imports. The host
// (src/index/seismic/build-kernels.ts) lays the memory out: it places the build's inputs and each
// thread's scratch in it and passes their addresses. Nothing here allocates.
//
// The arithmetic must stay operation-for-operation identical to BlockBuilder's TypeScript path
// (src/index/seismic/build.ts): scores accumulate in f64 in the same order, ties keep the lowest
// centroid, masses sum in f64 in block-term order. The tests compare both builds byte for byte.

const UNTOUCHED: f32 = -Infinity;

/**
 * Assigns each of a list's documents to the centroid of largest dot product. Scores combine the
 * document's clustering cut with the centroids' inverted index (term -> centroid, weight); the
 * list's own term always contributes (from the list's weight when the cut lacks it). With
 * `reassign`, only documents whose current centroid's block is dissolved (clusterBlock < 0) are
 * assigned again, among surviving centroids only.
 */
export function assignToCentroids(
  listDocs: usize,
  listValues: usize,
  length: u32,
  term: u32,
  centroidCount: u32,
  cutLength: usize,
  cutTerms: usize,
  cutValues: usize,
  cutWidth: u32,
  termStart: usize,
  termEnd: usize,
  entryIndex: usize,
  entryValue: usize,
  scores: usize,
  assignment: usize,
  clusterBlock: usize,
  reassign: bool,
): void {
  for (let p: u32 = 0; p < length; p++) {
    const slot = assignment + (<usize>p << 2);
    if (reassign && load<i32>(clusterBlock + (<usize>load<u32>(slot) << 2)) >= 0) continue;
    const d = load<u32>(listDocs + (<usize>p << 2));
    memory.fill(scores, 0, <usize>centroidCount << 3);
    let includesOwnTerm = false;
    const cutBase = <usize>d * <usize>cutWidth;
    const cutEnd = cutBase + <usize>load<u32>(cutLength + (<usize>d << 2));
    for (let i = cutBase; i < cutEnd; i++) {
      const t = load<u32>(cutTerms + (i << 2));
      if (t == term) includesOwnTerm = true;
      addTerm(t, <f64>load<f32>(cutValues + (i << 2)), termStart, termEnd, entryIndex, entryValue, scores);
    }
    if (!includesOwnTerm) addTerm(term, <f64>load<f32>(listValues + (<usize>p << 2)), termStart, termEnd, entryIndex, entryValue, scores);
    let best: u32 = 0;
    let bestScore: f64 = -Infinity;
    for (let c: u32 = 0; c < centroidCount; c++) {
      if (reassign && load<i32>(clusterBlock + (<usize>c << 2)) < 0) continue;
      const score = load<f64>(scores + (<usize>c << 3));
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
    store<u32>(slot, best);
  }
}

// @ts-ignore: decorator
@inline
function addTerm(t: u32, weight: f64, termStart: usize, termEnd: usize, entryIndex: usize, entryValue: usize, scores: usize): void {
  const end = load<u32>(termEnd + (<usize>t << 2));
  for (let e = load<u32>(termStart + (<usize>t << 2)); e < end; e++) {
    const at = scores + (<usize>load<u32>(entryIndex + (<usize>e << 2)) << 3);
    store<f64>(at, load<f64>(at) + weight * <f64>load<f32>(entryValue + (<usize>e << 2)));
  }
}

/**
 * The coordinate-wise maximum of a block's documents (rows of the summary source): the terms it
 * touches go to blockTerms in first-touch order, their maxima to blockValues, and maxValue is left
 * all UNTOUCHED again. Writes the sum of the positive maxima (f64) and the largest maximum (f32,
 * at least 0) at `result`; returns the number of terms.
 */
export function blockMaximum(
  blockDocs: usize,
  count: u32,
  indptr: usize,
  terms: usize,
  values: usize,
  maxValue: usize,
  blockTerms: usize,
  blockValues: usize,
  result: usize,
): u32 {
  let termCount: u32 = 0;
  for (let p: u32 = 0; p < count; p++) {
    const d = load<u32>(blockDocs + (<usize>p << 2));
    const end = load<u32>(indptr + ((<usize>d + 1) << 2));
    for (let i = load<u32>(indptr + (<usize>d << 2)); i < end; i++) {
      const t = load<u32>(terms + (<usize>i << 2));
      const at = maxValue + (<usize>t << 2);
      const current = load<f32>(at);
      store<u32>(blockTerms + (<usize>termCount << 2), t);
      termCount += <u32>(current == UNTOUCHED);
      store<f32>(at, max(current, load<f32>(values + (<usize>i << 2))));
    }
  }
  let mass: f64 = 0;
  let largest: f32 = 0;
  for (let i: u32 = 0; i < termCount; i++) {
    const at = maxValue + (<usize>load<u32>(blockTerms + (<usize>i << 2)) << 2);
    const value = load<f32>(at);
    store<f32>(at, UNTOUCHED);
    store<f32>(blockValues + (<usize>i << 2), value);
    if (value > 0) mass += <f64>value;
    if (value > largest) largest = value;
  }
  store<f64>(result, mass);
  store<f32>(result + 8, largest);
  return termCount;
}

/**
 * Keeps a block's maxima above `threshold` (and the first `tiesKept` equal to it), in block-term
 * order, and quantizes them to 8-bit levels over [lowest kept, highest kept], rounding up so that a
 * decoded level is never below the maximum it stands for. Writes the kept terms and levels, then
 * offset and scale (f32) at `result`; returns the kept count. Every step is the f64 arithmetic,
 * rounded to f32 where the TypeScript path calls Math.fround, in the same order.
 */
export function keepAndQuantize(
  blockTerms: usize,
  blockValues: usize,
  termCount: u32,
  threshold: f32,
  tiesKept: i32,
  keptTerms: usize,
  keptValues: usize,
  keptLevels: usize,
  result: usize,
): u32 {
  let low: f64 = Infinity;
  let high: f64 = -Infinity;
  let kept: u32 = 0;
  let ties = tiesKept;
  // Branch-free: whether a value clears the threshold is a coin flip the predictor loses. Every
  // value is written at the next slot, which only moves on for the kept ones.
  for (let i: u32 = 0; i < termCount; i++) {
    const value = load<f32>(blockValues + (<usize>i << 2));
    const tie = <u32>(value == threshold) & <u32>(ties > 0);
    const keep = <u32>(value > threshold) | tie;
    ties -= <i32>tie;
    store<u32>(keptTerms + (<usize>kept << 2), load<u32>(blockTerms + (<usize>i << 2)));
    store<f32>(keptValues + (<usize>kept << 2), value);
    kept += keep;
    const wide = <f64>value;
    low = select<f64>(min(low, wide), low, keep != 0);
    high = select<f64>(max(high, wide), high, keep != 0);
  }
  const offset: f64 = kept > 0 ? <f64><f32>low : 0;
  let scale: f64 = kept > 0 ? <f64><f32>(((high - low) / 255) * (1 + 1e-6)) : 0;
  if (scale > 0 && <f64><f32>(offset + <f64><f32>(scale * 255)) < high) scale = <f64><f32>(scale * (1 + 1e-5));
  for (let i: u32 = 0; i < kept; i++) {
    const value = <f64>load<f32>(keptValues + (<usize>i << 2));
    let level: f64 = scale > 0 ? Math.ceil((value - offset) / scale) : 0;
    if (level < 0) level = 0;
    while (level < 255 && <f64><f32>(offset + <f64><f32>(scale * level)) < value) level++;
    if (level > 255) level = 255;
    store<u8>(keptLevels + <usize>i, <u8>level);
  }
  store<f32>(result, <f32>offset);
  store<f32>(result + 4, <f32>scale);
  return kept;
}
