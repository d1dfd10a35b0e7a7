/**
 * Reading and writing the files of TREC-style evaluation: qrels (BEIR TSV or classic TREC),
 * runs (TREC six-column format, plain or gzip), and trec_eval's own textual output.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable, pipeline as pipelineCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { once } from 'node:events';
import { createGunzip, createGzip } from 'node:zlib';
import { EvalInputError } from './errors.js';
import {
  COUNT_MEASURES,
  type EvaluationResult,
  type MeasureValues,
  type Qrels,
  type Run,
  type ScoredDocument,
} from './metrics.js';

export type { Qrels, Run, ScoredDocument, EvaluationResult, MeasureValues } from './metrics.js';

export type QrelsFormat = 'beir' | 'trec';

export interface QrelsReadOptions {
  /**
   * What to do when a (query, document) pair is judged twice. trec_eval aborts on such qrels,
   * hence 'error' by default; 'keep-last' is what BEIR's loader (a Python dict) does.
   */
  readonly onDuplicate?: 'error' | 'keep-last';
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;
const WHITESPACE = /\s+/;
const INTEGER_TEXT = /^[+-]?\d+(?:\.0*)?$/;
const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_WHITESPACE_TEXT = /^\S+$/;

// ---------------------------------------------------------------------------------------------
// qrels

/**
 * Incremental qrels parser. The format is decided by the first non-blank line: three columns
 * is BEIR (`query-id corpus-id score`, whose first line may be that header), four columns is
 * TREC (`qid iter docid rel`, iter ignored). Every later line must have the same shape.
 * Columns are split on any whitespace, as trec_eval does.
 */
class QrelsParser {
  readonly qrels: Qrels = new Map();
  private format: QrelsFormat | undefined;
  private readonly keepLast: boolean;

  constructor(
    private readonly sourceName: string,
    options: QrelsReadOptions,
  ) {
    const onDuplicate = options.onDuplicate ?? 'error';
    if (onDuplicate !== 'error' && onDuplicate !== 'keep-last') {
      throw new EvalInputError('BAD_OPTION', `onDuplicate must be 'error' or 'keep-last', got ${String(onDuplicate)}`);
    }
    this.keepLast = onDuplicate === 'keep-last';
  }

  consume(line: string, lineNumber: number): void {
    const trimmed = line.trim();
    if (trimmed === '') return;
    const fields = trimmed.split(WHITESPACE);
    if (this.format === undefined) {
      if (fields.length === 4) {
        this.format = 'trec';
      } else if (fields.length === 3) {
        this.format = 'beir';
        if (!INTEGER_TEXT.test(fields[2]!)) return; // the `query-id corpus-id score` header
      } else {
        throw this.malformed(
          lineNumber,
          `expected 'query-id<TAB>corpus-id<TAB>score' (BEIR) or 'qid iter docid rel' (TREC), got ${fields.length} columns`,
        );
      }
    }
    let queryId: string;
    let docId: string;
    let relevanceText: string;
    if (this.format === 'trec') {
      if (fields.length !== 4) throw this.malformed(lineNumber, `expected 4 columns 'qid iter docid rel', got ${fields.length}`);
      [queryId, , docId, relevanceText] = fields as [string, string, string, string];
    } else {
      if (fields.length !== 3) throw this.malformed(lineNumber, `expected 3 columns 'query-id corpus-id score', got ${fields.length}`);
      [queryId, docId, relevanceText] = fields as [string, string, string];
    }
    // trec_eval reads grades with atol; a fractional grade would be silently truncated there.
    if (!INTEGER_TEXT.test(relevanceText)) {
      throw new EvalInputError('BAD_RELEVANCE', `relevance must be an integer, got '${relevanceText}'`, {
        file: this.sourceName,
        line: lineNumber,
      });
    }
    const relevance = Number.parseInt(relevanceText, 10);
    let judgements = this.qrels.get(queryId);
    if (judgements === undefined) {
      judgements = new Map();
      this.qrels.set(queryId, judgements);
    } else if (!this.keepLast && judgements.has(docId)) {
      throw new EvalInputError('DUPLICATE_JUDGEMENT', `query ${queryId}: document ${docId} is judged more than once`, {
        file: this.sourceName,
        line: lineNumber,
      });
    }
    judgements.set(docId, relevance);
  }

