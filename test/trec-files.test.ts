import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { evaluate, type Run } from '../src/eval/metrics.js';
import {
  formatFourDecimals,
  formatRunScores,
  formatTrecEvalOutput,
  parseQrels,
  parseRun,
  parseTrecEvalOutput,
  readQrels,
  readRun,
  writeRun,
} from '../src/eval/trec-files.js';

const workDir = mkdtempSync(path.join(tmpdir(), 'sparrow-trec-files-'));
t.teardown(() => rmSync(workDir, { recursive: true, force: true }));
let fileCounter = 0;
function tempFile(name: string, content?: string | Buffer): string {
  const file = path.join(workDir, `${++fileCounter}-${name}`);
  if (content !== undefined) writeFileSync(file, content);
  return file;
}

function plainRun(run: Run): Record<string, Array<[string, number]>> {
  return Object.fromEntries([...run].map(([queryId, docs]) => [queryId, docs.map((d): [string, number] => [d.docId, d.score])]));
}

t.test('qrels: BEIR TSV with header, TREC four columns, auto-detected', async (t) => {
  const beir = 'query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t0\r\n2\td3\t2\n\n';
  const trec = '1 0 d1 1\n1 0 d2 0\n2 Q0 d3 2\n';
  const expected = { '1': { d1: 1, d2: 0 }, '2': { d3: 2 } };
  const toPlain = (qrels: Map<string, Map<string, number>>) =>
    Object.fromEntries([...qrels].map(([q, m]) => [q, Object.fromEntries(m)]));
  t.same(toPlain(await readQrels(tempFile('qrels.tsv', beir))), expected, 'BEIR file');
  t.same(toPlain(await readQrels(tempFile('qrels.txt', trec))), expected, 'TREC file');
  t.same(toPlain(await readQrels(tempFile('qrels.tsv.gz', gzipSync(beir)))), expected, 'gzip BEIR file');
  t.same(toPlain(parseQrels('1\td1\t1\n')), { '1': { d1: 1 } }, 'BEIR without header');
  t.same(toPlain(parseQrels('q 0 d 1.0\n')), { q: { d: 1 } }, 'integer written as 1.0');
  t.same(toPlain(parseQrels('q 0 d -1\n')), { q: { d: -1 } }, 'negative grade');
});

t.test('qrels: malformed input names file and line', async (t) => {
  const file = tempFile('bad-columns.tsv', 'query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\n');
  await t.rejects(readQrels(file), { code: 'MALFORMED_LINE', file, line: 3 });
  await t.rejects(readQrels(file), { message: `${file}:3: ` }, 'message starts with file:line');
  t.throws(() => parseQrels('q 0 d 1\nq d2 1\n', 'x.qrels'), { code: 'MALFORMED_LINE', file: 'x.qrels', line: 2 }, 'BEIR line in TREC file');
  t.throws(() => parseQrels('a b c d e\n'), { code: 'MALFORMED_LINE', line: 1 }, 'five columns');
  t.throws(() => parseQrels('q\td\t1\nq\td2\t1.5\n'), { code: 'BAD_RELEVANCE', line: 2 }, 'fractional grade');
  t.throws(() => parseQrels('q\td\t1\nq\td2\thigh\n'), { code: 'BAD_RELEVANCE', line: 2 }, 'text grade');
  t.throws(() => parseQrels('q\td\t1\nq\td\t0\n'), { code: 'DUPLICATE_JUDGEMENT', line: 2 }, 'duplicate judgement');
  const keptLast = parseQrels('q\td\t1\nq\td\t0\n', 'x', { onDuplicate: 'keep-last' });
  t.equal(keptLast.get('q')!.get('d'), 0, 'keep-last keeps the later grade');
  await t.rejects(readQrels(path.join(workDir, 'missing.tsv')), { code: 'FILE_UNREADABLE' });
});

