/**
 * Published BEIR v1.0.0 test-split figures (nDCG@10 / Recall@100) from the Anserini and Pyserini
 * reproduction records, for the settings an eval run reports next to its own figures.
 */
export interface ReferenceFigure {
  readonly ndcg_cut_10: number;
  readonly recall_100: number;
  readonly recall_1000?: number;
  readonly source: string;
}

type Setting = 'bm25-flat' | 'bm25-multifield' | 'splade-pp-ed' | 'splade-v3';

const ANSERINI = 'Anserini/Pyserini BEIR reproduction (2CR), BEIR v1.0.0 test split';

const TABLE: Record<string, Partial<Record<Setting, [number, number]>>> = {
  scifact: { 'bm25-flat': [0.6789, 0.9253], 'bm25-multifield': [0.6647, 0.9076], 'splade-pp-ed': [0.7036, 0.9353], 'splade-v3': [0.714, 0.936] },
  nfcorpus: { 'bm25-flat': [0.3218, 0.2457], 'bm25-multifield': [0.3254, 0.25], 'splade-pp-ed': [0.3473, 0.2847], 'splade-v3': [0.3629, 0.2976] },
  fiqa: { 'bm25-flat': [0.2361, 0.5395], 'bm25-multifield': [0.2361, 0.5395], 'splade-pp-ed': [0.3473, 0.6314], 'splade-v3': [0.3798, 0.6671] },
  scidocs: { 'bm25-flat': [0.149, 0.3477], 'bm25-multifield': [0.1581, 0.3561], 'splade-pp-ed': [0.1588, 0.373], 'splade-v3': [0.1567, 0.3673] },
  'trec-covid': { 'bm25-flat': [0.5947, 0.1091], 'bm25-multifield': [0.6559, 0.1141], 'splade-pp-ed': [0.727, 0.1283], 'splade-v3': [0.7299, 0.1409] },
  quora: { 'bm25-flat': [0.7886, 0.9733], 'bm25-multifield': [0.7886, 0.9733], 'splade-pp-ed': [0.8344, 0.9864], 'splade-v3': [0.8141, 0.9858] },
  nq: { 'bm25-flat': [0.3055, 0.7513], 'bm25-multifield': [0.3285, 0.7597], 'splade-pp-ed': [0.5372, 0.9296], 'splade-v3': [0.5842, 0.9438] },
  hotpotqa: { 'bm25-flat': [0.633, 0.7957], 'bm25-multifield': [0.6027, 0.74], 'splade-pp-ed': [0.6868, 0.8177], 'splade-v3': [0.6884, 0.8215] },
  fever: { 'bm25-flat': [0.6513, 0.9185], 'bm25-multifield': [0.753, 0.9309], 'splade-pp-ed': [0.7879, 0.9459], 'splade-v3': [0.8015, 0.955] },
};

const RECALL_1000: Record<string, Partial<Record<Setting, number>>> = { scifact: { 'bm25-flat': 0.9767 } };

export function referenceFigure(dataset: string, setting: Setting): ReferenceFigure | undefined {
  const row = TABLE[dataset.toLowerCase()]?.[setting];
  if (!row) return undefined;
  const r1000 = RECALL_1000[dataset.toLowerCase()]?.[setting];
  return { ndcg_cut_10: row[0], recall_100: row[1], ...(r1000 !== undefined ? { recall_1000: r1000 } : {}), source: ANSERINI };
}
