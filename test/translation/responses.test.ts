import { describe, expect, it } from 'vitest';
import { parseAnthropicResponse, renderAnthropicResponse } from '../../src/proxy/translation/anthropic-messages/response.js';
import type { ChatResponse } from '../../src/proxy/translation/ir.js';
import { parseOpenAiChatResponse, renderOpenAiChatResponse } from '../../src/proxy/translation/openai-chat/response.js';
import { createAnthropicToolIdMap } from '../../src/proxy/translation/tool-ids.js';
import { fromDeepSeekUsage, fromOpenAiUsage } from '../../src/proxy/usage.js';

type Json = Record<string, unknown>;

const claudeResponse: Json = {
  id: 'msg_01XYZ',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [
    { type: 'thinking', thinking: 'The user wants weather.', signature: 'sig-abc' },
    { type: 'redacted_thinking', data: 'opaque' },
    { type: 'text', text: 'Let me check.' },
    { type: 'tool_use', id: 'toolu_01', name: 'weather', input: { city: 'Paris' } },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: { input_tokens: 100, cache_read_input_tokens: 50, cache_creation_input_tokens: 10, output_tokens: 30 },
};

const openAiResponse: Json = {
  id: 'chatcmpl-123',
  object: 'chat.completion',
  created: 1700000000,
  model: 'gpt-4o-2024-08-06',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: 'Checking.',
        refusal: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
      },
      finish_reason: 'tool_calls',
      logprobs: null,
    },
  ],
  usage: {
    prompt_tokens: 120,
    completion_tokens: 40,
    total_tokens: 160,
    prompt_tokens_details: { cached_tokens: 20 },
    completion_tokens_details: { reasoning_tokens: 0 },
  },
};

function withChoice(message: Json, finishReason: string | null = 'stop', extra: Json = {}): Json {
  return { id: 'x', model: 'm', choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finishReason }], ...extra };
}

