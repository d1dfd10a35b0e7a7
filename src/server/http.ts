import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { SparrowError } from '../common/errors.js';
import type { BuildProgress } from '../engine/segments.js';
import type { JobRecord } from '../jobs/manager.js';

/** The public shape of a job, with rate and time left derived from its committed progress. */
export function jobView(job: JobRecord, segmentBuild?: BuildProgress) {
  const seconds = job.elapsedMs / 1000;
  const fraction = job.totalBytes > 0 ? Math.min(1, job.bytesRead / job.totalBytes) : job.status === 'completed' ? 1 : 0;
  const finished = job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled';
  const eta = finished ? 0 : fraction > 0 && seconds > 0 ? seconds * (1 / fraction - 1) : null;
  const source = job.source as { type: 'path' | 'upload' | 'tune'; requested?: string; format?: string };
  return {
    id: job.id,
    collection: job.collection,
    status: job.status,
    source: { type: source.type, ...(source.type === 'path' && source.requested ? { path: source.requested } : {}), ...(source.format ? { format: source.format } : {}) },
    progress: {
      processed: job.processed,
      indexed: job.indexed,
      updated: job.updated,
      failed: job.failed,
      line: job.line,
      bytes_read: job.bytesRead,
      total_bytes: job.totalBytes,
      fraction: Math.round(fraction * 10000) / 10000,
      docs_per_second: seconds > 0 ? Math.round((job.processed / seconds) * 10) / 10 : 0,
      eta_seconds: eta === null ? null : Math.round(eta * 10) / 10,
      elapsed_seconds: Math.round(seconds * 1000) / 1000,
    },
    // The collection's segment build or merge running now (the job's documents go into segments in
    // the background, and a build may outlast the job).
    ...(segmentBuild
      ? {
          segment_build: {
            kind: segmentBuild.kind,
            documents: segmentBuild.documents,
            pending_documents: segmentBuild.pendingDocuments,
            postings_done: segmentBuild.postingsDone,
            postings_total: segmentBuild.postingsTotal,
            postings_per_second: Math.round(segmentBuild.postingsPerSecond),
            eta_seconds: segmentBuild.secondsLeft === undefined ? null : Math.round(segmentBuild.secondsLeft * 10) / 10,
            elapsed_seconds: Math.round(segmentBuild.elapsedSeconds * 1000) / 1000,
          },
        }
      : {}),
    errors: job.errors,
    ...(job.error ? { error: job.error } : {}),
    ...(job.result ? { result: job.result } : {}),
    created_at: job.createdAt,
    ...(job.startedAt ? { started_at: job.startedAt } : {}),
    ...(job.finishedAt ? { finished_at: job.finishedAt } : {}),
    updated_at: job.updatedAt,
  };
}

export function isStream(body: unknown): body is Readable {
  return body !== null && typeof body === 'object' && typeof (body as Readable).pipe === 'function';
}

export function mediaType(request: FastifyRequest): string {
  return String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Refuses at once a body whose declared length is over the limit, before reading any of it. */
export function declaredLengthWithin(request: FastifyRequest, limit: number): void {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new SparrowError('PAYLOAD_TOO_LARGE', `the body is ${declared} bytes; at most ${limit} are accepted`, { limit });
  }
}

export function collectionNotFound(name: string): SparrowError {
  return new SparrowError('COLLECTION_NOT_FOUND', `collection ${JSON.stringify(name)} does not exist`, { collection: name });
}

export function documentNotFound(collection: string, id: string): SparrowError {
  return new SparrowError('DOCUMENT_NOT_FOUND', `collection ${JSON.stringify(collection)} has no document ${JSON.stringify(id)}`, { collection, id });
}
