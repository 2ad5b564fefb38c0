import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatStreamError,
  gatewayErrors,
  ProxyError,
  renderErrorBody,
  sendProxyError,
  type ClientDialect,
} from '../../src/proxy/errors.js';
import { SseParser } from '../../src/proxy/sse/sse-parser.js';

const quotaError = new ProxyError({
  status: 429,
  type: 'rate_limit_error',
  code: 'upstream_error',
  message: 'OpenAI: You exceeded your current quota.',
  upstreamCode: 'insufficient_quota',
  headers: { 'retry-after': '20', 'x-should-retry': 'false' },
});

const paramError = ProxyError.gateway('invalid_request_error', 'The model field is missing.', { param: 'model' });

describe('error bodies', () => {
  it('renders the OpenAI layout', () => {
    expect(renderErrorBody(paramError, 'openai')).toEqual({
      error: { message: 'The model field is missing.', type: 'invalid_request_error', code: 'invalid_request_error', param: 'model' },
    });
  });

  it('renders the Anthropic layout', () => {
    expect(renderErrorBody(paramError, 'anthropic')).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'The model field is missing.' },
    });
  });

  it('prefers the provider code for OpenAI clients', () => {
    expect(renderErrorBody(quotaError, 'openai')).toMatchObject({ error: { code: 'insufficient_quota' } });
  });

  it('renders a missing param as null', () => {
    expect(renderErrorBody(quotaError, 'openai')).toMatchObject({ error: { param: null } });
  });

  it('maps server types to server_error for OpenAI clients', () => {
    const error = ProxyError.gateway('upstream_timeout', 'OpenAI timed out.');
    expect(renderErrorBody(error, 'openai')).toMatchObject({ error: { type: 'server_error', code: 'upstream_timeout' } });
  });

  it('keeps Anthropic types for Anthropic clients', () => {
    const error = new ProxyError({ status: 529, type: 'overloaded_error', code: 'upstream_error', message: 'Overloaded' });
    expect(renderErrorBody(error, 'anthropic')).toMatchObject({ error: { type: 'overloaded_error' } });
  });
});

describe('gateway error table', () => {
  const expected: [keyof typeof gatewayErrors, number, string][] = [
    ['invalid_request_error', 400, 'invalid_request_error'],
    ['no_provider_credential', 400, 'invalid_request_error'],
    ['authentication_error', 401, 'authentication_error'],
    ['permission_error', 403, 'permission_error'],
    ['provider_key_disabled', 403, 'permission_error'],
    ['not_found_error', 404, 'not_found_error'],
    ['request_too_large', 413, 'request_too_large'],
    ['request_header_too_large', 431, 'request_too_large'],
    ['usage_limit_exceeded', 429, 'rate_limit_error'],
    ['internal_error', 500, 'api_error'],
    ['provider_authentication_error', 502, 'api_error'],
    ['upstream_unreachable', 502, 'api_error'],
    ['credential_unavailable', 503, 'api_error'],
    ['upstream_timeout', 504, 'api_error'],
  ];

  it.each(expected)('gives %s status %i', (code, status) => {
    expect(ProxyError.gateway(code, 'message').status).toBe(status);
  });

  it.each(expected)('gives %s the Anthropic type %s', (code, _status, type) => {
    expect(renderErrorBody(ProxyError.gateway(code, 'message'), 'anthropic')).toMatchObject({ error: { type } });
  });

  it('covers every gateway code', () => {
    expect(expected.map(([code]) => code).sort()).toEqual(Object.keys(gatewayErrors).sort());
  });
});

describe('HTTP error responses', () => {
  let server: Server;
  let baseUrl: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const dialect = request.url === '/anthropic' ? 'anthropic' : 'openai';
      sendProxyError(response, quotaError, dialect);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it.each(['openai', 'anthropic'] as ClientDialect[])('sends the status to %s clients', async (dialect) => {
    const response = await fetch(`${baseUrl}/${dialect}`);
    await response.arrayBuffer();
    expect(response.status).toBe(429);
  });

  it.each(['openai', 'anthropic'] as ClientDialect[])('sends the retry headers to %s clients', async (dialect) => {
    const response = await fetch(`${baseUrl}/${dialect}`);
    await response.arrayBuffer();
    expect(response.headers.get('retry-after')).toBe('20');
    expect(response.headers.get('x-should-retry')).toBe('false');
  });

  it('sends JSON in the OpenAI layout', async () => {
    const response = await fetch(`${baseUrl}/openai`);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({
      error: { message: 'OpenAI: You exceeded your current quota.', type: 'rate_limit_error', code: 'insufficient_quota', param: null },
    });
  });

  it('sends JSON in the Anthropic layout', async () => {
    const response = await fetch(`${baseUrl}/anthropic`);
    expect(await response.json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'OpenAI: You exceeded your current quota.' },
    });
  });
});

describe('in-stream errors', () => {
  function parseEvents(text: string) {
    const parser = new SseParser();
    return [...parser.push(text), ...parser.end()];
  }

  it('formats an OpenAI data-only event', () => {
    expect(formatStreamError(paramError, 'openai')).toBe(
      'data: {"error":{"message":"The model field is missing.","type":"invalid_request_error","code":"invalid_request_error","param":"model"}}\n\n',
    );
  });

  it('formats an Anthropic error event', () => {
    expect(formatStreamError(paramError, 'anthropic')).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"The model field is missing."}}\n\n',
    );
  });

  it('parses back to one event per dialect', () => {
    for (const dialect of ['openai', 'anthropic'] as ClientDialect[]) {
      const events = parseEvents(formatStreamError(quotaError, dialect));
      expect(events).toHaveLength(1);
      expect(JSON.parse(events[0]!.data)).toEqual(renderErrorBody(quotaError, dialect));
    }
  });

  it('keeps a message with line breaks in one event', () => {
    const error = ProxyError.gateway('internal_error', 'line one\nline two');
    const events = parseEvents(formatStreamError(error, 'openai'));
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.data)).toMatchObject({ error: { message: 'line one\nline two' } });
  });
});
