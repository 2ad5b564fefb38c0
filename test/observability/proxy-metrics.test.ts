import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anthropicClient,
  createTenant,
  openAiClient,
  rejectionOf,
  startProxyContext,
  waitForRequestLogRows,
  type CreatedGatewayKey,
  type ProxyTestContext,
} from '../proxy/helpers.js';
import { metricsToken, scrape, type Scrape } from './helpers.js';
import { sampleValue } from './prometheus-text.js';

// /metrics of a real server while real proxy requests go through it to the fake upstreams. Each
// test reads the metrics before and after its requests and checks the difference, because the
// tests share one server.

const messages = [{ role: 'user' as const, content: 'Hello there' }];

let context: ProxyTestContext;
let gatewayKey: CreatedGatewayKey;

beforeAll(async () => {
  context = await startProxyContext({ METRICS_BEARER_TOKEN: metricsToken });
  gatewayKey = (await createTenant(context, ['OPENAI', 'ANTHROPIC'])).gatewayKey;
});

afterAll(async () => {
  await context?.close();
});

async function metrics(): Promise<Scrape> {
  const result = await scrape(context.server.baseUrl, metricsToken);
  expect(result.status).toBe(200);
  return result;
}

/** Returns a sample's value, 0 for a series that does not exist yet. */
function valueOf(result: Scrape, name: string, labels: Record<string, string> = {}): number {
  return sampleValue(result.families, name, labels) ?? 0;
}

/** Waits until the proxy has logged `count` requests of the gateway key, which is when it records their metrics. */
async function settled(count: number): Promise<void> {
  const rows = await waitForRequestLogRows(context, context.server, gatewayKey.id, count);
  expect(rows.length).toBeGreaterThanOrEqual(count);
}

let loggedRequests = 0;
async function afterProxyRequests(count: number): Promise<Scrape> {
  loggedRequests += count;
  await settled(loggedRequests);
  return metrics();
}

