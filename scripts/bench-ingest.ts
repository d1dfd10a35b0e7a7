/**
 * Indexing benchmark: sparrow's `index` command end to end next to Lucene 8 on the same input.
 *
 *   node dist/scripts/bench-ingest.js [--docs 100000] [--queries 200] [--scifact DIR] [--out out/bench-ingest]
 *     [--skip-lucene] [--rounds 1]
 *
 * 1. Learned-sparse vectors: the synthetic SPLADE-like generator's documents written as JSON lines
 *    (`{"id", "vector": {"token": weight}}`, tokens from the BERT vocabulary in ../shared when
 *    present), indexed by `sparrow index C --vectors FILE --build-segments` in a child process until
 *    every document is in an approximate-index segment. The CLI's own report splits the time into
 *    ingestion (read, parse, encode, store) and the segment build.
 * 2. BM25 text: the SciFact corpus through `sparrow index` (EnglishAnalyzer, Lucene's BM25).
 * 3. Lucene 8 (Debian's liblucene8-java) indexing the same two inputs with one indexing thread and
 *    serial merges (scripts/lucene-ingest/LuceneIngest.java): the reference of the ratios.
 * 4. After the build: peak RSS of the indexing process, the segment bytes on disk, the time until a
 *    fresh process answers its first approximate query (open time), resident memory then, and
 *    recall@10 and p50 latency of the default query settings against exact search.
 *
 * Figures go to stdout and OUT/report.md. Timings on a shared machine are noisy: use --rounds and
 * read the medians.
 *
 * Where the time goes (node --cpu-prof of `sparrow index --vectors --build-segments`, 300k
 * synthetic documents, 2 cores): ingestion is the main thread's SQLite transactions, the
 * dictionary lookups and per-document sort of each batch, with the encoder thread parsing beside
 * it; the segment build is the blocking threads assigning each list's documents to centroids and
 * computing block summaries (WebAssembly kernels), after a prepare (inversion of the kept
 * entries, per-document arrays on helper threads).
 * What was removed: overflow pages (documents were a WITHOUT ROWID table, whose 1.3 KB rows each
 * spilled into a 4 KB page of their own: 4.7 KB per document on disk; now a rowid table, 1.7 KB),
 * inverting every entry before the global pruning dropped six in seven of them, centroid dot
 * products over whole documents (their summary components instead), one-thread per-document
 * prepare, reloading every vector into the exact index and again into the tail after a bulk
 * load, summaries over whole documents, copies of the build inputs into shared memory, a
 * per-element decode of stored vectors, a second structural check and a copy of every segment on
 * open.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSynthetic } from './synthetic.js';
import { rowOf } from '../src/index/sparse-matrix.js';
import { compileLuceneHarness } from './lucene-jars.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const cli = path.join(root, 'dist/src/cli/main.js');

interface Options {
  docs: number;
  queries: number;
  scifact: string;
  out: string;
  lucene: boolean;
  rounds: number;
}

function parseArguments(argv: string[]): Options {
  const options: Options = {
    docs: 100_000,
    queries: 200,
    scifact: path.resolve(root, process.env['SPARROW_SHARED_DIR'] ?? '../shared', 'data/beir/scifact'),
    out: path.join(root, 'out/bench-ingest'),
    lucene: true,
    rounds: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => argv[++i] ?? '';
    if (flag === '--docs') options.docs = Number(value());
    else if (flag === '--queries') options.queries = Number(value());
    else if (flag === '--scifact') options.scifact = path.resolve(value());
    else if (flag === '--out') options.out = path.resolve(value());
    else if (flag === '--skip-lucene') options.lucene = false;
    else if (flag === '--rounds') options.rounds = Number(value());
    else throw new Error(`unknown option ${flag}`);
  }
  return options;
}

/** What `node --cpu-prof` of the indexing run showed (kept in step with the header above). */
const PROFILE_FINDINGS = [
  'Profiled with `node --cpu-prof` (`sparrow index --vectors --build-segments`, 300k synthetic documents, 2 cores):',
  '- Ingestion: the encoder thread parses and validates the JSON lines (the vector scanner is most of it); the main thread',
  '  resolves term ids, sorts each document by term id and commits one SQLite transaction per batch. Both are busy.',
  '- Segment build: the blocking threads assign each list\'s documents to centroids and compute block summaries',
  '  (WebAssembly kernels over shared memory); before that, the kept entries are inverted while helper threads derive',
  '  the per-document arrays.',
  '- Removed: overflow pages of a WITHOUT ROWID documents table (4.7 KB per document on disk, now 1.7 KB), inverting',
  '  every entry before the global pruning dropped most of them, centroid dot products over whole documents, a',
  '  one-thread prepare, read-backs of every vector after a bulk load, summaries over whole documents, copies of the',
  '  build inputs into shared memory, a per-element decode of stored vectors, and a copy of every segment on open.',
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Writes the generator's documents and queries as JSON lines with vocabulary tokens. */
function writeVectors(options: Options, dir: string): { docs: string; queries: string; bytes: number } {
  const { docs, queries } = generateSynthetic({ docs: options.docs, queries: options.queries });
  const vocabFile = path.resolve(options.scifact, '../../tokenizers/bert-base-uncased/vocab.txt');
  const vocab = fs.existsSync(vocabFile) ? fs.readFileSync(vocabFile, 'utf8').split('\n') : [];
  const token = (id: number): string => vocab[id] || `t${id}`;
  const write = (file: string, matrix: typeof docs, prefix: string): void => {
    const fd = fs.openSync(file, 'w');
    let lines: string[] = [];
    for (let r = 0; r < matrix.rows; r++) {
      const { indices, values } = rowOf(matrix, r);
      const vector: Record<string, number> = {};
      for (let i = 0; i < indices.length; i++) vector[token(indices[i]!)] = Math.round(values[i]! * 1000) / 1000 || 0.001;
      lines.push(JSON.stringify({ id: `${prefix}${r}`, vector }));
      if (lines.length === 5000) {
        fs.writeSync(fd, lines.join('\n') + '\n');
        lines = [];
      }
    }
    if (lines.length > 0) fs.writeSync(fd, lines.join('\n') + '\n');
    fs.closeSync(fd);
  };
  const docsFile = path.join(dir, 'docs.jsonl');
  const queriesFile = path.join(dir, 'queries.jsonl');
  write(docsFile, docs, 'd');
  write(queriesFile, queries, 'q');
  return { docs: docsFile, queries: queriesFile, bytes: fs.statSync(docsFile).size };
}

interface IndexRun {
  wallMs: number;
  ingestMs: number;
  /** Encoder threads' parse-and-encode time (thread-seconds) and the main thread's commit time. */
  encodeMs: number;
  storeMs: number;
  peakRssKb: number;
  docs: number;
}

/** `sparrow index` in a child process under /usr/bin/time (peak RSS), with --json for its own figures. */
function sparrowIndex(args: string[], dataDir: string): IndexRun {
  fs.rmSync(dataDir, { recursive: true, force: true });
  const timeFile = path.join(os.tmpdir(), `bench-ingest-time-${process.pid}`);
  const started = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '%M', '-o', timeFile, process.execPath, cli, 'index', ...args, '--data-dir', dataDir, '--build-segments', '--json'], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const wallMs = performance.now() - started;
  if (run.status !== 0) throw new Error(`sparrow index failed (${run.status}): ${run.stderr}`);
  const report = JSON.parse(run.stdout) as { elapsedMs: number; indexed: number; stages: { encodeMs: number; storeMs: number }; segments: { tail: number } };
  if (report.segments.tail !== 0) throw new Error(`${report.segments.tail} documents were left outside segments`);
  return { wallMs, ingestMs: report.elapsedMs, encodeMs: report.stages.encodeMs, storeMs: report.stages.storeMs, peakRssKb: Number(fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()), docs: report.indexed };
}

