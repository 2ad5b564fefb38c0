import { describe, expect, it } from 'vitest';
import { anthropicRequestFields } from '../../src/proxy/translation/anthropic-messages/request-fields.js';
import { parseAnthropicRequest, renderAnthropicRequest } from '../../src/proxy/translation/anthropic-messages/request.js';
import { parseAnthropicResponse } from '../../src/proxy/translation/anthropic-messages/response.js';
import type { ChatRequest, Message } from '../../src/proxy/translation/ir.js';
import { parseOpenAiChatRequest } from '../../src/proxy/translation/openai-chat/request.js';
import { renderOpenAiChatResponse } from '../../src/proxy/translation/openai-chat/response.js';
import { anthropicToolIdPattern } from '../../src/proxy/translation/tool-ids.js';
import { fieldErrorOf, pdfBase64, pngBase64 } from './translation-support.js';

type Json = Record<string, unknown>;

const hello = [{ role: 'user', content: 'Hello' }];

function parse(body: Json): ChatRequest {
  return parseAnthropicRequest({ max_tokens: 1000, ...body }, 'gpt-4o');
}

function parseMessages(messages: unknown[]): Message[] {
  return parse({ messages }).messages;
}

function render(request: ChatRequest, defaultMaxTokens = 64000): Json {
  return renderAnthropicRequest(request, { defaultMaxTokens }).body;
}

function renderOpenAi(body: Json): Json {
  return render(parseOpenAiChatRequest(body, 'claude-sonnet-4-5'));
}

function request(messages: Message[], extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'claude-sonnet-4-5', messages, stream: false, streamUsage: false, ...extra };
}

describe('Anthropic request field table', () => {
  const rejectedCases: [string, unknown][] = [
    ['container', 'container_abc'],
    ['mcp_servers', [{ type: 'url', url: 'https://mcp.example.com', name: 'x' }]],
    ['context_management', { edits: [] }],
    ['output_format', { type: 'json_schema', schema: {} }],
  ];

  it.each(rejectedCases)('rejects %s', (field, value) => {
    const error = fieldErrorOf(() => parse({ messages: hello, [field]: value }));
    expect(error.field).toBe(field);
  });

  it('has a test case for every rejected row', () => {
    const rows = Object.entries(anthropicRequestFields)
      .filter(([, rule]) => rule.kind === 'rejected')
      .map(([field]) => field)
      .sort();
    expect(rejectedCases.map(([field]) => field).sort()).toEqual(rows);
  });

  it.each([
    ['service_tier', 'auto'],
    ['tags', ['team-a']],
  ])('drops %s', (field, value) => {
    expect(parse({ messages: hello, [field]: value })).toEqual(parse({ messages: hello }));
  });

  it('has a test case for every dropped row', () => {
    const rows = Object.entries(anthropicRequestFields).filter(([, rule]) => rule.kind === 'dropped');
    expect(rows.map(([field]) => field).sort()).toEqual(['service_tier', 'tags']);
  });
});

