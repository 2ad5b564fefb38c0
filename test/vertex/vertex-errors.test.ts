import { describe, expect, it } from 'vitest';
import { GoogleTokenError } from '../../src/proxy/upstream/vertex/google-access-token.js';
import { vertexHost } from '../../src/proxy/upstream/vertex/vertex-endpoints.js';
import { isAccessTokenRejected, mapGoogleTokenError, mapVertexError } from '../../src/proxy/upstream/vertex/vertex-errors.js';

const target = { location: 'us-central1', project: 'acme-prod', host: vertexHost('us-central1') };

function googleError(code: number, status: string, message: string, details?: unknown[]): string {
  return JSON.stringify({ error: { code, message, status, ...(details && { details }) } });
}

function map(status: number, body: string, headers: Record<string, string> = {}, secrets: string[] = []) {
  return mapVertexError({ status, headers, body, providerKeyId: 'pk_1', secrets, target, model: 'claude-sonnet-4-5@20250929' });
}

describe('mapVertexError', () => {
  it('maps 401 to a credential failure', () => {
    const error = map(401, googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'));
    expect(error.status).toBe(502);
    expect(error.code).toBe('provider_authentication_error');
    expect(error.headers['x-should-retry']).toBe('false');
    expect(error.message).toContain('pk_1');
  });

  it('names a disabled API', () => {
    const body = googleError(
      403,
      'PERMISSION_DENIED',
      'Vertex AI API has not been used in project 720070608347 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/aiplatform.googleapis.com/overview?project=720070608347 then retry.',
      [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'SERVICE_DISABLED', domain: 'googleapis.com' }],
    );
    const error = map(403, body);
    expect(error.status).toBe(403);
    expect(error.type).toBe('permission_error');
    expect(error.upstreamCode).toBe('SERVICE_DISABLED');
    expect(error.headers['x-should-retry']).toBe('false');
    expect(error.message).toContain('the Vertex AI API (aiplatform.googleapis.com) is not enabled in project acme-prod');
  });

  it('names a disabled API from the message alone', () => {
    const error = map(403, googleError(403, 'PERMISSION_DENIED', 'Vertex AI API has not been used in project acme-prod before or it is disabled.'));
    expect(error.message).toContain('is not enabled in project acme-prod');
  });

  it('names a missing permission', () => {
    // Vertex's OpenAI-compatible endpoint wraps the error in an array.
    const body = `[${googleError(
      403,
      'PERMISSION_DENIED',
      "Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/acme-prod/locations/us-central1/endpoints/openapi' (or it may not exist).",
      [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'IAM_PERMISSION_DENIED', metadata: { permission: 'aiplatform.endpoints.predict' } }],
    )}]`;
    const error = map(403, body);
    expect(error.status).toBe(403);
    expect(error.upstreamCode).toBe('IAM_PERMISSION_DENIED');
    expect(error.message).toContain('lacks the permission aiplatform.endpoints.predict in project acme-prod');
    expect(error.message).toContain('roles/aiplatform.user');
  });

  it('names a missing permission from the message alone', () => {
    const error = map(403, googleError(403, 'PERMISSION_DENIED', "Permission 'aiplatform.endpoints.predict' denied on resource 'x' (or it may not exist)."));
    expect(error.message).toContain('lacks the permission aiplatform.endpoints.predict');
  });

  it('names an unknown project', () => {
    const body = googleError(403, 'PERMISSION_DENIED', 'Permission denied on resource project acme-prod.', [{ reason: 'CONSUMER_INVALID' }]);
    expect(map(403, body).message).toContain('project acme-prod does not exist or the service account cannot use it');
  });

  it('keeps an unexplained 403 as 403', () => {
    const error = map(403, 'Forbidden');
    expect(error.status).toBe(403);
    expect(error.message).toContain('was denied');
  });

  it('names the model and location of a 404', () => {
    const error = map(404, googleError(404, 'NOT_FOUND', 'Publisher Model `projects/acme-prod/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5@20250929` not found.'));
    expect(error.status).toBe(404);
    expect(error.type).toBe('not_found_error');
    expect(error.upstreamCode).toBe('NOT_FOUND');
    expect(error.message).toContain('did not find the model claude-sonnet-4-5@20250929 in location us-central1 of project acme-prod');
    expect(error.message).toContain('not found.');
  });

  it('keeps 429 with retry-after', () => {
    const error = map(429, googleError(429, 'RESOURCE_EXHAUSTED', 'Resource exhausted. Please try again later.'), { 'retry-after': '7' });
    expect(error.status).toBe(429);
    expect(error.type).toBe('rate_limit_error');
    expect(error.upstreamCode).toBe('RESOURCE_EXHAUSTED');
    expect(error.headers['retry-after']).toBe('7');
    expect(error.headers['x-should-retry']).toBeUndefined();
  });

  it('keeps 503 as overloaded', () => {
    const error = map(503, googleError(503, 'UNAVAILABLE', 'The service is currently unavailable.'));
    expect(error.status).toBe(503);
    expect(error.type).toBe('overloaded_error');
  });

  it('keeps 500', () => {
    expect(map(500, googleError(500, 'INTERNAL', 'Internal error encountered.')).status).toBe(500);
  });

  it('reads Anthropic errors from Claude', () => {
    const error = map(400, JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } }));
    expect(error.status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain('max_tokens: Field required');
  });

  it('keeps Anthropic overloaded errors', () => {
    const error = map(529, JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    expect(error.status).toBe(529);
    expect(error.type).toBe('overloaded_error');
  });

  it('scrubs the token from a 403 message', () => {
    const token = 'ya29.a0AfB_secret-token-value-123';
    const error = map(403, googleError(403, 'PERMISSION_DENIED', `denied for ${token}`), {}, [token]);
    expect(error.message).not.toContain(token);
  });

  it('scrubs the token from a 404 message', () => {
    const token = 'opaque-token-without-a-known-shape';
    const error = map(404, googleError(404, 'NOT_FOUND', `not found for ${token}`), {}, [token]);
    expect(error.message).not.toContain(token);
  });
});

describe('isAccessTokenRejected', () => {
  it('is true for 401 only', () => {
    expect(isAccessTokenRejected(401)).toBe(true);
    expect(isAccessTokenRejected(403)).toBe(false);
    expect(isAccessTokenRejected(404)).toBe(false);
  });
});

describe('mapGoogleTokenError', () => {
  it('maps a rejected account to 502 without retry', () => {
    const error = mapGoogleTokenError(new GoogleTokenError('credential_rejected', 'Invalid JWT Signature.', 400, 'invalid_grant'), 'pk_9');
    expect(error.status).toBe(502);
    expect(error.code).toBe('provider_authentication_error');
    expect(error.headers['x-should-retry']).toBe('false');
    expect(error.providerKeyId).toBe('pk_9');
    expect(error.message).toContain('provider key pk_9');
    expect(error.message).toContain('Invalid JWT Signature.');
  });

  it('maps an unavailable endpoint to 503', () => {
    const error = mapGoogleTokenError(new GoogleTokenError('unavailable', "Google's token endpoint failed (HTTP 503)."), 'pk_9');
    expect(error.status).toBe(503);
    expect(error.code).toBe('credential_unavailable');
    expect(error.headers['x-should-retry']).toBeUndefined();
    expect(error.message).toContain('Retry later.');
  });
});