function luceneIndex(mode: 'vectors' | 'text', input: string, dir: string, classes: string, classpath: string): number {
  fs.rmSync(dir, { recursive: true, force: true });
  const output = execFileSync('java', ['-cp', `${classpath}:${classes}`, 'LuceneIngest', mode, input, dir], { encoding: 'utf8' });
  return (JSON.parse(output.trim().split('\n').pop()!) as { ms: number }).ms;
}

function compileLucene(work: string): { classes: string; classpath: string } | undefined {
  return compileLuceneHarness(path.join(root, 'scripts/lucene-ingest/LuceneIngest.java'), path.join(work, 'lucene-classes'));
}

/** A fresh process opens the collection, answers queries both ways, and reports what it saw. */
function probeAfterOpen(dataDir: string, queries: string, count: number): { openMs: number; rssMb: number; recall: number; p50Approximate: number; p50Exact: number; segmentBytes: number } {
  const script = `
    import fs from 'node:fs';
    const started = performance.now();
    const { Engine } = await import(${JSON.stringify(path.join(root, 'dist/src/engine/engine.js'))});
    const engine = Engine.open(${JSON.stringify(dataDir)});
    const collection = engine.collection('bench');
    const queries = fs.readFileSync(${JSON.stringify(queries)}, 'utf8').trim().split('\\n').slice(0, ${count}).map((l) => JSON.parse(l).vector);
    collection.search({ query: queries[0], k: 10 });
    const openMs = performance.now() - started;
    const rssMb = process.memoryUsage().rss / 1048576;
    const time = (mode) => queries.map((query) => { const t = performance.now(); const r = collection.search({ query, k: 10, mode }); return { ms: performance.now() - t, ids: r.hits.map((h) => h.id), mode: r.mode }; });
    const approximate = time('approximate');
    const exact = time('exact');
    let found = 0, total = 0;
    approximate.forEach((a, i) => { const truth = new Set(exact[i].ids); total += truth.size; found += a.ids.filter((id) => truth.has(id)).length; });
    const p50 = (runs) => runs.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    const segmentBytes = collection.segmentStatistics().segments.reduce((sum, s) => sum + s.bytes, 0);
    console.log(JSON.stringify({ openMs, rssMb, recall: found / total, p50Approximate: p50(approximate), p50Exact: p50(exact), segmentBytes, modes: [...new Set(approximate.map((a) => a.mode))] }));
    engine.close();
  `;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(output.trim().split('\n').pop()!) as ReturnType<typeof probeAfterOpen>;
}

