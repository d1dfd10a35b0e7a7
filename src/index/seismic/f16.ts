/**
 * IEEE 754 half-precision helpers. The forward index may store document weights as f16; the wasm
 * core widens them with integer arithmetic, so both scorers must decode to the very same f32.
 */

const floatScratch = new Float32Array(1);
const bitsScratch = new Uint32Array(floatScratch.buffer);

/** Largest finite half value; larger magnitudes saturate rather than becoming infinite. */
export const F16_MAX = 65504;

/** Rounds an f32 value to the nearest half (ties to even), returned as its 16 bits. */
export function f32ToF16Bits(value: number): number {
  floatScratch[0] = value;
  const bits = bitsScratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) {
    // NaN and infinities never reach the index (weights are validated finite); saturate anyway.
    return mantissa !== 0 ? sign | 0x7e00 : sign | 0x7bff;
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7bff;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half++;
  // A carry out of the mantissa bumps the exponent, which is the correct rounding; a carry into
  // the infinity exponent saturates instead.
  if ((half & 0x7c00) === 0x7c00) return sign | 0x7bff;
  return sign | half;
}

/** Exact widening of half bits to the f32 value (same arithmetic as the wasm core). */
export function f16BitsToF32(half: number): number {
  bitsScratch[0] = (half & 0x7fff) << 13;
  // Reinterpreting the shifted magnitude is off by exactly 2^112 for normal and subnormal halves.
  const magnitude = Math.fround(floatScratch[0]! * 5.192296858534828e33);
  return (half & 0x8000) !== 0 ? -magnitude : magnitude;
}

let decodeTable: Float32Array | undefined;

/** All 65536 half values widened to f32, for table-driven decoding on hot paths. */
export function f16DecodeTable(): Float32Array {
  if (decodeTable === undefined) {
    decodeTable = new Float32Array(65536);
    for (let half = 0; half < 65536; half++) decodeTable[half] = f16BitsToF32(half);
  }
  return decodeTable;
}