describe('Anthropic request parsing: top-level fields', () => {
  it('rejects an empty messages list', () => {
    const error = fieldErrorOf(() => parse({ max_tokens: 100, messages: [] }));

    expect(error.field).toBe('messages');
    expect(error.message).toMatch(/at least one message/);
  });

  it('reads the sampling settings', () => {
    const parsed = parse({ messages: hello, max_tokens: 300, temperature: 0.2, top_p: 0.7, top_k: 5, stop_sequences: ['END'] });
    expect(parsed.maxTokens).toBe(300);
    expect(parsed.temperature).toBe(0.2);
    expect(parsed.topP).toBe(0.7);
    expect(parsed.topK).toBe(5);
    expect(parsed.stopSequences).toEqual(['END']);
  });

  it('rejects stop_sequences that are not strings', () => {
    expect(fieldErrorOf(() => parse({ messages: hello, stop_sequences: 'END' })).field).toBe('stop_sequences');
  });

  it('reads metadata.user_id as the user', () => {
    expect(parse({ messages: hello, metadata: { user_id: 'u-1' } }).user).toBe('u-1');
  });

  it('reads a string system prompt as a leading system message', () => {
    expect(parse({ system: 'Be brief.', messages: hello }).messages[0]).toEqual({ role: 'system', content: [{ type: 'text', text: 'Be brief.' }] });
  });

  it('reads system blocks as one system message each, with cache hints', () => {
    const messages = parse({
      system: [
        { type: 'text', text: 'Rules.', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'More rules.' },
      ],
      messages: hello,
    }).messages;
    expect(messages.slice(0, 2)).toEqual([
      { role: 'system', content: [{ type: 'text', text: 'Rules.', cache: { type: 'ephemeral' } }] },
      { role: 'system', content: [{ type: 'text', text: 'More rules.' }] },
    ]);
  });

  it('rejects a system role inside messages', () => {
    expect(fieldErrorOf(() => parseMessages([{ role: 'system', content: 'x' }])).field).toBe('messages[0].role');
  });

  const toolChoices: [Json, unknown, boolean | undefined][] = [
    [{ type: 'auto' }, { type: 'auto' }, undefined],
    [{ type: 'any' }, { type: 'required' }, undefined],
    [{ type: 'none' }, { type: 'none' }, undefined],
    [{ type: 'tool', name: 'weather' }, { type: 'tool', name: 'weather' }, undefined],
    [{ type: 'auto', disable_parallel_tool_use: true }, { type: 'auto' }, false],
    [{ type: 'any', disable_parallel_tool_use: false }, { type: 'required' }, true],
  ];

  it.each(toolChoices)('reads tool_choice %j', (choice, expected, parallel) => {
    const parsed = parse({ messages: hello, tool_choice: choice });
    expect(parsed.toolChoice).toEqual(expected);
    expect(parsed.parallelToolCalls).toBe(parallel);
  });

  it('reads custom tools with cache hints', () => {
    const parsed = parse({
      messages: hello,
      tools: [
        { name: 'weather', description: 'Weather', input_schema: { type: 'object' }, cache_control: { type: 'ephemeral' } },
        { type: 'custom', name: 'now', input_schema: { type: 'object' } },
      ],
    });
    expect(parsed.tools).toEqual([
      { name: 'weather', description: 'Weather', parameters: { type: 'object' }, cache: { type: 'ephemeral' } },
      { name: 'now', parameters: { type: 'object' } },
    ]);
  });

  it.each(['web_search_20250305', 'bash_20250124', 'text_editor_20250728'])('rejects the server tool %s naming it', (type) => {
    const error = fieldErrorOf(() =>
      parse({ messages: hello, tools: [{ name: 'weather', input_schema: { type: 'object' } }, { type, name: 'x' }] }),
    );
    expect(error.field).toBe('tools[1]');
    expect(error.message).toContain(type);
  });

  const thinkingCases: [Json, unknown][] = [
    [{ type: 'enabled', budget_tokens: 4000 }, { enabled: true, budgetTokens: 4000 }],
    [{ type: 'disabled' }, { enabled: false }],
    [{ type: 'adaptive' }, { enabled: true }],
  ];

  it.each(thinkingCases)('reads thinking %j', (thinking, expected) => {
    expect(parse({ messages: hello, thinking }).reasoning).toEqual(expected);
  });

  it('rejects enabled thinking without a budget', () => {
    expect(fieldErrorOf(() => parse({ messages: hello, thinking: { type: 'enabled' } })).field).toBe('thinking.budget_tokens');
  });
});

