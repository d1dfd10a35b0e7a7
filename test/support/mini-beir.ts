import fs from 'node:fs';
import path from 'node:path';

/**
 * A small BEIR folder (test and train judgements) whose words all have 3-d vectors, with a
 * word-vector file in wink's layout ({dimensions, words, vectors: {word: [d values, norm, index]}}).
 * Animal words share a direction, money words another: the dense side finds synonyms BM25 cannot.
 * The same data as test/hybrid.test.ts builds.
 */
export function writeMiniBeir(dir: string): { folder: string; vectors: string } {
  const folder = path.join(dir, 'mini');
  fs.mkdirSync(path.join(folder, 'qrels'), { recursive: true });
  const corpus = [
    { _id: 'd1', title: 'cats', text: 'cats purr and sleep' },
    { _id: 'd2', title: 'dogs', text: 'dogs bark and run' },
    { _id: 'd3', title: 'kittens', text: 'small felines sleep a lot' },
    { _id: 'd4', title: 'puppies', text: 'young canines run and play' },
    { _id: 'd5', title: 'stocks', text: 'markets fall and rise' },
    { _id: 'd6', title: 'bonds', text: 'interest rates rise' },
  ];
  fs.writeFileSync(path.join(folder, 'corpus.jsonl'), corpus.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const queries = [
    { _id: 'q1', text: 'kitty' },
    { _id: 'q2', text: 'dogs run' },
    { _id: 'q3', text: 'rates' },
    { _id: 'q4', text: 'kittens sleep' },
    { _id: 'q5', text: 'canines' },
  ];
  fs.writeFileSync(path.join(folder, 'queries.jsonl'), queries.map((q) => JSON.stringify(q)).join('\n') + '\n');
  fs.writeFileSync(path.join(folder, 'qrels', 'test.tsv'), 'query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td3\t1\nq2\td2\t1\nq3\td6\t1\n');
  fs.writeFileSync(path.join(folder, 'qrels', 'train.tsv'), 'query-id\tcorpus-id\tscore\nq4\td3\t1\nq4\td1\t1\nq5\td4\t1\nq5\td2\t1\n');
  const table: Record<string, number[]> = {
    cats: [1, 0.1, 0], kitty: [0.95, 0.15, 0], kittens: [1, 0.2, 0], felines: [0.9, 0.1, 0], purr: [0.8, 0, 0.1], sleep: [0.5, 0.5, 0], small: [0.3, 0.3, 0.3],
    dogs: [0.1, 1, 0], puppies: [0.2, 1, 0], canines: [0.1, 0.9, 0], bark: [0, 0.8, 0.1], run: [0.2, 0.6, 0.2], young: [0.3, 0.4, 0.2], play: [0.3, 0.5, 0.1],
    markets: [0, 0, 1], stocks: [0, 0.1, 1], bonds: [0.1, 0, 1], rates: [0, 0, 0.9], interest: [0.1, 0.1, 0.8], rise: [0, 0.2, 0.7], fall: [0.1, 0.1, 0.6],
  };
  const words = Object.keys(table);
  const vectors: Record<string, number[]> = {};
  words.forEach((w, i) => (vectors[w] = [...table[w]!, Math.hypot(...table[w]!), i]));
  const file = path.join(dir, 'vectors.json');
  fs.writeFileSync(file, JSON.stringify({ dimensions: 3, words, vectors }));
  return { folder, vectors: file };
}
