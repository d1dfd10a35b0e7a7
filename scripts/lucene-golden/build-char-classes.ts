/**
 * Turns the output of CharClassProbe.java (Lucene's token boundaries for every code point placed in a
 * set of probe templates) into src/analysis/standard-tokenizer-classes.ts.
 *
 * Code points with the same probe signature behave alike, so each signature group is solved once: every
 * candidate class (Word_Break kind x flags) is tried for a representative code point, and the candidate
 * for which StandardTokenizer reproduces Lucene's boundaries on all probes wins. Ambiguous or unsolvable
 * groups are reported; an unsolvable group means the tokenizer's model of the grammar is incomplete.
 *
 * usage: node dist/scripts/lucene-golden/build-char-classes.js PROBES.json OUTPUT.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CharClassTable, CharFlag, StandardTokenizer, WordBreak } from '../../src/analysis/standard-tokenizer.js';

interface ProbeOutput {
  templates: string[];
  /** per signature: per template, flat [start, end, start, end, ...] in code point indexes */
  signatures: number[][][];
  /** [first, last, signature] */
  ranges: [number, number, number][];
}

const PLACEHOLDER = 'X';

/** Classes of the fixed characters the probe templates are built from. */
const TEMPLATE_CHAR_CLASSES = new Map<number, number>([
  [0x20, WordBreak.Other],
  [0x22, WordBreak.DoubleQuote],
  [0x23, WordBreak.Other],
  [0x27, WordBreak.SingleQuote],
  [0x2a, WordBreak.Other],
  [0x2c, WordBreak.MidNum],
  [0x2e, WordBreak.MidNumLet],
  [0x31, WordBreak.Numeric],
  [0x5f, WordBreak.ExtendNumLet],
  [0x61, WordBreak.ALetter],
  [0x301, WordBreak.Extend],
  [0x5d0, WordBreak.HebrewLetter],
  [0xe01, CharFlag.ComplexContext],
  [0x200d, WordBreak.ZWJ],
  [0x20e3, WordBreak.Extend],
  [0x30a2, WordBreak.Katakana],
  [0x4e2d, CharFlag.Ideographic],
  [0xfe0e, WordBreak.Extend],
  [0xfe0f, WordBreak.Extend],
  [0x1f1e6, WordBreak.RegionalIndicator],
  [0x1f3f4, CharFlag.Emoji],
  [0x1f3fb, CharFlag.EmojiModifier],
  [0x1f466, CharFlag.Emoji | CharFlag.EmojiModifierBase],
  [0x1f600, CharFlag.Emoji],
  [0xe0067, WordBreak.Extend],
  [0xe007f, WordBreak.Extend],
]);

const FLAGS = [
  CharFlag.Ideographic,
  CharFlag.ComplexContext,
  CharFlag.Emoji,
  CharFlag.EmojiModifierBase,
  CharFlag.EmojiModifier,
];

function candidates(): number[] {
  const all: number[] = [];
  for (let mask = 0; mask < 1 << FLAGS.length; mask++) {
    let flags = 0;
    FLAGS.forEach((flag, i) => {
      if (mask & (1 << i)) flags |= flag;
    });
    for (let wb = 0; wb <= WordBreak.RegionalIndicator; wb++) all.push(wb | flags);
  }
  // fewest flags first, so that an ambiguous group gets the plainest class
  const bits = (v: number): number => v.toString(2).replace(/0/g, '').length;
  return all.sort((a, b) => bits(a & ~0xf) - bits(b & ~0xf) || a - b);
}

function codePointBoundaries(probe: string, tokenizer: StandardTokenizer): number[] {
  const result: number[] = [];
  tokenizer.reset(probe);
  const toCodePointIndex = (offset: number): number => [...probe.slice(0, offset)].length;
  while (tokenizer.next()) result.push(toCodePointIndex(tokenizer.start), toCodePointIndex(tokenizer.end));
  return result;
}

function describe(value: number): string {
  const wbName = Object.entries(WordBreak).find(([, v]) => v === (value & 0xf))?.[0] ?? '?';
  const flags = Object.entries(CharFlag)
    .filter(([, v]) => value & v)
    .map(([k]) => k);
  return [wbName, ...flags].join('+');
}