describe('/metrics format', () => {
  it('parses as Prometheus text', async () => {
    const result = await metrics();

    expect(result.contentType).toContain('text/plain');
    expect(result.contentType).toContain('version=0.0.4');
    expect(result.families.size).toBeGreaterThan(20);
  });

  it('default process metrics with the prefix', async () => {
    const result = await metrics();

    expect(result.families.get('keyroute_process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(result.families.get('keyroute_nodejs_heap_size_used_bytes')?.type).toBe('gauge');
  });

  it('database kind gauge', async () => {
    const result = await metrics();

    expect(valueOf(result, 'keyroute_database_info', { kind: context.database.handle.kind })).toBe(1);
  });

  it('pool gauges only on PostgreSQL', async () => {
    const result = await metrics();

    const hasPool = context.database.handle.pool !== undefined;
    expect(result.families.has('keyroute_database_pool_connections')).toBe(hasPool);
    expect(result.families.has('keyroute_database_pool_waiting_requests')).toBe(hasPool);
    if (hasPool) expect(valueOf(result, 'keyroute_database_pool_max_connections')).toBe(10);
  });
});

describe('proxy request metrics', () => {
  it('chat completion moves the counters', async () => {
    const before = await metrics();
    const labels = { provider: 'openai', status_class: '2xx', credential_source: 'organization' };

    const completion = await openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages });
    const after = await afterProxyRequests(1);

    const usage = completion.usage!;
    expect(valueOf(after, 'keyroute_proxy_requests_total', labels) - valueOf(before, 'keyroute_proxy_requests_total', labels)).toBe(1);
    expect(
      valueOf(after, 'keyroute_http_requests_total', { route: 'chat_completions', status: '200' }) -
        valueOf(before, 'keyroute_http_requests_total', { route: 'chat_completions', status: '200' }),
    ).toBe(1);
    expect(
      valueOf(after, 'keyroute_proxy_tokens_total', { provider: 'openai', direction: 'input_uncached' }) -
        valueOf(before, 'keyroute_proxy_tokens_total', { provider: 'openai', direction: 'input_uncached' }),
    ).toBe(usage.prompt_tokens);
    expect(
      valueOf(after, 'keyroute_proxy_tokens_total', { provider: 'openai', direction: 'output' }) -
        valueOf(before, 'keyroute_proxy_tokens_total', { provider: 'openai', direction: 'output' }),
    ).toBe(usage.completion_tokens);
  });

  it('each latency histogram counts the request', async () => {
    const before = await metrics();

    await openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages });
    const after = await afterProxyRequests(1);

    for (const name of [
      'keyroute_proxy_request_duration_seconds_count',
      'keyroute_proxy_upstream_duration_seconds_count',
      'keyroute_proxy_time_to_first_byte_seconds_count',
      'keyroute_proxy_overhead_seconds_count',
    ]) {
      expect(valueOf(after, name, { provider: 'openai' }) - valueOf(before, name, { provider: 'openai' }), name).toBe(1);
    }
  });

  it('histograms have the provider label only', async () => {
    const result = await metrics();

    for (const name of [
      'keyroute_proxy_request_duration_seconds',
      'keyroute_proxy_upstream_duration_seconds',
      'keyroute_proxy_time_to_first_byte_seconds',
      'keyroute_proxy_overhead_seconds',
    ]) {
      const family = result.families.get(name)!;
      expect(family.type, name).toBe('histogram');
      const labelSets = new Set(family.samples.map((sample) => Object.keys(sample.labels).filter((label) => label !== 'le').sort().join(',')));
      expect([...labelSets], name).toEqual(['provider']);
    }
  });

  it('provider labels are provider prefixes', async () => {
    const result = await metrics();

    const known = ['anthropic', 'bedrock', 'deepseek', 'mistral', 'none', 'openai', 'vertex', 'xai', 'zai'];
    const seen = new Set(result.families.get('keyroute_proxy_requests_total')!.samples.map((sample) => sample.labels.provider));
    expect(seen.size).toBeGreaterThan(0);
    for (const provider of seen) expect(known).toContain(provider);
  });

  it('overhead is below the total', async () => {
    await openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages });
    const result = await afterProxyRequests(1);

    const overhead = valueOf(result, 'keyroute_proxy_overhead_seconds_sum', { provider: 'openai' });
    const total = valueOf(result, 'keyroute_proxy_request_duration_seconds_sum', { provider: 'openai' });
    expect(overhead).toBeGreaterThan(0);
    expect(overhead).toBeLessThan(total);
  });

  it('Anthropic message counts under its provider', async () => {
    const before = await metrics();
    const labels = { provider: 'anthropic', status_class: '2xx', credential_source: 'organization' };

    await anthropicClient(context.server, gatewayKey.secret).messages.create({ model: 'anthropic/claude-sonnet-4-5', max_tokens: 64, messages });
    const after = await afterProxyRequests(1);

    expect(valueOf(after, 'keyroute_proxy_requests_total', labels) - valueOf(before, 'keyroute_proxy_requests_total', labels)).toBe(1);
  });

  it('upstream 500 counts as 5xx', async () => {
    const before = await metrics();
    const labels = { provider: 'openai', status_class: '5xx', credential_source: 'organization' };
    context.fakes.openai.enqueue({ error: { status: 500, message: 'The server had an error.' } });

    await rejectionOf(openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'openai/gpt-4o', messages }));
    const after = await afterProxyRequests(1);

    expect(valueOf(after, 'keyroute_proxy_requests_total', labels) - valueOf(before, 'keyroute_proxy_requests_total', labels)).toBe(1);
  });

  it('uncatalogued model counts under provider none', async () => {
    const before = await metrics();
    const labels = { provider: 'none', status_class: '4xx', credential_source: 'none' };

    await rejectionOf(openAiClient(context.server, gatewayKey.secret).chat.completions.create({ model: 'no-such-model-7f3a', messages }));
    const after = await afterProxyRequests(1);

    expect(valueOf(after, 'keyroute_proxy_requests_total', labels) - valueOf(before, 'keyroute_proxy_requests_total', labels)).toBe(1);
  });
});

