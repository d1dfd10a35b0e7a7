/**
 * Bounded min-heap of (score, doc) keeping the k best under the result order: higher score first,
 * equal scores by lower document number. The root is the worst kept result, i.e. the current
 * k-th best. Scores are f32 (both scorers compare f32 values).
 */
export class TopKHeap {
  private scores: Float32Array;
  private docs: Uint32Array;
  private capacity = 0;
  size = 0;

  constructor(initialCapacity = 16) {
    this.scores = new Float32Array(initialCapacity);
    this.docs = new Uint32Array(initialCapacity);
  }

  /** Empties the heap and makes room for k results. */
  reset(k: number): void {
    if (k > this.scores.length) {
      this.scores = new Float32Array(k);
      this.docs = new Uint32Array(k);
    }
    this.capacity = k;
    this.size = 0;
  }

  get full(): boolean {
    return this.size === this.capacity;
  }

  /** Score of the k-th best result; only meaningful when full. */
  get kthScore(): number {
    return this.scores[0]!;
  }

  offer(score: number, doc: number): void {
    const scores = this.scores;
    const docs = this.docs;
    if (this.size < this.capacity) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        const parentScore = scores[parent]!;
        // Parents are worse than children; stop once the new entry is no worse than its parent.
        if (!(score < parentScore || (score === parentScore && doc > docs[parent]!))) break;
        scores[i] = parentScore;
        docs[i] = docs[parent]!;
        i = parent;
      }
      scores[i] = score;
      docs[i] = doc;
      return;
    }
    if (this.capacity === 0) return;
    const rootScore = scores[0]!;
    if (score < rootScore || (score === rootScore && doc > docs[0]!)) return;
    this.siftDown(score, doc, this.size);
  }

  private siftDown(score: number, doc: number, size: number): void {
    const scores = this.scores;
    const docs = this.docs;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size) {
        const rightScore = scores[right]!;
        const leftScore = scores[child]!;
        if (rightScore < leftScore || (rightScore === leftScore && docs[right]! > docs[child]!)) child = right;
      }
      const childScore = scores[child]!;
      if (!(childScore < score || (childScore === score && docs[child]! > doc))) break;
      scores[i] = childScore;
      docs[i] = docs[child]!;
      i = child;
    }
    scores[i] = score;
    docs[i] = doc;
  }

  /** A copy of the documents held now, in heap order. */
  heldDocs(): Uint32Array {
    return this.docs.slice(0, this.size);
  }

  /** Results best first; empties the heap. */
  drain(): { docs: Uint32Array; scores: Float32Array } {
    const count = this.size;
    for (let end = count - 1; end > 0; end--) {
      const lastScore = this.scores[end]!;
      const lastDoc = this.docs[end]!;
      this.scores[end] = this.scores[0]!;
      this.docs[end] = this.docs[0]!;
      this.siftDown(lastScore, lastDoc, end);
    }
    this.size = 0;
    return { docs: this.docs.slice(0, count), scores: this.scores.slice(0, count) };
  }
}
