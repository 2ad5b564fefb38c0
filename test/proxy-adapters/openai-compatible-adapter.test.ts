import { describe, expect, it } from 'vitest';
import { prepareOpenAiCompatibleRequest } from '../../src/proxy/upstream/openai-compatible-adapter.js';
import { RequestFieldError } from '../../src/proxy/upstream/request-field-error.js';
import { prepareAnthropicRequest } from '../../src/proxy/upstream/anthropic-adapter.js';
import { chatCompletionsUrl } from '../../src/proxy/upstream/endpoints.js';

const messages = [{ role: 'user', content: 'Hi' }];

function fieldError(run: () => unknown): RequestFieldError {
  try {
    run();
  } catch (error) {
    if (error instanceof RequestFieldError) return error;
    throw error;
  }
  throw new Error('expected a RequestFieldError');
}

describe('OpenAI-compatible adapter', () => {
  it('sets the upstream model and strips tags', () => {
    const { body } = prepareOpenAiCompatibleRequest('OPENAI', 'gpt-4o', { model: 'openai/gpt-4o', messages, tags: ['a'] });
    expect(body.model).toBe('gpt-4o');
    expect(body).not.toHaveProperty('tags');
  });

  it('moves max_tokens for OpenAI reasoning models', () => {
    const { body } = prepareOpenAiCompatibleRequest('OPENAI', 'o3', { messages, max_tokens: 100 });
    expect(body.max_completion_tokens).toBe(100);
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('keeps max_tokens for other OpenAI models', () => {
    const { body } = prepareOpenAiCompatibleRequest('OPENAI', 'gpt-4o', { messages, max_tokens: 100 });
    expect(body.max_tokens).toBe(100);
  });

  it('asks streams for usage and hides it from a client that did not ask', () => {
    const prepared = prepareOpenAiCompatibleRequest('OPENAI', 'gpt-4o', { messages, stream: true });
    expect(prepared.body.stream_options).toEqual({ include_usage: true });
    expect(prepared.clientWantsUsage).toBe(false);
    expect(prepared.rewriter.rewriteChunk({ choices: [], usage: { prompt_tokens: 1 } })).toBe(false);
    const chunk = { choices: [{ index: 0, delta: { content: 'x' } }], usage: null };
    expect(prepared.rewriter.rewriteChunk(chunk)).toBe(true);
    expect(chunk).not.toHaveProperty('usage');
  });

  it('passes usage to a client that asked', () => {
    const prepared = prepareOpenAiCompatibleRequest('DEEPSEEK', 'deepseek-chat', { messages, stream: true, stream_options: { include_usage: true } });
    expect(prepared.clientWantsUsage).toBe(true);
    expect(prepared.rewriter.rewriteChunk({ choices: [], usage: { prompt_tokens: 1 } })).toBe(true);
  });

  it('strips stream_options and renames seed for Mistral', () => {
    const { body } = prepareOpenAiCompatibleRequest('MISTRAL', 'mistral-large-latest', { messages, stream: true, stream_options: { include_usage: true }, seed: 7, user: 'u1' });
    expect(body).not.toHaveProperty('stream_options');
    expect(body).not.toHaveProperty('seed');
    expect(body.random_seed).toBe(7);
    expect(body).not.toHaveProperty('user');
  });

  it('rejects a field Mistral cannot honour', () => {
    const error = fieldError(() => prepareOpenAiCompatibleRequest('MISTRAL', 'mistral-small', { messages, logit_bias: { 1: 2 } }));
    expect(error.field).toBe('logit_bias');
  });

  it('rejects a field Mistral does not know', () => {
    const error = fieldError(() => prepareOpenAiCompatibleRequest('MISTRAL', 'mistral-small', { messages, brand_new_field: 1 }));
    expect(error.field).toBe('brand_new_field');
  });

  it('rewrites tool call ids for Mistral consistently', () => {
    const { body } = prepareOpenAiCompatibleRequest('MISTRAL', 'mistral-small', {
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_01ABCDEFGHIJ', type: 'function', function: { name: 'w', arguments: '{}' } }, { id: 'abcDEF123', type: 'function', function: { name: 'w', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'toolu_01ABCDEFGHIJ', content: 'sunny' },
        { role: 'tool', tool_call_id: 'abcDEF123', content: 'rain' },
      ],
    });
    const sent = body.messages as { tool_calls?: { id: string }[]; tool_call_id?: string }[];
    const rewritten = sent[1]!.tool_calls![0]!.id;
    expect(rewritten).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(sent[2]!.tool_call_id).toBe(rewritten);
    expect(sent[1]!.tool_calls![1]!.id).toBe('abcDEF123');
    expect(sent[3]!.tool_call_id).toBe('abcDEF123');
  });

  it('restores rewritten ids in a response', () => {
    const prepared = prepareOpenAiCompatibleRequest('MISTRAL', 'mistral-small', {
      messages: [{ role: 'assistant', tool_calls: [{ id: 'call_long_id_1', type: 'function', function: { name: 'w', arguments: '{}' } }] }],
    });
    const mapped = ((prepared.body.messages as { tool_calls: { id: string }[] }[])[0]!.tool_calls[0]!.id);
    const response = { choices: [{ message: { tool_calls: [{ id: mapped }] } }] };
    prepared.rewriter.rewriteBody(response);
    expect(response.choices[0]!.message.tool_calls[0]!.id).toBe('call_long_id_1');
  });

  it('rejects zAI tool_choice other than auto', () => {
    const error = fieldError(() => prepareOpenAiCompatibleRequest('ZAI', 'glm-4.6', { messages, tools: [], tool_choice: 'required' }));
    expect(error.field).toBe('tool_choice');
  });

  it('drops tools for zAI tool_choice none', () => {
    const { body } = prepareOpenAiCompatibleRequest('ZAI', 'glm-4.6', { messages, tools: [{ type: 'function' }], tool_choice: 'none' });
    expect(body).not.toHaveProperty('tools');
    expect(body).not.toHaveProperty('tool_choice');
  });

  it('rejects zAI penalties', () => {
    const error = fieldError(() => prepareOpenAiCompatibleRequest('ZAI', 'glm-4.6', { messages, presence_penalty: 0.5 }));
    expect(error.field).toBe('presence_penalty');
  });

  it('chooses the zAI base URL from the endpoint setting', () => {
    expect(chatCompletionsUrl('ZAI', { endpoint: 'CODING_PLAN' }).href).toBe('https://api.z.ai/api/coding/paas/v4/chat/completions');
    expect(chatCompletionsUrl('ZAI', { endpoint: 'CHINA' }).host).toBe('open.bigmodel.cn');
    expect(chatCompletionsUrl('ZAI', {}).href).toBe('https://api.z.ai/api/paas/v4/chat/completions');
  });
});

describe('Anthropic adapter', () => {
  it('forwards the client version and betas and sets the key', () => {
    const prepared = prepareAnthropicRequest({
      endpoint: { kind: 'anthropic' },
      operation: 'messages',
      model: 'claude-sonnet-4-5',
      clientBody: { model: 'anthropic/claude-sonnet-4-5', max_tokens: 10, messages, tags: ['x'] },
      clientHeaders: { anthropicVersion: '2026-10-21', anthropicBeta: 'a,b' },
      apiKey: 'sk-ant-test',
    });
    expect(prepared.url.href).toBe('https://api.anthropic.com/v1/messages');
    expect(prepared.headers['anthropic-version']).toBe('2026-10-21');
    expect(prepared.headers['anthropic-beta']).toBe('a,b');
    expect(prepared.headers['x-api-key']).toBe('sk-ant-test');
    expect(prepared.body.model).toBe('claude-sonnet-4-5');
    expect(prepared.body).not.toHaveProperty('tags');
  });

  it('defaults the version and targets count_tokens', () => {
    const prepared = prepareAnthropicRequest({ operation: 'count_tokens', endpoint: { kind: 'anthropic' }, model: 'm', clientBody: {}, clientHeaders: {}, apiKey: 'k' });
    expect(prepared.headers['anthropic-version']).toBe('2023-06-01');
    expect(prepared.url.pathname).toBe('/v1/messages/count_tokens');
  });
});
