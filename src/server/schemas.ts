import { MAX_K } from '../engine/collection.js';
import { MAX_ID_LENGTH } from '../engine/documents.js';
import { DEFAULT_FILTER_LIMITS } from '../engine/filter.js';
import { APPROXIMATE_RANGES } from '../engine/query-params.js';
import { HIGHLIGHT_DEFAULTS, MAX_FRAGMENTS, MAX_FRAGMENT_SIZE, type HighlightRequest } from '../engine/highlighting.js';

/** The search body's highlight object as it arrives over HTTP (snake_case). */
export interface HttpHighlight {
  fields?: string[];
  pre_tag?: string;
  post_tag?: string;
  encoder?: 'html' | 'none';
  fragment_size?: number;
  number_of_fragments?: number;
  order?: 'position' | 'score';
  no_match_size?: number;
  format?: 'tags' | 'offsets';
}

/** The engine's highlight request from the HTTP body's (defaults stay with the engine). */
export function highlightRequest(body: HttpHighlight): HighlightRequest {
  const names: Record<keyof HttpHighlight, keyof HighlightRequest> = {
    fields: 'fields',
    pre_tag: 'preTag',
    post_tag: 'postTag',
    encoder: 'encoder',
    fragment_size: 'fragmentSize',
    number_of_fragments: 'numberOfFragments',
    order: 'order',
    no_match_size: 'noMatchSize',
    format: 'format',
  };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (value !== undefined) out[names[key as keyof HttpHighlight]] = value;
  return out as HighlightRequest;
}

/**
 * The JSON schemas of every route. Fastify validates requests with them and @fastify/swagger
 * turns the same objects into the OpenAPI document, so the two cannot drift apart.
 */

export interface ServerLimits {
  /** Largest JSON request body, in bytes. */
  readonly bodyBytes: number;
  /** Largest NDJSON body of one _bulk request, in bytes. */
  readonly bulkBytes: number;
  /** Largest body uploaded to POST /jobs, in bytes (it is spooled to disk, not held in memory). */
  readonly uploadBytes: number;
  /** Longest NDJSON line, in bytes. */
  readonly lineBytes: number;
  /** Most lines in one _bulk request. */
  readonly bulkLines: number;
  readonly maxK: number;
  /** Most distinct terms in a query (text after analysis, or a vector's entries). */
  readonly queryTerms: number;
  /** Longest query text, in characters. */
  readonly queryLength: number;
  /** Most numbers in a dense query vector. */
  readonly denseDimensions: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  bodyBytes: 10 * 1024 * 1024,
  bulkBytes: 100 * 1024 * 1024,
  uploadBytes: 4 * 1024 * 1024 * 1024,
  lineBytes: 1024 * 1024,
  bulkLines: 100_000,
  maxK: MAX_K,
  queryTerms: 1024,
  denseDimensions: 4096,
  queryLength: 100_000,
};

export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl'] as const;
export const GZIP_TYPES = ['application/gzip', 'application/x-gzip'] as const;

