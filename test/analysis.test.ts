import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { Analyzer } from '../src/analysis/analyzer.js';
import { ENGLISH_STOP_WORDS, EnglishAnalyzer, lowerCaseCodePoints } from '../src/analysis/english-analyzer.js';
import { PorterStemmer } from '../src/analysis/porter-stemmer.js';
import { AnalysisError, StandardTokenizer } from '../src/analysis/standard-tokenizer.js';

// compiled to dist/test, so the repository root is two levels up
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = path.join(repoRoot, 'test', 'fixtures', 'analysis');
const scifactCorpus = path.resolve(repoRoot, '..', 'shared', 'data', 'beir', 'scifact', 'corpus.jsonl');

interface GoldenCase {
  input: string;
  standard: string[];
  english: string[];
}

function readJsonLines<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);
}

/** Short, escaped rendering of an input for failure messages. */
function show(text: string): string {
  const escaped = JSON.stringify(text);
  return escaped.length > 120 ? `${escaped.slice(0, 117)}..."(${text.length} chars)` : escaped;
}

/** Reports each mismatch on its own line (up to a limit), then asserts there were none. */
function expectNoMismatches(t: Test, what: string, mismatches: string[]): void {
  for (const message of mismatches.slice(0, 25)) t.fail(message);
  t.equal(mismatches.length, 0, `${what}: ${mismatches.length} mismatch(es)`);
}

t.test('golden cases: StandardTokenizer and EnglishAnalyzer match Lucene 8.7', async (t) => {
  const cases = readJsonLines<GoldenCase>(path.join(fixtures, 'golden.jsonl'));
  t.ok(cases.length >= 150, `${cases.length} golden cases`);
  const tokenizer = new StandardTokenizer();
  const analyzer = new EnglishAnalyzer();
  const tokenizerMismatches: string[] = [];
  const analyzerMismatches: string[] = [];
  for (const c of cases) {
    const tokens = tokenizer.tokenize(c.input);
    if (JSON.stringify(tokens) !== JSON.stringify(c.standard)) {
      tokenizerMismatches.push(`tokenizer ${show(c.input)}: expected ${show(c.standard.join(' | '))}, got ${show(tokens.join(' | '))}`);
    }
    const terms = analyzer.analyze(c.input);
    if (JSON.stringify(terms) !== JSON.stringify(c.english)) {
      analyzerMismatches.push(`analyzer ${show(c.input)}: expected ${show(c.english.join(' | '))}, got ${show(terms.join(' | '))}`);
    }
  }
  expectNoMismatches(t, 'StandardTokenizer', tokenizerMismatches);
  expectNoMismatches(t, 'EnglishAnalyzer', analyzerMismatches);
});

t.test('Porter golden: PorterStemmer matches Lucene PorterStemFilter', async (t) => {
  const lines = readFileSync(path.join(fixtures, 'porter-golden.tsv'), 'utf8').split('\n').filter(Boolean);
  t.ok(lines.length >= 3000, `${lines.length} words`);
  const stemmer = new PorterStemmer();
  const mismatches: string[] = [];
  for (const line of lines) {
    const [word, stem] = line.split('\t');
    const got = stemmer.stem(word);
    if (got !== stem) mismatches.push(`stem(${show(word)}): expected ${show(stem)}, got ${show(got)}`);
  }
  expectNoMismatches(t, 'PorterStemmer', mismatches);
});

const scifactSkip = existsSync(scifactCorpus) ? false : `SciFact corpus not found at ${scifactCorpus}`;

t.test('SciFact golden: EnglishAnalyzer matches Lucene on sampled documents', { skip: scifactSkip }, async (t) => {
  const texts = new Map<string, string>();
  for (const doc of readJsonLines<{ _id: string; title?: string; text?: string }>(scifactCorpus)) {
    texts.set(doc._id, `${doc.title ?? ''} ${doc.text ?? ''}`);
  }
  const golden = readJsonLines<{ id: string; terms: string }>(path.join(fixtures, 'scifact-golden.jsonl'));
  t.ok(golden.length >= 250, `${golden.length} documents`);
  const analyzer = new EnglishAnalyzer();
  const mismatches: string[] = [];
  let termCount = 0;
  for (const { id, terms } of golden) {
    const text = texts.get(id);
    if (text === undefined) {
      mismatches.push(`document ${id} missing from the corpus`);
      continue;
    }
    const expected = terms === '' ? [] : terms.split(' ');
    termCount += expected.length;
    const got = analyzer.analyze(text);
    if (got.join(' ') !== terms) {
      let i = 0;
      while (i < got.length && got[i] === expected[i]) i++;
      mismatches.push(`document ${id}: first difference at term ${i}: expected ${show(expected[i] ?? '<end>')}, got ${show(got[i] ?? '<end>')}`);
    }
  }
  t.ok(termCount > 10000, `${termCount} terms compared`);
  expectNoMismatches(t, 'SciFact documents', mismatches);
});

