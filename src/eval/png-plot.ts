import { deflateSync } from 'node:zlib';

/**
 * Minimal charts as PNG files, with no dependency: a raster canvas with lines, dots and 3x5-pixel
 * text, and an 8-bit RGB PNG encoder. Reports (bench-seismic, sparrow tune) draw recall against
 * latency with it.
 */
export type Color = [number, number, number];

export const PALETTE: Color[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127],
];

/** 3x5 glyphs for tick labels and titles (rows top to bottom, 3 bits each). */
const GLYPHS: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2], '@': [7, 5, 7, 4, 7], ' ': [0, 0, 0, 0, 0], '=': [0, 7, 0, 7, 0], '(': [1, 2, 2, 2, 1], ')': [4, 2, 2, 2, 4],
  a: [0, 7, 1, 7, 7], c: [0, 7, 4, 4, 7], e: [7, 5, 7, 4, 7], l: [6, 2, 2, 2, 7], m: [0, 7, 7, 5, 5], p: [7, 5, 7, 4, 4],
  q: [7, 5, 7, 1, 1], r: [0, 7, 4, 4, 4], s: [7, 4, 7, 1, 7], t: [2, 7, 2, 2, 3], u: [0, 5, 5, 5, 7], y: [5, 5, 7, 1, 7],
  n: [0, 7, 5, 5, 5], i: [2, 0, 2, 2, 2], k: [4, 5, 6, 5, 5], w: [0, 5, 5, 7, 7], x: [0, 5, 2, 2, 5], o: [0, 7, 5, 5, 7],
  b: [4, 4, 7, 5, 7], d: [1, 1, 7, 5, 7], f: [3, 4, 6, 4, 4], g: [7, 5, 7, 1, 6], h: [4, 4, 7, 5, 5], v: [0, 5, 5, 5, 2],
  '-': [0, 0, 7, 0, 0], '/': [1, 1, 2, 4, 4], ':': [0, 2, 0, 2, 0], j: [1, 0, 1, 5, 7], z: [0, 7, 1, 2, 7],
  ',': [0, 0, 0, 2, 4], '+': [0, 2, 7, 2, 0], '>': [4, 2, 1, 2, 4], '<': [1, 2, 4, 2, 1], '%': [5, 1, 2, 4, 5], _: [0, 0, 0, 0, 7],
};

export class Canvas {
  readonly pixels: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.pixels = new Uint8Array(width * height * 3).fill(255);
  }
  set(x: number, y: number, [r, g, b]: Color): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const at = (Math.round(y) * this.width + Math.round(x)) * 3;
    this.pixels[at] = r;
    this.pixels[at + 1] = g;
    this.pixels[at + 2] = b;
  }
  line(x0: number, y0: number, x1: number, y1: number, color: Color): void {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let s = 0; s <= steps; s++) this.set(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps, color);
  }
  dot(x: number, y: number, color: Color): void {
    for (let dx = -2; dx <= 2; dx++) for (let dy = -2; dy <= 2; dy++) if (dx * dx + dy * dy <= 5) this.set(x + dx, y + dy, color);
  }
  text(x: number, y: number, text: string, color: Color = [0, 0, 0], scale = 2): void {
    let cursor = x;
    for (const char of text) {
      // One case only: capitals are drawn as small letters.
      const glyph = GLYPHS[char] ?? GLYPHS[char.toLowerCase()] ?? GLYPHS[' ']!;
      for (let row = 0; row < 5; row++) {
        for (let col = 0; col < 3; col++) {
          if ((glyph[row]! >> (2 - col)) & 1) {
            for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) this.set(cursor + col * scale + sx, y + row * scale + sy, color);
          }
        }
      }
      cursor += 4 * scale;
    }
  }
}

/** One line of the chart: points joined in recall order. */
export interface RecallLatencySeries {
  readonly label: string;
  readonly points: readonly { readonly recall: number; readonly latencyMs: number }[];
}

/**
 * recall (x) against latency in ms (y), one polyline per series; `marks` are ringed and labelled
 * (a chosen setting, a default), `targetRecall` is drawn as a vertical line.
 */