t.test('runs: read plain and gzip, rank column ignored, file order kept', async (t) => {
  const text = '1 Q0 a 1 2.5 tag\n1 Q0 b 7 3.25 tag\n\n2 Q0 c 1 -1e-3 tag\r\n';
  const expected = { '1': [['a', 2.5], ['b', 3.25]], '2': [['c', -0.001]] };
  t.same(plainRun(await readRun(tempFile('run.txt', text))), expected, 'plain');
  t.same(plainRun(await readRun(tempFile('run.gz', gzipSync(text)))), expected, 'gzip');
  t.same(plainRun(await readRun(tempFile('run-gz-without-suffix', gzipSync(text)))), expected, 'gzip found by content');
  t.same(plainRun(parseRun(text)), expected, 'from memory');
});

t.test('runs: malformed input names file and line', async (t) => {
  const fiveColumns = tempFile('five.run', '1 Q0 a 1 2.5 tag\n1 Q0 b 2 2.0\n');
  await t.rejects(readRun(fiveColumns), { code: 'MALFORMED_LINE', file: fiveColumns, line: 2 });
  const badScore = tempFile('score.run.gz', gzipSync('1 Q0 a 1 2.5 tag\n1 Q0 b 2 2.0 tag\n1 Q0 c 3 abc tag\n'));
  await t.rejects(readRun(badScore), { code: 'BAD_SCORE', file: badScore, line: 3 });
  t.throws(() => parseRun('1 Q0 a 1 NaN tag\n'), { code: 'BAD_SCORE', line: 1 });
  const corrupt = tempFile('corrupt.gz', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  await t.rejects(readRun(corrupt), { code: 'CORRUPT_GZIP', file: corrupt });
  const truncated = tempFile('truncated.gz', gzipSync('1 Q0 a 1 2.5 tag\n'.repeat(1000)).subarray(0, 40));
  await t.rejects(readRun(truncated), { code: 'CORRUPT_GZIP' });
  await t.rejects(readRun(workDir), { code: 'FILE_UNREADABLE' }, 'a directory');
});

t.test('runs: write then read back, plain, gzip and stream', async (t) => {
  const run: Run = new Map([
    ['q2', [{ docId: 'x', score: 0.5 }, { docId: 'y', score: 12.25 }, { docId: 'z', score: 0.5 }]],
    ['q1', [{ docId: 'a', score: 1.0000001 }, { docId: 'b', score: 1.0000004 }]],
    ['empty', []],
  ]);
  const plainFile = tempFile('out.run');
  await writeRun(plainFile, run, 'sparrow');
  t.equal(
    readFileSync(plainFile, 'utf8'),
    [
      // sorted by score, equal scores keep the given order; 6 decimals suffice for q2
      'q2 Q0 y 1 12.250000 sparrow',
      'q2 Q0 x 2 0.500000 sparrow',
      'q2 Q0 z 3 0.500000 sparrow',
      // at 6 decimals both q1 scores would read back as 1.000000: this query gets 7
      'q1 Q0 b 1 1.0000004 sparrow',
      'q1 Q0 a 2 1.0000001 sparrow',
      '',
    ].join('\n'),
  );
  t.same(plainRun(await readRun(plainFile)), {
    q2: [['y', 12.25], ['x', 0.5], ['z', 0.5]],
    q1: [['b', 1.0000004], ['a', 1.0000001]],
  });

  const gzipFile = tempFile('out.run.gz');
  await writeRun(gzipFile, run, 'sparrow');
  const bytes = readFileSync(gzipFile);
  t.same([bytes[0], bytes[1]], [0x1f, 0x8b], 'gzip magic');
  t.same(plainRun(await readRun(gzipFile)), plainRun(await readRun(plainFile)), 'gzip round trip');

  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await writeRun(stream, run, 'sparrow');
  t.notOk(stream.writableEnded, 'a caller stream is left open');
  t.equal(Buffer.concat(chunks).toString('utf8'), readFileSync(plainFile, 'utf8'), 'same text on a stream');
});

t.test('runs: a larger round trip keeps every query ranking and evaluation', async (t) => {
  // Deterministic pseudo-random scores with many near-ties.
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const run: Run = new Map();
  const qrels = new Map<string, Map<string, number>>();
  for (let q = 0; q < 20; q++) {
    const docs = [];
    const judged = new Map<string, number>();
    for (let d = 0; d < 200; d++) {
      const score = Math.floor(next() * 50) / 7 + (d % 3 === 0 ? next() * 1e-9 : 0);
      docs.push({ docId: `doc${(d * 7919) % 1000}`, score });
      if (next() < 0.1) judged.set(`doc${(d * 7919) % 1000}`, Math.floor(next() * 3));
    }
    docs.sort((a, b) => b.score - a.score);
    run.set(`q${q}`, docs);
    qrels.set(`q${q}`, judged);
  }
  const file = tempFile('big.run.gz');
  await writeRun(file, run, 'tag');
  const reread = await readRun(file);
  for (const [queryId, docs] of run) {
    t.same(
      reread.get(queryId)!.map((d) => d.docId),
      docs.map((d) => d.docId),
      `${queryId}: same order`,
    );
  }
  t.same(evaluate(reread, qrels), evaluate(run, qrels), 'same evaluation before and after');
});

t.test('runs: score texts never merge distinct scores', (t) => {
  t.same(formatRunScores([3, 2.5, 2.5]), ['3.000000', '2.500000', '2.500000'], 'equal scores stay equal');
  t.same(formatRunScores([1.0000001, 1.0000004]), ['1.0000001', '1.0000004'], 'one more decimal');
  t.same(formatRunScores([1e-30, 2e-30]), ['1e-30', '2e-30'], 'exact text when decimals do not help');
  // 20.0000007 and 20.0000016 differ as C floats (20 and 20.0000019); at 6 decimals both
  // texts (20.000001, 20.000002) read back as the float 20.0000019, so 7 decimals are used.
  t.same(formatRunScores([20.0000016, 20.0000007]), ['20.0000016', '20.0000007'], 'float distinctness kept');
  t.end();
});

t.test('runs: bad values are refused before anything is written', async (t) => {
  const file = tempFile('refused.run');
  await t.rejects(writeRun(file, new Map([['q 1', [{ docId: 'a', score: 1 }]]]), 'tag'), { code: 'BAD_IDENTIFIER' });
  await t.rejects(writeRun(file, new Map([['q', [{ docId: 'a', score: 1 }]]]), 'my tag'), { code: 'BAD_IDENTIFIER' });
  await t.rejects(writeRun(file, new Map([['q', [{ docId: 'a', score: Number.NaN }]]]), 'tag'), { code: 'BAD_SCORE' });
});

t.test('trec_eval output: parse and print', (t) => {
  const text = [
    'runid                 \tall\tmyrun',
    'num_ret               \t1\t1000',
    'map                   \t1\t0.0312',
    'num_ret               \t2\t5',
    'map                   \t2\t1.0000',
    'num_ret               \tall\t1005',
    'map                   \tall\t0.5156',
    '',
  ].join('\n');
  const parsed = parseTrecEvalOutput(text);
  t.same(Object.fromEntries(parsed.perQuery), { '1': { num_ret: 1000, map: 0.0312 }, '2': { num_ret: 5, map: 1 } });
  t.same(parsed.all, { num_ret: 1005, map: 0.5156 });
  t.equal(formatTrecEvalOutput(parsed), text.split('\n').slice(1).join('\n'), 'printed back identically');
  t.equal(formatTrecEvalOutput(parsed, { perQuery: false, measures: ['map'] }), 'map                   \tall\t0.5156\n');
  t.throws(() => parseTrecEvalOutput('map\t1\n', 'out.txt'), { code: 'MALFORMED_LINE', file: 'out.txt', line: 1 });
  t.end();
});

t.test('four-decimal printing rounds exact ties to even, like printf', (t) => {
  // 1/32 = 0.03125 exactly: printf gives 0.0312, toFixed would give 0.0313.
  t.equal(formatFourDecimals(1 / 32), '0.0312');
  t.equal(formatFourDecimals(3 / 32), '0.0938'); // 0.09375 -> 937.5 -> even 938
  t.equal(formatFourDecimals(0.00005), '0.0001'); // stored slightly above 0.00005: not a tie
  t.equal(formatFourDecimals(2 / 3), '0.6667');
  t.equal(formatFourDecimals(1), '1.0000');
  t.equal(formatFourDecimals(0), '0.0000');
  t.end();
});
