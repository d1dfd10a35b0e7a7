// Builds the search page (src/web): its TypeScript for the browser (tsconfig.web.json) and its
// static files, into dist/src/web, which the server serves at / and /ui/.
// Usage: node scripts/build-web.mjs
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/web');
const output = join(root, 'dist/src/web');
mkdirSync(output, { recursive: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.web.json')], { stdio: 'inherit', cwd: root });
for (const name of readdirSync(source)) if (/\.(html|css)$/.test(name)) copyFileSync(join(source, name), join(output, name));
console.log(`wrote ${output}`);
