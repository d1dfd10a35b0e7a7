import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { AutoTokenizer } from '@huggingface/transformers';
import { EnglishAnalyzer } from '../src/analysis/english-analyzer.js';
import { TextTokenizer } from '../src/encoders/transformers-runtime.js';
import { Engine } from '../src/engine/engine.js';
import type { SearchHit } from '../src/engine/collection.js';
import type { OffsetFragment } from '../src/engine/highlighting.js';
import { chooseFragments, renderFragment, type TextMatch } from '../src/highlight/fragments.js';
import { buildApp } from '../src/server/app.js';
import { hasScifact, scifactDir } from './support/paths.js';
import { bertTokenizerDir, tinyModelFolder } from './support/tiny-model.js';
import { tempDir } from './support/tmp.js';

interface CorpusLine {
  _id: string;
  title: string;
  text: string;
}

/** The first `count` SciFact documents (real abstracts: hyphens, Greek letters, numbers, units). */
function scifactDocuments(count: number): CorpusLine[] {
  const lines = fs.readFileSync(path.join(scifactDir, 'corpus.jsonl'), 'utf8').split('\n', count);
  return lines.filter((l) => l.length > 0).map((l) => JSON.parse(l) as CorpusLine);
}

/** Odd text a tokenizer must still place: accents, ligatures, CJK, emoji, control characters, [UNK]s. */
const ODD_TEXTS = [
  'Café au lait, naïve résumé; ÉCOLE Straße.',
  'Ⅻ ﬁsh ﬂow — “quoted” ‘single’ … done',
  'β-amyloid (Aβ42) and TNF-α at 37°C, p<0.05, 10⁻³ M',
  '東京 大学 の 研究 ᄀ 😀 emoji 👍🏽 end',
  'tab\there\u0000nul\u200bzero-width\u00adsoft hyphen',
  '   leading spaces and trailing   ',
  'x'.repeat(120) + ' long word',
];

t.test('analyzeSpans: the same terms as analyze, each from the token at its offsets', async (t) => {
  if (!hasScifact) { t.pass('no SciFact', { skip: true }); return; }
  const analyzer = new EnglishAnalyzer();
  const single = new EnglishAnalyzer();
  let spans = 0;
  for (const doc of [...scifactDocuments(300), ...ODD_TEXTS.map((text, i) => ({ _id: `odd${i}`, title: '', text }))]) {
    for (const text of [doc.title, doc.text]) {
      const terms: string[] = [];
      let bad = 0;
      analyzer.analyzeSpans(text, (term, start, end) => {
        terms.push(term);
        // The token alone analyzes to the same term: the offsets are the token's.
        if (single.analyze(text.slice(start, end)).join(' ') !== term) bad++;
        spans++;
      });
      t.same(terms, analyzer.analyze(text), `${doc._id}: terms in order`);
      t.equal(bad, 0, `${doc._id}: every span re-analyzes to its term`);
    }
  }
  t.ok(spans > 30_000, `${spans} spans checked`);
});