  private malformed(lineNumber: number, message: string): EvalInputError {
    return new EvalInputError('MALFORMED_LINE', message, { file: this.sourceName, line: lineNumber });
  }
}

/** Reads BEIR (`query-id\tcorpus-id\tscore` with header) or TREC (`qid 0 docid rel`) qrels, plain or gzip. */
export async function readQrels(path: string, options: QrelsReadOptions = {}): Promise<Qrels> {
  const parser = new QrelsParser(path, options);
  await forEachLine(path, (line, lineNumber) => parser.consume(line, lineNumber));
  return parser.qrels;
}

/** Same as readQrels, for text already in memory; `sourceName` appears in error messages. */
export function parseQrels(text: string, sourceName = '<qrels>', options: QrelsReadOptions = {}): Qrels {
  const parser = new QrelsParser(sourceName, options);
  splitLines(text, (line, lineNumber) => parser.consume(line, lineNumber));
  return parser.qrels;
}

// ---------------------------------------------------------------------------------------------
// runs

class RunParser {
  readonly run: Run = new Map();

  constructor(private readonly sourceName: string) {}

  consume(line: string, lineNumber: number): void {
    const trimmed = line.trim();
    if (trimmed === '') return; // trec_eval skips blank lines too
    const fields = trimmed.split(WHITESPACE);
    if (fields.length !== 6) {
      throw new EvalInputError('MALFORMED_LINE', `expected 6 columns 'qid Q0 docid rank score tag', got ${fields.length}`, {
        file: this.sourceName,
        line: lineNumber,
      });
    }
    const [queryId, , docId, , scoreText] = fields as [string, string, string, string, string, string];
    if (!DECIMAL_TEXT.test(scoreText)) {
      throw new EvalInputError('BAD_SCORE', `score must be a decimal number, got '${scoreText}'`, {
        file: this.sourceName,
        line: lineNumber,
      });
    }
    let documents = this.run.get(queryId);
    if (documents === undefined) {
      documents = [];
      this.run.set(queryId, documents);
    }
    documents.push({ docId, score: Number(scoreText) });
  }
}

/**
 * Reads a TREC run (`qid Q0 docid rank score tag`), plain or gzip (detected from the content).
 * Documents keep file order; the rank column is ignored, as trec_eval ignores it.
 */
export async function readRun(path: string): Promise<Run> {
  const parser = new RunParser(path);
  await forEachLine(path, (line, lineNumber) => parser.consume(line, lineNumber));
  return parser.run;
}

/** Same as readRun, for text already in memory. */
export function parseRun(text: string, sourceName = '<run>'): Run {
  const parser = new RunParser(sourceName);
  splitLines(text, (line, lineNumber) => parser.consume(line, lineNumber));
  return parser.run;
}

/**
 * Writes a run in TREC format: `qid Q0 docid rank score tag`, space separated.
 *
 * Queries are written in the map's order. Each query's documents are written by decreasing
 * score (a stable sort, so equal scores keep the caller's order) with ranks 1..n.
 *
 * Scores: 6 decimals, as Anserini prints them, when that keeps the query's distinct scores
 * distinct and in the same order once read back, both as doubles and, for scores that differ
 * as C floats, as floats (trec_eval 9 reads scores into floats). When rounding to 6 decimals
 * would merge or swap two scores of a query, that query gets more decimals (up to 17) and
 * finally the shortest exact form (JavaScript's own number text, which trec_eval's atof
 * reads). So printing never creates ties that the scores did not have, and the common case
 * stays byte-comparable with Anserini's runs.
 *
 * A path ending in `.gz` is written gzip-compressed. A stream target is written to but not
 * ended.
 */
