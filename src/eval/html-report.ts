/**
 * report.html beside an evaluation's report.md: the figures and per-query charts in one
 * self-contained file (inline styles and SVG, no script, nothing fetched), readable offline.
 *
 * With one run, each query's value of the chart measure as a bar, sorted; with two or more, each
 * query as a point of the first run (x) against each other run (y), so the queries one run wins
 * lie on one side of the diagonal.
 */
import type { MeasureValues } from './metrics.js';

export interface HtmlReportRun {
  readonly name: string;
  readonly metrics: MeasureValues;
  readonly perQuery: ReadonlyMap<string, MeasureValues>;
}

export interface HtmlReportOptions {
  readonly title: string;
  /** Lines under the title (dataset, split, setting, ...). */
  readonly notes: readonly string[];
  readonly runs: readonly HtmlReportRun[];
  /** Columns of the figures table, in order. */
  readonly measures: readonly string[];
  /** The per-query chart's measure (default ndcg_cut_10). */
  readonly chartMeasure?: string;
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(4));

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;color:#1b1f24;margin:1.5rem auto;max-width:60rem;padding:0 1rem}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}p.note{margin:.2rem 0;color:#4a5260}
table{border-collapse:collapse;font-size:.9rem}th,td{padding:.3rem .6rem;border-bottom:1px solid #c9ced6;text-align:right}
th:first-child,td:first-child{text-align:left}svg{max-width:100%;height:auto}.wins{color:#4a5260;font-size:.9rem}`;

function barChart(run: HtmlReportRun, measure: string): string {
  const values = [...run.perQuery.entries()].map(([id, m]) => ({ id, value: m[measure] ?? 0 })).sort((a, b) => b.value - a.value || (a.id < b.id ? -1 : 1));
  const width = 720;
  const height = 220;
  const barWidth = values.length > 0 ? width / values.length : width;
  const bars = values
    .map((v, i) => {
      const h = Math.max(0, Math.min(1, v.value)) * (height - 20);
      return `<rect class="query" data-query="${escapeHtml(v.id)}" data-value="${v.value}" x="${(i * barWidth).toFixed(2)}" y="${(height - h).toFixed(2)}" width="${Math.max(barWidth - 0.5, 0.5).toFixed(2)}" height="${h.toFixed(2)}" fill="#0b5cad"><title>${escapeHtml(v.id)}: ${fmt(v.value)}</title></rect>`;
    })
    .join('');
  const zero = values.filter((v) => v.value === 0).length;
  return `<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(measure)} per query of ${escapeHtml(run.name)}, sorted">${bars}<line x1="0" y1="${height}" x2="${width}" y2="${height}" stroke="#1b1f24"/></svg>
<p class="wins">${values.length} queries, sorted by ${escapeHtml(measure)}; ${zero} score 0.</p>`;
}

function scatter(base: HtmlReportRun, other: HtmlReportRun, measure: string): string {
  const size = 320;
  const pad = 30;
  const scale = (v: number): number => pad + Math.max(0, Math.min(1, v)) * (size - 2 * pad);
  let better = 0;
  let worse = 0;
  let ties = 0;
  const points: string[] = [];
  for (const [id, m] of base.perQuery) {
    const x = m[measure] ?? 0;
    const y = other.perQuery.get(id)?.[measure] ?? 0;
    if (y > x) better++;
    else if (y < x) worse++;
    else ties++;
    points.push(`<circle class="query" data-query="${escapeHtml(id)}" cx="${scale(x).toFixed(1)}" cy="${(size - scale(y)).toFixed(1)}" r="3" fill="#0b5cad" fill-opacity="0.55"><title>${escapeHtml(id)}: ${fmt(x)} vs ${fmt(y)}</title></circle>`);
  }
  return `<svg viewBox="0 0 ${size} ${size}" width="${size}" role="img" aria-label="${escapeHtml(measure)} per query, ${escapeHtml(base.name)} (x) against ${escapeHtml(other.name)} (y)">
<rect x="${pad}" y="${pad}" width="${size - 2 * pad}" height="${size - 2 * pad}" fill="none" stroke="#c9ced6"/>
<line x1="${pad}" y1="${size - pad}" x2="${size - pad}" y2="${pad}" stroke="#a4141f" stroke-dasharray="4 3"/>
<text x="${size / 2}" y="${size - 6}" text-anchor="middle" font-size="12">${escapeHtml(base.name)}</text>
<text x="12" y="${size / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 12 ${size / 2})">${escapeHtml(other.name)}</text>
${points.join('')}</svg>
<p class="wins">${escapeHtml(other.name)} is better on ${better} queries, worse on ${worse}, equal on ${ties} (${escapeHtml(measure)}).</p>`;
}

export function renderHtmlReport(options: HtmlReportOptions): string {
  const measure = options.chartMeasure ?? 'ndcg_cut_10';
  const header = `<tr><th>run</th>${options.measures.map((m) => `<th>${escapeHtml(m)}</th>`).join('')}</tr>`;
  const rows = options.runs.map((run) => `<tr><td>${escapeHtml(run.name)}</td>${options.measures.map((m) => `<td>${fmt(run.metrics[m])}</td>`).join('')}</tr>`).join('\n');
  const charts =
    options.runs.length === 1
      ? `<h2>${escapeHtml(measure)} per query</h2>\n${barChart(options.runs[0]!, measure)}`
      : options.runs
          .slice(1)
          .map((other) => `<h2>${escapeHtml(measure)} per query: ${escapeHtml(options.runs[0]!.name)} against ${escapeHtml(other.name)}</h2>\n${scatter(options.runs[0]!, other, measure)}`)
          .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(options.title)}</title><style>${STYLE}</style></head>
<body><h1>${escapeHtml(options.title)}</h1>
${options.notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('\n')}
<h2>Figures</h2>
<table>${header}
${rows}</table>
${charts}
</body></html>
`;
}
