import fs from 'node:fs';
import zlib from 'node:zlib';
import { SparrowError } from './errors.js';

export interface JsonLine {
  /** 1-based line number in the (decompressed) input. */
  readonly line: number;
  /** Offset in the (decompressed) input just after this line and its newline: where a resumed read starts. */
  readonly endOffset: number;
  readonly value?: unknown;
  readonly error?: { code: string; message: string };
  /** With `raw`, the line's bytes, unparsed (valid only until the next line is asked for). */
  readonly bytes?: Buffer;
}

export interface JsonLinesOptions {
  /** Longest accepted line in bytes; longer lines are reported and skipped, never buffered whole. */
  readonly maxLineBytes?: number;
  /** The stream starts after this many lines of the input (a resumed read): numbering goes on from it. */
  readonly startLine?: number;
  /** ...and at this byte offset of the input, so `endOffset` stays an offset in the whole input. */
  readonly startOffset?: number;
  /** Lines up to this number are passed over unparsed (resuming where seeking is impossible, as in gzip). */
  readonly skipThroughLine?: number;
  /**
   * Yield each non-blank line's bytes instead of its parsed value: the caller parses it elsewhere
   * (an encoder thread). Lines of ASCII white space are still skipped here.
   */
  readonly raw?: boolean;
}

export interface ByteProgress {
  /** Bytes of the file (compressed, for .gz) read so far, and the file's size. */
  readonly bytesRead: number;
  readonly totalBytes: number;
}

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Opens a file for reading, turning the usual failures into coded errors. `start` resumes a plain
 * file at a byte offset; a .gz file always starts at the beginning (gzip cannot be entered mid-way).
 */
export function openInput(path: string, options: { start?: number } = {}): { stream: NodeJS.ReadableStream; progress: () => ByteProgress } {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SparrowError('FILE_NOT_FOUND', `no such file: ${path}`, { path });
    if (code === 'EACCES') throw new SparrowError('FILE_UNREADABLE', `permission denied: ${path}`, { path });
    throw new SparrowError('FILE_UNREADABLE', `cannot read ${path}: ${(error as Error).message}`, { path });
  }
  if (stat.isDirectory()) throw new SparrowError('NOT_A_FILE', `${path} is a directory, expected a file`, { path });
  try {
    fs.accessSync(path, fs.constants.R_OK);
  } catch {
    throw new SparrowError('FILE_UNREADABLE', `permission denied: ${path}`, { path });
  }
  const gzip = path.endsWith('.gz');
  const start = gzip ? 0 : Math.min(options.start ?? 0, stat.size);
  const raw = fs.createReadStream(path, { highWaterMark: 1 << 20, start });
  const stream = gzip ? raw.pipe(zlib.createGunzip()) : raw;
  if (stream !== raw) raw.on('error', (error) => stream.emit('error', error));
  return { stream, progress: () => ({ bytesRead: start + raw.bytesRead, totalBytes: stat.size }) };
}

/**
 * Streams a JSON-lines file (plain or .gz), one parsed value per non-blank line, with backpressure:
 * the next chunk is read only when the consumer asks for more. Lines that are not valid UTF-8 or not
 * valid JSON come back as errors with their line number instead of stopping the stream.
 */
export async function* readJsonLines(stream: NodeJS.ReadableStream, options: JsonLinesOptions = {}): AsyncGenerator<JsonLine> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let oversized = false;
  let lineNumber = options.startLine ?? 0;
  const skipThroughLine = options.skipThroughLine ?? 0;
  const raw = options.raw ?? false;
  // Bytes of the input before the current chunk.
  let chunkOffset = options.startOffset ?? 0;

  const finishLine = (tail: Buffer, endOffset: number): JsonLine | undefined => {
    lineNumber++;
    if (lineNumber <= skipThroughLine) {
      oversized = false;
      pending = [];
      pendingBytes = 0;
      return undefined;
    }
    if (oversized) {
      oversized = false;
      pending = [];
      pendingBytes = 0;
      return { line: lineNumber, endOffset, error: { code: 'LINE_TOO_LONG', message: `line ${lineNumber} is longer than ${maxLineBytes} bytes` } };
    }
    const bytes = pending.length === 0 ? tail : Buffer.concat([...pending, tail]);
    pending = [];
    pendingBytes = 0;
    if (raw) return isAsciiBlank(bytes) ? undefined : { line: lineNumber, endOffset, bytes };
    return parseLine(bytes, lineNumber, endOffset, decoder);
  };

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (;;) {
        const newline = chunk.indexOf(10, start);
        if (newline === -1) {
          const rest = chunk.subarray(start);
          if (!oversized) {
            pendingBytes += rest.length;
            if (pendingBytes > maxLineBytes) {
              oversized = true;
              pending = [];
            } else if (rest.length > 0) pending.push(Buffer.from(rest));
          }
          break;
        }
        const piece = chunk.subarray(start, newline);
        if (!oversized && pendingBytes + piece.length > maxLineBytes) oversized = true;
        const result = finishLine(oversized ? Buffer.alloc(0) : piece, chunkOffset + newline + 1);
        if (result) yield result;
        start = newline + 1;
      }
      chunkOffset += chunk.length;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
      throw new SparrowError('INVALID_GZIP', `input is not valid gzip data after line ${lineNumber}: ${(error as Error).message}`);
    }
    if (code === 'EISDIR') throw new SparrowError('NOT_A_FILE', 'input is a directory, expected a file');
    throw error;
  }
  if (pendingBytes > 0 || oversized) {
    const result = finishLine(Buffer.alloc(0), chunkOffset);
    if (result) yield result;
  }
}

const lineDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** One line's bytes to a value, or to a coded error naming the line; undefined when it is blank. */
export function parseLine(bytes: Buffer, line: number, endOffset: number, decoder: TextDecoder = lineDecoder): JsonLine | undefined {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { line, endOffset, error: { code: 'INVALID_UTF8', message: `line ${line} is not valid UTF-8` } };
  }
  if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim().length === 0) return undefined;
  try {
    return { line, endOffset, value: JSON.parse(text) };
  } catch (error) {
    return { line, endOffset, error: { code: 'INVALID_JSON', message: `line ${line} is not valid JSON: ${(error as Error).message}` } };
  }
}

function isAsciiBlank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0a) return false;
  }
  return true;
}
