import type { Registry } from 'prom-client';

/**
 * Counters and histograms for the per-request metrics, registered in a prom-client registry and
 * rendered by it. prom-client's own `inc()` and `observe()` hash the label set on every call, even
 * on a child bound with `labels()`, which cost a proxied request about as much as all its other
 * metrics work together. Here a caller binds a cell per label set once, so recording is an
 * addition on that cell. The registry reads the label sets only when it renders a scrape.
 */

type LabelValues<Name extends string> = Readonly<Record<Name, string>>;

/** One sample as prom-client's registry renders it: `metricName{sharedLabels,labels} value`. */
interface Sample {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName?: string;
}

/** The metric as prom-client's registry reads it: its name, help, type and samples. */
interface RenderedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: Sample[];
  aggregator: 'sum';
}

/** A metric family whose cells are keyed by their label values, created on first use. */
abstract class Family<Name extends string, Cell> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly Name[];
  readonly #cells = new Map<string, { labels: LabelValues<Name>; cell: Cell }>();

  constructor(options: { name: string; help: string; labelNames: readonly Name[]; registers: readonly Registry[] }) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    // The registry only calls get(), reset() and reads the name, which this class provides; its
    // type names prom-client's own classes only.
    for (const registry of options.registers) registry.registerMetric(this as never);
  }

  /**
   * Returns the cell of one label set, the same object on every call. Bind cells once and keep
   * them: this lookup builds a key string, which recording on a kept cell does not.
   */
  cell(labels: LabelValues<Name>): Cell {
    const key = this.labelNames.map((name) => labels[name]).join('\u0000');
    let entry = this.#cells.get(key);
    if (entry === undefined) {
      const missing = this.labelNames.find((name) => typeof labels[name] !== 'string');
      if (missing !== undefined) throw new TypeError(`Metric ${this.name} needs a value for the label ${missing}.`);
      entry = { labels: Object.fromEntries(this.labelNames.map((name) => [name, labels[name]])) as LabelValues<Name>, cell: this.createCell() };
      this.#cells.set(key, entry);
    }
    return entry.cell;
  }

  protected abstract createCell(): Cell;

  protected abstract samplesOf(cell: Cell, labels: LabelValues<Name>): Sample[];

  protected abstract readonly type: RenderedMetric['type'];

  abstract resetCell(cell: Cell): void;

  /** Called by the registry for each scrape. */
  async get(): Promise<RenderedMetric> {
    const values: Sample[] = [];
    for (const { labels, cell } of this.#cells.values()) values.push(...this.samplesOf(cell, labels));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  /** Called by `registry.resetMetrics()`. The cells stay bound, with their values back at zero. */
  reset(): void {
    for (const { cell } of this.#cells.values()) this.resetCell(cell);
  }
}

export class CounterCell {
  value = 0;
  /** A label set appears in scrapes from its first increment on, as with prom-client. */
  used = false;

  /** Adds `amount`, which the caller guarantees is a finite number of at least 0. */
  inc(amount = 1): void {
    this.value += amount;
    this.used = true;
  }
}

export class CounterFamily<Name extends string> extends Family<Name, CounterCell> {
  protected readonly type = 'counter';

  protected createCell(): CounterCell {
    return new CounterCell();
  }

  protected samplesOf(cell: CounterCell, labels: LabelValues<Name>): Sample[] {
    return cell.used ? [{ labels: { ...labels }, value: cell.value }] : [];
  }

  resetCell(cell: CounterCell): void {
    cell.value = 0;
    cell.used = false;
  }
}

export class HistogramCell {
  /** Observations per bucket, not cumulative; the last slot counts those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one observation, which the caller guarantees is a finite number. */
  observe(value: number): void {
    const bounds = this.bounds;
    let index = 0;
    while (index < bounds.length && value > bounds[index]!) index += 1;
    this.counts[index]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

export class HistogramFamily<Name extends string> extends Family<Name, HistogramCell> {
  protected readonly type = 'histogram';
  readonly #bounds: readonly number[];

  constructor(options: { name: string; help: string; labelNames: readonly Name[]; buckets: readonly number[]; registers: readonly Registry[] }) {
    super(options);
    const bounds = [...options.buckets];
    if (bounds.some((bound, index) => !Number.isFinite(bound) || (index > 0 && bound <= bounds[index - 1]!))) {
      throw new TypeError(`Metric ${options.name} needs finite, strictly increasing bucket bounds.`);
    }
    this.#bounds = bounds;
  }

  protected createCell(): HistogramCell {
    return new HistogramCell(this.#bounds);
  }

  /** Returns the cumulative buckets with their `le` bound, then `+Inf`, the sum and the count, as prom-client renders them. */
  protected samplesOf(cell: HistogramCell, labels: LabelValues<Name>): Sample[] {
    if (cell.count === 0) return [];
    const shared = { ...labels } as Record<string, string>;
    const samples: Sample[] = [];
    let cumulative = 0;
    for (let index = 0; index < cell.bounds.length; index += 1) {
      cumulative += cell.counts[index]!;
      samples.push({ labels: { le: cell.bounds[index]! }, sharedLabels: shared, value: cumulative, metricName: `${this.name}_bucket` });
    }
    samples.push(
      { labels: { le: '+Inf' }, sharedLabels: shared, value: cell.count, metricName: `${this.name}_bucket` },
      { labels: {}, sharedLabels: shared, value: cell.sum, metricName: `${this.name}_sum` },
      { labels: {}, sharedLabels: shared, value: cell.count, metricName: `${this.name}_count` },
    );
    return samples;
  }

  resetCell(cell: HistogramCell): void {
    cell.counts.fill(0);
    cell.sum = 0;
    cell.count = 0;
  }
}
