import { describe, expect, it } from 'vitest';
import { prepareVertexChatRequest } from '../../src/proxy/upstream/vertex/vertex-chat.js';
import { prepareVertexClaudeRequest, vertexAnthropicVersion } from '../../src/proxy/upstream/vertex/vertex-claude.js';
import { vertexHost } from '../../src/proxy/upstream/vertex/vertex-endpoints.js';

const target = { location: 'us-east5', project: 'my-project', host: vertexHost('us-east5') };
const messages = [{ role: 'user', content: 'Hello' }];

describe('prepareVertexClaudeRequest', () => {
  function prepare(operation: 'messages' | 'count_tokens', clientBody: Record<string, unknown>, anthropicBeta?: string) {
    return prepareVertexClaudeRequest({
      operation,
      target,
      model: 'claude-sonnet-4-5@20250929',
      clientBody,
      clientHeaders: { anthropicBeta },
      accessToken: 'ya29.test-token-value',
    });
  }

  it('moves the model into the rawPredict URL', () => {
    const prepared = prepare('messages', { model: 'vertex/claude-sonnet-4-5@20250929', max_tokens: 10, messages });
    expect(prepared.url.pathname).toBe('/v1/projects/my-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict');
    expect(prepared.body).not.toHaveProperty('model');
    expect(prepared.stream).toBe(false);
  });

  it('adds the Vertex API version to the body', () => {
    const prepared = prepare('messages', { model: 'x', max_tokens: 10, messages });
    expect(prepared.body.anthropic_version).toBe('vertex-2023-10-16');
    expect(vertexAnthropicVersion).toBe('vertex-2023-10-16');
  });

  it('replaces a client anthropic_version', () => {
    const prepared = prepare('messages', { max_tokens: 10, messages, anthropic_version: '2023-06-01' });
    expect(prepared.body.anthropic_version).toBe('vertex-2023-10-16');
  });

  it('keeps stream for streamRawPredict', () => {
    const prepared = prepare('messages', { model: 'x', max_tokens: 10, messages, stream: true });
    expect(prepared.url.pathname.endsWith(':streamRawPredict')).toBe(true);
    expect(prepared.body.stream).toBe(true);
    expect(prepared.stream).toBe(true);
  });

  it('strips gateway-only fields', () => {
    const prepared = prepare('messages', { max_tokens: 10, messages, tags: ['team-a'] });
    expect(prepared.body).not.toHaveProperty('tags');
  });

  it('keeps the other fields as sent', () => {
    const clientBody = { max_tokens: 10, messages, system: 'Be brief.', temperature: 0.2, tools: [{ name: 't', input_schema: { type: 'object' } }], thinking: { type: 'enabled', budget_tokens: 1024 } };
    const prepared = prepare('messages', clientBody);
    expect(prepared.body).toEqual({ ...clientBody, anthropic_version: 'vertex-2023-10-16' });
  });

  it('sends the token as Bearer and no version header', () => {
    const prepared = prepare('messages', { max_tokens: 10, messages });
    expect(prepared.headers).toEqual({ 'content-type': 'application/json', authorization: 'Bearer ya29.test-token-value' });
  });

  it('forwards anthropic-beta as a header', () => {
    const prepared = prepare('messages', { max_tokens: 10, messages }, 'context-1m-2025-08-07,interleaved-thinking-2025-05-14');
    expect(prepared.headers['anthropic-beta']).toBe('context-1m-2025-08-07,interleaved-thinking-2025-05-14');
    expect(prepared.body).not.toHaveProperty('anthropic_beta');
  });

  it('counts tokens with the model in the body', () => {
    const prepared = prepare('count_tokens', { model: 'vertex/claude-sonnet-4-5@20250929', messages, tags: ['x'] });
    expect(prepared.url.pathname).toBe('/v1/projects/my-project/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict');
    expect(prepared.body).toEqual({ model: 'claude-sonnet-4-5@20250929', messages, anthropic_version: 'vertex-2023-10-16' });
  });

  it('does not change the client body', () => {
    const clientBody = { model: 'x', max_tokens: 10, messages, tags: ['a'] };
    prepare('messages', clientBody);
    expect(clientBody).toEqual({ model: 'x', max_tokens: 10, messages, tags: ['a'] });
  });
});

describe('prepareVertexChatRequest', () => {
  function prepare(clientBody: Record<string, unknown>) {
    return prepareVertexChatRequest({ target, model: 'google/gemini-2.5-flash', clientBody, accessToken: 'ya29.test-token-value' });
  }

  it('posts to the OpenAI-compatible endpoint', () => {
    const prepared = prepare({ model: 'vertex/gemini-2.5-flash', messages });
    expect(prepared.url.href).toBe('https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east5/endpoints/openapi/chat/completions');
  });

  it('names the model with its publisher', () => {
    expect(prepare({ model: 'vertex/gemini-2.5-flash', messages }).body.model).toBe('google/gemini-2.5-flash');
  });

  it('strips gateway-only fields and keeps the rest', () => {
    const prepared = prepare({ model: 'x', messages, tags: ['a'], temperature: 0.5, stream: true, stream_options: { include_usage: true } });
    expect(prepared.body).toEqual({ model: 'google/gemini-2.5-flash', messages, temperature: 0.5, stream: true, stream_options: { include_usage: true } });
    expect(prepared.stream).toBe(true);
  });

  it('sends the token as Bearer', () => {
    expect(prepare({ messages }).headers.authorization).toBe('Bearer ya29.test-token-value');
  });
});
