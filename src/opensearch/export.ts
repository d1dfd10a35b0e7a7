import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Collection } from '../engine/collection.js';
import type { Engine } from '../engine/engine.js';
import { SparrowError } from '../common/errors.js';
import { DEFAULT_QUERY_PARAMS, resolveBuildParams } from '../index/seismic/params.js';
import type { EncoderPool } from '../jobs/encoder-pool.js';
import { applyOpenSearchBulk, parseBulk } from './bulk.js';
import { OpenSearchError } from './errors.js';
import { OpenSearchIndices } from './indices.js';

/**
 * `sparrow export opensearch` and `sparrow import opensearch`: a collection as the files an
 * OpenSearch cluster loads, so a collection that outgrows one machine moves to OpenSearch.
 *
 * DIR/index.json       the create-index body (PUT /INDEX): mappings and settings
 * DIR/bulk-NNNNN.ndjson _bulk bodies (POST /INDEX/_bulk), CHUNK documents each: stored fields,
 *                       the sparse vector, the dense vector
 * DIR/export.json      the manifest: chunks with their last doc number and SHA-256, whether the
 *                       export is complete, and how sparrow's query settings read in OpenSearch
 * A chunk is written to a temporary file and renamed, then recorded in the manifest (also written
 * and renamed): an export killed at any point resumes after its last recorded chunk.
 */

export const EXPORT_FORMAT = 'sparrow-opensearch-export';
export const EXPORT_VERSION = 1;
export const DEFAULT_CHUNK_DOCUMENTS = 10_000;

export interface ExportChunk {
  readonly file: string;
  readonly documents: number;
  readonly firstDocNumber: number;
  readonly lastDocNumber: number;
  readonly sha256: string;
}

export interface ExportManifest {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: number;
  readonly collection: string;
  readonly index: string;
  readonly chunkDocuments: number;
  readonly sparseType: 'sparse_vector' | 'rank_features';
  readonly chunks: ExportChunk[];
  readonly documents: number;
  readonly complete: boolean;
  /** How to query the exported index as sparrow queries the collection. */
  readonly query: Record<string, unknown>;
}

