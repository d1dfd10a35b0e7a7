/**
 * Token bytes -> small local ids, without making a string per occurrence. A bulk encoder thread
 * keeps one table per field for the length of an import: a token's text crosses to the writing
 * thread once, the first time it is seen, and from then on only its local id does (see
 * engine/packed-batch.ts). Open addressing over an arena of UTF-8 bytes; FNV-1a hashing.
 */
export class LocalTokenTable {
  private arena = new Uint8Array(1 << 16);
  private arenaUsed = 0;
  private starts = new Uint32Array(1024);
  private lengths = new Uint32Array(1024);
  /** Length of the token as a JavaScript string (UTF-16 code units): what token limits count. */
  private textLengths = new Uint32Array(1024);
  private slots = new Int32Array(2048).fill(-1);
  private count = 0;
  /** Ids handed out since the last `takeNew`, with their text. */
  private fresh: { id: number; text: string }[] = [];
  private readonly scratch = new Uint8Array(1024);
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly illFormed = new Map<string, number>();

  get size(): number {
    return this.count;
  }

  textLength(id: number): number {
    return this.textLengths[id]!;
  }

  /**
   * The id of bytes[start, end), added when new; -1 when new bytes are not valid UTF-8 (the caller
   * then takes the slow path, which reports the line).
   */
  idOfBytes(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    for (;;) {
      const id = this.slots[slot]!;
      if (id < 0) break;
      if (this.lengths[id] === length && this.equals(id, bytes, start, length)) return id;
      slot = (slot + 1) & mask;
    }
    let text: string;
    try {
      text = this.decoder.decode(bytes.subarray(start, end));
    } catch {
      return -1;
    }
    return this.insert(slot, bytes, start, length, text);
  }

  /** The id of a token given as a string (encoders that produce term maps). */
  idOfText(text: string): number {
    // UTF-8 cannot carry a lone surrogate: such a term is keyed by its string instead.
    if (!(text as unknown as { isWellFormed(): boolean }).isWellFormed()) return this.idOfIllFormed(text);
    let bytes = this.scratch;
    let length: number;
    if (text.length * 3 <= bytes.length) length = this.encoder.encodeInto(text, bytes).written;
    else {
      bytes = this.encoder.encode(text);
      length = bytes.length;
    }
    return this.idOfBytes(bytes, 0, length);
  }

  private idOfIllFormed(text: string): number {
    let id = this.illFormed.get(text);
    if (id === undefined) {
      id = this.insert(-1, new Uint8Array(0), 0, 0, text);
      this.illFormed.set(text, id);
    }
    return id;
  }

  /** Tokens added since the previous call: what the writing side has not been told yet. */
  takeNew(): { id: number; text: string }[] {
    const fresh = this.fresh;
    this.fresh = [];
    return fresh;
  }

  private equals(id: number, bytes: Uint8Array, start: number, length: number): boolean {
    const arena = this.arena;
    const at = this.starts[id]!;
    for (let i = 0; i < length; i++) if (arena[at + i] !== bytes[start + i]) return false;
    return true;
  }

  private insert(slot: number, bytes: Uint8Array, start: number, length: number, text: string): number {
    const id = this.count++;
    if (id === this.starts.length) {
      this.starts = grow(this.starts);
      this.lengths = grow(this.lengths);
      this.textLengths = grow(this.textLengths);
    }
    if (this.arenaUsed + length > this.arena.length) {
      const next = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + length));
      next.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = next;
    }
    this.arena.set(bytes.subarray(start, start + length), this.arenaUsed);
    this.starts[id] = this.arenaUsed;
    this.lengths[id] = length;
    this.textLengths[id] = text.length;
    this.arenaUsed += length;
    // Slot -1: an ill-formed string, found through its own map and never by bytes.
    if (slot >= 0) this.slots[slot] = id;
    else this.lengths[id] = 0xffffffff;
    this.fresh.push({ id, text });
    // Keep the load factor under one half.
    if (this.count * 2 > this.slots.length) this.rehash();
    return id;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let id = 0; id < this.count; id++) {
      if (this.lengths[id] === 0xffffffff) continue;
      let hash = 0x811c9dc5;
      const at = this.starts[id]!;
      const end = at + this.lengths[id]!;
      for (let i = at; i < end; i++) hash = Math.imul(hash ^ this.arena[i]!, 0x01000193);
      let slot = hash & mask;
      while (slots[slot]! >= 0) slot = (slot + 1) & mask;
      slots[slot] = id;
    }
    this.slots = slots;
  }
}

function grow(array: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const next = new Uint32Array(array.length * 2);
  next.set(array);
  return next;
}
