import { parentPort } from 'node:worker_threads';
import { BuildKernels, buildKernelModule } from './build-kernels.js';
import { blockTermRange, fillDocumentOutputs, type BlockedLists } from './build.js';
import type { DocumentRangeJob, RangeJob } from './build-parallel.js';

// One helper job of a parallel build (see build-parallel.ts), over arrays shared with the caller:
// fills a range of documents' outputs in place, or blocks a range of posting lists and hands the
// result back (transferred).
parentPort?.once('message', (job: RangeJob | DocumentRangeJob) => {
  try {
    if (job.kind === 'documents') {
      fillDocumentOutputs(job.docs, job.params, job.outputs, job.from, job.to);
      parentPort!.postMessage({ ok: true, result: null });
      return;
    }
    const module = job.kernels ? buildKernelModule() : undefined;
    const kernels = job.kernels && module ? new BuildKernels(module, job.kernels.memory, job.kernels.scratch) : undefined;
    const blocked = blockTermRange({ ...job.prepared, forward: undefined }, job.from, job.to, job.progress, kernels);
    const buffers = [...new Set(Object.values(blocked).map((array: BlockedLists[keyof BlockedLists]) => array.buffer as ArrayBuffer))];
    parentPort!.postMessage({ ok: true, result: blocked }, buffers);
  } catch (error) {
    parentPort!.postMessage({ ok: false, code: (error as { code?: string }).code ?? 'SEISMIC_BUILD_FAILED', message: (error as Error).message });
  }
});