export const errorResponse = {
  $id: 'ErrorResponse',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Stable, documented in docs/errors.md.' },
        message: { type: 'string', description: 'For people; may change.' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

const errorRef = { $ref: 'ErrorResponse#' } as const;
/** Every route may answer these. */
export const errorResponses = { '4xx': errorRef, '5xx': errorRef } as const;

const scalar = { type: ['string', 'number', 'boolean', 'null'] } as const;
const bound = { type: ['number', 'string'] } as const;

/**
 * The filter grammar's shapes; the engine (engine/filter.ts) checks what a schema cannot count:
 * nesting depth and the number of conditions.
 */
export function searchFilterSchema() {
  const { maxDepth, maxClauses, maxInValues } = DEFAULT_FILTER_LIMITS;
  return {
    $id: 'SearchFilter',
    description:
      'A condition on stored fields: {"field": value} (equality), {"field": {"in": [...]}}, {"field": {"gte"|"gt"|"lte"|"lt": v}}, ' +
      '{"field": {"ne": v}}, {"field": {"exists": true|false}}, combined with {"and": [...]}, {"or": [...]}, {"not": {...}}; several keys ' +
      `are combined with "and" and "a.b" reaches nested fields. At most ${maxDepth} levels, ${maxClauses} field conditions, ${maxInValues} "in" values.`,
    type: 'object',
    minProperties: 1,
    maxProperties: maxClauses,
    properties: {
      and: { type: 'array', minItems: 1, maxItems: maxClauses, items: { $ref: 'SearchFilter#' } },
      or: { type: 'array', minItems: 1, maxItems: maxClauses, items: { $ref: 'SearchFilter#' } },
      not: { $ref: 'SearchFilter#' },
    },
    additionalProperties: {
      anyOf: [
        scalar,
        {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            in: { type: 'array', minItems: 1, maxItems: maxInValues, items: scalar },
            gte: bound,
            gt: bound,
            lte: bound,
            lt: bound,
            ne: scalar,
            exists: { type: 'boolean' },
          },
        },
      ],
    },
  } as const;
}

const collectionName = { type: 'string', minLength: 1, maxLength: 128, description: 'Letters, digits, "_", "-" or ".", starting with a letter or digit.' } as const;
const documentId = { type: 'string', minLength: 1, maxLength: MAX_ID_LENGTH } as const;

export const collectionParams = { type: 'object', required: ['name'], properties: { name: collectionName } } as const;
export const documentParams = { type: 'object', required: ['name', 'id'], properties: { name: collectionName, id: documentId } } as const;
export const jobParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;

export function searchBodySchema(limits: ServerLimits) {
  return {
    type: 'object',
    anyOf: [{ required: ['query'] }, { required: ['dense_vector'] }],
    additionalProperties: false,
    properties: {
      query: {
        description: 'Text, analysed by the collection\'s encoder, or a sparse vector {"token": weight} with finite weights >= 0.',
        anyOf: [
          { type: 'string', maxLength: limits.queryLength },
          { type: 'object', additionalProperties: {}, maxProperties: limits.queryTerms },
        ],
      },
      dense_vector: {
        type: 'array',
        minItems: 1,
        maxItems: limits.denseDimensions,
        items: { type: 'number' },
        description: 'A dense query vector, for collections with a dense side whose vectors come from the client (or to override the dense encoder).',
      },
      retrieval: {
        type: 'string',
        enum: ['auto', 'sparse', 'dense', 'hybrid'],
        default: 'auto',
        description:
          'Which sides answer. auto: hybrid when the request has a dense side (dense_vector, or text and a dense encoder), dense when it has only dense_vector, sparse otherwise.',
      },
      fusion: {
        type: 'object',
        additionalProperties: false,
        description:
          'How hybrid lists are fused. rrf (default): sum of weight/(k + rank), k 60. convex: sum of weight x normalized score; normalization min-max (default), z-score, theoretical-min-max (with bounds) or l2; missing: the normalized score of a document absent from one list ("min" default, "zero" or a number). depth: hits taken from each list (default max(k, 100)).',
        properties: {
          method: { type: 'string', enum: ['rrf', 'convex'] },
          k: { type: 'number', minimum: 0 },
          weights: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'number', minimum: 0 }, description: '[sparse, dense]' },
          normalization: { type: 'string', enum: ['min-max', 'z-score', 'theoretical-min-max', 'l2'] },
          bounds: {
            type: 'array',
            minItems: 2,
            maxItems: 2,
            items: { type: 'object', required: ['min'], additionalProperties: false, properties: { min: { type: 'number' }, max: { type: 'number' } } },
          },
          missing: { anyOf: [{ type: 'string', enum: ['min', 'zero'] }, { type: 'number' }] },
          depth: { type: 'integer', minimum: 1, maximum: limits.maxK },
        },
      },
      k: { type: 'integer', minimum: 1, maximum: limits.maxK, default: 10 },
      from: { type: 'integer', minimum: 0, maximum: limits.maxK, default: 0, description: 'Hits to skip before the k returned (paging); from + k is at most the largest k.' },
      fields: {
        description: 'Stored fields to return with each hit: true for all (default), false for none, or a list of names.',
        anyOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string', maxLength: 256 }, maxItems: 256 }],
      },
      explain: { type: 'boolean', default: false, description: 'List, per hit, the terms that contributed with their query and document weights.' },
      highlight: {
        type: 'object',
        additionalProperties: false,
        description:
          'Fragments of the stored text fields around the tokens that matched: a token is marked when the term the encoder makes of it (BM25\'s stemmed term, SPLADE\'s word piece) is in both the query and the document vector. Returned per hit as highlight: {field: [fragment, ...]}.',
        properties: {
          fields: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 256 }, description: 'Stored text fields to highlight (default: every text field the encoder reads).' },
          pre_tag: { type: 'string', maxLength: 100, default: HIGHLIGHT_DEFAULTS.preTag },
          post_tag: { type: 'string', maxLength: 100, default: HIGHLIGHT_DEFAULTS.postTag },
          encoder: { type: 'string', enum: ['html', 'none'], default: HIGHLIGHT_DEFAULTS.encoder, description: 'html escapes the stored text around the tags (safe to insert as HTML); none returns it as stored.' },
          fragment_size: { type: 'integer', minimum: 0, maximum: MAX_FRAGMENT_SIZE, default: HIGHLIGHT_DEFAULTS.fragmentSize, description: 'Characters per fragment, about (fragments end at word boundaries); 0: the whole field.' },
          number_of_fragments: { type: 'integer', minimum: 0, maximum: MAX_FRAGMENTS, default: HIGHLIGHT_DEFAULTS.numberOfFragments, description: 'Fragments per field at most; 0: the whole field as one fragment.' },
          order: { type: 'string', enum: ['position', 'score'], default: HIGHLIGHT_DEFAULTS.order, description: 'position: fragments in text order; score: the best first.' },
          no_match_size: { type: 'integer', minimum: 0, maximum: MAX_FRAGMENT_SIZE, default: HIGHLIGHT_DEFAULTS.noMatchSize, description: 'Characters from the start of a field with no match to return anyway (0: none).' },
          format: {
            type: 'string',
            enum: ['tags', 'offsets'],
            default: HIGHLIGHT_DEFAULTS.format,
            description: 'tags: fragments as strings with the tags around matches; offsets: {start, end, matches: [{start, end, term}]} as UTF-16 offsets into the stored field.',
          },
        },
      },
      filter: { $ref: 'SearchFilter#' },
      facets: {
        type: 'object',
        maxProperties: 10,
        description:
          'Counts per stored field over every document the query and filter match (not only the k returned): {"venue": {"type": "terms", "size": 10}, "year": {"type": "range", "ranges": [{"to": 2000}, {"from": 2000, "to": 2010}, {"from": 2010}]}}. Ranges include from and exclude to.',
        additionalProperties: {
          anyOf: [
            { type: 'object', required: ['type'], additionalProperties: false, properties: { type: { const: 'terms' }, size: { type: 'integer', minimum: 1, maximum: 100, description: 'Values returned, default 10.' } } },
            {
              type: 'object',
              required: ['type', 'ranges'],
              additionalProperties: false,
              properties: {
                type: { const: 'range' },
                ranges: {
                  type: 'array',
                  minItems: 1,
                  maxItems: 50,
                  items: { type: 'object', additionalProperties: false, properties: { from: { type: ['number', 'string'] }, to: { type: ['number', 'string'] }, key: { type: 'string', maxLength: 256 } } },
                },
              },
            },
          ],
        },
      },
      mode: {
        type: 'string',
        enum: ['auto', 'exact', 'approximate', 'safe'],
        default: 'auto',
        description:
          'exact: every matching document is scored; approximate: the collection\'s approximate index; auto: approximate once segments exist; safe: the exact top-k of the segments\' stored vectors, proven by block-max bounds without scoring every match.',
      },
      approximate: {
        type: 'object',
        additionalProperties: false,
        description: 'Per-query parameters of the approximate index.',
        properties: {
          query_cut: { type: 'integer', minimum: 1, maximum: limits.queryTerms, description: 'Only the query\'s heaviest terms are used.' },
          heap_factor: {
            type: 'number',
            minimum: APPROXIMATE_RANGES.heapFactor.min,
            maximum: APPROXIMATE_RANGES.heapFactor.max,
            description: 'Blocks whose bound is below heap_factor x the k-th score are skipped: 0 never skips, 1 skips the most.',
          },
          knn: {
            type: 'integer',
            minimum: 0,
            maximum: 256,
            description: 'kNN refinement: neighbours of each result scored from the segments\' kNN graph (index setting build.knnNeighbors); default all stored, 0 off.',
          },
        },
      },
    },
  } as const;
}

