import { describe, expect, it } from 'vitest';
import { toUpstreamConfig, upstreamEnvironment } from '../../src/config/upstream.config.js';

function issuesOf(variables: Record<string, string>): string[] {
  const parsed = upstreamEnvironment.safeParse(variables);
  if (parsed.success) throw new Error(`accepted ${JSON.stringify(variables)}`);
  return parsed.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`);
}

function configOf(variables: Record<string, string>) {
  return toUpstreamConfig(upstreamEnvironment.parse(variables));
}

describe('upstream configuration defaults', () => {
  const config = configOf({});

  it('has no overrides', () => {
    expect(config.transport.overrides).toEqual([]);
  });

  it('connects directly to origins without an override', () => {
    expect(config.transport.requireOverride).toBe(false);
  });

  it('times out connecting after 10 seconds', () => {
    expect(config.transport.connectTimeoutMs).toBe(10_000);
  });

  it('waits 600 seconds for response headers', () => {
    expect(config.transport.headersTimeoutMs).toBe(600_000);
  });

  it('allows 600 idle seconds in a body', () => {
    expect(config.transport.bodyTimeoutMs).toBe(600_000);
  });

  it('accepts bodies of 32 MiB', () => {
    expect(config.maxBodyBytes).toBe(33_554_432);
  });

  it('sends a heartbeat every 15 seconds', () => {
    expect(config.stream.heartbeatIntervalMs).toBe(15_000);
  });

  it('commits SSE headers after 15 silent seconds', () => {
    expect(config.stream.commitSilenceMs).toBe(15_000);
  });
});

describe('UPSTREAM_OVERRIDES', () => {
  it('parses comma-separated entries', () => {
    const config = configOf({
      UPSTREAM_OVERRIDES: 'https://api.openai.com=http://127.0.0.1:41234, https://api.anthropic.com=https://llm-gateway.internal:8443',
    });
    expect(config.transport.overrides).toEqual([
      { origin: 'https://api.openai.com', address: 'http://127.0.0.1:41234' },
      { origin: 'https://api.anthropic.com', address: 'https://llm-gateway.internal:8443' },
    ]);
  });

  it('normalizes a trailing slash and letter case', () => {
    const config = configOf({ UPSTREAM_OVERRIDES: 'https://API.OpenAI.com/=http://127.0.0.1:41234/' });
    expect(config.transport.overrides).toEqual([{ origin: 'https://api.openai.com', address: 'http://127.0.0.1:41234' }]);
  });

  it('rejects an entry without an equals sign', () => {
    expect(issuesOf({ UPSTREAM_OVERRIDES: 'https://api.openai.com' })[0]).toMatch(/^UPSTREAM_OVERRIDES: expected ORIGIN=ADDRESS/);
  });

  it('rejects an origin with a path and names the entry', () => {
    const [issue] = issuesOf({ UPSTREAM_OVERRIDES: 'https://api.openai.com/v1=http://127.0.0.1:1' });
    expect(issue).toContain('entry "https://api.openai.com/v1=http://127.0.0.1:1"');
    expect(issue).toContain('the origin "https://api.openai.com/v1" is invalid');
  });

  it('rejects an address that is not a URL', () => {
    const [issue] = issuesOf({ UPSTREAM_OVERRIDES: 'https://api.openai.com=127.0.0.1:41234' });
    expect(issue).toContain('the address "127.0.0.1:41234" is invalid');
  });

  it('rejects a plaintext address off the loopback interface', () => {
    const [issue] = issuesOf({ UPSTREAM_OVERRIDES: 'https://api.openai.com=http://10.0.0.5:8080' });
    expect(issue).toContain('must be a loopback address');
  });

  it('accepts a plaintext IPv6 loopback address', () => {
    expect(configOf({ UPSTREAM_OVERRIDES: 'https://api.openai.com=http://[::1]:8080' }).transport.overrides).toHaveLength(1);
  });

  it('rejects an origin listed twice', () => {
    const issues = issuesOf({ UPSTREAM_OVERRIDES: 'https://api.openai.com=http://127.0.0.1:1,https://api.openai.com=http://127.0.0.1:2' });
    expect(issues[0]).toContain('appears in more than one entry');
  });

  it('reports every invalid entry', () => {
    expect(issuesOf({ UPSTREAM_OVERRIDES: 'bad-one,bad-two' })).toHaveLength(2);
  });
});

describe('upstream limits', () => {
  it('sets UPSTREAM_REQUIRE_OVERRIDE', () => {
    expect(configOf({ UPSTREAM_REQUIRE_OVERRIDE: 'true' }).transport.requireOverride).toBe(true);
  });

  it('rejects a headers timeout under one second', () => {
    expect(issuesOf({ UPSTREAM_HEADERS_TIMEOUT_MS: '999' })[0]).toMatch(/^UPSTREAM_HEADERS_TIMEOUT_MS: expected an integer from 1000/);
  });

  it('rejects a body idle timeout under one second', () => {
    expect(issuesOf({ UPSTREAM_BODY_TIMEOUT_MS: '10' })[0]).toMatch(/^UPSTREAM_BODY_TIMEOUT_MS: expected an integer from 1000/);
  });

  it('accepts a commit silence of zero', () => {
    expect(configOf({ STREAM_COMMIT_SILENCE_MS: '0' }).stream.commitSilenceMs).toBe(0);
  });

  it('rejects a body limit that is not an integer', () => {
    expect(issuesOf({ PROXY_MAX_BODY_BYTES: '32MB' })[0]).toMatch(/^PROXY_MAX_BODY_BYTES: expected an integer/);
  });
});
