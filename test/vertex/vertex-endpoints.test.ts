import { describe, expect, it } from 'vitest';
import { ProxyError } from '../../src/proxy/errors.js';
import {
  encodePathSegment,
  resolveVertexTarget,
  vertexChatCompletionsUrl,
  vertexClaudeCountTokensUrl,
  vertexClaudeUrl,
  vertexGeminiCountTokensUrl,
  vertexHost,
} from '../../src/proxy/upstream/vertex/vertex-endpoints.js';
import { createFakeServiceAccount } from '../support/fake-upstreams/vertex.js';

const serviceAccount = createFakeServiceAccount({ projectId: 'account-project' }).account;

function target(location: string, project = 'my-project') {
  return { location, project, host: vertexHost(location) };
}

describe('Vertex hosts', () => {
  const cases: [string, string][] = [
    ['global', 'aiplatform.googleapis.com'],
    ['us-central1', 'us-central1-aiplatform.googleapis.com'],
    ['europe-west4', 'europe-west4-aiplatform.googleapis.com'],
    ['northamerica-northeast1', 'northamerica-northeast1-aiplatform.googleapis.com'],
    ['us', 'aiplatform.us.rep.googleapis.com'],
    ['eu', 'aiplatform.eu.rep.googleapis.com'],
  ];
  for (const [location, host] of cases) {
    it(`serves ${location} from ${host}`, () => {
      expect(vertexHost(location)).toBe(host);
    });
  }
});

describe('Vertex URLs', () => {
  it('builds chat completions for a region', () => {
    expect(vertexChatCompletionsUrl(target('us-central1')).href).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1/endpoints/openapi/chat/completions',
    );
  });

  it('builds chat completions for global', () => {
    expect(vertexChatCompletionsUrl(target('global')).href).toBe(
      'https://aiplatform.googleapis.com/v1/projects/my-project/locations/global/endpoints/openapi/chat/completions',
    );
  });

  it('builds rawPredict with the model id', () => {
    expect(vertexClaudeUrl(target('europe-west1'), 'claude-sonnet-4-5@20250929', false).href).toBe(
      'https://europe-west1-aiplatform.googleapis.com/v1/projects/my-project/locations/europe-west1/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict',
    );
  });

  it('builds streamRawPredict for a stream', () => {
    expect(vertexClaudeUrl(target('global'), 'claude-haiku-4-5@20251001', true).href).toBe(
      'https://aiplatform.googleapis.com/v1/projects/my-project/locations/global/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict',
    );
  });

  it('builds Claude token counting', () => {
    expect(vertexClaudeCountTokensUrl(target('us-east5')).href).toBe(
      'https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict',
    );
  });

  it('builds Gemini token counting', () => {
    expect(vertexGeminiCountTokensUrl(target('eu'), 'gemini-2.5-flash').href).toBe(
      'https://aiplatform.eu.rep.googleapis.com/v1/projects/my-project/locations/eu/publishers/google/models/gemini-2.5-flash:countTokens',
    );
  });

  it('encodes a slash in a project id', () => {
    expect(vertexChatCompletionsUrl(target('global', 'a/../b')).pathname).toBe('/v1/projects/a%2F..%2Fb/locations/global/endpoints/openapi/chat/completions');
  });

  it('rejects dot segments', () => {
    expect(() => encodePathSegment('..')).toThrow(RangeError);
    expect(() => encodePathSegment('.')).toThrow(RangeError);
    expect(() => encodePathSegment('')).toThrow(RangeError);
  });
});

describe('resolveVertexTarget', () => {
  it('takes the location from the header', () => {
    const resolved = resolveVertexTarget({ settings: { location: 'global', projectId: null }, serviceAccount, locationHeader: 'europe-west1' });
    expect(resolved).toEqual({ location: 'europe-west1', project: 'account-project', host: 'europe-west1-aiplatform.googleapis.com' });
  });

  it('takes the location from the setting without a header', () => {
    const resolved = resolveVertexTarget({ settings: { location: 'us-east5', projectId: null }, serviceAccount, locationHeader: undefined });
    expect(resolved.location).toBe('us-east5');
  });

  it('defaults the location to global', () => {
    const resolved = resolveVertexTarget({ settings: {}, serviceAccount, locationHeader: undefined });
    expect(resolved.location).toBe('global');
    expect(resolved.host).toBe('aiplatform.googleapis.com');
  });

  it('prefers the project setting over the account', () => {
    const resolved = resolveVertexTarget({ settings: { location: 'global', projectId: 'billing-project' }, serviceAccount, locationHeader: undefined });
    expect(resolved.project).toBe('billing-project');
  });

  it('falls back to the account project', () => {
    const resolved = resolveVertexTarget({ settings: { location: 'global', projectId: null }, serviceAccount, locationHeader: undefined });
    expect(resolved.project).toBe('account-project');
  });

  it('uses the first of repeated headers', () => {
    const resolved = resolveVertexTarget({ settings: {}, serviceAccount, locationHeader: ['us-central1', 'europe-west1'] });
    expect(resolved.location).toBe('us-central1');
  });

  const invalidHeaders = ['US-CENTRAL1', 'us_central1', 'evil.example.com', 'us-central1.attacker', 'us-central1/x', '', 'central', '-us-central1'];
  for (const header of invalidHeaders) {
    it(`rejects the header ${JSON.stringify(header)}`, () => {
      let caught: unknown;
      try {
        resolveVertexTarget({ settings: {}, serviceAccount, locationHeader: header });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ProxyError);
      expect((caught as ProxyError).status).toBe(400);
      expect((caught as ProxyError).param).toBe('x-keyroute-vertex-location');
      expect((caught as ProxyError).message).toContain('X-Keyroute-Vertex-Location');
      expect((caught as ProxyError).message).toContain('such as us-central1');
    });
  }
});
