import { Transform } from 'node:stream';
import { SparrowError } from './errors.js';

/** Fails the stream with PAYLOAD_TOO_LARGE once more than `maxBytes` have passed. */
export function byteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(new SparrowError('PAYLOAD_TOO_LARGE', `the body is larger than ${maxBytes} bytes`, { limit: maxBytes }));
      else callback(null, chunk);
    },
  });
}
