// Compiles the AssemblyScript modules of src/scoring/assembly: the scoring core to
// dist/src/scoring/sparrow-core.wasm (next to its loader, dist/src/scoring/wasm-core.js), and the
// index build kernels to dist/src/scoring/sparrow-build.wasm (loaded by
// dist/src/index/seismic/build-kernels.js).
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
    // The memory is the host's, shared: search threads run their own instances over one segment's
    // memory (src/engine/search-pool.ts). It starts with a single page and grows as the host
    // allocates.
    '--enable', 'threads',
    '--importMemory',
    '--sharedMemory',
    '--initialMemory', '1',
    '--maximumMemory', '65536',
  ],
  { stdio: 'inherit', cwd: root },
);
console.log(`wrote ${output}`);

// The build kernels run on every build thread over one shared memory the host creates and sizes.
const buildOutput = join(root, 'dist/src/scoring/sparrow-build.wasm');
execFileSync(
  process.execPath,
  [
    asc,
    join(root, 'src/scoring/assembly/build-kernels.ts'),
    '--outFile', buildOutput,
    '-O3',
    '--noAssert',
    '--enable', 'threads',
    '--runtime', 'stub',
    '--importMemory',
    '--sharedMemory',
    '--initialMemory', '1',
    '--maximumMemory', '65536',
  ],
  { stdio: 'inherit', cwd: root },
);
console.log(`wrote ${buildOutput}`);
