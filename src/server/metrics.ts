/**
 * Prometheus text exposition (format 0.0.4) without a client library: counters and histograms
 * recorded as requests and jobs happen, gauges read at scrape time. Label values are route
 * patterns, never raw URLs, so the number of series stays bounded.
 */
type Labels = Readonly<Record<string, string>>;

const LATENCY_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface HistogramSeries {
  readonly labels: Labels;
  readonly counts: number[];
  sum: number;
  count: number;
}

export interface GaugeSample {
  readonly labels: Labels;
  readonly value: number;
}

export interface GaugeFamily {
  readonly name: string;
  readonly help: string;
  readonly samples: readonly GaugeSample[];
}

export class Metrics {
  private readonly counters = new Map<string, { help: string; series: Map<string, { labels: Labels; value: number }> }>();
  private readonly latency = new Map<string, HistogramSeries>();

  constructor() {
    this.defineCounter('sparrow_http_requests_total', 'HTTP requests answered, by method, route pattern and status code.');
    this.defineCounter('sparrow_jobs_started_total', 'Bulk indexing job runs started (a resumed job counts again).');
    this.defineCounter('sparrow_jobs_finished_total', 'Bulk indexing jobs that reached a final status, by status.');
    this.defineCounter('sparrow_job_documents_total', 'Input lines committed by bulk jobs, by result (indexed, updated, failed).');
    this.defineCounter('sparrow_bulk_documents_total', 'Lines handled by the _bulk endpoint, by result.');
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.increment('sparrow_http_requests_total', { method, route, status: String(status) });
    const key = `${method} ${route}`;
    let series = this.latency.get(key);
    if (!series) {
      series = { labels: { method, route }, counts: LATENCY_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(key, series);
    }
    for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) if (seconds <= LATENCY_BUCKETS_SECONDS[i]!) series.counts[i]!++;
    series.sum += seconds;
    series.count++;
  }

  increment(name: string, labels: Labels = {}, by = 1): void {
    const family = this.counters.get(name);
    if (!family) throw new Error(`metric ${name} is not defined`);
    const key = labelText(labels);
    const series = family.series.get(key);
    if (series) series.value += by;
    else family.series.set(key, { labels, value: by });
  }

  /** The exposition text; `gauges` are the values only known at scrape time (documents, jobs...). */
  render(gauges: readonly GaugeFamily[]): string {
    const out: string[] = [];
    for (const [name, family] of this.counters) {
      out.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} counter`);
      for (const { labels, value } of family.series.values()) out.push(`${name}${labelText(labels)} ${value}`);
    }
    const histogram = 'sparrow_http_request_duration_seconds';
    out.push(`# HELP ${histogram} Time from request received to response sent, by method and route pattern.`, `# TYPE ${histogram} histogram`);
    for (const series of this.latency.values()) {
      LATENCY_BUCKETS_SECONDS.forEach((bound, i) => out.push(`${histogram}_bucket${labelText({ ...series.labels, le: String(bound) })} ${series.counts[i]}`));
      out.push(`${histogram}_bucket${labelText({ ...series.labels, le: '+Inf' })} ${series.count}`);
      out.push(`${histogram}_sum${labelText(series.labels)} ${series.sum}`);
      out.push(`${histogram}_count${labelText(series.labels)} ${series.count}`);
    }
    for (const gauge of gauges) {
      out.push(`# HELP ${gauge.name} ${gauge.help}`, `# TYPE ${gauge.name} gauge`);
      for (const sample of gauge.samples) out.push(`${gauge.name}${labelText(sample.labels)} ${formatValue(sample.value)}`);
    }
    return out.join('\n') + '\n';
  }

  private defineCounter(name: string, help: string): void {
    this.counters.set(name, { help, series: new Map() });
  }
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`).join(',')}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
