/**
 * The original Porter (1980) stemming algorithm, behaving exactly like Lucene's PorterStemmer /
 * PorterStemFilter (which follows Martin Porter's reference implementation, including its two
 * departures from the paper: "-bli" -> "-ble" and "-logi" -> "-log").
 *
 * Works on UTF-16 code units: any unit other than a, e, i, o, u (and y after a consonant) counts as a
 * consonant, so digits and non-ASCII letters pass through the rules as Lucene does. Words of one or
 * two units are never changed.
 */
export class PorterStemmer {
  /** Working copy of the word; grown when a longer word arrives. */
  private b = new Uint16Array(64);
  /** Index of the last unit of the current stem. */
  private k = 0;
  /** General offset into the word, set by ends(). */
  private j = 0;
  private dirty = false;

  /** The stem of `word` (the same string when nothing changes). */
  stem(word: string): string {
    const length = word.length;
    if (length <= 2) return word;
    if (this.b.length < length) this.b = new Uint16Array(length * 2);
    const b = this.b;
    for (let i = 0; i < length; i++) b[i] = word.charCodeAt(i);
    this.k = length - 1;
    this.j = 0;
    this.dirty = false;
    this.step1();
    this.step2();
    this.step3();
    this.step4();
    this.step5();
    this.step6();
    const stemLength = this.k + 1;
    if (!this.dirty && stemLength === length) return word;
    // Only the tail can differ from the input; rebuild it from the first changed unit.
    let same = 0;
    while (same < stemLength && b[same] === word.charCodeAt(same)) same++;
    let result = word.slice(0, same);
    for (let i = same; i < stemLength; i++) result += String.fromCharCode(b[i]);
    return result;
  }

  private cons(i: number): boolean {
    switch (this.b[i]) {
      case 0x61: // a
      case 0x65: // e
      case 0x69: // i
      case 0x6f: // o
      case 0x75: // u
        return false;
      case 0x79: // y
        return i === 0 ? true : !this.cons(i - 1);
      default:
        return true;
    }
  }

  /** Number of vowel-consonant sequences in b[0..j]: [C](VC){m}[V]. */
  private m(): number {
    const j = this.j;
    let n = 0;
    let i = 0;
    for (;;) {
      if (i > j) return n;
      if (!this.cons(i)) break;
      i++;
    }
    i++;
    for (;;) {
      for (;;) {
        if (i > j) return n;
        if (this.cons(i)) break;
        i++;
      }
      i++;
      n++;
      for (;;) {
        if (i > j) return n;
        if (!this.cons(i)) break;
        i++;
      }
      i++;
    }
  }

  /** True when b[0..j] contains a vowel. */
  private vowelInStem(): boolean {
    for (let i = 0; i <= this.j; i++) if (!this.cons(i)) return true;
    return false;
  }

  /** True when b[i-1..i] is a double consonant. */
  private doubleConsonant(i: number): boolean {
    if (i < 1) return false;
    if (this.b[i] !== this.b[i - 1]) return false;
    return this.cons(i);
  }

  /** True when b[i-2..i] is consonant-vowel-consonant and the last consonant is not w, x or y. */
  private cvc(i: number): boolean {
    if (i < 2 || !this.cons(i) || this.cons(i - 1) || !this.cons(i - 2)) return false;
    const ch = this.b[i];
    return ch !== 0x77 && ch !== 0x78 && ch !== 0x79;
  }

  /** True when b[0..k] ends with `suffix`; then j marks the unit before it. */
  private ends(suffix: string): boolean {
    const length = suffix.length;
    const offset = this.k - length + 1;
    if (offset < 0) return false;
    const b = this.b;
    for (let i = 0; i < length; i++) if (b[offset + i] !== suffix.charCodeAt(i)) return false;
    this.j = this.k - length;
    return true;
  }

  /** Replaces b[j+1..k] with `s`. */
  private setTo(s: string): void {
    const length = s.length;
    const offset = this.j + 1;
    for (let i = 0; i < length; i++) this.b[offset + i] = s.charCodeAt(i);
    this.k = this.j + length;
    this.dirty = true;
  }

  private replaceIfMeasured(s: string): void {
    if (this.m() > 0) this.setTo(s);
  }

  /** Plurals and -ed / -ing. */
  private step1(): void {
    const b = this.b;
    if (b[this.k] === 0x73 /* s */) {
      if (this.ends('sses')) this.k -= 2;
      else if (this.ends('ies')) this.setTo('i');
      else if (b[this.k - 1] !== 0x73) this.k--;
    }
    if (this.ends('eed')) {
      if (this.m() > 0) this.k--;
    } else if ((this.ends('ed') || this.ends('ing')) && this.vowelInStem()) {
      this.k = this.j;
      if (this.ends('at')) this.setTo('ate');
      else if (this.ends('bl')) this.setTo('ble');
      else if (this.ends('iz')) this.setTo('ize');
      else if (this.doubleConsonant(this.k)) {
        const ch = b[this.k--];
        if (ch === 0x6c /* l */ || ch === 0x73 /* s */ || ch === 0x7a /* z */) this.k++;
      } else if (this.m() === 1 && this.cvc(this.k)) this.setTo('e');
    }
  }