/** Bytes of every file under dir (the store, its WAL and the segment files). */
function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(full) : fs.statSync(full).size;
  }
  return total;
}

function main(): void {
  const options = parseArguments(process.argv.slice(2));
  fs.mkdirSync(options.out, { recursive: true });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ingest-'));
  const lines: string[] = [];
  const say = (line = ''): void => {
    console.log(line);
    lines.push(line);
  };
  try {
    say(`# Indexing benchmark (${os.availableParallelism()} cores, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
    say();
    const input = writeVectors(options, work);
    say(`Synthetic SPLADE-like vectors: ${options.docs} documents, ${(input.bytes / 1e6).toFixed(0)} MB of JSON lines.`);
    const lucene = options.lucene ? compileLucene(work) : undefined;
    if (options.lucene && !lucene) say('Lucene 8 jars not found (apt-get install liblucene8-java): no reference column.');

    const vectorRuns: IndexRun[] = [];
    const luceneVectors: number[] = [];
    const dataDir = path.join(work, 'sparrow-vectors');
    for (let round = 0; round < options.rounds; round++) {
      vectorRuns.push(sparrowIndex(['bench', '--vectors', input.docs], dataDir));
      if (lucene) luceneVectors.push(luceneIndex('vectors', input.docs, path.join(work, 'lucene-vectors'), lucene.classes, lucene.classpath));
    }
    const probe = probeAfterOpen(dataDir, input.queries, options.queries);
    const wall = median(vectorRuns.map((r) => r.wallMs));
    const ingest = median(vectorRuns.map((r) => r.ingestMs));
    say();
    say('## Learned-sparse vectors, until every document is searchable through the approximate index');
    say();
    say('| | sparrow | Lucene 8 (1 thread) | sparrow / Lucene |');
    say('|---|---|---|---|');
    const luceneMs = luceneVectors.length > 0 ? median(luceneVectors) : undefined;
    const ratio = (a: number, b: number | undefined): string => (b ? `${(a / b).toFixed(2)}x` : '-');
    say(`| end to end (s) | ${(wall / 1000).toFixed(1)} | ${luceneMs ? (luceneMs / 1000).toFixed(1) : '-'} | ${ratio(wall, luceneMs)} |`);
    say(`| documents/s | ${((options.docs * 1000) / wall).toFixed(0)} | ${luceneMs ? ((options.docs * 1000) / luceneMs).toFixed(0) : '-'} | |`);
    say(`| of which ingestion: read, parse, encode, store (s) | ${(ingest / 1000).toFixed(1)} (${((options.docs * 1000) / ingest).toFixed(0)} docs/s) | | |`);
    say(`| ingestion's stages: parse and encode on encoder threads; store (term ids, SQLite, segment packing) on the main thread (s) | ${(median(vectorRuns.map((r) => r.encodeMs)) / 1000).toFixed(1)}; ${(median(vectorRuns.map((r) => r.storeMs)) / 1000).toFixed(1)} | | |`);
    say(`| of which segment build and the rest (s) | ${((wall - ingest) / 1000).toFixed(1)} | | |`);
    say(`| peak RSS while indexing (MB) | ${(median(vectorRuns.map((r) => r.peakRssKb)) / 1024).toFixed(0)} | | |`);
    say(`| segment bytes on disk (MB) | ${(probe.segmentBytes / 1e6).toFixed(0)} | | |`);
    const collectionBytes = directoryBytes(dataDir);
    const peakBytes = median(vectorRuns.map((r) => r.peakRssKb)) * 1024;
    say(`| collection bytes on disk, SQLite and segments (MB); peak RSS / that | ${(collectionBytes / 1e6).toFixed(0)}; ${(peakBytes / collectionBytes).toFixed(2)}x | | |`);
    say(`| RSS after open / segment bytes | ${((probe.rssMb * 1048576) / probe.segmentBytes).toFixed(2)}x | | |`);
    say(`| open until the first query is answered (s) | ${(probe.openMs / 1000).toFixed(2)} | | |`);
    say(`| RSS after open (MB), per document (bytes) | ${probe.rssMb.toFixed(0)}, ${((probe.rssMb * 1048576) / options.docs).toFixed(0)} | | |`);
    say(`| recall@10 of default query settings vs exact | ${probe.recall.toFixed(3)} | | |`);
    say(`| p50 per query, approximate / exact (ms) | ${probe.p50Approximate.toFixed(2)} / ${probe.p50Exact.toFixed(2)} | | |`);
    if (options.rounds > 1) say(`\nRounds: sparrow ${vectorRuns.map((r) => (r.wallMs / 1000).toFixed(1)).join(', ')} s; Lucene ${luceneVectors.map((ms) => (ms / 1000).toFixed(1)).join(', ')} s (medians above).`);

    const corpus = path.join(options.scifact, 'corpus.jsonl');
    if (fs.existsSync(corpus)) {
      const textRuns: IndexRun[] = [];
      const luceneText: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        textRuns.push(sparrowIndex(['bench', corpus], path.join(work, 'sparrow-text')));
        if (lucene) luceneText.push(luceneIndex('text', corpus, path.join(work, 'lucene-text'), lucene.classes, lucene.classpath));
      }
      const docs = textRuns[0]!.docs;
      const textWall = median(textRuns.map((r) => r.wallMs));
      const textIngest = median(textRuns.map((r) => r.ingestMs));
      const luceneTextMs = luceneText.length > 0 ? median(luceneText) : undefined;
      say();
      say(`## BM25 text: SciFact corpus (${docs} documents), EnglishAnalyzer`);
      say();
      say('| | sparrow | Lucene 8 (1 thread) | sparrow / Lucene |');
      say('|---|---|---|---|');
      say(`| ingestion (s) | ${(textIngest / 1000).toFixed(2)} (${((docs * 1000) / textIngest).toFixed(0)} docs/s) | ${luceneTextMs ? (luceneTextMs / 1000).toFixed(2) : '-'} (${luceneTextMs ? ((docs * 1000) / luceneTextMs).toFixed(0) : '-'} docs/s) | ${ratio(textIngest, luceneTextMs)} |`);
      say(`| end to end with segments, process start included (s) | ${(textWall / 1000).toFixed(2)} | | |`);
    }
    say();
    say('## Where the time goes');
    say();
    for (const line of PROFILE_FINDINGS) say(line);
    fs.writeFileSync(path.join(options.out, 'report.md'), lines.join('\n') + '\n');
    console.log(`\nwrote ${path.join(options.out, 'report.md')}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main();