const explanation = {
  type: 'object',
  properties: {
    term: { type: 'string' },
    field: { type: 'string' },
    queryWeight: { type: 'number' },
    documentValue: { type: 'number' },
    score: { type: 'number' },
  },
} as const;

export const searchResponse = {
  type: 'object',
  required: ['hits', 'took_ms'],
  properties: {
    facets: {
      type: 'object',
      description: 'With facets: per field, buckets of {value, count} (terms, with "other" for the rest) or {key, from, to, count} (ranges).',
      additionalProperties: {
        type: 'object',
        properties: {
          buckets: { type: 'array', items: { type: 'object', properties: { value: { type: ['string', 'number', 'boolean', 'null'] }, key: { type: 'string' }, from: { type: ['number', 'string'] }, to: { type: ['number', 'string'] }, count: { type: 'integer' } } } },
          other: { type: 'integer' },
        },
      },
    },
    total: {
      type: 'object',
      description: 'Documents that matched: "eq" when every match was counted (exact answers), "gte" a lower bound (approximate, dense and hybrid answers).',
      properties: { value: { type: 'integer' }, relation: { type: 'string', enum: ['eq', 'gte'] } },
    },
    hits: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'score'],
        properties: {
          id: { type: 'string' },
          score: { type: 'number' },
          fields: { type: 'object', additionalProperties: true },
          explain: { type: 'array', items: explanation },
          highlight: {
            type: 'object',
            description: 'With highlight: fragments per stored field (strings, or offsets with format "offsets").',
            additionalProperties: {
              type: 'array',
              items: {
                anyOf: [
                  { type: 'string' },
                  {
                    type: 'object',
                    properties: {
                      start: { type: 'integer' },
                      end: { type: 'integer' },
                      matches: { type: 'array', items: { type: 'object', properties: { start: { type: 'integer' }, end: { type: 'integer' }, term: { type: 'string' } } } },
                    },
                  },
                ],
              },
            },
          },
          fusion: {
            type: 'array',
            description: 'Hybrid hits with explain: each list\'s part in the fused score.',
            items: {
              type: 'object',
              properties: {
                list: { type: 'string' },
                rank: { type: ['integer', 'null'] },
                score: { type: ['number', 'null'] },
                normalized: { type: 'number' },
                weight: { type: 'number' },
                contribution: { type: 'number' },
              },
            },
          },
        },
      },
    },
    took_ms: { type: 'number' },
    mode: { type: 'string', enum: ['exact', 'approximate', 'safe'], description: 'How the sparse side was answered.' },
    retrieval: { type: 'string', enum: ['sparse', 'dense', 'hybrid'], description: 'Which sides answered.' },
    unknown_terms: { type: 'array', items: { type: 'string' } },
    warnings: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const createCollectionBody = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: collectionName,
    encoder: {
      type: 'object',
      description: 'Encoder and its settings, e.g. {"type": "bm25", "k1": 0.9, "b": 0.4, "fields": "flat"}; defaults to BM25 as Lucene.',
      properties: { type: { type: 'string' } },
      additionalProperties: true,
    },
    index: { type: 'object', description: 'Index settings (approximate index parameters), kept with the collection.', additionalProperties: true },
    dense: {
      type: 'object',
      description:
        'A dense side: {"encoder": {"type": "client", "dimension": 384} | {"type": "static"} | {"type": "transformers", "model": DIR}, "metric": "cosine" | "dot", "storage": "f32" | "int8", "index": "exact" | "hnsw"}. Client vectors come in each document\'s "dense_vector" field.',
      additionalProperties: true,
    },
  },
} as const;

