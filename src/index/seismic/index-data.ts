import { SeismicError } from './errors.js';
import type { SeismicBuildParams } from './params.js';

/** Term ids are 16-bit when the vocabulary fits (dim <= 65536), else 32-bit. */
export type TermIdArray = Uint16Array | Uint32Array;

/**
 * A built approximate index: only typed arrays and plain numbers/strings, so it can be written to
 * a segment file field by field and read back without any rebuilding.
 *
 * Term t's posting list is split into blocks listBlockStart[t] .. listBlockStart[t+1] (global
 * block numbers). Block b holds the documents postingDocs[blockDocStart[b] .. blockDocStart[b+1]),
 * ascending; a document number is also its row in the forward index, whose offsets
 * forwardIndptr[d] .. forwardIndptr[d+1] locate its full vector.
 *
 * Block b's summary (the coordinate-wise max of its documents, cut to its energy prefix) is
 * summaryTerms/summaryValues[summaryStart[b] .. summaryStart[b+1]) (distinct terms, in no
 * particular order), with 8-bit
 * values decoding to summaryOffset[b] + summaryScale[b] × value.
 */
export interface SeismicIndexData {
  readonly formatVersion: 1;
  readonly params: SeismicBuildParams;
  readonly docCount: number;
  readonly dim: number;
  /** Forward index: document d's vector is at forwardIndptr[d] .. forwardIndptr[d+1]. */
  readonly forwardIndptr: Uint32Array;
  readonly forwardTerms: TermIdArray;
  /** Float32Array ('f32'), Uint16Array of half bits ('f16') or Uint8Array ('u8'). */
  readonly forwardValues: Float32Array | Uint16Array | Uint8Array;
  /** 'u8' only (else empty): weight = forwardOffsets[d] + forwardScales[d] × value. */
  readonly forwardScales: Float32Array;
  readonly forwardOffsets: Float32Array;

  readonly listBlockStart: Uint32Array;
  readonly blockDocStart: Uint32Array;
  readonly postingDocs: Uint32Array;

  readonly summaryStart: Uint32Array;
  readonly summaryTerms: TermIdArray;
  readonly summaryValues: Uint8Array;
  readonly summaryScale: Float32Array;
  readonly summaryOffset: Float32Array;
}

/** Every typed array of an index, by field name (for byte accounting and copying). */
export function indexArrays(index: SeismicIndexData): Record<string, ArrayBufferView & { length: number; BYTES_PER_ELEMENT: number }> {
  return {
    forwardIndptr: index.forwardIndptr,
    forwardTerms: index.forwardTerms,
    forwardValues: index.forwardValues,
    forwardScales: index.forwardScales,
    forwardOffsets: index.forwardOffsets,
    listBlockStart: index.listBlockStart,
    blockDocStart: index.blockDocStart,
    postingDocs: index.postingDocs,
    summaryStart: index.summaryStart,
    summaryTerms: index.summaryTerms,
    summaryValues: index.summaryValues,
    summaryScale: index.summaryScale,
    summaryOffset: index.summaryOffset,
  };
}

/** Total bytes held by the index's arrays. */
export function indexByteSize(index: SeismicIndexData): number {
  let bytes = 0;
  for (const array of Object.values(indexArrays(index))) bytes += array.byteLength;
  return bytes;
}

function fail(message: string): never {
  throw new SeismicError('SEISMIC_BAD_INDEX', message);
}

function checkOffsets(name: string, offsets: Uint32Array, expectedLength: number, end: number): void {
  if (offsets.length !== expectedLength) fail(`${name} has length ${offsets.length}, expected ${expectedLength}`);
  if (offsets[0] !== 0) fail(`${name} must start at 0`);
  for (let i = 1; i < offsets.length; i++) {
    if (offsets[i]! < offsets[i - 1]!) fail(`${name} decreases at ${i}`);
  }
  if (offsets[offsets.length - 1] !== end) fail(`${name} ends at ${offsets[offsets.length - 1]}, expected ${end}`);
}

/**
 * Structural check of an index read back from storage. The scorers index memory with these
 * numbers without bounds checks, so a damaged segment must be refused here (linear time).
 */
export function validateIndexData(index: SeismicIndexData): void {
  if (index.formatVersion !== 1) fail(`unknown formatVersion ${String(index.formatVersion)}`);
  const { docCount, dim } = index;
  if (!Number.isInteger(docCount) || docCount < 0 || docCount > 0xfffffffe) fail(`bad docCount ${docCount}`);
  if (!Number.isInteger(dim) || dim < 0 || dim > 0xffffffff) fail(`bad dim ${dim}`);
  const wideTerms = dim > 65536;
  const termArrayOk = (array: TermIdArray): boolean => (wideTerms ? array instanceof Uint32Array : array instanceof Uint16Array);
  if (!termArrayOk(index.forwardTerms) || !termArrayOk(index.summaryTerms)) fail('term id arrays have the wrong width for dim');

  const nnz = index.forwardTerms.length;
  checkOffsets('forwardIndptr', index.forwardIndptr, docCount + 1, nnz);
  const format = index.params.forwardValues;
  const valuesOk =
    (format === 'f32' && index.forwardValues instanceof Float32Array) ||
    (format === 'f16' && index.forwardValues instanceof Uint16Array) ||
    (format === 'u8' && index.forwardValues instanceof Uint8Array);
  if (!valuesOk || index.forwardValues.length !== nnz) fail('forwardValues do not match params.forwardValues or forwardTerms');
  const perDoc = format === 'u8' ? docCount : 0;
  if (index.forwardScales.length !== perDoc || index.forwardOffsets.length !== perDoc) fail('forwardScales/forwardOffsets have the wrong length');
  for (let d = 0; d < docCount; d++) {
    for (let i = index.forwardIndptr[d]! + 1; i < index.forwardIndptr[d + 1]!; i++) {
      if (index.forwardTerms[i]! <= index.forwardTerms[i - 1]!) fail(`forward terms of document ${d} are not increasing`);
    }
  }
  for (let i = 0; i < nnz; i++) if (index.forwardTerms[i]! >= dim) fail(`forward term ${index.forwardTerms[i]} >= dim`);

  const blockCount = index.blockDocStart.length - 1;
  if (blockCount < 0) fail('blockDocStart is empty');
  checkOffsets('listBlockStart', index.listBlockStart, dim + 1, blockCount);
  checkOffsets('blockDocStart', index.blockDocStart, blockCount + 1, index.postingDocs.length);
  for (let i = 0; i < index.postingDocs.length; i++) if (index.postingDocs[i]! >= docCount) fail(`posting document ${index.postingDocs[i]} >= docCount`);

  checkOffsets('summaryStart', index.summaryStart, blockCount + 1, index.summaryTerms.length);
  if (index.summaryValues.length !== index.summaryTerms.length) fail('summaryValues and summaryTerms differ in length');
  if (index.summaryScale.length !== blockCount || index.summaryOffset.length !== blockCount) fail('summaryScale/summaryOffset need one value per block');
  for (let i = 0; i < index.summaryTerms.length; i++) if (index.summaryTerms[i]! >= dim) fail(`summary term ${index.summaryTerms[i]} >= dim`);
}
