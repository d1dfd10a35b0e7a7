import { Worker } from 'node:worker_threads';
import type { CoreLayout } from '../index/seismic/query-wasm.js';
import type { SeismicQueryParams } from '../index/seismic/params.js';
import type { SearchResult } from '../index/seismic/search-api.js';
import { SparrowError } from '../common/errors.js';
import type { SegmentSearchTask } from './segment-search.js';
import type { SearchWorkerMessage, SearchWorkerReply } from './search-worker.js';

interface SearchThread {
  readonly worker: Worker;
  /** Tasks sent and not answered yet: the least loaded thread takes the next group. */
  inFlight: number;
  alive: boolean;
}

/**
 * Search threads over the collections' segments. Every segment's index lives in one shared
 * WebAssembly memory; each thread runs its own scoring-core instance over it (its own scratch,
 * no copy of the index), so any thread can search any segment. A query's segment tasks are split
 * into as many groups as there are threads (largest segments first, each to the lightest group)
 * and each group goes to the thread with the least work queued: one query uses several cores when
 * the collection has several segments, and concurrent queries spread over the threads while the
 * main thread goes on serving requests.
 */
export class SearchPool {
  private readonly threads: SearchThread[] = [];
  private readonly pending = new Map<number, { resolve: (results: SearchResult[]) => void; reject: (error: Error) => void; thread: SearchThread }>();
  private nextId = 1;
  /** Segment tasks answered by the threads so far. */
  tasksRun = 0;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./search-worker.js', import.meta.url));
      // Idle search threads do not keep the process alive.
      worker.unref();
      const thread: SearchThread = { worker, inFlight: 0, alive: true };
      worker.on('message', (reply: SearchWorkerReply) => this.answer(thread, reply));
      const fail = (error: Error): void => {
        thread.alive = false;
        for (const [id, request] of this.pending) {
          if (request.thread !== thread) continue;
          this.pending.delete(id);
          request.reject(new SparrowError('SEARCH_THREAD_FAILED', `a search thread stopped: ${error.message}`));
        }
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
      this.threads.push(thread);
    }
  }

  get aliveThreads(): number {
    return this.threads.filter((t) => t.alive).length;
  }

  /** Makes a segment searchable on every thread (before any task names it: messages keep their order). */
  attach(key: string, memory: WebAssembly.Memory, layout: CoreLayout, defaults: Partial<SeismicQueryParams>): void {
    for (const thread of this.threads) if (thread.alive) this.post(thread, { type: 'attach', key, memory, layout, defaults });
  }

  /** After the last task naming it: the threads drop their instances (and their hold on the memory). */
  detach(key: string): void {
    for (const thread of this.threads) if (thread.alive) this.post(thread, { type: 'detach', key });
  }

  /** Runs segment tasks on the threads; results in task order. `cost` weighs a task (its rows). */
  async run(tasks: readonly (SegmentSearchTask & { key: string; cost: number })[]): Promise<SearchResult[]> {
    const alive = this.threads.filter((t) => t.alive);
    if (alive.length === 0) throw new SparrowError('SEARCH_THREAD_FAILED', 'no search thread is running');
    const groupCount = Math.min(alive.length, tasks.length);
    const groups = Array.from({ length: groupCount }, () => ({ cost: 0, indices: [] as number[] }));
    const byCost = tasks.map((task, i) => ({ i, cost: task.cost })).sort((a, b) => b.cost - a.cost || a.i - b.i);
    for (const { i, cost } of byCost) {
      const lightest = groups.reduce((best, group) => (group.cost < best.cost ? group : best));
      lightest.cost += cost;
      lightest.indices.push(i);
    }
    const results: SearchResult[] = new Array(tasks.length);
    await Promise.all(
      groups.map(async (group) => {
        const thread = alive.reduce((best, t) => (t.inFlight < best.inFlight ? t : best));
        const answered = await this.send(thread, group.indices.map((i) => tasks[i]!));
        group.indices.forEach((taskIndex, j) => (results[taskIndex] = answered[j]!));
      }),
    );
    return results;
  }

  async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }

  private send(thread: SearchThread, tasks: readonly (SegmentSearchTask & { key: string })[]): Promise<SearchResult[]> {
    const id = this.nextId++;
    thread.inFlight += tasks.length;
    return new Promise<SearchResult[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, thread });
      if (this.pending.size === 1) for (const t of this.threads) t.worker.ref();
      this.post(thread, { type: 'search', id, tasks: tasks.map(({ key, indices, values, k, queryCut, heapFactor, knn, excluded, safe }) => ({ key, indices, values, k, queryCut, heapFactor, excluded, safe, ...(knn !== undefined ? { knn } : {}) })) });
    }).finally(() => {
      thread.inFlight -= tasks.length;
    });
  }

  private answer(thread: SearchThread, reply: SearchWorkerReply): void {
    const request = this.pending.get(reply.id);
    if (!request) return;
    this.pending.delete(reply.id);
    // Threads keep the process alive only while they owe an answer.
    if (this.pending.size === 0) for (const t of this.threads) t.worker.unref();
    if (reply.ok) {
      this.tasksRun += reply.results.length;
      request.resolve(reply.results);
    }
    else request.reject(new SparrowError(reply.code, reply.message));
  }

  private post(thread: SearchThread, message: SearchWorkerMessage): void {
    thread.worker.postMessage(message);
  }
}