describe('Anthropic request parsing: content blocks', () => {
  it('reads image sources, with image/jpg as image/jpeg', () => {
    const [user] = parseMessages([
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/jpg', data: pngBase64 } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
        ],
      },
    ]);
    expect(user!.content).toEqual([
      { type: 'image', source: { kind: 'base64', mediaType: 'image/jpeg', data: pngBase64 }, sourcePath: 'messages[0].content[0]' },
      { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.png' }, sourcePath: 'messages[0].content[1]' },
    ]);
  });

  it('rejects an SVG image naming the media type path', () => {
    const error = fieldErrorOf(() =>
      parseMessages([
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image', source: { type: 'base64', media_type: 'image/svg+xml', data: 'PHN2Zz48L3N2Zz4=' } }] },
      ]),
    );
    expect(error.field).toBe('messages[2].content[1].source.media_type');
  });

  it('rejects image data that is not base64', () => {
    const error = fieldErrorOf(() => parseMessages([{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'not base64!' } }] }]));
    expect(error.field).toBe('messages[0].content[0].source.data');
  });

  it('rejects an uploaded file source', () => {
    const error = fieldErrorOf(() => parseMessages([{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'file_1' } }] }]));
    expect(error.field).toBe('messages[0].content[0].source.type');
  });

  it('reads documents with base64, text and URL sources', () => {
    const [user] = parseMessages([
      {
        role: 'user',
        content: [
          { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdfBase64 }, title: 'Report' },
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Notes' } },
          { type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } },
        ],
      },
    ]);
    expect(user!.content).toEqual([
      { type: 'document', source: { kind: 'base64', mediaType: 'application/pdf', data: pdfBase64 }, title: 'Report', sourcePath: 'messages[0].content[0]' },
      { type: 'document', source: { kind: 'text', mediaType: 'text/plain', text: 'Notes' }, sourcePath: 'messages[0].content[1]' },
      { type: 'document', source: { kind: 'url', url: 'https://example.com/a.pdf' }, sourcePath: 'messages[0].content[2]' },
    ]);
  });

  it('reads tool use input as JSON text', () => {
    const [assistant] = parseMessages([{ role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }] }]);
    expect(assistant!.content).toEqual([{ type: 'tool_call', id: 'toolu_1', name: 'weather', arguments: '{"city":"Paris"}' }]);
  });

  it('reads tool results with string and block content', () => {
    const [user] = parseMessages([
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' },
          {
            type: 'tool_result',
            tool_use_id: 'toolu_2',
            is_error: true,
            content: [
              { type: 'text', text: 'Failed' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngBase64 } },
            ],
          },
        ],
      },
    ]);
    expect(user!.content).toEqual([
      { type: 'tool_result', toolCallId: 'toolu_1', content: [{ type: 'text', text: 'Sunny' }] },
      {
        type: 'tool_result',
        toolCallId: 'toolu_2',
        isError: true,
        content: [
          { type: 'text', text: 'Failed' },
          { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: pngBase64 }, sourcePath: 'messages[0].content[1].content[1]' },
        ],
      },
    ]);
  });

  it('reads thinking with its signature and redacted thinking', () => {
    const [assistant] = parseMessages([
      {
        role: 'assistant',
        content: [
          { type: 'thinking', thinking: 'Hmm.', signature: 'sig' },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'text', text: 'Done.' },
        ],
      },
    ]);
    expect(assistant!.content).toEqual([
      { type: 'thinking', text: 'Hmm.', signature: 'sig' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'Done.' },
    ]);
  });

  it.each(['server_tool_use', 'web_search_tool_result', 'mcp_tool_use'])('rejects a %s block naming its path', (type) => {
    const error = fieldErrorOf(() => parseMessages([{ role: 'assistant', content: [{ type: 'text', text: 'x' }, { type, id: 'srvtoolu_1' }] }]));
    expect(error.field).toBe('messages[0].content[1]');
  });
});

