import { describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

// The test parser must reject what Prometheus rejects, or the tests that parse /metrics prove nothing.

const valid = [
  '# HELP requests_total Requests served.',
  '# TYPE requests_total counter',
  'requests_total{route="graphql",status="200"} 3',
  '# TYPE latency_seconds histogram',
  'latency_seconds_bucket{le="0.1"} 1',
  'latency_seconds_bucket{le="+Inf"} 2',
  'latency_seconds_sum 0.35',
  'latency_seconds_count 2',
  '',
].join('\n');

describe('Prometheus text parser', () => {
  it('reads a valid exposition', () => {
    const families = parsePrometheusText(valid);

    expect(sampleValue(families, 'requests_total', { route: 'graphql' })).toBe(3);
    expect(sampleValue(families, 'latency_seconds_count')).toBe(2);
  });

  it('reads escaped label values', () => {
    const families = parsePrometheusText('# TYPE up gauge\nup{note="a \\"b\\" \\\\ c"} 1\n');

    expect(families.get('up')!.samples[0]!.labels.note).toBe('a "b" \\ c');
  });

  it('rejects a sample without TYPE', () => {
    expect(() => parsePrometheusText('orphan_total 1\n')).toThrow(/no TYPE/);
  });

  it('rejects a bad value', () => {
    expect(() => parsePrometheusText('# TYPE up gauge\nup one\n')).toThrow(/invalid sample value/);
  });

  it('rejects an unquoted label value', () => {
    expect(() => parsePrometheusText('# TYPE up gauge\nup{a=b} 1\n')).toThrow(/label="value"/);
  });

  it('rejects a duplicate series', () => {
    expect(() => parsePrometheusText('# TYPE up gauge\nup{a="1"} 1\nup{a="1"} 2\n')).toThrow(/duplicate/);
  });

  it('rejects a second TYPE', () => {
    expect(() => parsePrometheusText('# TYPE up gauge\n# TYPE up counter\n')).toThrow(/second TYPE/);
  });

  it('rejects non-cumulative buckets', () => {
    const text = valid.replace('latency_seconds_bucket{le="+Inf"} 2', 'latency_seconds_bucket{le="+Inf"} 0').replace('latency_seconds_count 2', 'latency_seconds_count 0');

    expect(() => parsePrometheusText(text)).toThrow(/cumulative/);
  });

  it('rejects a histogram without +Inf', () => {
    const text = valid.replace('latency_seconds_bucket{le="+Inf"} 2\n', '');

    expect(() => parsePrometheusText(text)).toThrow(/\+Inf/);
  });

  it('rejects a sample name outside its family', () => {
    expect(() => parsePrometheusText('# TYPE requests_total counter\nrequests_total_bucket 1\n')).toThrow(/no TYPE/);
  });
});
