import type { Collection } from '../../engine/collection.js';
import type { FastifyInstance } from 'fastify';
import { SparrowError } from '../../common/errors.js';
import * as schemas from '../schemas.js';
import type { RouteContext } from './context.js';

export function registerOperations(api: FastifyInstance, ctx: RouteContext): void {
  const { metrics } = ctx;
  api.get('/health', { schema: { tags: ['operations'], summary: 'Liveness: the process answers.', response: { 200: schemas.healthResponse } } }, async () => ({
    status: 'ok',
  }));
  api.get(
    '/ready',
    { schema: { tags: ['operations'], summary: 'Readiness: the store is open and indexes are loaded.', response: { 200: schemas.healthResponse, ...schemas.errorResponses } } },
    async () => {
      if (ctx.isClosing() || !ctx.isReady()) throw new SparrowError('NOT_READY', ctx.isClosing() ? 'the server is shutting down' : 'the server is starting');
      return { status: 'ready' };
    },
  );
  api.get(
    '/metrics',
    {
      config: { access: 'read' },
      schema: { tags: ['operations'], summary: 'Prometheus metrics (text format 0.0.4).', produces: ['text/plain'], response: { ...schemas.errorResponses } },
    },
    async (_request, reply) => {
      void reply.type('text/plain; version=0.0.4; charset=utf-8');
      return metrics.render(scrapeGauges(ctx));
    },
  );
}

/** The segment build or merge running in each open collection: postings blocked, total, rate, time left. */
function segmentBuildGauges(ctx: RouteContext) {
  const { engine } = ctx;
  const running = engine.openCollections().flatMap((collection) => {
    const progress = collection.segmentBuildProgress();
    return progress ? [{ labels: { collection: collection.name, kind: progress.kind }, progress }] : [];
  });
  const family = (name: string, help: string, value: (p: NonNullable<ReturnType<Collection['segmentBuildProgress']>>) => number) => ({
    name,
    help,
    samples: running.map(({ labels, progress }) => ({ labels, value: value(progress) })),
  });
  return [
    family('sparrow_segment_build_documents', 'Documents in the segment build or merge running now.', (p) => p.documents),
    family('sparrow_segment_build_postings_done', 'Postings blocked so far by the running segment build.', (p) => p.postingsDone),
    family('sparrow_segment_build_postings_total', 'Postings the running segment build keeps after pruning (0 until pruned).', (p) => p.postingsTotal),
    family('sparrow_segment_build_postings_per_second', 'Rate of the running segment build.', (p) => p.postingsPerSecond),
    family('sparrow_segment_build_seconds_left', 'Time left of the running segment build at its rate so far (-1 until known).', (p) => p.secondsLeft ?? -1),
  ];
}

function scrapeGauges(ctx: RouteContext) {
  const { engine, jobs } = ctx;
  const collections = engine.listCollections();
  const segments = engine.store.segmentCounts();
  const jobCounts = jobs.counts();
  const memory = process.memoryUsage();
  return [
    {
      name: 'sparrow_collection_documents',
      help: 'Live documents per collection.',
      samples: collections.map((c) => ({ labels: { collection: c.name }, value: engine.store.countDocuments(c.id) })),
    },
    {
      name: 'sparrow_collection_segments',
      help: 'Approximate-index segments per collection.',
      samples: collections.map((c) => ({ labels: { collection: c.name }, value: segments.get(c.id) ?? 0 })),
    },
    ...segmentBuildGauges(ctx),
    { name: 'sparrow_jobs', help: 'Bulk indexing jobs by status.', samples: Object.entries(jobCounts).map(([status, n]) => ({ labels: { status }, value: n })) },
    { name: 'sparrow_search_threads', help: 'Search threads running (0: segments are searched on the main thread).', samples: [{ labels: {}, value: engine.searchPool?.aliveThreads ?? 0 }] },
    { name: 'sparrow_search_thread_tasks', help: 'Segment searches the search threads have answered.', samples: [{ labels: {}, value: engine.searchPool?.tasksRun ?? 0 }] },
    { name: 'process_resident_memory_bytes', help: 'Resident memory of the server process.', samples: [{ labels: {}, value: memory.rss }] },
    { name: 'nodejs_heap_used_bytes', help: 'V8 heap in use.', samples: [{ labels: {}, value: memory.heapUsed }] },
    { name: 'process_uptime_seconds', help: 'Seconds since the process started.', samples: [{ labels: {}, value: process.uptime() }] },
  ];
}