describe('Anthropic request rendering: system and turns', () => {
  it('hoists every system entry into the top-level system in order', () => {
    const body = renderOpenAi({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'First.', cache_control: { type: 'ephemeral' } }] },
        { role: 'developer', content: 'Second.' },
        { role: 'user', content: 'Hi' },
        { role: 'system', content: 'Late.' },
        { role: 'user', content: 'Go on' },
      ],
    });
    expect(body.system).toEqual([
      { type: 'text', text: 'First.', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'Second.' },
      { type: 'text', text: 'Late.' },
    ]);
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'text', text: 'Go on' }] }]);
  });

  it('merges consecutive tool messages into one user message, results first', () => {
    const body = renderOpenAi({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'call_2', content: 'Rain' },
        { role: 'user', content: 'Compare them.' },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: 'Sunny' },
          { type: 'tool_result', tool_use_id: 'call_2', content: 'Rain' },
          { type: 'text', text: 'Compare them.' },
        ],
      },
    ]);
  });

  it('puts tool results before user text of the same turn', () => {
    const body = render(
      request([
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Here:' },
            { type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: 'ok' }] },
          ],
        },
      ]),
    );
    const [user] = body.messages as Json[];
    expect((user!.content as Json[]).map((block) => block.type)).toEqual(['tool_result', 'text']);
  });

  it('merges turns left adjacent by a dropped turn', () => {
    const body = renderOpenAi({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: '', reasoning_content: 'Unsigned thoughts.' },
        { role: 'user', content: 'Hello?' },
      ],
    });
    expect(body.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'text', text: 'Hello?' }] }]);
  });

  it('leaves out empty text blocks', () => {
    const body = renderOpenAi({
      messages: [
        { role: 'user', content: 'Now?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'now', arguments: '' } }] },
      ],
    });
    const assistant = (body.messages as Json[])[1]!;
    expect(assistant.content).toEqual([{ type: 'tool_use', id: 'call_1', name: 'now', input: {} }]);
  });

  it('renders images, documents and tool result attachments', () => {
    const body = renderOpenAi({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: `data:image/jpg;base64,${pngBase64}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
            { type: 'file', file: { file_data: `data:application/pdf;base64,${pdfBase64}`, filename: 'report.pdf' } },
          ],
        },
      ],
    });
    expect((body.messages as Json[])[0]!.content).toEqual([
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: pngBase64 } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdfBase64 }, title: 'report.pdf' },
    ]);
  });
});

describe('Anthropic request rendering: URL sources', () => {
  const messages = [
    { role: 'user', content: 'Look at these.' },
    { role: 'assistant', content: 'Send them.' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Here:' },
        { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
      ],
    },
  ];

  it('keeps URL sources by default', () => {
    const body = renderOpenAi({ messages });
    expect(((body.messages as Json[])[2]!.content as Json[])[1]).toEqual({ type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } });
  });

  it('rejects an image URL naming its path where only data is taken', () => {
    const parsed = parseOpenAiChatRequest({ messages }, 'claude-sonnet-4-5');
    const error = fieldErrorOf(() => renderAnthropicRequest(parsed, { defaultMaxTokens: 1000, acceptsUrlSources: false }));
    expect(error.field).toBe('messages[2].content[1]');
  });

  it('rejects a document URL in a tool result naming its path', () => {
    const parsed = parseAnthropicRequest(
      {
        max_tokens: 100,
        messages: [
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }] }],
          },
        ],
      },
      'claude-sonnet-4-5',
    );
    const error = fieldErrorOf(() => renderAnthropicRequest(parsed, { defaultMaxTokens: 1000, acceptsUrlSources: false }));
    expect(error.field).toBe('messages[0].content[0].content[0]');
  });

  it('accepts base64 images where only data is taken', () => {
    const parsed = parseOpenAiChatRequest(
      { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${pngBase64}` } }] }] },
      'claude-sonnet-4-5',
    );
    expect(() => renderAnthropicRequest(parsed, { defaultMaxTokens: 1000, acceptsUrlSources: false })).not.toThrow();
  });
});