t.test('tokenSpans: every word piece placed on the text it came from', async (t) => {
  if (!fs.existsSync(bertTokenizerDir)) { t.pass('no bert-base-uncased tokenizer', { skip: true }); return; }
  const raw = await AutoTokenizer.from_pretrained(bertTokenizerDir, { local_files_only: true });
  const tokenizer = new TextTokenizer(raw);
  const texts = [...(hasScifact ? scifactDocuments(200).flatMap((d) => [d.title, d.text]) : []), ...ODD_TEXTS];
  let placed = 0;
  let unplaced = 0;
  for (const text of texts) {
    const tokens = raw.tokenize(text);
    const spans = tokenizer.tokenSpans(text);
    const unknown = tokens.filter((tok) => tok === '[UNK]').length;
    // Pieces come out in order, a subsequence of the tokenizer's own output.
    let at = 0;
    for (const span of spans) {
      while (at < tokens.length && tokens[at] !== span.token) at++;
      if (at === tokens.length) t.fail(`${JSON.stringify(span.token)} is not one of the tokenizer's pieces, in order`);
      at++;
      // The covered text, normalized as BERT does, is the piece.
      const covered = text
        .slice(span.start, span.end)
        .toLowerCase()
        .normalize('NFD')
        .replace(/[\p{Mn}\p{Cc}\p{Cf}]/gu, '');
      if (covered !== span.token.replace(/^##/, '')) t.fail(`${JSON.stringify(text.slice(0, 40))}: ${JSON.stringify(span.token)} placed on ${JSON.stringify(covered)}`);
    }
    for (let i = 1; i < spans.length; i++) if (spans[i]!.start < spans[i - 1]!.end) t.fail(`spans overlap in ${JSON.stringify(text.slice(0, 40))}`);
    placed += spans.length;
    unplaced += tokens.length - unknown - spans.length;
  }
  t.ok(placed > 20_000 || !hasScifact, `${placed} pieces placed`);
  t.ok(unplaced <= placed * 0.001, `at most 0.1% of known pieces unplaced (${unplaced})`);
  const accents = tokenizer.tokenSpans('Café NAÏVE');
  t.same(
    accents.map((s) => [s.token, 'Café NAÏVE'.slice(s.start, s.end)]),
    raw.tokenize('Café NAÏVE').map((tok, i) => [tok, accents[i] ? 'Café NAÏVE'.slice(accents[i]!.start, accents[i]!.end) : '']),
  );
  t.equal('Café NAÏVE'.slice(accents[0]!.start, accents[0]!.end), 'Café', 'an accented word is marked in its original spelling');
});

t.test('chooseFragments and renderFragment', async (t) => {
  const text = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon';
  const at = (word: string, weight: number): TextMatch => ({ start: text.indexOf(word), end: text.indexOf(word) + word.length, term: word, weight });
  const matches = [at('beta', 1), at('iota', 3), at('sigma', 2)];
  const options = { fragmentSize: 30, numberOfFragments: 2, order: 'position' as const, noMatchSize: 0 };
  const two = chooseFragments(text, matches, options);
  t.equal(two.length, 2, 'two fragments');
  t.ok(two[0]!.start < two[1]!.start, 'in text order');
  t.ok(two.some((f) => f.matches.some((m) => m.term === 'iota')), 'the heaviest match is in a fragment');
  for (const f of two) {
    t.ok(f.start === 0 || text[f.start - 1] === ' ', `fragment ${f.start}-${f.end} starts at a word`);
    t.ok(f.end === text.length || text[f.end] === ' ', `fragment ${f.start}-${f.end} ends at a word`);
    t.ok(f.end - f.start <= 30 + 20, 'about the asked size');
  }
  const byScore = chooseFragments(text, matches, { ...options, order: 'score' });
  t.ok(byScore[0]!.score >= byScore[1]!.score, 'score order: the best first');
  t.same(chooseFragments(text, matches, { ...options, numberOfFragments: 0 }), [{ start: 0, end: text.length, score: 6, matches }], 'number 0: the whole text');
  t.same(chooseFragments(text, [], options), [], 'nothing matched: no fragment');
  const head = chooseFragments(text, [], { ...options, noMatchSize: 14 });
  t.same([head[0]!.start, text.slice(head[0]!.start, head[0]!.end)], [0, 'alpha beta '], 'no_match_size: the start, cut at a word');

  const html = 'a <b>x</b> & "y"';
  const fragment = { start: 0, end: html.length, score: 1, matches: [{ start: 5, end: 6, term: 'x', weight: 1 }] };
  t.equal(renderFragment(html, fragment, { preTag: '<em>', postTag: '</em>', encoder: 'html' }), 'a &lt;b&gt;<em>x</em>&lt;/b&gt; &amp; &quot;y&quot;', 'html: text escaped, tags kept');
  t.equal(renderFragment(html, fragment, { preTag: '[', postTag: ']', encoder: 'none' }), 'a <b>[x]</b> & "y"', 'none: text as stored');
});

/** The words a hit's highlight marked, from the offsets format. */
function marked(hit: SearchHit, field: string): string[] {
  const text = hit.fields?.[field] as string;
  return ((hit.highlight?.[field] ?? []) as OffsetFragment[]).flatMap((f) => f.matches.map((m) => text.slice(m.start, m.end)));
}

t.test('BM25: stemmed matches are marked, and exactly the terms explain lists', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  for (const fields of ['flat', 'multifield'] as const) {
    const collection = engine.createCollection(`c-${fields}`, { encoder: { type: 'bm25', fields } });
    collection.upsert([
      { id: 'a', fields: { title: 'Studies of cells', text: 'We studied mice. The study found that the cell walls were studying nothing.' } },
      { id: 'b', fields: { title: 'Unrelated', text: 'Birds sing.' } },
    ]);
    const answer = collection.search({ query: 'the studies on cells', k: 5, fields: true, highlight: { format: 'offsets', numberOfFragments: 0 } });
    t.equal(answer.hits.length, 1);
    const hit = answer.hits[0]!;
    t.same(marked(hit, 'title'), ['Studies', 'cells'], `${fields}: title`);
    t.same(marked(hit, 'text'), ['studied', 'study', 'cell', 'studying'], `${fields}: every stemmed form, no stop word ("the")`);
  }

  if (!hasScifact) return;
  const analyzer = new EnglishAnalyzer();
  const collection = engine.createCollection('scifact', { encoder: { type: 'bm25' } });
  const docs = scifactDocuments(800);
  collection.upsert(docs.map((d) => ({ id: d._id, fields: { title: d.title, text: d.text } })));
  const queries = fs
    .readFileSync(path.join(scifactDir, 'queries.jsonl'), 'utf8')
    .split('\n', 30)
    .filter((l) => l.length > 0)
    .map((l) => (JSON.parse(l) as { text: string }).text);
  let checkedHits = 0;
  for (const query of queries) {
    const answer = collection.search({ query, k: 5, fields: true, explain: true, highlight: { format: 'offsets', numberOfFragments: 0 } });
    for (const hit of answer.hits) {
      const explained = new Set(hit.explain!.map((e) => e.term));
      const markedTerms = new Set(['title', 'text'].flatMap((f) => marked(hit, f)).flatMap((w) => analyzer.analyze(w)));
      // Flat BM25 indexes title and text together: a term explained is in one of them, so marked.
      t.same([...markedTerms].sort(), [...explained].sort(), `${JSON.stringify(query)} / ${hit.id}: marked = explained`);
      checkedHits++;
    }
  }
  t.ok(checkedHits >= 100, `${checkedHits} hits checked`);
});

t.test('SPLADE: marked pieces are the ones in both the query and the document vector', async (t) => {
  if (!hasScifact) { t.pass('no SciFact', { skip: true }); return; }
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  // The tiny model's weights are random: unpruned, its vectors hold about half the vocabulary, so
  // query and document share many pieces that are in the text too.
  const collection = engine.createCollection('splade', { encoder: { type: 'splade', model: tinyModelFolder(t), maxLength: 128 } });
  const docs = scifactDocuments(20);
  await collection.upsertAsync(docs.map((d) => ({ id: d._id, fields: { title: d.title, text: d.text } })));
  const raw = await AutoTokenizer.from_pretrained(bertTokenizerDir, { local_files_only: true });
  let marks = 0;
  let missed = 0;
  for (const query of ['cell death in tumours', 'vitamin D deficiency', 'Protein folding']) {
    const answer = await collection.searchAsync({ query, k: 5, fields: true, explain: true, highlight: { format: 'offsets', numberOfFragments: 0 } });
    for (const hit of answer.hits) {
      const explained = new Set(hit.explain!.map((e) => e.term));
      const stored = collection.get(hit.id)!;
      for (const field of ['title', 'text']) {
        const fragments = (hit.highlight?.[field] ?? []) as OffsetFragment[];
        for (const m of fragments.flatMap((f) => f.matches)) {
          marks++;
          if (!explained.has(m.term)) t.fail(`${hit.id}: ${m.term} marked but not a matched term`);
        }
        // Every occurrence of a matched piece in the text is marked (up to [UNK] placement).
        const pieces = raw.tokenize(stored.fields[field] as string);
        const expected = pieces.filter((p) => explained.has(p)).length;
        const got = fragments.flatMap((f) => f.matches).length;
        missed += expected - got;
      }
    }
  }
  t.ok(marks > 0, `${marks} marks`);
  t.equal(missed, 0, 'no occurrence of a matched piece left unmarked');
});

t.test('over HTTP: tags, escaping, offsets, warnings and coded errors', async (t) => {
  const engine = Engine.open(tempDir(t));
  const app = buildApp({ engine, workers: 1 });
  t.teardown(async () => {
    await app.close();
    engine.close();
  });
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  await app.inject({ method: 'PUT', url: '/collections/c/documents/a', payload: { title: 'Sparrows & <finches>', text: 'Sparrows are small birds. '.repeat(20), year: 2020 } });
  const search = (body: object) => app.inject({ method: 'POST', url: '/collections/c/search', payload: { query: 'sparrow', ...body } });

  const tagged = (await search({ highlight: { fields: ['title'] } })).json();
  t.same(tagged.hits[0].highlight, { title: ['<em>Sparrows</em> &amp; &lt;finches&gt;'] }, 'default tags, text escaped');
  const custom = (await search({ highlight: { fields: ['title'], pre_tag: '**', post_tag: '**', encoder: 'none' } })).json();
  t.same(custom.hits[0].highlight, { title: ['**Sparrows** & <finches>'] });
  const limited = (await search({ highlight: { fields: ['text'], fragment_size: 60, number_of_fragments: 2 } })).json();
  t.equal(limited.hits[0].highlight.text.length, 2, 'two fragments');
  for (const f of limited.hits[0].highlight.text) t.ok(f.replace(/<\/?em>/g, '').length <= 80, 'each about the asked size');
  const offsets = (await search({ fields: false, highlight: { fields: ['title'], format: 'offsets' } })).json();
  t.same(offsets.hits[0].highlight.title, [{ start: 0, end: 20, matches: [{ start: 0, end: 8, term: 'sparrow' }] }]);
  const unread = (await search({ highlight: { fields: ['year'] } })).json();
  t.match(unread.warnings, [/"year" is not a field the encoder reads/], 'a field the encoder never reads is named in a warning');
  t.same(unread.hits[0].highlight, {});

  for (const [highlight, path] of [
    [{ fragment_size: -1 }, 'fragment_size'],
    [{ number_of_fragments: 1000 }, 'number_of_fragments'],
    [{ order: 'best' }, 'order'],
    [{ colour: 'red' }, 'colour'],
    [{ fields: 'title' }, 'fields'],
  ] as const) {
    const res = await search({ highlight });
    t.equal(res.statusCode, 400, `${JSON.stringify(highlight)}: 400`);
    t.equal(res.json().error.code, 'VALIDATION_FAILED');
    t.match(res.json().error.message, path, 'the message names the setting');
  }
});
