/**
 * Throughput of StandardTokenizer and EnglishAnalyzer over the SciFact corpus (title + " " + text).
 *
 * usage: node dist/scripts/bench-analyzer.js [--runs N] [--corpus PATH]
 * Prints the median of N timed passes (after one warm-up pass) in MB/s of UTF-8 input and tokens/s
 * (tokens the tokenizer emits, terms the analyzer returns). The analyzer is reused across passes, as
 * in an indexing run, so its term cache is warm.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnglishAnalyzer } from '../src/analysis/english-analyzer.js';
import { StandardTokenizer } from '../src/analysis/standard-tokenizer.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function measure(label: string, texts: string[], bytes: number, runs: number, pass: () => number): void {
  pass(); // warm-up: JIT and lazily built tables
  const seconds: number[] = [];
  let tokens = 0;
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    tokens = pass();
    seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  const s = median(seconds);
  const best = Math.min(...seconds);
  const mb = bytes / 1e6;
  console.log(
    `${label.padEnd(18)} ${(mb / s).toFixed(1).padStart(7)} MB/s  ${(tokens / s / 1e6).toFixed(2).padStart(6)} M tokens/s` +
      `  (median of ${runs}: ${(s * 1000).toFixed(0)} ms; best ${(mb / best).toFixed(1)} MB/s; ${tokens} tokens)`,
  );
}

function main(): void {
  const runs = Math.max(1, Number(option('--runs', '5')));
  const corpus = option('--corpus', path.resolve(repoRoot, '..', 'shared', 'data', 'beir', 'scifact', 'corpus.jsonl'));
  const texts: string[] = [];
  for (const line of readFileSync(corpus, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const doc = JSON.parse(line) as { title?: string; text?: string };
    texts.push(`${doc.title ?? ''} ${doc.text ?? ''}`);
  }
  const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text, 'utf8'), 0);
  console.log(`corpus ${corpus}: ${texts.length} documents, ${(bytes / 1e6).toFixed(2)} MB UTF-8`);

  const tokenizer = new StandardTokenizer();
  measure('StandardTokenizer', texts, bytes, runs, () => {
    let count = 0;
    for (const text of texts) {
      tokenizer.reset(text);
      while (tokenizer.next()) count++;
    }
    return count;
  });

  const analyzer = new EnglishAnalyzer();
  measure('EnglishAnalyzer', texts, bytes, runs, () => {
    let count = 0;
    for (const text of texts) count += analyzer.analyze(text).length;
    return count;
  });
}

main();