describe('bounded labels', () => {
  it('client model text never becomes a label', async () => {
    // A model id outside the catalog goes upstream under its provider; only the label matters here, whatever the outcome.
    await openAiClient(context.server, gatewayKey.secret)
      .chat.completions.create({ model: 'openai/label-probe-51c9e', messages })
      .catch(() => undefined);
    const result = await afterProxyRequests(1);

    expect(result.text).not.toContain('label-probe-51c9e');
  });

  it('unknown proxy path counts as other', async () => {
    const before = await metrics();

    const response = await fetch(`${context.server.baseUrl}/v1/path-probe-9d2b1`, { method: 'POST' });
    await response.arrayBuffer();
    const after = await metrics();

    expect(after.text).not.toContain('path-probe-9d2b1');
    expect(
      valueOf(after, 'keyroute_http_requests_total', { route: 'other', status: '404' }) -
        valueOf(before, 'keyroute_http_requests_total', { route: 'other', status: '404' }),
    ).toBe(1);
  });

  it('tags never become labels', async () => {
    await openAiClient(context.server, gatewayKey.secret).chat.completions.create(
      { model: 'openai/gpt-4o', messages },
      { headers: { 'x-keyroute-tags': 'tag-probe-0c4e7' } },
    );
    const result = await afterProxyRequests(1);

    expect(result.text).not.toContain('tag-probe-0c4e7');
  });

  it('key ids never become labels', async () => {
    const result = await metrics();

    expect(result.text).not.toContain(gatewayKey.id);
  });
});

describe('cache metrics', () => {
  it('a new gateway key misses once, then hits', async () => {
    const tenant = await createTenant(context, ['OPENAI']);
    // The change notifications of the new keys evict cache entries when they arrive, so they must
    // arrive before the first request, or the second request would miss again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const client = openAiClient(context.server, tenant.gatewayKey.secret);
    const before = await metrics();

    await client.chat.completions.create({ model: 'openai/gpt-4o', messages });
    await client.chat.completions.create({ model: 'openai/gpt-4o', messages });
    await waitForRequestLogRows(context, context.server, tenant.gatewayKey.id, 2);
    const after = await metrics();

    const delta = (cache: string, result: string) =>
      valueOf(after, 'keyroute_proxy_cache_lookups_total', { cache, result }) - valueOf(before, 'keyroute_proxy_cache_lookups_total', { cache, result });
    expect(delta('gateway_key', 'miss')).toBe(1);
    expect(delta('gateway_key', 'hit')).toBe(1);
    expect(delta('assignment', 'miss')).toBe(1);
    expect(delta('assignment', 'hit')).toBe(1);
    expect(delta('credential', 'miss')).toBe(1);
    expect(delta('credential', 'hit')).toBe(1);
  });
});

describe('key backend metrics', () => {
  it('creating a provider key calls the keyring', async () => {
    const labels = { backend: 'keyring', operation: 'generate_data_key' };
    const before = await metrics();

    await createTenant(context, ['MISTRAL']);
    const after = await metrics();

    expect(valueOf(after, 'keyroute_key_backend_calls_total', labels) - valueOf(before, 'keyroute_key_backend_calls_total', labels)).toBe(1);
  });
});

describe('request log metrics', () => {
  it('written entries follow the writer', async () => {
    await context.server.running.app.requestLog.flush();
    const result = await metrics();

    const { stats } = context.server.running.app.requestLog;
    expect(valueOf(result, 'keyroute_request_log_written_entries_total')).toBe(stats.written);
    expect(stats.written).toBeGreaterThan(0);
  });

  it('queue and drop gauges exist', async () => {
    const result = await metrics();

    expect(result.families.get('keyroute_request_log_queued_entries')?.type).toBe('gauge');
    expect(result.families.get('keyroute_request_log_dropped_entries_total')?.type).toBe('counter');
    expect(result.families.get('keyroute_request_log_last_flush_duration_seconds')?.type).toBe('gauge');
  });
});
