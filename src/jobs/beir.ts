import fs from 'node:fs';
import path from 'node:path';
import { SparrowError } from '../common/errors.js';

export interface BeirFolder {
  readonly dir: string;
  readonly corpus: string;
  readonly queries: string;
  qrels(split: string): string;
}

/** Recognises a BEIR dataset folder: corpus.jsonl[.gz], queries.jsonl[.gz], qrels/SPLIT.tsv. */
export function isBeirFolder(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory() && findFile(dir, 'corpus') !== undefined;
  } catch {
    return false;
  }
}

export function openBeirFolder(dir: string): BeirFolder {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new SparrowError('FILE_NOT_FOUND', `no such folder: ${dir}`, { path: dir });
  }
  if (!stat.isDirectory()) throw new SparrowError('NOT_A_FOLDER', `${dir} is not a folder`, { path: dir });
  try {
    fs.readdirSync(dir);
  } catch (error) {
    throw new SparrowError('FOLDER_UNREADABLE', `cannot read folder ${dir}: ${(error as Error).message}`, { path: dir });
  }
  const corpus = findFile(dir, 'corpus');
  if (!corpus) throw new SparrowError('NOT_A_BEIR_FOLDER', `${dir} has no corpus.jsonl or corpus.jsonl.gz`, { path: dir });
  const queries = findFile(dir, 'queries') ?? path.join(dir, 'queries.jsonl');
  return {
    dir,
    corpus,
    queries,
    qrels(split: string): string {
      const file = path.join(dir, 'qrels', `${split}.tsv`);
      if (!fs.existsSync(file)) {
        const available = fs.existsSync(path.join(dir, 'qrels'))
          ? fs.readdirSync(path.join(dir, 'qrels')).filter((f) => f.endsWith('.tsv')).map((f) => f.slice(0, -4))
          : [];
        throw new SparrowError('SPLIT_NOT_FOUND', `no qrels for split ${JSON.stringify(split)} in ${dir}/qrels (available: ${available.join(', ') || 'none'})`);
      }
      return file;
    },
  };
}

function findFile(dir: string, stem: string): string | undefined {
  for (const name of [`${stem}.jsonl`, `${stem}.jsonl.gz`]) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}