const collectionSummary = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    encoder: { type: 'object', additionalProperties: true },
    index: { type: 'object', additionalProperties: true },
    dense: { type: 'object', additionalProperties: true },
    created_at: { type: 'string' },
    documents: { type: 'integer' },
  },
} as const;

export const collectionList = { type: 'object', properties: { collections: { type: 'array', items: collectionSummary } } } as const;

export const collectionDetail = {
  type: 'object',
  properties: {
    ...collectionSummary.properties,
    statistics: {
      type: 'object',
      properties: {
        documents: { type: 'integer' },
        terms: { type: 'integer' },
        segments: { type: 'integer' },
        segment_list: {
          type: 'array',
          items: { type: 'object', properties: { id: { type: 'integer' }, documents: { type: 'integer' }, deleted: { type: 'integer' }, bytes: { type: 'integer' } } },
        },
        unsegmented: { type: 'integer', description: 'Documents not yet in an approximate-index segment.' },
        building: { type: 'boolean', description: 'A segment build or merge is running.' },
        build_error: {
          type: 'object',
          description: 'Why the last segment build or merge failed (absent once one succeeds); the documents stay searchable exactly.',
          properties: { code: { type: 'string' }, message: { type: 'string' } },
        },
        bytes: {
          type: 'object',
          properties: { documents: { type: 'integer' }, segments: { type: 'integer' }, total: { type: 'integer' } },
        },
        fields: {
          type: 'array',
          items: { type: 'object', properties: { name: { type: 'string' }, docCount: { type: 'integer' }, sumTotalTermFreq: { type: 'integer' } } },
        },
      },
    },
  },
} as const;

