import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { toIngestDocument } from '../src/engine/documents.js';
import { Engine } from '../src/engine/engine.js';
import { PrecomputedEncoder, precomputedConfig } from '../src/encoders/precomputed.js';
import { LocalTokenTable } from '../src/encoders/token-table.js';
import { VectorLineScanner, type TermSink } from '../src/encoders/vector-line-scanner.js';
import { SeededRandom } from '../src/common/random.js';
import { ingestFile } from '../src/jobs/ingest.js';
import { tempDir } from './support/tmp.js';

// The fast path (VectorLineScanner) against the general one (JSON.parse, toIngestDocument,
// PrecomputedEncoder): on every line the scanner accepts, both must give the same document.

const config = precomputedConfig({ maxTerms: 64, maxTokenLength: 12 });
const encoder = new PrecomputedEncoder(config);

class ArraySink implements TermSink {
  ids: number[] = [];
  values: number[] = [];
  push(id: number, value: number): void {
    this.ids.push(id);
    this.values.push(Math.fround(value));
  }
  drop(count: number): void {
    this.ids.length -= count;
    this.values.length -= count;
  }
}

interface Scanned {
  id: string;
  fields: string;
  terms: Map<string, number>;
}

function scanner(): { scan(line: string): Scanned | false } {
  const table = new LocalTokenTable();
  const texts: string[] = [];
  const scan = new VectorLineScanner(config, table);
  return {
    scan(line: string) {
      const bytes = Buffer.from(line);
      const sink = new ArraySink();
      const result = scan.scan(bytes, 0, bytes.length, sink);
      for (const token of table.takeNew()) texts[token.id] = token.text;
      if (!result) {
        if (sink.ids.length !== 0) throw new Error('a declined line left terms in the sink');
        return false;
      }
      return { id: result.id, fields: JSON.stringify(result.fields), terms: new Map(sink.ids.map((id, i) => [texts[id]!, sink.values[i]!])) };
    },
  };
}

function general(line: string): Scanned | { code: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { code: 'INVALID_JSON' };
  }
  try {
    const document = toIngestDocument(value);
    const encoded = encoder.encodeDocument(document.fields);
    return {
      id: document.id,
      fields: JSON.stringify(encoder.storedFields(document.fields)),
      terms: new Map([...encoded.terms[0]!].map(([token, weight]) => [token, Math.fround(weight)])),
    };
  } catch (error) {
    return { code: (error as { code: string }).code };
  }
}

const TOKENS = ['the', 'bone', '##ing', 'é', 'naïve', 'ニ', '加', '[unused3]', '😀', '__proto__', 'q', 'w1', 'w2', 'w3', 'w4', 'w5'];
/** Tokens the scanner must leave to the general path (escapes, too long). */
const ODD_TOKENS = ['a"b', 'tab\there', 'x\\y', 'z'.repeat(13), ''];
const NUMBERS = ['0', '1', '0.5', '1.25', '3e-2', '2E+3', '0.0001', '12345678901234567890', '0.30000000000000004', '-0', '7.0e-10', '4', '-0.0', '0.1234567890123456789'];
const ODD_NUMBERS = ['1e400', '-1.5', '01', '1.', '"2"', 'null', 'true', '.5'];

