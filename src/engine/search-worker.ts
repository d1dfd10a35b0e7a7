import { parentPort } from 'node:worker_threads';
import { WasmSeismicSearcher, type CoreLayout } from '../index/seismic/query-wasm.js';
import type { SeismicQueryParams } from '../index/seismic/params.js';
import { searchSegment, type SegmentSearchTask } from './segment-search.js';

/** Messages of src/engine/search-pool.ts to a search thread. */
export type SearchWorkerMessage =
  | { readonly type: 'attach'; readonly key: string; readonly memory: WebAssembly.Memory; readonly layout: CoreLayout; readonly defaults: Partial<SeismicQueryParams> }
  | { readonly type: 'detach'; readonly key: string }
  | { readonly type: 'search'; readonly id: number; readonly tasks: readonly (SegmentSearchTask & { readonly key: string })[] };

export type SearchWorkerReply =
  | { readonly id: number; readonly ok: true; readonly results: { docs: Uint32Array; scores: Float32Array }[] }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly message: string };

// A search thread holds its own scoring-core instance over each segment's shared memory (no copy
// of any index) and answers the segment tasks it is sent, in order.
const searchers = new Map<string, WasmSeismicSearcher>();

parentPort?.on('message', (message: SearchWorkerMessage) => {
  if (message.type === 'attach') {
    searchers.set(message.key, WasmSeismicSearcher.attach(message.memory, message.layout, message.defaults));
    return;
  }
  if (message.type === 'detach') {
    searchers.get(message.key)?.dispose();
    searchers.delete(message.key);
    return;
  }
  let reply: SearchWorkerReply;
  try {
    const results = message.tasks.map((task) => {
      const searcher = searchers.get(task.key);
      if (!searcher) throw Object.assign(new Error(`segment ${task.key} is not attached to this search thread`), { code: 'SEARCH_THREAD_STATE' });
      const { docs, scores } = searchSegment(searcher, task);
      return { docs, scores };
    });
    reply = { id: message.id, ok: true, results };
  } catch (error) {
    reply = { id: message.id, ok: false, code: (error as { code?: string }).code ?? 'SEARCH_THREAD_FAILED', message: (error as Error).message };
  }
  parentPort!.postMessage(reply, reply.ok ? reply.results.flatMap((r) => [r.docs.buffer as ArrayBuffer, r.scores.buffer as ArrayBuffer]) : []);
});