export interface ExportOptions {
  readonly out: string;
  readonly index?: string;
  readonly chunkDocuments?: number;
  readonly sparseType?: 'sparse_vector' | 'rank_features';
  /** Called after each chunk is recorded (progress, and the crash test's kill point). */
  readonly onChunk?: (chunk: ExportChunk, manifest: ExportManifest) => void;
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.tmp`;
  fs.writeFileSync(temporary, text);
  fs.renameSync(temporary, file);
}

/** The sparse field's name in the exported index. */
function sparseFieldOf(collection: Collection): string | undefined {
  const encoder = collection.record.encoder;
  if (encoder['type'] === 'precomputed') return (encoder['vectorField'] as string | undefined) ?? 'vector';
  if (encoder['type'] === 'splade') return 'sparse_embedding';
  return undefined;
}

/**
 * The create-index body for a collection. Sparrow's settings in OpenSearch's terms:
 * - BM25: k1 and b as the index's default similarity; "english" or "standard" analyzer per text
 *   field; a flat collection's text fields copy_to one "contents" field, scored as one.
 * - sparse vectors: a sparse_vector field with method seismic: postingCap -> n_postings,
 *   blockFraction -> cluster_ratio, summaryEnergy -> summary_prune_ratio, segmentMinDocs ->
 *   approximate_threshold (or rank_features, scored exactly).
 * - dense: a knn_vector field, cosine -> cosinesimil, dot -> innerproduct, HNSW.
 */
export function indexBody(collection: Collection, sparseType: 'sparse_vector' | 'rank_features'): Record<string, unknown> {
  const encoder = collection.record.encoder;
  const properties: Record<string, unknown> = {};
  const settings: Record<string, unknown> = { number_of_shards: 1 };
  if (encoder['type'] === 'bm25') {
    const textFields = (encoder['textFields'] as string[] | undefined) ?? ['title', 'text'];
    const analyzer = (encoder['analyzer'] as string | undefined) ?? 'english';
    const flat = encoder['fields'] !== 'multifield';
    // A named similarity the text fields point at (the client's types name it "bm25").
    for (const f of textFields) properties[f] = { type: 'text', analyzer, similarity: 'bm25', ...(flat ? { copy_to: 'contents' } : {}) };
    if (flat) properties['contents'] = { type: 'text', analyzer, similarity: 'bm25' };
    settings['similarity'] = { bm25: { type: 'BM25', k1: encoder['k1'], b: encoder['b'], discount_overlaps: true } };
  } else {
    if (encoder['type'] === 'splade') for (const f of (encoder['textFields'] as string[] | undefined) ?? ['title', 'text']) properties[f] = { type: 'text' };
    const field = sparseFieldOf(collection)!;
    if (sparseType === 'rank_features') properties[field] = { type: 'rank_features' };
    else {
      const build = resolveBuildParams((collection.record.indexSettings['build'] ?? {}) as Record<string, unknown>);
      const parameters: Record<string, number> = {
        cluster_ratio: build.blockFraction,
        summary_prune_ratio: build.summaryEnergy,
        approximate_threshold: (collection.record.indexSettings['segmentMinDocs'] as number | undefined) ?? 10_000,
      };
      if (Number.isFinite(build.postingCap)) parameters['n_postings'] = build.postingCap;
      properties[field] = { type: 'sparse_vector', method: { name: 'seismic', parameters } };
      settings['sparse'] = true;
    }
  }
  const dense = collection.record.dense as Record<string, unknown> | undefined;
  if (dense) {
    const denseEncoder = dense['encoder'] as Record<string, unknown>;
    const field = denseEncoder['type'] === 'client' ? ((denseEncoder['field'] as string | undefined) ?? 'dense_vector') : 'dense_vector';
    const dimension = collection.dense?.dimension;
    if (dimension !== undefined) {
      properties[field] = { type: 'knn_vector', dimension, space_type: dense['metric'] === 'dot' ? 'innerproduct' : 'cosinesimil', method: { name: 'hnsw', engine: 'lucene' } };
      settings['knn'] = true;
    }
  }
  return { settings: { index: settings }, mappings: { dynamic: true, properties } };
}

/** Sparrow's query settings as OpenSearch's neural_sparse method_parameters (heap_factor runs the other way). */
function queryNotes(collection: Collection): Record<string, unknown> {
  const query = (collection.record.indexSettings['query'] ?? {}) as Record<string, number>;
  const heapFactor = query['heapFactor'] ?? DEFAULT_QUERY_PARAMS.heapFactor;
  const queryCut = query['queryCut'] ?? DEFAULT_QUERY_PARAMS.queryCut;
  return {
    neural_sparse_method_parameters: { heap_factor: heapFactor > 0 ? 1 / heapFactor : null, top_n: Number.isFinite(queryCut) ? queryCut : null },
    note:
      'sparrow skips a block whose bound is below heapFactor x the k-th score; OpenSearch skips it unless bound x heap_factor reaches that score: heap_factor = 1 / heapFactor. ' +
      (collection.record.encoder['type'] === 'splade' ? 'Query text needs the same SPLADE model deployed in OpenSearch (model_id), or send query_tokens. ' : '') +
      (collection.record.dense && (collection.record.dense['encoder'] as Record<string, unknown>)['type'] !== 'client' ? 'Dense query vectors need the same dense encoder outside OpenSearch. ' : ''),
  };
}

export function readManifest(dir: string): ExportManifest | undefined {
  const file = path.join(dir, 'export.json');
  if (!fs.existsSync(file)) return undefined;
  const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as ExportManifest;
  if (manifest.format !== EXPORT_FORMAT) throw new SparrowError('INVALID_EXPORT', `${file} is not a sparrow OpenSearch export`);
  if (manifest.version > EXPORT_VERSION) throw new SparrowError('INVALID_EXPORT', `${file} is export format version ${manifest.version}; this sparrow reads up to ${EXPORT_VERSION}`);
  return manifest;
}

export function exportCollection(collection: Collection, options: ExportOptions): ExportManifest {
  const dir = path.resolve(options.out);
  fs.mkdirSync(dir, { recursive: true });
  const index = options.index ?? collection.name.toLowerCase();
  const chunkDocuments = options.chunkDocuments ?? DEFAULT_CHUNK_DOCUMENTS;
  const sparseType = options.sparseType ?? 'sparse_vector';
  let manifest = readManifest(dir);
  if (manifest) {
    if (manifest.collection !== collection.name || manifest.index !== index || manifest.chunkDocuments !== chunkDocuments || manifest.sparseType !== sparseType) {
      throw new SparrowError('EXPORT_MISMATCH', `${dir} holds an export of ${manifest.collection} as ${manifest.index} (${manifest.chunkDocuments} per chunk, ${manifest.sparseType}); export into an empty folder or with the same settings to resume it`);
    }
    if (manifest.complete) return manifest;
  } else {
    manifest = { format: EXPORT_FORMAT, version: EXPORT_VERSION, collection: collection.name, index, chunkDocuments, sparseType, chunks: [], documents: 0, complete: false, query: queryNotes(collection) };
    writeAtomically(path.join(dir, 'index.json'), JSON.stringify(indexBody(collection, sparseType), null, 2) + '\n');
    writeAtomically(path.join(dir, 'export.json'), JSON.stringify(manifest, null, 2) + '\n');
  }
  const sparseField = sparseFieldOf(collection);
  const denseSettings = collection.record.dense as Record<string, unknown> | undefined;
  const denseEncoder = denseSettings?.['encoder'] as Record<string, unknown> | undefined;
  const denseField = denseSettings ? (denseEncoder?.['type'] === 'client' ? ((denseEncoder['field'] as string | undefined) ?? 'dense_vector') : 'dense_vector') : undefined;
  const last = manifest.chunks.at(-1);
  let lines: string[] = [];
  let first = -1;
  let lastDocNumber = -1;
  const flush = (): void => {
    if (lines.length === 0) return;
    const file = `bulk-${String(manifest!.chunks.length + 1).padStart(5, '0')}.ndjson`;
    const text = lines.join('');
    writeAtomically(path.join(dir, file), text);
    const chunk: ExportChunk = { file, documents: lines.length / 2, firstDocNumber: first, lastDocNumber, sha256: createHash('sha256').update(text).digest('hex') };
    manifest = { ...manifest!, chunks: [...manifest!.chunks, chunk], documents: manifest!.documents + chunk.documents };
    writeAtomically(path.join(dir, 'export.json'), JSON.stringify(manifest, null, 2) + '\n');
    options.onChunk?.(chunk, manifest);
    lines = [];
    first = -1;
  };
  for (const doc of collection.documentsFrom(last ? last.lastDocNumber + 1 : 0)) {
    const source: Record<string, unknown> = { ...doc.fields };
    if (sparseField && doc.sparse) source[sparseField] = doc.sparse;
    if (denseField && doc.dense) source[denseField] = doc.dense;
    lines.push(`${JSON.stringify({ index: { _id: doc.id } })}\n`, `${JSON.stringify(source)}\n`);
    if (first < 0) first = doc.docNumber;
    lastDocNumber = doc.docNumber;
    if (lines.length / 2 >= chunkDocuments) flush();
  }
  flush();
  manifest = { ...manifest, complete: true };
  writeAtomically(path.join(dir, 'export.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/**
 * Reads an export back into a new collection through the OpenSearch-compatible path (the same
 * mapping translation and bulk code as PUT /INDEX and POST /INDEX/_bulk). Each chunk's SHA-256
 * is checked first; a chunk applied twice (a rerun after a kill) writes the same documents again.
 */
export async function importExport(engine: Engine, pool: EncoderPool, dir: string, options: { collection?: string; onChunk?: (chunk: ExportChunk, applied: number) => void } = {}): Promise<{ collection: string; documents: number; failed: number }> {
  const manifest = readManifest(path.resolve(dir));
  if (!manifest) throw new SparrowError('INVALID_EXPORT', `${dir} holds no export.json`);
  if (!manifest.complete) throw new SparrowError('INVALID_EXPORT', `the export in ${dir} is not complete (${manifest.chunks.length} chunks so far); run the export again to finish it`);
  const name = options.collection ?? manifest.index;
  const indices = new OpenSearchIndices(engine);
  const body = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as unknown;
  for (const chunk of manifest.chunks) {
    const text = fs.readFileSync(path.join(dir, chunk.file), 'utf8');
    if (createHash('sha256').update(text).digest('hex') !== chunk.sha256) throw new SparrowError('INVALID_EXPORT', `${chunk.file} does not match its SHA-256 in export.json: the file changed or is damaged`);
  }
  try {
    if (!engine.findCollection(name)) indices.create(name, body);
  } catch (error) {
    if (error instanceof OpenSearchError) throw new SparrowError('INVALID_EXPORT', `index.json: ${error.reason}`);
    throw error;
  }
  let documents = 0;
  let failed = 0;
  for (const chunk of manifest.chunks) {
    const items = parseBulk(fs.readFileSync(path.join(dir, chunk.file), 'utf8'), name);
    const response = await applyOpenSearchBulk({ engine, pool, resolve: (n) => indices.resolve(n) }, items);
    for (const item of response['items'] as Record<string, { error?: unknown }>[]) {
      if (Object.values(item)[0]!.error) failed++;
      else documents++;
    }
    options.onChunk?.(chunk, documents);
  }
  return { collection: name, documents, failed };
}