export function plotRecallLatency(
  series: readonly RecallLatencySeries[],
  options: {
    readonly xLabel: string;
    readonly yLabel: string;
    readonly marks?: readonly { recall: number; latencyMs: number; label: string }[];
    readonly targetRecall?: number;
    /** A logarithmic latency axis: for points an order of magnitude or more apart (engines side by side). */
    readonly logY?: boolean;
  },
): Buffer {
  const canvas = new Canvas(800, 560);
  const left = 80;
  const right = 780;
  const top = 30;
  const bottom = 500;
  const points = series.flatMap((s) => s.points);
  const recalls = points.map((p) => p.recall).concat(options.targetRecall ?? []);
  const latencies = points.map((p) => p.latencyMs);
  const xMin = Math.max(0, Math.floor(Math.min(...recalls, 1) * 20) / 20);
  const xMax = 1;
  const yMax = Math.max(...latencies, 0) * 1.1 || 1;
  const px = (recall: number): number => left + ((recall - xMin) / (xMax - xMin || 1)) * (right - left);
  const positive = latencies.filter((l) => l > 0);
  const logMin = Math.floor(Math.log10(Math.min(...positive, yMax)));
  const logMax = Math.ceil(Math.log10(yMax));
  const py = options.logY
    ? (latency: number): number => bottom - ((Math.log10(Math.max(latency, 10 ** logMin)) - logMin) / (logMax - logMin || 1)) * (bottom - top)
    : (latency: number): number => bottom - (latency / yMax) * (bottom - top);
  const black: Color = [0, 0, 0];
  const grey: Color = [210, 210, 210];
  for (let i = 0; i <= 5; i++) {
    const recall = xMin + ((xMax - xMin) * i) / 5;
    canvas.line(px(recall), top, px(recall), bottom, grey);
    canvas.text(px(recall) - 16, bottom + 8, recall.toFixed(2));
    if (options.logY) continue;
    const latency = (yMax * i) / 5;
    canvas.line(left, py(latency), right, py(latency), grey);
    canvas.text(8, py(latency) - 5, latency.toFixed(2));
  }
  if (options.logY) {
    for (let power = logMin; power <= logMax; power++) {
      for (const step of [1, 2, 5]) {
        const latency = step * 10 ** power;
        if (power === logMax && step > 1) break;
        canvas.line(left, py(latency), right, py(latency), step === 1 ? [170, 170, 170] : grey);
        canvas.text(8, py(latency) - 5, latency >= 1 ? String(latency) : latency.toPrecision(1));
      }
    }
  }
  canvas.line(left, bottom, right, bottom, black);
  canvas.line(left, top, left, bottom, black);
  canvas.text(330, 535, options.xLabel);
  canvas.text(8, 8, options.yLabel);
  if (options.targetRecall !== undefined) canvas.line(px(options.targetRecall), top, px(options.targetRecall), bottom, [214, 39, 40]);
  series.forEach((line, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const sorted = [...line.points].sort((a, b) => a.recall - b.recall);
    for (let j = 1; j < sorted.length; j++) canvas.line(px(sorted[j - 1]!.recall), py(sorted[j - 1]!.latencyMs), px(sorted[j]!.recall), py(sorted[j]!.latencyMs), color);
    for (const point of sorted) canvas.dot(px(point.recall), py(point.latencyMs), color);
    canvas.text(right - Math.max(150, line.label.length * 8 + 4), top + 10 + 16 * i, line.label, color);
  });
  (options.marks ?? []).forEach((mark, i) => {
    for (let a = 0; a < 64; a++) canvas.set(px(mark.recall) + 7 * Math.cos((a / 64) * 2 * Math.PI), py(mark.latencyMs) + 7 * Math.sin((a / 64) * 2 * Math.PI), black);
    // Labels alternate above and below their mark, so neighbours do not print over each other.
    const width = mark.label.length * 8;
    canvas.text(Math.min(px(mark.recall) - width / 2, right - width), py(mark.latencyMs) + (i % 2 === 0 ? -22 : 12), mark.label);
  });
  return encodePng(canvas.width, canvas.height, canvas.pixels);
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** 8-bit RGB PNG: each scanline is prefixed with filter type 0, then deflated as one IDAT. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