describe('Anthropic request rendering: settings', () => {
  it('uses the default maximum when the request sets none', () => {
    expect(render(request([]), 8192).max_tokens).toBe(8192);
    expect(render(request([], { maxTokens: 300 }), 8192).max_tokens).toBe(300);
  });

  it('renders stop, user, stream and sampling settings', () => {
    const body = renderOpenAi({ messages: hello, stop: 'END', user: 'u-1', stream: true, temperature: 0.5, top_p: 0.9, top_k: 20 });
    expect(body.stop_sequences).toEqual(['END']);
    expect(body.metadata).toEqual({ user_id: 'u-1' });
    expect(body.stream).toBe(true);
    expect(body.temperature).toBe(0.5);
    expect(body.top_p).toBe(0.9);
    expect(body.top_k).toBe(20);
  });

  it('rejects a temperature above 1 instead of clamping it', () => {
    const error = fieldErrorOf(() => renderOpenAi({ messages: hello, temperature: 1.5 }));
    expect(error.field).toBe('temperature');
    expect(error.message).toContain('1.5');
  });

  it('accepts a temperature of exactly 1', () => {
    expect(renderOpenAi({ messages: hello, temperature: 1 }).temperature).toBe(1);
  });

  const toolChoices: [unknown, boolean | undefined, unknown][] = [
    ['auto', undefined, { type: 'auto' }],
    ['none', undefined, { type: 'none' }],
    ['required', undefined, { type: 'any' }],
    [{ type: 'function', function: { name: 'weather' } }, undefined, { type: 'tool', name: 'weather' }],
    [undefined, false, { type: 'auto', disable_parallel_tool_use: true }],
    ['required', false, { type: 'any', disable_parallel_tool_use: true }],
    ['none', false, { type: 'none' }],
    [undefined, true, undefined],
  ];

  it.each(toolChoices)('renders tool_choice %j with parallel_tool_calls %j', (choice, parallel, expected) => {
    const body = renderOpenAi({
      messages: hello,
      tools: [{ type: 'function', function: { name: 'weather', description: 'Weather', parameters: { type: 'object' }, strict: true } }],
      tool_choice: choice,
      parallel_tool_calls: parallel,
    });
    expect(body.tool_choice).toEqual(expected);
    expect(body.tools).toEqual([{ name: 'weather', description: 'Weather', input_schema: { type: 'object' } }]);
  });

  it('keeps cache hints on tools', () => {
    const body = render(request([], { tools: [{ name: 'now', parameters: { type: 'object' }, cache: { type: 'ephemeral', ttl: '1h' } }] }));
    expect(body.tools).toEqual([{ name: 'now', input_schema: { type: 'object' }, cache_control: { type: 'ephemeral', ttl: '1h' } }]);
  });
});

describe('Anthropic request rendering: thinking', () => {
  it('turns reasoning_effort into a thinking budget', () => {
    const body = renderOpenAi({ messages: hello, reasoning_effort: 'medium', max_completion_tokens: 20000 });
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 8192 });
    expect(body.max_tokens).toBe(20000);
  });

  it('lowers the budget below the maximum the client set', () => {
    const body = renderOpenAi({ messages: hello, reasoning_effort: 'high', max_completion_tokens: 4000 });
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 2976 });
    expect(body.max_tokens).toBe(4000);
  });

  it('rejects reasoning under a maximum of 1024 or less', () => {
    expect(fieldErrorOf(() => renderOpenAi({ messages: hello, reasoning_effort: 'low', max_tokens: 1000 })).field).toBe('reasoning_effort');
  });

  it('renders reasoning turned off as disabled thinking', () => {
    expect(renderOpenAi({ messages: hello, reasoning_effort: 'none' }).thinking).toEqual({ type: 'disabled' });
  });

  const conflicts: [string, Json][] = [
    ['temperature', { temperature: 0.2 }],
    ['top_k', { top_k: 10 }],
    ['top_p', { top_p: 0.5 }],
    ['tool_choice', { tool_choice: 'required', tools: [{ type: 'function', function: { name: 'now' } }] }],
  ];

  it.each(conflicts)('rejects %s combined with reasoning', (field, settings) => {
    const error = fieldErrorOf(() => renderOpenAi({ messages: hello, reasoning_effort: 'low', ...settings }));
    expect(error.field).toBe(field);
    expect(error.message).toContain('reasoning_effort');
  });

  it('accepts temperature 1 and top_p 0.95 with reasoning', () => {
    const body = renderOpenAi({ messages: hello, reasoning_effort: 'low', temperature: 1, top_p: 0.95 });
    expect(body.temperature).toBe(1);
    expect(body.top_p).toBe(0.95);
  });

  it('keeps signed thinking on the second tool turn', () => {
    const claudeAnswer = parseAnthropicResponse({
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [
        { type: 'thinking', thinking: 'I need the weather tool.', signature: 'EqQBCkYIARgCIkB' },
        { type: 'tool_use', id: 'toolu_01A', name: 'weather', input: { city: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 20 },
    });
    const openAiAnswer = renderOpenAiChatResponse(claudeAnswer, { model: 'anthropic/claude-sonnet-4-5', created: 1 });
    const assistantMessage = (openAiAnswer.choices as Json[])[0]!.message as Json;

    // The client sends the assistant message back unchanged, with the tool's result.
    const secondTurn = renderOpenAi({
      reasoning_effort: 'medium',
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }],
      messages: [{ role: 'user', content: 'Weather in Paris?' }, assistantMessage, { role: 'tool', tool_call_id: 'toolu_01A', content: 'Sunny' }],
    });

    const assistant = (secondTurn.messages as Json[])[1]!;
    expect(assistant.content).toEqual([
      { type: 'thinking', thinking: 'I need the weather tool.', signature: 'EqQBCkYIARgCIkB' },
      { type: 'tool_use', id: 'toolu_01A', name: 'weather', input: { city: 'Paris' } },
    ]);
    expect(secondTurn.thinking).toEqual({ type: 'enabled', budget_tokens: 8192 });
  });

  it('leaves out thinking without a signature', () => {
    const body = renderOpenAi({
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello', reasoning_content: 'Greet back.' },
      ],
    });
    expect((body.messages as Json[])[1]).toEqual({ role: 'assistant', content: 'Hello' });
  });

  it('keeps redacted thinking', () => {
    const body = render(
      request([
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
        { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'opaque' }, { type: 'text', text: 'Hello' }] },
      ]),
    );
    expect((body.messages as Json[])[1]!.content).toEqual([
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'Hello' },
    ]);
  });
});