t.test('EnglishAnalyzer basics', async (t) => {
  const analyzer: Analyzer = new EnglishAnalyzer();
  t.equal(analyzer.name, 'english');
  t.same(analyzer.analyze(''), []);
  t.same(analyzer.analyze(' \t\n'), []);
  t.same(analyzer.analyze(undefined as unknown as string), [], 'non-string input gives no terms');
  t.same(analyzer.analyze(42 as unknown as string), []);
  t.same(analyzer.analyze('The cats are running in the gardens'), ['cat', 'run', 'garden']);
  t.same(analyzer.analyze("The patient's doctors' notes"), ['patient', 'doctor', 'note'], "'s is dropped; a trailing ' is not part of the token");
  t.same(analyzer.analyze('JOHN\u2019S and Mary\uff07s'), ['john', 'mari']);
  t.same(analyzer.analyze('ΟΔΟΣ'), ['οδοσ'], 'no final-sigma rule, as Java Character.toLowerCase');
  t.same(analyzer.analyze('İstanbul'), ['istanbul'], 'U+0130 lower-cases to a plain i');
  t.same(analyzer.analyze('IL-6 and TNF-α levels rose 3.5-fold'), ['il', '6', 'tnf', 'α', 'level', 'rose', '3.5', 'fold']);
  t.doesNotThrow(() => analyzer.analyze('a\ud800b \udc00 c\ud800'), 'lone surrogates do not throw');
  t.same(analyzer.analyze('word\ud800 other'), ['word', 'other']);
  t.same(analyzer.analyze('x\ud800'), [], 'like Lucene, input ending in a lone high surrogate yields nothing');
});

t.test('ENGLISH_STOP_WORDS is Lucene\'s English stop set', async (t) => {
  t.equal(ENGLISH_STOP_WORDS.size, 33);
  for (const word of ['a', 'the', 'with', 'into', 'such', 'will', 'there', 'these']) t.ok(ENGLISH_STOP_WORDS.has(word), word);
  for (const word of ['i', 'we', 'he', 'she', 'from', 'which', 'The']) t.notOk(ENGLISH_STOP_WORDS.has(word), word);
});

t.test('lowerCaseCodePoints', async (t) => {
  t.equal(lowerCaseCodePoints('abc'), 'abc');
  t.equal(lowerCaseCodePoints('ABC'), 'abc');
  t.equal(lowerCaseCodePoints('ÉCOLE'), 'école');
  t.equal(lowerCaseCodePoints('ΣΑΣ'), 'σασ');
  t.equal(lowerCaseCodePoints('\u0130I'), 'ii');
  t.equal(lowerCaseCodePoints('\ud801\udc00'), '\ud801\udc28', 'supplementary letters map by code point');
  t.equal(lowerCaseCodePoints('ß'), 'ß');
});

t.test('PorterStemmer basics', async (t) => {
  const stemmer = new PorterStemmer();
  const cases: [string, string][] = [
    ['caresses', 'caress'],
    ['ponies', 'poni'],
    ['agreed', 'agre'],
    ['hopping', 'hop'],
    ['happy', 'happi'],
    ['relational', 'relat'],
    ['generalizations', 'gener'],
    ['archaeology', 'archaeolog'],
    ['is', 'is'],
    ['as', 'as'],
    ['', ''],
    ['1990s', '1990'],
    ['café', 'café'],
  ];
  for (const [word, stem] of cases) t.equal(stemmer.stem(word), stem, word);
  t.equal(stemmer.stem('walk'.repeat(50) + 'ing'), 'walk'.repeat(50), 'long words grow the buffer');
});

t.test('StandardTokenizer offsets, reuse and token length', async (t) => {
  const tokenizer = new StandardTokenizer();
  const text = 'Hi, 3.14 and 中文!';
  tokenizer.reset(text);
  const spans: [number, number][] = [];
  while (tokenizer.next()) spans.push([tokenizer.start, tokenizer.end]);
  t.same(spans, [[0, 2], [4, 8], [9, 12], [13, 14], [14, 15]]);
  t.notOk(tokenizer.next(), 'stays at end of input');
  t.same(tokenizer.tokenize('again reused'), ['again', 'reused']);
  t.same(tokenizer.tokenize('e.g. U.S.A. x.y'), ['e.g', 'U.S.A', 'x.y']);
  t.same(tokenizer.tokenize('a'.repeat(600)), ['a'.repeat(255), 'a'.repeat(255), 'a'.repeat(90)]);
  t.same(new StandardTokenizer({ maxTokenLength: 4 }).tokenize('abcdefghij xy'), ['abcd', 'efgh', 'ij', 'xy']);
  t.throws(() => new StandardTokenizer({ maxTokenLength: 0 }), AnalysisError);
  try {
    new StandardTokenizer({ maxTokenLength: 1.5 });
    t.fail('expected an error');
  } catch (error) {
    t.equal((error as AnalysisError).code, 'INVALID_ANALYZER_OPTION');
  }
});

t.test('EnglishAnalyzer stays exact across its term cache filling up and starting over', async (t) => {
  const analyzer = new EnglishAnalyzer();
  const stemmer = new PorterStemmer();
  const words: string[] = [];
  // more distinct tokens than the cache holds, both short ASCII ones and longer ones
  for (let i = 0; i < 132_000; i++) words.push(`G${i.toString(36)}`, `Walking${i.toString(36)}s`);
  const text = words.join(' ');
  const expected = words.map((w) => stemmer.stem(w.toLowerCase()));
  t.same(analyzer.analyze(text), expected, 'first pass (fills and resets the cache)');
  t.same(analyzer.analyze(text), expected, 'second pass');
  t.same(analyzer.analyze('The WALKING dogs'), ['walk', 'dog']);
  const long = 'Running'.repeat(20);
  const longStem = stemmer.stem(long.toLowerCase());
  t.same(analyzer.analyze(`${long} ${long}`), [longStem, longStem], 'long tokens bypass the cache');
});