export async function writeRun(
  target: string | Writable,
  run: ReadonlyMap<string, readonly ScoredDocument[]>,
  tag: string,
): Promise<void> {
  checkIdentifier(tag, 'run tag');
  for (const [queryId, documents] of run) {
    checkIdentifier(queryId, 'query id');
    for (const { docId, score } of documents) {
      checkIdentifier(docId, `document id (query ${queryId})`);
      if (!Number.isFinite(score)) {
        throw new EvalInputError('BAD_SCORE', `query ${queryId}: document ${docId} has score ${score}`);
      }
    }
  }
  if (typeof target === 'string') {
    const file = createWriteStream(target);
    const source = Readable.from(runChunks(run, tag));
    try {
      if (target.endsWith('.gz')) await pipeline(source, createGzip(), file);
      else await pipeline(source, file);
    } catch (error) {
      throw asEvalError(error, target);
    }
    return;
  }
  for (const chunk of runChunks(run, tag)) {
    if (!target.write(chunk)) await once(target, 'drain');
  }
}

function* runChunks(run: ReadonlyMap<string, readonly ScoredDocument[]>, tag: string): Generator<string> {
  for (const [queryId, documents] of run) {
    if (documents.length === 0) continue;
    const ranked = [...documents].sort((a, b) => b.score - a.score);
    const scoreTexts = formatRunScores(ranked.map((document) => document.score));
    const lines: string[] = new Array(ranked.length);
    for (let i = 0; i < ranked.length; i++) {
      lines[i] = `${queryId} Q0 ${ranked[i]!.docId} ${i + 1} ${scoreTexts[i]} ${tag}\n`;
    }
    yield lines.join('');
  }
}

const RUN_SCORE_DECIMALS = 6;
const MAX_RUN_SCORE_DECIMALS = 17;

/**
 * Texts for one query's scores (same order as given): the fewest decimals, from 6, under which
 * reading the texts back keeps every distinct pair of scores apart and in order. See writeRun.
 */
export function formatRunScores(scores: readonly number[]): string[] {
  const ascending = Float64Array.from(scores).sort();
  for (let decimals = RUN_SCORE_DECIMALS; decimals <= MAX_RUN_SCORE_DECIMALS; decimals++) {
    if (keepsOrder(ascending, (score) => score.toFixed(decimals))) {
      return scores.map((score) => score.toFixed(decimals));
    }
  }
  return scores.map((score) => String(score));
}

function keepsOrder(ascending: Float64Array, format: (score: number) => string): boolean {
  let previous = Number.NaN;
  let previousRead = Number.NaN;
  for (const score of ascending) {
    const read = Number(format(score));
    if (score !== previous && !Number.isNaN(previous)) {
      if (!(previousRead < read)) return false;
      if (Math.fround(previous) < Math.fround(score) && !(Math.fround(previousRead) < Math.fround(read))) return false;
    }
    previous = score;
    previousRead = read;
  }
  return true;
}