export const deletedResponse = {
  type: 'object',
  properties: { name: { type: 'string' }, id: { type: 'string' }, result: { type: 'string', enum: ['deleted'] } },
} as const;

export const documentBody = {
  type: 'object',
  maxProperties: 4096,
  description: 'The document\'s fields (title, text and anything else to store). An "id" or "_id" field must equal the id in the path.',
  additionalProperties: true,
} as const;

export const documentResponse = {
  type: 'object',
  properties: { id: { type: 'string' }, fields: { type: 'object', additionalProperties: true } },
} as const;

export const upsertResponse = {
  type: 'object',
  properties: { id: { type: 'string' }, result: { type: 'string', enum: ['created', 'updated'] } },
} as const;

export function ndjsonBody(description: string) {
  return {
    content: Object.fromEntries(NDJSON_TYPES.map((type) => [type, { schema: { description } }])),
  };
}

export const bulkResponse = {
  type: 'object',
  properties: {
    took_ms: { type: 'number' },
    errors: { type: 'boolean', description: 'true when at least one line failed.' },
    indexed: { type: 'integer', description: 'New documents.' },
    updated: { type: 'integer', description: 'Documents that replaced one with the same id.' },
    deleted: { type: 'integer' },
    not_found: { type: 'integer', description: 'Deletes of ids the collection did not have.' },
    failed: { type: 'integer' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          line: { type: 'integer' },
          id: { type: 'string' },
          result: { type: 'string', enum: ['upserted', 'deleted', 'not_found', 'error'] },
          error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
  },
} as const;

export function createJobBody(limits: ServerLimits) {
  const jsonSpec = {
    type: 'object',
    required: ['collection', 'source'],
    additionalProperties: false,
    properties: {
      collection: collectionName,
      source: {
        type: 'object',
        required: ['path'],
        additionalProperties: false,
        properties: {
          path: { type: 'string', minLength: 1, maxLength: 4096, description: 'A file or BEIR folder, relative to (and inside) the server\'s import folder.' },
          format: {
            type: 'string',
            enum: ['auto', 'jsonl', 'beir', 'vectors'],
            default: 'auto',
            description: 'jsonl (.jsonl or .jsonl.gz), beir (a folder with corpus.jsonl[.gz]), vectors (precomputed {"id", "vector": {...}} lines); auto tells by the path and the collection.',
          },
        },
      },
      batch_size: { type: 'integer', minimum: 1, maximum: 100_000 },
    },
  } as const;
  const upload = { description: `Upload: the NDJSON body itself (query: collection, format, batch_size), at most ${limits.uploadBytes} bytes.` };
  return {
    content: {
      'application/json': { schema: jsonSpec },
      ...Object.fromEntries([...NDJSON_TYPES, ...GZIP_TYPES].map((type) => [type, { schema: upload }])),
    },
  };
}

export function tuneBodySchema(limits: ServerLimits) {
  return {
    type: 'object',
    required: ['target_recall'],
    additionalProperties: false,
    properties: {
      target_recall: { type: 'number', description: 'The recall@k to reach, in (0, 1]: the fastest setting on the grid that reaches it on the queries becomes the default.' },
      k: { type: 'integer', minimum: 1, maximum: limits.maxK, default: 10 },
      queries: {
        type: 'array',
        maxItems: 10_000,
        description: 'Queries to tune on (text or {"token": weight}); without them, `sample` of the collection\'s own documents serve as queries (learned-sparse collections only).',
        items: {
          type: 'object',
          required: ['query'],
          additionalProperties: false,
          properties: {
            id: { type: 'string', maxLength: 512 },
            query: { anyOf: [{ type: 'string', maxLength: limits.queryLength }, { type: 'object', additionalProperties: {}, maxProperties: limits.queryTerms }] },
          },
        },
      },
      sample: { type: 'integer', description: 'Documents drawn as queries when no queries are given (default 200).' },
      seed: { type: 'integer', description: 'Seed of the document sample (default 1).' },
      query_cuts: { type: 'array', maxItems: 64, items: { type: 'integer' }, description: 'query_cut values of the grid (default 1 ... 32).' },
      heap_factors: { type: 'array', maxItems: 64, items: { type: 'number' }, description: 'heap_factor values of the grid, each in (0, 1] (default 0.5 ... 1).' },
      apply: { type: 'boolean', default: true, description: 'Store the chosen setting as the collection\'s default query parameters.' },
    },
  } as const;
}

export const uploadQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    collection: collectionName,
    format: { type: 'string', enum: ['jsonl', 'vectors'] },
    batch_size: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' },
  },
} as const;

