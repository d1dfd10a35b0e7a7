import type { Readable } from 'node:stream';
import type { JobRecord } from '../../jobs/manager.js';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SparrowError } from '../../common/errors.js';
import type { SourceFormat } from '../../jobs/manager.js';
import * as schemas from '../schemas.js';
import type { RouteContext } from './context.js';
import { jobView, isStream, mediaType, declaredLengthWithin } from '../http.js';

export function registerJobs(api: FastifyInstance, ctx: RouteContext): void {
  const { engine, jobs, limits } = ctx;
  api.post<{
    Params: { name: string };
    Body: {
      target_recall: number;
      k: number;
      queries?: { id?: string; query: string | Record<string, number> }[];
      sample?: number;
      seed?: number;
      query_cuts?: number[];
      heap_factors?: number[];
      apply: boolean;
    };
  }>(
    '/collections/:name/_tune',
    {
      config: { access: 'write' },
      schema: {
        tags: ['jobs'],
        summary:
          'Start a job that tunes the approximate index to a target recall: measures recall@k against the exact engine and latency over a grid of query_cut x heap_factor, stores the fastest setting reaching the target as the default, and keeps a report (GET /jobs/ID, /jobs/ID/report.md, /jobs/ID/report.png).',
        params: schemas.collectionParams,
        body: schemas.tuneBodySchema(limits),
        response: { 202: schemas.jobView, ...schemas.errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const job = jobs.createTune({
        collection: request.params.name,
        targetRecall: body.target_recall,
        k: body.k,
        apply: body.apply,
        ...(body.queries ? { queries: body.queries.map((q, i) => ({ id: q.id ?? `q${i + 1}`, query: q.query })) } : {}),
        ...(body.sample !== undefined ? { sample: body.sample } : {}),
        ...(body.seed !== undefined ? { seed: body.seed } : {}),
        ...(body.query_cuts ? { queryCuts: body.query_cuts } : {}),
        ...(body.heap_factors ? { heapFactors: body.heap_factors } : {}),
      });
      void reply.status(202).header('location', `/jobs/${job.id}`);
      return jobView(job);
    },
  );
  api.get<{ Params: { id: string; file: string } }>(
    '/jobs/:id/:file',
    {
      config: { access: 'read' },
      schema: {
        tags: ['jobs'],
        summary: 'A finished tuning job\'s report: report.md (the Pareto table) or report.png (recall against p50 latency).',
        params: { type: 'object', required: ['id', 'file'], properties: { id: { type: 'string', maxLength: 128 }, file: { type: 'string', enum: ['report.md', 'report.png'] } } },
        response: { ...schemas.errorResponses },
      },
    },
    async (request, reply) => {
      const job = jobs.get(request.params.id);
      const file = path.join(jobs.reportDir(job.id), request.params.file);
      if (!job.result || !fs.existsSync(file)) {
        throw new SparrowError('REPORT_NOT_FOUND', `job ${job.id} has no ${request.params.file}${job.status === 'completed' ? '' : ` (it is ${job.status})`}`, { job: job.id });
      }
      void reply.type(request.params.file.endsWith('.png') ? 'image/png' : 'text/markdown; charset=utf-8');
      return fs.readFileSync(file);
    },
  );
  api.post<{
    Body: { collection: string; source: { path: string; format?: SourceFormat }; batch_size?: number } | Readable;
    Querystring: { collection?: string; format?: 'jsonl' | 'vectors'; batch_size?: string };
  }>(
    '/jobs',
    {
      config: { access: 'write' },
      schema: {
        tags: ['jobs'],
        summary: 'Start a bulk indexing job from a server-side file or folder (JSON body) or from the uploaded body (NDJSON or gzip).',
        querystring: schemas.uploadQuery,
        body: schemas.createJobBody(limits),
        response: { 202: schemas.jobView, ...schemas.errorResponses },
      },
    },
    async (request, reply) => {
      const body = request.body;
      let job: JobRecord;
      if (isStream(body)) {
        const { collection, format, batch_size: batchSize } = request.query;
        if (!collection) throw new SparrowError('VALIDATION_FAILED', 'an uploaded job needs ?collection=NAME', { errors: [{ message: 'querystring must have property collection' }] });
        declaredLengthWithin(request, limits.uploadBytes);
        job = await jobs.createFromUpload({
          collection,
          body,
          gzip: (schemas.GZIP_TYPES as readonly string[]).includes(mediaType(request)),
          ...(format ? { format } : {}),
          ...(batchSize ? { batchSize: Number(batchSize) } : {}),
          maxBytes: limits.uploadBytes,
        });
      } else {
        job = jobs.createFromPath({
          collection: body.collection,
          path: body.source.path,
          ...(body.source.format ? { format: body.source.format } : {}),
          ...(body.batch_size ? { batchSize: body.batch_size } : {}),
        });
      }
      void reply.status(202).header('location', `/jobs/${job.id}`);
      return jobView(job);
    },
  );
  api.get<{ Querystring: { limit?: string } }>(
    '/jobs',
    { config: { access: 'read' }, schema: { tags: ['jobs'], summary: 'Recent jobs, newest first.', querystring: schemas.jobListQuery, response: { 200: schemas.jobList, ...schemas.errorResponses } } },
    async (request) => ({ jobs: jobs.list(request.query.limit ? Number(request.query.limit) : 100).map((job) => jobView(job)) }),
  );
  api.get<{ Params: { id: string } }>(
    '/jobs/:id',
    {
      config: { access: 'read' },
      schema: {
        tags: ['jobs'],
        summary: 'A job\'s progress: processed, failed, rate, time left, rejected lines.',
        params: schemas.jobParams,
        response: { 200: schemas.jobView, ...schemas.errorResponses },
      },
    },
    async (request) => {
      const job = jobs.get(request.params.id);
      return jobView(job, engine.openCollections().find((c) => c.name === job.collection)?.segmentBuildProgress());
    },
  );
  api.delete<{ Params: { id: string } }>(
    '/jobs/:id',
    {
      config: { access: 'write' },
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job; what it committed stays.',
        params: schemas.jobParams,
        response: { 200: schemas.jobView, ...schemas.errorResponses },
      },
    },
    async (request) => jobView(await jobs.cancel(request.params.id)),
  );
}
