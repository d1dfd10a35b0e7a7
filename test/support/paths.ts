import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this compiled file (dist/test/support) or its source. */
export const repoRoot = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above the tests');
    dir = parent;
  }
  return dir;
})();

/** The shared data folder beside the repository (read-only, never copied in); SPARROW_SHARED_DIR moves it. */
export const sharedDir = path.resolve(process.env['SPARROW_SHARED_DIR'] ?? path.join(repoRoot, '..', 'shared'));

export const scifactDir = path.join(sharedDir, 'data', 'beir', 'scifact');
export const hasScifact = fs.existsSync(path.join(scifactDir, 'corpus.jsonl'));

/** The CLI entry point as built by `npm run build`. */
export const cliPath = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