export const jobView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    collection: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'running', 'completed', 'failed', 'cancelled'] },
    source: {
      type: 'object',
      properties: { type: { type: 'string', enum: ['path', 'upload', 'tune'] }, path: { type: 'string' }, format: { type: 'string' } },
    },
    progress: {
      type: 'object',
      description: 'Counters cover committed batches only: what they count is durable.',
      properties: {
        processed: { type: 'integer' },
        indexed: { type: 'integer' },
        updated: { type: 'integer' },
        failed: { type: 'integer' },
        line: { type: 'integer', description: 'Last input line committed.' },
        bytes_read: { type: 'integer' },
        total_bytes: { type: 'integer' },
        fraction: { type: 'number' },
        docs_per_second: { type: 'number' },
        eta_seconds: { type: ['number', 'null'] },
        elapsed_seconds: { type: 'number' },
      },
    },
    segment_build: {
      type: 'object',
      description: 'The collection\'s segment build or merge running now (GET /jobs/ID only): postings blocked of those kept after pruning, rate and time left.',
      properties: {
        kind: { type: 'string', enum: ['build', 'merge'] },
        documents: { type: 'integer' },
        pending_documents: { type: 'integer', description: 'Documents still to be packed into segments after this build.' },
        postings_done: { type: 'integer' },
        postings_total: { type: 'integer', description: '0 until the posting lists are pruned.' },
        postings_per_second: { type: 'number' },
        eta_seconds: { type: ['number', 'null'] },
        elapsed_seconds: { type: 'number' },
      },
    },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { line: { type: 'integer' }, id: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } } },
    },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
    result: {
      type: 'object',
      additionalProperties: true,
      description:
        'A tuning job\'s outcome: target_recall, k, queries, before and chosen ({query_cut, heap_factor, recall, p50_ms, p99_ms}; chosen null when no setting reaches the target), applied, tuned_at, points (the grid, pareto marking the front), report (where report.md and report.png are served).',
    },
    created_at: { type: 'string' },
    started_at: { type: 'string' },
    finished_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;

export const jobList = { type: 'object', properties: { jobs: { type: 'array', items: jobView } } } as const;
export const jobListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' } },
} as const;

export const healthResponse = { type: 'object', properties: { status: { type: 'string' } } } as const;
