/**
 * Selection helpers for the index build: k-th largest values and energy prefixes without sorting
 * whole lists (posting lists reach hundreds of thousands of entries).
 */

/**
 * The k-th largest (1-based) of values[0 .. length). Reorders values in place. Requires
 * 1 <= k <= length.
 */
export function kthLargest(values: Float32Array | Float64Array, length: number, k: number): number {
  // Ascending position of the wanted value.
  const target = length - k;
  let lo = 0;
  let hi = length - 1;
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    const pivot = medianOfThree(values[lo]!, values[mid]!, values[hi]!);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const swap = values[i]!;
        values[i] = values[j]!;
        values[j] = swap;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return values[target]!;
  }
  return values[target]!;
}

/**
 * The k-th largest (1-based) of values[0 .. length) without reordering or copying them (kthLargest
 * needs a scratch copy, which for a whole collection's weights is gigabytes). Float bits, with the
 * sign folded in, order as unsigned integers: one pass counts the top 16 bits, a second the low 16
 * bits of the entries in the bucket that holds the answer. Requires 1 <= k <= length and no NaN.
 */
export function kthLargestUnordered(values: Float32Array, length: number, k: number): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, length);
  const counts = new Uint32Array(65536);
  for (let i = 0; i < length; i++) counts[orderedKey(bits[i]!) >>> 16]!++;
  let remaining = k;
  let high = 65535;
  while (counts[high]! < remaining) remaining -= counts[high--]!;
  counts.fill(0);
  for (let i = 0; i < length; i++) {
    const key = orderedKey(bits[i]!);
    if (key >>> 16 === high) counts[key & 0xffff]!++;
  }
  let low = 65535;
  while (counts[low]! < remaining) remaining -= counts[low--]!;
  const key = ((high << 16) | low) >>> 0;
  const out = new Uint32Array(1);
  out[0] = key & 0x80000000 ? key & 0x7fffffff : ~key;
  return new Float32Array(out.buffer)[0]!;
}

/** Float32 bits as an unsigned integer that orders like the float (negatives flipped). */
function orderedKey(bits: number): number {
  return (bits & 0x80000000 ? ~bits : bits | 0x80000000) >>> 0;
}

function medianOfThree(a: number, b: number, c: number): number {
  if (a < b) {
    if (b < c) return b;
    return a < c ? c : a;
  }
  if (a < c) return a;
  return b < c ? c : b;
}

/** Result of energyThreshold: keep values > threshold, plus tiesKept of those equal to it. */
export interface EnergyCut {
  threshold: number;
  tiesKept: number;
}

/** Value buckets of the first, coarse pass of energyThreshold. */
const ENERGY_BUCKETS = 256;
const bucketMass = new Float64Array(ENERGY_BUCKETS);
const bucketCount = new Uint32Array(ENERGY_BUCKETS);

/**
 * The shortest prefix, by descending value, of values[0 .. length) whose sum reaches targetMass
 * (values are non-negative weights). A histogram over [0, max] finds the bucket where the prefix
 * mass crosses the target, then an exact selection runs inside that bucket only: linear time, and
 * the exact pass sees a small fraction of the values. Reorders values in place, unless `work` is
 * given. If the whole array
 * does not reach targetMass, everything is kept (threshold = -Infinity).
 */
export function energyThreshold(
  values: Float32Array | Float64Array,
  length: number,
  targetMass: number,
  cut: EnergyCut,
  /** Where the exact pass works, so that values stay as they are (values itself when absent). */
  work: Float32Array | Float64Array = values,
  /** The largest value, when the caller has it already. */
  knownMax = -1,
): EnergyCut {
  let max = knownMax;
  if (max < 0) {
    max = 0;
    for (let i = 0; i < length; i++) if (values[i]! > max) max = values[i]!;
  }
  if (!(max > 0) || !(targetMass > 0)) {
    cut.threshold = -Infinity;
    cut.tiesKept = 0;
    return cut;
  }
  bucketMass.fill(0);
  bucketCount.fill(0);
  const toBucket = (ENERGY_BUCKETS - 1) / max;
  for (let i = 0; i < length; i++) {
    const value = values[i]!;
    if (value > 0) {
      const bucket = (value * toBucket) | 0;
      bucketMass[bucket]! += value;
      bucketCount[bucket]!++;
    }
  }
  let above = 0;
  let crossing = ENERGY_BUCKETS - 1;
  for (; crossing >= 0; crossing--) {
    if (above + bucketMass[crossing]! >= targetMass) break;
    above += bucketMass[crossing]!;
  }
  if (crossing < 0) {
    cut.threshold = -Infinity;
    cut.tiesKept = 0;
    return cut;
  }
  // Gather the crossing bucket's values and select exactly among them.
  let inBucket = 0;
  for (let i = 0; i < length; i++) {
    const value = values[i]!;
    if (value > 0 && ((value * toBucket) | 0) === crossing) work[inBucket++] = value;
  }
  return exactEnergyThreshold(work, inBucket, targetMass - above, cut);
}

/** energyThreshold by three-way quickselect over all values (expected linear time). */
export function exactEnergyThreshold(values: Float32Array | Float64Array, length: number, targetMass: number, cut: EnergyCut): EnergyCut {
  let lo = 0;
  let hi = length;
  let needed = targetMass;
  while (hi > lo) {
    const pivot = values[lo + ((hi - lo) >> 1)]!;
    // Three-way partition of [lo, hi): greater | equal | less.
    let greaterEnd = lo;
    let scan = lo;
    let lessStart = hi;
    let greaterMass = 0;
    while (scan < lessStart) {
      const value = values[scan]!;
      if (value > pivot) {
        values[scan] = values[greaterEnd]!;
        values[greaterEnd] = value;
        greaterEnd++;
        scan++;
        greaterMass += value;
      } else if (value < pivot) {
        lessStart--;
        values[scan] = values[lessStart]!;
        values[lessStart] = value;
      } else {
        scan++;
      }
    }
    if (greaterMass >= needed) {
      hi = greaterEnd;
      continue;
    }
    const equalCount = lessStart - greaterEnd;
    const equalMass = equalCount * pivot;
    if (greaterMass + equalMass >= needed) {
      cut.threshold = pivot;
      cut.tiesKept = pivot > 0 ? Math.min(equalCount, Math.ceil((needed - greaterMass) / pivot)) : equalCount;
      if (cut.tiesKept < 1) cut.tiesKept = 1;
      return cut;
    }
    needed -= greaterMass + equalMass;
    lo = lessStart;
  }
  cut.threshold = -Infinity;
  cut.tiesKept = 0;
  return cut;
}