function randomLine(random: SeededRandom): string {
  const pick = <T>(items: readonly T[]): T => items[random.nextInt(items.length)]!;
  const space = (): string => pick(['', '', ' ', '  ', '\t']);
  const entries: string[] = [];
  const rare = (): boolean => random.nextFloat() < 0.03;
  const count = rare() ? 0 : 1 + random.nextInt(5);
  for (let i = 0; i < count; i++) {
    entries.push(`${space()}${JSON.stringify(pick(rare() ? ODD_TOKENS : TOKENS))}${space()}:${space()}${pick(rare() ? ODD_NUMBERS : NUMBERS)}`);
  }
  const parts: string[] = [];
  const id = rare() ? pick(['1.50', '"  "', '""', '"a\\"b"', 'null', '2e3', '[1]']) : pick([JSON.stringify(`d${random.nextInt(100)}`), String(random.nextInt(1000))]);
  if (!rare()) parts.push(`"${pick(['id', '_id', 'id'])}":${id}`);
  if (!rare()) parts.push(`"vector":{${entries.join(',')}}`);
  if (random.nextFloat() < 0.4) parts.push(`"title":${JSON.stringify(pick(['plain', 'quote " inside', 'line\nbreak', 'ünï']))}`);
  if (random.nextFloat() < 0.3) parts.push(`"meta":{"year":${random.nextInt(3000)},"tags":["a",{"b":[1,2]}],"ok":true,"none":null}`);
  if (random.nextFloat() < 0.1) parts.push(`"2":"an integer-like key"`);
  if (rare()) parts.push(`"id":"again"`);
  if (rare()) parts.push(`"__proto__":{"x":1}`);
  for (let i = parts.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  let line = `${space()}{${space()}${parts.join(`${space()},${space()}`)}${space()}}${space()}`;
  if (random.nextFloat() < 0.03) line = line.slice(0, Math.max(1, random.nextInt(line.length)));
  if (random.nextFloat() < 0.02) line += 'x';
  return line;
}

t.test('seeded random lines: whatever the scanner accepts equals the general path', async (t) => {
  const random = new SeededRandom(20261203);
  const scan = scanner();
  let accepted = 0;
  let declinedValid = 0;
  let mismatches = 0;
  for (let n = 0; n < 20000; n++) {
    const line = randomLine(random);
    const fast = scan.scan(line);
    const slow = general(line);
    if (fast === false) {
      if (!('code' in slow)) declinedValid++;
      continue;
    }
    accepted++;
    if ('code' in slow) {
      mismatches++;
      if (mismatches < 5) t.fail(`the scanner accepted a line the general path rejects (${slow.code}): ${line}`);
      continue;
    }
    if (fast.id !== slow.id || fast.fields !== slow.fields || JSON.stringify([...fast.terms].sort()) !== JSON.stringify([...slow.terms].sort())) {
      mismatches++;
      if (mismatches < 5) t.fail(`different documents for ${line}: ${JSON.stringify({ fast: [...fast.terms], slow: [...slow.terms] })}`);
    }
  }
  t.equal(mismatches, 0, 'no line differs');
  t.ok(accepted > 5000, `the fast path took most lines (${accepted})`);
  t.comment(`accepted ${accepted}, valid lines left to the general path ${declinedValid}`);
});

t.test('lines the scanner leaves to the general path', async (t) => {
  const scan = scanner();
  const cases: [string, string, string | undefined][] = [
    ['negative weight', '{"id":"a","vector":{"x":-1}}', 'NEGATIVE_WEIGHT'],
    ['weight as a string', '{"id":"a","vector":{"x":"1"}}', 'INVALID_WEIGHT'],
    ['only zero weights', '{"id":"a","vector":{"x":0}}', 'EMPTY_VECTOR'],
    ['empty vector', '{"id":"a","vector":{}}', 'EMPTY_VECTOR'],
    ['no vector', '{"id":"a"}', 'MISSING_VECTOR'],
    ['no id', '{"vector":{"x":1}}', 'MISSING_ID'],
    ['blank id', '{"id":" ","vector":{"x":1}}', 'INVALID_ID'],
    ['token too long', `{"id":"a","vector":{"${'t'.repeat(13)}":1}}`, 'INVALID_TOKEN'],
    ['empty token', '{"id":"a","vector":{"":1}}', 'INVALID_TOKEN'],
    ['too many terms', `{"id":"a","vector":{${Array.from({ length: 65 }, (_, i) => `"t${i}":1`).join(',')}}}`, 'VECTOR_TOO_LARGE'],
    ['trailing text', '{"id":"a","vector":{"x":1}} x', 'INVALID_JSON'],
    ['leading zero', '{"id":"a","vector":{"x":01}}', 'INVALID_JSON'],
    ['vector is an array', '{"id":"a","vector":[1]}', 'INVALID_VECTOR'],
    // Valid lines whose exact meaning the general path settles.
    ['escaped token', '{"id":"a","vector":{"\\u0078":1}}', undefined],
    ['repeated token (the last weight wins)', '{"id":"a","vector":{"x":1,"x":2}}', undefined],
    ['both id and _id', '{"id":"a","_id":"b","vector":{"x":1}}', undefined],
  ];
  for (const [name, line, code] of cases) {
    t.equal(scan.scan(line), false, `${name}: declined`);
    const slow = general(line);
    if (code) t.equal('code' in slow ? slow.code : 'accepted', code, `${name}: ${code} from the general path`);
    else t.notOk('code' in slow, `${name}: still a document`);
  }
  const repeated = general('{"id":"a","vector":{"x":1,"x":2}}') as Scanned;
  t.same([...repeated.terms], [['x', 2]]);
});

t.test('a file of mixed lines gives the same collection with and without encoder threads', async (t) => {
  const dir = tempDir(t);
  const random = new SeededRandom(7);
  const lines: string[] = [];
  for (let n = 0; n < 3000; n++) lines.push(randomLine(random));
  lines.splice(10, 0, '', '   ', '\u00a0');
  const file = path.join(dir, 'vectors.jsonl');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const engine = Engine.open(path.join(dir, 'data'));
  t.teardown(() => engine.close());
  const summaries = [];
  const contents = [];
  for (const workers of [0, 2]) {
    const c = engine.createCollection(`v${workers}`, { encoder: { type: 'precomputed', maxTerms: 64, maxTokenLength: 12 } });
    const summary = await ingestFile(c, file, { workers, batchSize: 97, format: 'vectors' });
    summaries.push({ ...summary, elapsedMs: 0, stages: { encodeMs: 0, storeMs: 0 }, docsPerSecond: 0, source: '' });
    const rows = engine.store.db
      .prepare('SELECT d.external_id, d.fields, d.vector FROM documents d WHERE collection_id = ? ORDER BY doc_number')
      .all(c.record.id) as { external_id: string; fields: string; vector: Buffer }[];
    const terms = engine.store.loadTerms(c.record.id).map((x) => x.text);
    contents.push({ rows: rows.map((r) => [r.external_id, r.fields, r.vector.toString('base64')]), terms });
  }
  t.same(summaries[1], summaries[0], 'the same counts, rejections and warnings');
  t.same(contents[1], contents[0], 'the same documents, vectors and dictionary');
  t.ok(summaries[0]!.indexed + summaries[0]!.updated > 1000 && summaries[0]!.rejected > 100, `both kinds of line occur (${summaries[0]!.indexed} indexed, ${summaries[0]!.updated} updated, ${summaries[0]!.rejected} rejected)`);
  // The rejections name their lines in order, as the general path words them.
  const rejectedLines = summaries[0]!.errors.map((e) => e.line!);
  t.same(rejectedLines, [...rejectedLines].sort((a, b) => a - b));
  // Each accepted line's document is what the general path makes of it, last version winning.
  const expected = new Map<string, Scanned>();
  lines.forEach((line) => {
    const slow = general(line);
    if (!('code' in slow)) expected.set(slow.id, slow);
  });
  const c = engine.collection('v2');
  let checked = 0;
  for (const [id, document] of expected) {
    const stored = c.get(id);
    if (!stored || JSON.stringify(stored.fields) !== document.fields) {
      t.fail(`document ${id} differs from the general path's`);
      break;
    }
    checked++;
  }
  t.equal(checked, expected.size, 'every document as the general path reads it');
  t.equal(c.statistics().documents, expected.size);
});