function main(): void {
  const [probesPath, outputPath] = process.argv.slice(2);
  if (!probesPath || !outputPath) {
    console.error('usage: build-char-classes PROBES.json OUTPUT.ts');
    process.exit(2);
  }
  const probes = JSON.parse(readFileSync(probesPath, 'utf8')) as ProbeOutput;
  const representative = new Map<number, number>();
  for (const [first, , signature] of probes.ranges) {
    if (!representative.has(signature)) representative.set(signature, first);
  }

  const solved = new Map<number, number>();
  let failures = 0;
  const order = candidates();
  for (let signature = 0; signature < probes.signatures.length; signature++) {
    const cp = representative.get(signature)!;
    const probed = String.fromCodePoint(cp);
    const expected = probes.signatures[signature];
    const matching: number[] = [];
    for (const candidate of order) {
      const classes = new Map(TEMPLATE_CHAR_CLASSES);
      classes.set(cp, candidate);
      const ranges: number[] = [];
      for (const [c, v] of classes) ranges.push(c, c, v);
      const tokenizer = new StandardTokenizer({ charClasses: new CharClassTable(ranges) });
      const ok = probes.templates.every((template, t) => {
        const got = codePointBoundaries(template.split(PLACEHOLDER).join(probed), tokenizer);
        const want = expected[t];
        return got.length === want.length && got.every((v, i) => v === want[i]);
      });
      if (ok) matching.push(candidate);
    }
    const hex = cp.toString(16).toUpperCase().padStart(4, '0');
    if (matching.length === 0) {
      failures++;
      console.error(`signature ${signature} (U+${hex}): no class reproduces Lucene's boundaries`);
      continue;
    }
    if (matching.length > 1) {
      console.error(`signature ${signature} (U+${hex}): ambiguous, ${matching.map(describe).join(' | ')}; using the first`);
    }
    solved.set(signature, matching[0]);
    console.error(`signature ${signature} (U+${hex}): ${describe(matching[0])}`);
  }
  if (failures > 0) {
    console.error(`${failures} signature group(s) unsolved`);
    process.exit(1);
  }

  const classOfCodePoint = (cp: number): number | undefined => {
    for (const [first, last, signature] of probes.ranges) {
      if (cp >= first && cp <= last) return solved.get(signature);
    }
    return undefined;
  };
  for (const [cp, assumed] of TEMPLATE_CHAR_CLASSES) {
    const actual = classOfCodePoint(cp);
    if (actual !== assumed) {
      console.error(`template char U+${cp.toString(16)} assumed ${describe(assumed)} but solved as ${describe(actual ?? -1)}`);
      process.exit(1);
    }
  }

  const merged: number[] = [];
  for (const [first, last, signature] of probes.ranges) {
    const value = solved.get(signature)!;
    const n = merged.length;
    if (n > 0 && merged[n - 1] === value && merged[n - 2] === first - 1) merged[n - 2] = last;
    else merged.push(first, last, value);
  }
  const triples: string[] = [];
  for (let i = 0; i < merged.length; i += 3) {
    if (merged[i + 2] !== 0) triples.push(`0x${merged[i].toString(16)},0x${merged[i + 1].toString(16)},${merged[i + 2]}`);
  }
  const lines: string[] = [];
  for (let i = 0; i < triples.length; i += 6) lines.push('  ' + triples.slice(i, i + 6).join(', ') + ',');
  const source =
    '// Generated by scripts/lucene-golden/generate-char-classes.sh from the behaviour of Lucene 8.7\'s\n' +
    '// StandardTokenizer; do not edit. Triples: first code point, last code point, class\n' +
    '// (Word_Break kind | flags, see standard-tokenizer.ts). Unlisted code points are Other.\n' +
    'export const CHAR_CLASS_RANGES: readonly number[] = [\n' +
    lines.join('\n') +
    '\n];\n';
  writeFileSync(outputPath, source);
  console.error(`${triples.length} ranges written to ${outputPath}`);
}

main();
