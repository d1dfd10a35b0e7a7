/**
 * Bounded selection of the k best (docNumber, score) pairs with a deterministic order:
 * score descending, then the caller's tie-break key descending (trec_eval orders ties by document
 * id descending, so ranking and reported metrics agree). A binary min-heap holds the current worst at
 * the root; nothing is allocated per candidate.
 */
export class TopK {
  readonly k: number;
  private readonly docs: Uint32Array;
  private readonly scores: Float64Array;
  private size = 0;
  private readonly tieKey: (docNumber: number) => string;

  constructor(k: number, tieKey: (docNumber: number) => string) {
    this.k = k;
    this.docs = new Uint32Array(Math.max(k, 1));
    this.scores = new Float64Array(Math.max(k, 1));
    this.tieKey = tieKey;
  }

  /** True when a candidate with this score could still enter (cheap pre-check before push). */
  admits(score: number): boolean {
    return this.size < this.k || score >= this.scores[0]!;
  }

  push(docNumber: number, score: number): void {
    if (this.k === 0) return;
    if (this.size < this.k) {
      let i = this.size++;
      this.docs[i] = docNumber;
      this.scores[i] = score;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(i, parent)) break;
        this.swap(i, parent);
        i = parent;
      }
      return;
    }
    if (!this.beats(docNumber, score, 0)) return;
    this.docs[0] = docNumber;
    this.scores[0] = score;
    this.siftDown(0);
  }

  /** Results best first. */
  drain(): { docs: Uint32Array; scores: Float64Array } {
    const n = this.size;
    const docs = new Uint32Array(n);
    const scores = new Float64Array(n);
    for (let out = n - 1; out >= 0; out--) {
      docs[out] = this.docs[0]!;
      scores[out] = this.scores[0]!;
      this.size--;
      if (this.size > 0) {
        this.docs[0] = this.docs[this.size]!;
        this.scores[0] = this.scores[this.size]!;
        this.siftDown(0);
      }
    }
    return { docs, scores };
  }

  private beats(docNumber: number, score: number, slot: number): boolean {
    const other = this.scores[slot]!;
    if (score !== other) return score > other;
    return this.tieKey(docNumber) > this.tieKey(this.docs[slot]!);
  }

  private worse(a: number, b: number): boolean {
    const sa = this.scores[a]!;
    const sb = this.scores[b]!;
    if (sa !== sb) return sa < sb;
    return this.tieKey(this.docs[a]!) < this.tieKey(this.docs[b]!);
  }

  private siftDown(start: number): void {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) return;
      let smallest = left;
      const right = left + 1;
      if (right < this.size && this.worse(right, left)) smallest = right;
      if (!this.worse(smallest, i)) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private swap(a: number, b: number): void {
    const d = this.docs[a]!;
    this.docs[a] = this.docs[b]!;
    this.docs[b] = d;
    const s = this.scores[a]!;
    this.scores[a] = this.scores[b]!;
    this.scores[b] = s;
  }
}