  /** Terminal y to i when the stem has another vowel. */
  private step2(): void {
    if (this.ends('y') && this.vowelInStem()) {
      this.b[this.k] = 0x69; // i
      this.dirty = true;
    }
  }

  /** Double suffixes to single ones (-ization -> -ize ...), when m() > 0. */
  private step3(): void {
    if (this.k === 0) return;
    switch (this.b[this.k - 1]) {
      case 0x61: // a
        if (this.ends('ational')) this.replaceIfMeasured('ate');
        else if (this.ends('tional')) this.replaceIfMeasured('tion');
        break;
      case 0x63: // c
        if (this.ends('enci')) this.replaceIfMeasured('ence');
        else if (this.ends('anci')) this.replaceIfMeasured('ance');
        break;
      case 0x65: // e
        if (this.ends('izer')) this.replaceIfMeasured('ize');
        break;
      case 0x6c: // l
        if (this.ends('bli')) this.replaceIfMeasured('ble');
        else if (this.ends('alli')) this.replaceIfMeasured('al');
        else if (this.ends('entli')) this.replaceIfMeasured('ent');
        else if (this.ends('eli')) this.replaceIfMeasured('e');
        else if (this.ends('ousli')) this.replaceIfMeasured('ous');
        break;
      case 0x6f: // o
        if (this.ends('ization')) this.replaceIfMeasured('ize');
        else if (this.ends('ation')) this.replaceIfMeasured('ate');
        else if (this.ends('ator')) this.replaceIfMeasured('ate');
        break;
      case 0x73: // s
        if (this.ends('alism')) this.replaceIfMeasured('al');
        else if (this.ends('iveness')) this.replaceIfMeasured('ive');
        else if (this.ends('fulness')) this.replaceIfMeasured('ful');
        else if (this.ends('ousness')) this.replaceIfMeasured('ous');
        break;
      case 0x74: // t
        if (this.ends('aliti')) this.replaceIfMeasured('al');
        else if (this.ends('iviti')) this.replaceIfMeasured('ive');
        else if (this.ends('biliti')) this.replaceIfMeasured('ble');
        break;
      case 0x67: // g
        if (this.ends('logi')) this.replaceIfMeasured('log');
        break;
    }
  }

  /** -ic-, -full, -ness and the like, when m() > 0. */
  private step4(): void {
    switch (this.b[this.k]) {
      case 0x65: // e
        if (this.ends('icate')) this.replaceIfMeasured('ic');
        else if (this.ends('ative')) this.replaceIfMeasured('');
        else if (this.ends('alize')) this.replaceIfMeasured('al');
        break;
      case 0x69: // i
        if (this.ends('iciti')) this.replaceIfMeasured('ic');
        break;
      case 0x6c: // l
        if (this.ends('ical')) this.replaceIfMeasured('ic');
        else if (this.ends('ful')) this.replaceIfMeasured('');
        break;
      case 0x73: // s
        if (this.ends('ness')) this.replaceIfMeasured('');
        break;
    }
  }

  /** -ant, -ence and the like, in context <c>vcvc<v> (m() > 1). */
  private step5(): void {
    if (this.k === 0) return;
    const b = this.b;
    switch (b[this.k - 1]) {
      case 0x61: // a
        if (this.ends('al')) break;
        return;
      case 0x63: // c
        if (this.ends('ance')) break;
        if (this.ends('ence')) break;
        return;
      case 0x65: // e
        if (this.ends('er')) break;
        return;
      case 0x69: // i
        if (this.ends('ic')) break;
        return;
      case 0x6c: // l
        if (this.ends('able')) break;
        if (this.ends('ible')) break;
        return;
      case 0x6e: // n
        if (this.ends('ant')) break;
        if (this.ends('ement')) break;
        if (this.ends('ment')) break;
        if (this.ends('ent')) break;
        return;
      case 0x6f: // o
        if (this.ends('ion') && this.j >= 0 && (b[this.j] === 0x73 || b[this.j] === 0x74)) break;
        if (this.ends('ou')) break;
        return;
      case 0x73: // s
        if (this.ends('ism')) break;
        return;
      case 0x74: // t
        if (this.ends('ate')) break;
        if (this.ends('iti')) break;
        return;
      case 0x75: // u
        if (this.ends('ous')) break;
        return;
      case 0x76: // v
        if (this.ends('ive')) break;
        return;
      case 0x7a: // z
        if (this.ends('ize')) break;
        return;
      default:
        return;
    }
    if (this.m() > 1) this.k = this.j;
  }

  /** Final -e when m() > 1 (or m() == 1 without cvc), and -ll -> -l when m() > 1. */
  private step6(): void {
    const b = this.b;
    this.j = this.k;
    if (b[this.k] === 0x65 /* e */) {
      const a = this.m();
      if (a > 1 || (a === 1 && !this.cvc(this.k - 1))) this.k--;
    }
    if (b[this.k] === 0x6c /* l */ && this.doubleConsonant(this.k) && this.m() > 1) this.k--;
  }
}