describe('Anthropic request rendering: tool ids', () => {
  it('rewrites ids Anthropic rejects the same way in calls and results', () => {
    const { body, toolIds } = renderAnthropicRequest(
      parseOpenAiChatRequest(
        {
          messages: [
            { role: 'user', content: 'Weather?' },
            { role: 'assistant', content: null, tool_calls: [{ id: 'functions.weather:0', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
            { role: 'tool', tool_call_id: 'functions.weather:0', content: 'Sunny' },
          ],
        },
        'claude-sonnet-4-5',
      ),
      { defaultMaxTokens: 1000 },
    );
    const messages = body.messages as Json[];
    const useId = ((messages[1]!.content as Json[])[0]!).id as string;
    const resultId = ((messages[2]!.content as Json[])[0]!).tool_use_id as string;
    expect(useId).toMatch(anthropicToolIdPattern);
    expect(resultId).toBe(useId);
    expect(toolIds.restore(useId)).toBe('functions.weather:0');
  });

  it('keeps ids Anthropic accepts', () => {
    const { toolIds, body } = renderAnthropicRequest(
      request([{ role: 'assistant', content: [{ type: 'tool_call', id: 'call_abc', name: 'now', arguments: '{}' }] }]),
      { defaultMaxTokens: 1000 },
    );
    expect(((body.messages as Json[])[0]!.content as Json[])[0]!.id).toBe('call_abc');
    expect(toolIds.size).toBe(0);
  });
});

describe('Anthropic request round trip', () => {
  it('keeps every shared field through Anthropic → IR → Anthropic', () => {
    const body: Json = {
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      system: [
        { type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'Use metric units.' },
      ],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Use the tool.', signature: 'sig-1' },
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_01', name: 'weather', input: { city: 'Paris' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_01', content: 'Sunny', is_error: false },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngBase64 }, cache_control: { type: 'ephemeral' } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdfBase64 }, title: 'Report' },
            { type: 'text', text: 'Also read these.' },
          ],
        },
      ],
      temperature: 1,
      top_p: 0.99,
      stop_sequences: ['END'],
      tools: [{ name: 'weather', description: 'Weather by city', input_schema: { type: 'object' }, cache_control: { type: 'ephemeral' } }],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      thinking: { type: 'enabled', budget_tokens: 2048 },
      metadata: { user_id: 'u-1' },
      stream: true,
    };
    const { body: rendered } = renderAnthropicRequest(parseAnthropicRequest(body, 'claude-sonnet-4-5'), { defaultMaxTokens: 64000 });
    expect(rendered).toEqual(body);
  });
});
