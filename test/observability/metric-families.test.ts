import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterFamily, HistogramFamily } from '../../src/observability/metric-families.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

async function render(registry: Registry) {
  return parsePrometheusText(await registry.metrics());
}

describe('CounterFamily', () => {
  it('renders only the label sets that were incremented, with their sums', async () => {
    const registry = new Registry();
    const family = new CounterFamily({ name: 'test_requests_total', help: 'Requests.', labelNames: ['route', 'status'], registers: [registry] });
    const ok = family.cell({ route: 'chat', status: '200' });
    family.cell({ route: 'chat', status: '500' });
    ok.inc();
    ok.inc(2.5);

    const families = await render(registry);
    expect(sampleValue(families, 'test_requests_total', { route: 'chat', status: '200' })).toBe(3.5);
    expect(sampleValue(families, 'test_requests_total', { route: 'chat', status: '500' })).toBeUndefined();
  });

  it('returns the same cell for the same label values, whatever the key order', () => {
    const family = new CounterFamily({ name: 'test_total', help: 'Test.', labelNames: ['a', 'b'], registers: [] });
    expect(family.cell({ a: 'x', b: 'y' })).toBe(family.cell({ b: 'y', a: 'x' }));
    expect(family.cell({ a: 'x', b: 'y' })).not.toBe(family.cell({ a: 'x', b: 'z' }));
  });

  it('rejects a label set with a missing label, naming it', () => {
    const family = new CounterFamily({ name: 'test_total', help: 'Test.', labelNames: ['a', 'b'], registers: [] });
    expect(() => family.cell({ a: 'x' } as never)).toThrow('Metric test_total needs a value for the label b.');
  });

  it('escapes label values when rendered', async () => {
    const registry = new Registry();
    const family = new CounterFamily({ name: 'test_total', help: 'Test.', labelNames: ['route'], registers: [registry] });
    family.cell({ route: 'a"b\\c\nd' }).inc();
    const text = await registry.metrics();
    expect(text).toContain('test_total{route="a\\"b\\\\c\\nd"} 1');
    expect(sampleValue(parsePrometheusText(text), 'test_total', { route: 'a"b\\c\nd' })).toBe(1);
  });

  it('starts from zero after the registry resets its metrics, with cells still bound', async () => {
    const registry = new Registry();
    const family = new CounterFamily({ name: 'test_total', help: 'Test.', labelNames: ['route'], registers: [registry] });
    const cell = family.cell({ route: 'chat' });
    cell.inc(4);
    registry.resetMetrics();
    expect(sampleValue(await render(registry), 'test_total', { route: 'chat' })).toBeUndefined();
    cell.inc();
    expect(sampleValue(await render(registry), 'test_total', { route: 'chat' })).toBe(1);
  });
});

describe('HistogramFamily', () => {
  const buckets = [0.01, 0.1, 1];

  it('renders the same samples as a prom-client Histogram fed the same values', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const family = new HistogramFamily({ name: 'test_seconds', help: 'Durations.', labelNames: ['route'], buckets, registers: [ours] });
    const reference = new Histogram({ name: 'test_seconds', help: 'Durations.', labelNames: ['route'], buckets, registers: [theirs] });
    // Values on each bound, between bounds, above the last and at zero: a value equal to a bound
    // belongs to that bound's bucket (le means "less than or equal").
    const values = [0, 0.01, 0.010001, 0.1, 0.5, 1, 1.5, 30];
    const cell = family.cell({ route: 'chat' });
    for (const value of values) {
      cell.observe(value);
      reference.labels('chat').observe(value);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());

    const families = await render(ours);
    expect(sampleValue(families, 'test_seconds_bucket', { route: 'chat', le: '0.01' })).toBe(2);
    expect(sampleValue(families, 'test_seconds_bucket', { route: 'chat', le: '0.1' })).toBe(4);
    expect(sampleValue(families, 'test_seconds_bucket', { route: 'chat', le: '1' })).toBe(6);
    expect(sampleValue(families, 'test_seconds_bucket', { route: 'chat', le: '+Inf' })).toBe(8);
    expect(sampleValue(families, 'test_seconds_count', { route: 'chat' })).toBe(8);
    expect(sampleValue(families, 'test_seconds_sum', { route: 'chat' })).toBeCloseTo(33.120001, 9);
  });

  it('leaves out label sets without observations', async () => {
    const registry = new Registry();
    const family = new HistogramFamily({ name: 'test_seconds', help: 'Durations.', labelNames: ['route'], buckets, registers: [registry] });
    family.cell({ route: 'idle' });
    family.cell({ route: 'busy' }).observe(0.2);
    const families = await render(registry);
    expect(sampleValue(families, 'test_seconds_count', { route: 'busy' })).toBe(1);
    expect(sampleValue(families, 'test_seconds_count', { route: 'idle' })).toBeUndefined();
  });

  it('rejects bucket bounds that are not strictly increasing', () => {
    expect(() => new HistogramFamily({ name: 'bad_seconds', help: 'Bad.', labelNames: [], buckets: [0.1, 0.1], registers: [] })).toThrow(
      'Metric bad_seconds needs finite, strictly increasing bucket bounds.',
    );
  });
});
