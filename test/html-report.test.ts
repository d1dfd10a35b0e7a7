import t from 'tap';
import { renderHtmlReport } from '../src/eval/html-report.js';

t.test('report.html: one bar per query with one run, sorted; names are escaped', async (t) => {
  const perQuery = new Map([
    ['q1', { ndcg_cut_10: 0.2 }],
    ['q<2>', { ndcg_cut_10: 0.9 }],
    ['q3', { ndcg_cut_10: 0 }],
  ]);
  const html = renderHtmlReport({ title: 'A & B', notes: ['three queries'], runs: [{ name: 'bm25 "flat"', metrics: { ndcg_cut_10: 0.3667, map: 0.25 }, perQuery }], measures: ['ndcg_cut_10', 'map'] });
  t.match(html, /<title>A &#38; B<\/title>/, 'the title is escaped');
  const bars = [...html.matchAll(/<rect class="query" data-query="([^"]+)" data-value="([^"]+)"/g)].map((m) => [m[1], Number(m[2])]);
  t.same(bars, [['q&#60;2&#62;', 0.9], ['q1', 0.2], ['q3', 0]], 'bars best first, ids escaped');
  t.match(html, /<td>bm25 &#34;flat&#34;<\/td><td>0\.3667<\/td><td>0\.2500<\/td>/, 'the figures table');
  t.match(html, /3 queries, sorted by ndcg_cut_10; 1 score 0\./);
  t.notMatch(html, /https?:\/\/|<script/);
});

t.test('report.html: two runs give a scatter with the wins counted', async (t) => {
  const a = new Map([['q1', { ndcg_cut_10: 0.5 }], ['q2', { ndcg_cut_10: 0.5 }], ['q3', { ndcg_cut_10: 0.1 }]]);
  const b = new Map([['q1', { ndcg_cut_10: 0.7 }], ['q2', { ndcg_cut_10: 0.5 }], ['q3', { ndcg_cut_10: 0 }]]);
  const html = renderHtmlReport({ title: 'x', notes: [], runs: [{ name: 'sparse', metrics: {}, perQuery: a }, { name: 'fused', metrics: {}, perQuery: b }], measures: ['ndcg_cut_10'] });
  t.equal(html.match(/<circle class="query"/g)?.length, 3);
  t.match(html, /fused is better on 1 queries, worse on 1, equal on 1 \(ndcg_cut_10\)/);
});
