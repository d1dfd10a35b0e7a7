import { parentPort } from 'node:worker_threads';
import { blockTermRange, type BlockedLists } from './build.js';
import type { RangeJob } from './build-parallel.js';

// Blocks one range of posting lists over the shared arrays and hands the result back (transferred).
parentPort?.once('message', (job: RangeJob) => {
  try {
    const blocked = blockTermRange({ ...job.prepared, forward: undefined }, job.from, job.to, job.progress);
    const buffers = [...new Set(Object.values(blocked).map((array: BlockedLists[keyof BlockedLists]) => array.buffer as ArrayBuffer))];
    parentPort!.postMessage({ ok: true, blocked }, buffers);
  } catch (error) {
    parentPort!.postMessage({ ok: false, code: (error as { code?: string }).code ?? 'SEISMIC_BUILD_FAILED', message: (error as Error).message });
  }
});
