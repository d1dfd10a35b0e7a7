// Compiles the AssemblyScript scoring core (src/scoring/assembly) to
// dist/src/scoring/sparrow-core.wasm, next to the compiled loader (dist/src/scoring/wasm-core.js).
// Usage: node scripts/build-wasm.mjs
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/scoring/assembly/core.ts');
const output = join(root, 'dist/src/scoring/sparrow-core.wasm');
mkdirSync(dirname(output), { recursive: true });

const asc = join(root, 'node_modules/assemblyscript/bin/asc.js');
execFileSync(
  process.execPath,
  [
    asc,
    source,
    '--outFile', output,
    '-O3',
    '--noAssert',
    '--enable', 'simd',
    // No managed objects: the stub runtime is never called, and no start function is needed.
    '--runtime', 'stub',
    // Index memory is whatever the host allocates; the module starts with a single page.
    '--initialMemory', '1',
  ],
  { stdio: 'inherit', cwd: root },
);
console.log(`wrote ${output}`);
