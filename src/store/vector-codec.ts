import { StoreError } from './errors.js';

/**
 * Packed sparse vector, little-endian: u32 nnz, then nnz u32 term ids (increasing), then nnz f32 values.
 * Fixed-width so a whole collection decodes with typed-array copies, no per-entry parsing.
 */
export function encodeVector(indices: Uint32Array, values: Float32Array): Buffer {
  const nnz = indices.length;
  const buffer = Buffer.allocUnsafe(4 + nnz * 8);
  buffer.writeUInt32LE(nnz, 0);
  const ids = new Uint32Array(buffer.buffer, buffer.byteOffset + 4, nnz);
  // Buffer pool offsets are 8-aligned but a subarray may not be; copy through a view when aligned, else per element.
  if ((buffer.byteOffset + 4) % 4 === 0) {
    ids.set(indices);
    new Float32Array(buffer.buffer, buffer.byteOffset + 4 + nnz * 4, nnz).set(values);
  } else {
    for (let i = 0; i < nnz; i++) {
      buffer.writeUInt32LE(indices[i]!, 4 + i * 4);
      buffer.writeFloatLE(values[i]!, 4 + nnz * 4 + i * 4);
    }
  }
  return buffer;
}

export function decodeVector(blob: Uint8Array): { indices: Uint32Array; values: Float32Array } {
  if (blob.byteLength < 4) throw new StoreError('STORE_CORRUPT_VECTOR', 'stored vector is shorter than its header');
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const nnz = view.getUint32(0, true);
  if (blob.byteLength !== 4 + nnz * 8) {
    throw new StoreError('STORE_CORRUPT_VECTOR', `stored vector has ${blob.byteLength} bytes, expected ${4 + nnz * 8}`);
  }
  const indices = new Uint32Array(nnz);
  const values = new Float32Array(nnz);
  if (LITTLE_ENDIAN) {
    // The stored bytes are the arrays' own bytes: one copy each, whatever the blob's alignment.
    new Uint8Array(indices.buffer).set(blob.subarray(4, 4 + nnz * 4));
    new Uint8Array(values.buffer).set(blob.subarray(4 + nnz * 4, 4 + nnz * 8));
    return { indices, values };
  }
  for (let i = 0; i < nnz; i++) {
    indices[i] = view.getUint32(4 + i * 4, true);
    values[i] = view.getFloat32(4 + nnz * 4 + i * 4, true);
  }
  return { indices, values };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function encodeLengths(lengths: ArrayLike<number>): Buffer {
  const buffer = Buffer.allocUnsafe(lengths.length * 4);
  for (let i = 0; i < lengths.length; i++) buffer.writeUInt32LE(lengths[i]!, i * 4);
  return buffer;
}

export function decodeLengths(blob: Uint8Array): Uint32Array {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const lengths = new Uint32Array(blob.byteLength >>> 2);
  for (let i = 0; i < lengths.length; i++) lengths[i] = view.getUint32(i * 4, true);
  return lengths;
}
