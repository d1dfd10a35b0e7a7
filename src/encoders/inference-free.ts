import fs from 'node:fs';
import { EncoderError } from './encoder.js';
import type { TokenWeights } from './splade.js';
import type { TextTokenizer } from './transformers-runtime.js';

/**
 * Inference-free SPLADE queries (OpenSearch's doc-only mode; Geng et al., "Towards Competitive
 * Search Relevance for Inference-Free Learned Sparse Retrievers"): the query is only tokenized,
 * and each distinct token weighs its IDF. Documents are still encoded by the model; the query
 * side costs a tokenizer call and a table lookup.
 *
 * The IDF table is JSON {token: idf} (the format OpenSearch ships as idf.json), either given or
 * built from a document collection with `buildIdfTable`. Special tokens never enter a query. A
 * token the table lacks weighs the table's largest IDF: it was never seen where the table was
 * built, so it is at least as rare as the rarest token that was.
 */
export type IdfTable = Readonly<Record<string, number>>;

export class InferenceFreeQueries {
  readonly tokenizer: TextTokenizer;
  readonly maxLength: number;
  /** IDF by token id; NaN where the table has no entry. */
  private readonly idfById: Float32Array;
  readonly missingIdf: number;

  constructor(tokenizer: TextTokenizer, table: IdfTable, maxLength: number) {
    this.tokenizer = tokenizer;
    this.maxLength = maxLength;
    this.idfById = new Float32Array(tokenizer.vocabulary.length).fill(Number.NaN);
    let largest = 0;
    for (const [token, idf] of Object.entries(table)) {
      if (typeof idf !== 'number' || !Number.isFinite(idf)) throw new EncoderError('INVALID_IDF_TABLE', `idf of ${JSON.stringify(token)} must be a finite number`);
      const id = tokenizer.idsByToken.get(token);
      if (id === undefined) continue;
      this.idfById[id] = idf;
      if (idf > largest) largest = idf;
    }
    this.missingIdf = largest;
  }

  static fromFile(tokenizer: TextTokenizer, file: string, maxLength: number): InferenceFreeQueries {
    return new InferenceFreeQueries(tokenizer, readIdfTable(file), maxLength);
  }

  idfOf(tokenId: number): number {
    const idf = this.idfById[tokenId];
    return idf === undefined || Number.isNaN(idf) ? this.missingIdf : idf;
  }

  /** Distinct non-special tokens of the text, each weighing its IDF (non-positive weights dropped). */
  encode(text: string): TokenWeights {
    const ids = this.tokenizer.encode([text], this.maxLength, false)[0] ?? [];
    const distinct = [...new Set(ids)].filter((id) => !this.tokenizer.specialIds.has(id)).sort((a, b) => a - b);
    const keptIds: number[] = [];
    const weights: number[] = [];
    for (const id of distinct) {
      const idf = this.idfOf(id);
      if (idf > 0) {
        keptIds.push(id);
        weights.push(idf);
      }
    }
    return { ids: Uint32Array.from(keptIds), weights: Float32Array.from(weights) };
  }
}

export function readIdfTable(file: string): IdfTable {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new EncoderError('IDF_TABLE_NOT_FOUND', `cannot read the IDF table ${file}: ${(error as Error).message}`);
  }
  let table: unknown;
  try {
    table = JSON.parse(text);
  } catch (error) {
    throw new EncoderError('INVALID_IDF_TABLE', `${file} is not JSON: ${(error as Error).message}`);
  }
  if (table === null || typeof table !== 'object' || Array.isArray(table)) throw new EncoderError('INVALID_IDF_TABLE', `${file} must hold a JSON object {token: idf}`);
  return table as IdfTable;
}

/**
 * IDF of every token that occurs in the texts, as BM25 (Lucene) computes it:
 * ln(1 + (N - df + 0.5) / (df + 0.5)), df counting the texts that contain the token at least once.
 */
export function buildIdfTable(tokenizer: TextTokenizer, texts: Iterable<string>, maxLength = 512): Record<string, number> {
  const documentFrequency = new Uint32Array(tokenizer.vocabulary.length);
  const lastSeenIn = new Int32Array(tokenizer.vocabulary.length).fill(-1);
  let documents = 0;
  let chunk: string[] = [];
  const count = (): void => {
    for (const ids of tokenizer.encode(chunk, maxLength, false)) {
      for (const id of ids) {
        if (lastSeenIn[id] !== documents) {
          lastSeenIn[id] = documents;
          documentFrequency[id]!++;
        }
      }
      documents++;
    }
    chunk = [];
  };
  for (const text of texts) {
    chunk.push(text);
    if (chunk.length === 256) count();
  }
  if (chunk.length > 0) count();
  const table: Record<string, number> = {};
  for (let id = 0; id < documentFrequency.length; id++) {
    const df = documentFrequency[id]!;
    if (df === 0 || tokenizer.specialIds.has(id)) continue;
    table[tokenizer.vocabulary[id]!] = Math.fround(Math.log(1 + (documents - df + 0.5) / (df + 0.5)));
  }
  return table;
}

export function writeIdfTable(file: string, table: IdfTable): void {
  fs.writeFileSync(file, JSON.stringify(table) + '\n');
}
