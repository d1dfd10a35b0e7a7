import type { EncodedDocument, EncodedQuery, SparseEncoder } from './encoder.js';

/**
 * Encoding through whichever path an encoder offers: the asynchronous batch methods of model
 * encoders (SPLADE) or the synchronous ones (BM25). What the engine, the bulk jobs and the encoder
 * workers call, so none of them needs to know which kind it holds.
 */
export type EncodingResult = EncodedDocument | { readonly error: { readonly code: string; readonly message: string } };

export function errorOf(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code) ? code : 'ENCODING_FAILED', message: (error as Error)?.message ?? String(error) };
}

/**
 * Encodes documents (their fields), one result per document in input order. A batch that fails as
 * a whole is retried document by document, so one bad document is rejected alone.
 */
export async function encodeDocuments(encoder: SparseEncoder, documents: readonly Readonly<Record<string, unknown>>[]): Promise<EncodingResult[]> {
  await encoder.load?.();
  if (encoder.encodeDocumentsAsync) {
    try {
      return await encoder.encodeDocumentsAsync(documents);
    } catch {
      // Find the culprit document by document below.
    }
  }
  const results: EncodingResult[] = [];
  for (const document of documents) {
    try {
      results.push(encoder.encodeDocumentsAsync ? (await encoder.encodeDocumentsAsync([document]))[0]! : encoder.encodeDocument(document));
    } catch (error) {
      results.push({ error: errorOf(error) });
    }
  }
  return results;
}

/** Encodes a query text by the encoder's asynchronous path when it has one. */
export async function encodeQuery(encoder: SparseEncoder, text: string): Promise<EncodedQuery> {
  await encoder.load?.();
  return encoder.encodeQueryAsync ? encoder.encodeQueryAsync(text) : encoder.encodeQuery(text);
}