function checkIdentifier(value: string, what: string): void {
  if (!NON_WHITESPACE_TEXT.test(value)) {
    throw new EvalInputError('BAD_IDENTIFIER', `${what} must be non-empty without whitespace, got ${JSON.stringify(value)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// trec_eval output

/**
 * Parses `trec_eval [-q]` output (`measure <TAB> qid <TAB> value` lines). Lines for query `all`
 * go to `all`, others to `perQuery`; lines whose value is not numeric (runid, relstring) are
 * skipped.
 */
export function parseTrecEvalOutput(text: string, sourceName = '<trec_eval output>'): EvaluationResult {
  const perQuery = new Map<string, MeasureValues>();
  const all: MeasureValues = {};
  splitLines(text, (line, lineNumber) => {
    const trimmed = line.trim();
    if (trimmed === '') return;
    const fields = trimmed.split(WHITESPACE);
    if (fields.length !== 3) {
      throw new EvalInputError('MALFORMED_LINE', `expected 'measure qid value', got ${fields.length} columns`, {
        file: sourceName,
        line: lineNumber,
      });
    }
    const [measure, queryId, valueText] = fields as [string, string, string];
    if (!DECIMAL_TEXT.test(valueText)) return;
    let target: MeasureValues;
    if (queryId === 'all') {
      target = all;
    } else {
      let values = perQuery.get(queryId);
      if (values === undefined) {
        values = {};
        perQuery.set(queryId, values);
      }
      target = values;
    }
    target[measure] = Number(valueText);
  });
  return { perQuery, all };
}

export interface TrecEvalFormatOptions {
  /** Print the per-query lines (trec_eval -q) before the `all` lines. Default true. */
  readonly perQuery?: boolean;
  /** Measures to print, in this order. Default: every measure of `all`, in its order. */
  readonly measures?: readonly string[];
}

/**
 * Prints a result the way trec_eval does: `%-22s\t%s\t%6.4f` (or `%ld` for counts), per query
 * in the result's order, then the `all` lines.
 */
export function formatTrecEvalOutput(result: EvaluationResult, options: TrecEvalFormatOptions = {}): string {
  const measures = options.measures ?? Object.keys(result.all);
  const lines: string[] = [];
  const print = (queryId: string, values: MeasureValues): void => {
    for (const measure of measures) {
      const value = values[measure];
      if (value === undefined) continue;
      const text = COUNT_MEASURES.has(measure) ? String(Math.trunc(value)) : formatFourDecimals(value);
      lines.push(`${measure.padEnd(22)}\t${queryId}\t${text}\n`);
    }
  };
  if (options.perQuery ?? true) {
    for (const [queryId, values] of result.perQuery) print(queryId, values);
  }
  print('all', result.all);
  return lines.join('');
}

/**
 * `%.4f` as C's printf does it. toFixed rounds exact ties away from zero, printf to even; the
 * only doubles exactly halfway at the 4th decimal are odd multiples of 1/32 (e.g. a reciprocal
 * rank of 1/32 prints as 0.0312), since 10^4 / 2 = 2^4 * 625.
 */
export function formatFourDecimals(value: number): string {
  const scaled = value * 10000;
  if (Number.isInteger(value * 32) && Math.abs(scaled) < 2 ** 52 && Math.abs(scaled % 1) === 0.5) {
    const magnitude = Math.abs(scaled);
    let digits = Math.floor(magnitude);
    if (digits % 2 === 1) digits += 1;
    const sign = value < 0 ? '-' : '';
    return `${sign}${Math.floor(digits / 10000)}.${String(digits % 10000).padStart(4, '0')}`;
  }
  return value.toFixed(4);
}

// ---------------------------------------------------------------------------------------------
// line reading

function splitLines(text: string, consume: (line: string, lineNumber: number) => void): void {
  let lineNumber = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    consume(text.slice(start, end), ++lineNumber);
    start = end + 1;
  }
}

/** Streams a plain or gzip text file line by line (gzip recognised by its magic bytes). */
async function forEachLine(path: string, consume: (line: string, lineNumber: number) => void): Promise<void> {
  let isGzip: boolean;
  try {
    const handle = await open(path, 'r');
    try {
      const head = Buffer.alloc(2);
      const { bytesRead } = await handle.read(head, 0, 2, 0);
      isGzip = bytesRead === 2 && head[0] === GZIP_MAGIC_0 && head[1] === GZIP_MAGIC_1;
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw asEvalError(error, path);
  }

  const raw = createReadStream(path);
  let source: NodeJS.ReadableStream = raw;
  if (isGzip) {
    const gunzip = createGunzip();
    // The callback form ties both streams' lifetimes; failures surface through the iteration below.
    pipelineCallback(raw, gunzip, () => {});
    source = gunzip;
  }
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let lineNumber = 0;
  try {
    for await (const chunk of source) {
      pending += typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer);
      let start = 0;
      let end: number;
      while ((end = pending.indexOf('\n', start)) !== -1) {
        consume(pending.slice(start, end), ++lineNumber);
        start = end + 1;
      }
      pending = pending.slice(start);
    }
    pending += decoder.end();
    if (pending.length > 0) consume(pending, ++lineNumber);
  } catch (error) {
    throw asEvalError(error, path);
  } finally {
    raw.destroy();
  }
}

function asEvalError(error: unknown, path: string): Error {
  if (error instanceof EvalInputError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return new EvalInputError('CORRUPT_GZIP', `not a readable gzip file (${message})`, { file: path });
  }
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new EvalInputError('FILE_UNREADABLE', `cannot access file (${code})`, { file: path });
  }
  return error instanceof Error ? error : new Error(message);
}