describe('Anthropic response parsing', () => {
  it('reads every block type in order', () => {
    expect(parseAnthropicResponse(claudeResponse).content).toEqual([
      { type: 'thinking', text: 'The user wants weather.', signature: 'sig-abc' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_call', id: 'toolu_01', name: 'weather', arguments: '{"city":"Paris"}' },
    ]);
  });

  it('reads the stop reason, id, model and usage', () => {
    const parsed = parseAnthropicResponse(claudeResponse);
    expect(parsed.stopReason).toEqual({ type: 'tool_use' });
    expect(parsed.id).toBe('msg_01XYZ');
    expect(parsed.model).toBe('claude-sonnet-4-5-20250929');
    expect(parsed.usage).toEqual({ inputUncached: 100, cacheRead: 50, cacheWrite: 10, output: 30, reasoning: 0 });
  });

  it('keeps the matched stop sequence', () => {
    const parsed = parseAnthropicResponse({ ...claudeResponse, stop_reason: 'stop_sequence', stop_sequence: '###' });
    expect(parsed.stopReason).toEqual({ type: 'stop_sequence', sequence: '###' });
  });

  it('skips unknown block types', () => {
    const parsed = parseAnthropicResponse({ ...claudeResponse, content: [{ type: 'mystery' }, { type: 'text', text: 'ok' }] });
    expect(parsed.content).toEqual([{ type: 'text', text: 'ok' }]);
  });
});

describe('OpenAI response rendering', () => {
  const rendered = renderOpenAiChatResponse(parseAnthropicResponse(claudeResponse), { model: 'anthropic/claude-sonnet-4-5', created: 1700000001 });
  const choice = (rendered.choices as Json[])[0]!;
  const message = choice.message as Json;

  it('renders the envelope with the requested model', () => {
    expect(rendered.id).toBe('msg_01XYZ');
    expect(rendered.object).toBe('chat.completion');
    expect(rendered.created).toBe(1700000001);
    expect(rendered.model).toBe('anthropic/claude-sonnet-4-5');
    expect(choice.index).toBe(0);
    expect(choice.logprobs).toBeNull();
    expect(choice.finish_reason).toBe('tool_calls');
  });

  it('renders text, refusal and tool calls', () => {
    expect(message.role).toBe('assistant');
    expect(message.content).toBe('Let me check.');
    expect(message.refusal).toBeNull();
    expect(message.tool_calls).toEqual([{ id: 'toolu_01', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }]);
  });

  it('renders thinking as reasoning_content and signed thinking_blocks', () => {
    expect(message.reasoning_content).toBe('The user wants weather.');
    expect(message.thinking_blocks).toEqual([
      { type: 'thinking', thinking: 'The user wants weather.', signature: 'sig-abc' },
      { type: 'redacted_thinking', data: 'opaque' },
    ]);
  });

  it('renders usage in OpenAI fields', () => {
    expect(rendered.usage).toEqual({
      prompt_tokens: 160,
      completion_tokens: 30,
      total_tokens: 190,
      prompt_tokens_details: { cached_tokens: 50 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it('renders null content for a tool call without text', () => {
    const response: ChatResponse = { id: 'a', model: 'm', content: [{ type: 'tool_call', id: 't', name: 'now', arguments: '{}' }], stopReason: { type: 'tool_use' } };
    const message = ((renderOpenAiChatResponse(response, { model: 'm', created: 1 }).choices as Json[])[0]!.message as Json);
    expect(message.content).toBeNull();
    expect(message).not.toHaveProperty('reasoning_content');
    expect(message).not.toHaveProperty('thinking_blocks');
  });

  const finishCases: [Json, string | null][] = [
    [{ stop_reason: 'end_turn' }, 'stop'],
    [{ stop_reason: 'max_tokens' }, 'length'],
    [{ stop_reason: 'model_context_window_exceeded' }, 'length'],
    [{ stop_reason: 'stop_sequence', stop_sequence: '###' }, 'stop'],
    [{ stop_reason: 'pause_turn' }, 'stop'],
    [{ stop_reason: 'refusal' }, 'content_filter'],
    [{ stop_reason: 'new_reason' }, 'new_reason'],
    [{ stop_reason: null }, null],
  ];

  it.each(finishCases)('renders %j as finish_reason %s', (stop, finishReason) => {
    const output = renderOpenAiChatResponse(parseAnthropicResponse({ ...claudeResponse, ...stop }), { model: 'm', created: 1 });
    expect((output.choices as Json[])[0]!.finish_reason).toBe(finishReason);
  });

  it('restores rewritten tool ids', () => {
    const toolIds = createAnthropicToolIdMap();
    const upstreamId = toolIds.rewrite('functions.weather:0');
    const response: ChatResponse = { id: 'a', model: 'm', content: [{ type: 'tool_call', id: upstreamId, name: 'weather', arguments: '{}' }], stopReason: { type: 'tool_use' } };
    const message = ((renderOpenAiChatResponse(response, { model: 'm', created: 1, toolIds }).choices as Json[])[0]!.message as Json);
    expect((message.tool_calls as Json[])[0]!.id).toBe('functions.weather:0');
  });

  it('leaves usage out when the upstream sent none', () => {
    const response: ChatResponse = { id: 'a', model: 'm', content: [], stopReason: { type: 'end_turn' } };
    expect(renderOpenAiChatResponse(response, { model: 'm', created: 1 })).not.toHaveProperty('usage');
  });
});

describe('OpenAI response parsing', () => {
  it('reads text and tool calls', () => {
    const parsed = parseOpenAiChatResponse(openAiResponse, fromOpenAiUsage);
    expect(parsed.content).toEqual([
      { type: 'text', text: 'Checking.' },
      { type: 'tool_call', id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
    ]);
    expect(parsed.stopReason).toEqual({ type: 'tool_use' });
    expect(parsed.created).toBe(1700000000);
  });

  it('reads usage with the provider converter', () => {
    const parsed = parseOpenAiChatResponse(
      withChoice({ content: 'Hi' }, 'stop', { usage: { prompt_tokens: 100, completion_tokens: 10, total_tokens: 110, prompt_cache_hit_tokens: 60, prompt_cache_miss_tokens: 40 } }),
      fromDeepSeekUsage,
    );
    expect(parsed.usage).toEqual({ inputUncached: 40, cacheRead: 60, cacheWrite: 0, output: 10, reasoning: 0 });
  });

  it('reads DeepSeek reasoning_content as thinking before the text', () => {
    const parsed = parseOpenAiChatResponse(withChoice({ content: 'Four.', reasoning_content: '2 + 2 = 4' }), fromOpenAiUsage);
    expect(parsed.content).toEqual([
      { type: 'thinking', text: '2 + 2 = 4' },
      { type: 'text', text: 'Four.' },
    ]);
  });

  it('reads Mistral content chunks in order', () => {
    const parsed = parseOpenAiChatResponse(
      withChoice({
        content: [
          { type: 'thinking', thinking: [{ type: 'text', text: 'Consider ' }, { type: 'text', text: 'options.' }] },
          { type: 'text', text: 'Option B.' },
        ],
      }),
      fromOpenAiUsage,
    );
    expect(parsed.content).toEqual([
      { type: 'thinking', text: 'Consider options.' },
      { type: 'text', text: 'Option B.' },
    ]);
  });

  it('reads a refusal as text with the refusal stop reason', () => {
    const parsed = parseOpenAiChatResponse(withChoice({ content: null, refusal: 'I cannot help.' }), fromOpenAiUsage);
    expect(parsed.content).toEqual([{ type: 'text', text: 'I cannot help.' }]);
    expect(parsed.stopReason).toEqual({ type: 'refusal' });
  });

  const stopCases: [string, unknown][] = [
    ['model_length', { type: 'context_window' }],
    ['sensitive', { type: 'content_filter' }],
    ['network_error', { type: 'error' }],
    ['surprise', { type: 'unknown', value: 'surprise' }],
  ];

  it.each(stopCases)('reads finish_reason %s', (finishReason, expected) => {
    expect(parseOpenAiChatResponse(withChoice({ content: 'x' }, finishReason), fromOpenAiUsage).stopReason).toEqual(expected);
  });

  it('reads a missing finish_reason as no stop reason', () => {
    expect(parseOpenAiChatResponse(withChoice({ content: 'x' }, null), fromOpenAiUsage).stopReason).toBeNull();
  });
});

describe('Anthropic response rendering', () => {
  const rendered = renderAnthropicResponse(parseOpenAiChatResponse(openAiResponse, fromOpenAiUsage), { model: 'openai/gpt-4o' });

  it('renders the envelope with the requested model', () => {
    expect(rendered.id).toBe('chatcmpl-123');
    expect(rendered.type).toBe('message');
    expect(rendered.role).toBe('assistant');
    expect(rendered.model).toBe('openai/gpt-4o');
    expect(rendered.stop_reason).toBe('tool_use');
    expect(rendered.stop_sequence).toBeNull();
  });

  it('renders text and tool use with an object input', () => {
    expect(rendered.content).toEqual([
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
    ]);
  });

  it('renders usage in Anthropic fields', () => {
    expect(rendered.usage).toEqual({ input_tokens: 100, cache_creation_input_tokens: 0, cache_read_input_tokens: 20, output_tokens: 40 });
  });

  it('renders reasoning as thinking with an empty signature', () => {
    const output = renderAnthropicResponse(parseOpenAiChatResponse(withChoice({ content: 'Four.', reasoning_content: '2 + 2 = 4' }), fromOpenAiUsage), { model: 'm' });
    expect(output.content).toEqual([
      { type: 'thinking', thinking: '2 + 2 = 4', signature: '' },
      { type: 'text', text: 'Four.' },
    ]);
  });

  it('renders broken tool arguments as an empty input', () => {
    const output = renderAnthropicResponse(
      parseOpenAiChatResponse(withChoice({ content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a": ' } }] }, 'tool_calls'), fromOpenAiUsage),
      { model: 'm' },
    );
    expect(output.content).toEqual([{ type: 'tool_use', id: 'c', name: 'f', input: {} }]);
  });

  const stopCases: [string, string, string | null][] = [
    ['stop', 'end_turn', null],
    ['length', 'max_tokens', null],
    ['model_length', 'model_context_window_exceeded', null],
    ['content_filter', 'refusal', null],
    ['sensitive', 'refusal', null],
    ['error', 'error', null],
    ['surprise', 'surprise', null],
  ];

  it.each(stopCases)('renders finish_reason %s as %s', (finishReason, stopReason, stopSequence) => {
    const output = renderAnthropicResponse(parseOpenAiChatResponse(withChoice({ content: 'x' }, finishReason), fromOpenAiUsage), { model: 'm' });
    expect(output.stop_reason).toBe(stopReason);
    expect(output.stop_sequence).toBe(stopSequence);
  });

  it('reports zero usage when the upstream sent none', () => {
    const output = renderAnthropicResponse(parseOpenAiChatResponse(withChoice({ content: 'x' }), fromOpenAiUsage), { model: 'm' });
    expect(output.usage).toEqual({ input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 });
  });
});

describe('response round trips', () => {
  it('keeps every shared field through Anthropic → IR → Anthropic', () => {
    const body: Json = {
      ...claudeResponse,
      stop_reason: 'stop_sequence',
      stop_sequence: '###',
      usage: { input_tokens: 100, cache_creation_input_tokens: 10, cache_read_input_tokens: 50, output_tokens: 30 },
    };
    expect(renderAnthropicResponse(parseAnthropicResponse(body), { model: 'claude-sonnet-4-5-20250929' })).toEqual(body);
  });

  it('keeps every shared field through OpenAI → IR → OpenAI', () => {
    const parsed = parseOpenAiChatResponse(openAiResponse, fromOpenAiUsage);
    expect(renderOpenAiChatResponse(parsed, { model: 'gpt-4o-2024-08-06', created: 1 })).toEqual(openAiResponse);
  });
});
