import { describe, expect, it } from 'vitest';
import { parseAnthropicRequest } from '../../src/proxy/translation/anthropic-messages/request.js';
import type { ChatRequest, Message } from '../../src/proxy/translation/ir.js';
import { openAiRequestFields } from '../../src/proxy/translation/openai-chat/request-fields.js';
import { parseOpenAiChatRequest, renderOpenAiChatRequest } from '../../src/proxy/translation/openai-chat/request.js';
import { prepareOpenAiCompatibleRequest } from '../../src/proxy/upstream/openai-compatible-adapter.js';
import { fieldErrorOf, pdfBase64, pngBase64 } from './translation-support.js';

type Json = Record<string, unknown>;

const hello = [{ role: 'user', content: 'Hello' }];

function parse(body: Json): ChatRequest {
  return parseOpenAiChatRequest(body, 'claude-sonnet-4-5');
}

function parseMessages(messages: unknown[]): Message[] {
  return parse({ messages }).messages;
}

function request(messages: Message[], extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'gpt-4o', messages, stream: false, streamUsage: false, ...extra };
}

function renderedMessages(body: Json): Json[] {
  return body.messages as Json[];
}

describe('OpenAI request field table', () => {
  const rejectedCases: [string, unknown, unknown][] = [
    ['n', 2, 1],
    ['logprobs', true, false],
    ['top_logprobs', 3, 0],
    ['logit_bias', { '50256': -100 }, {}],
    ['response_format', { type: 'json_object' }, { type: 'text' }],
    ['audio', { voice: 'alloy', format: 'wav' }, null],
    ['modalities', ['text', 'audio'], ['text']],
    ['presence_penalty', 0.5, 0],
    ['frequency_penalty', -0.5, 0],
    ['functions', [{ name: 'f' }], null],
    ['function_call', 'auto', null],
    ['web_search_options', {}, null],
    ['verbosity', 'low', 'medium'],
  ];

  it.each(rejectedCases)('rejects %s set to %j', (field, value) => {
    const error = fieldErrorOf(() => parse({ messages: hello, [field]: value }));
    expect(error.field).toBe(field);
    expect(error.message).toContain(`Remove ${field}`);
  });

  it.each(rejectedCases)('accepts %s set to its honoured value %#', (field, _value, honoured) => {
    expect(() => parse({ messages: hello, [field]: honoured })).not.toThrow();
  });

  it('rejects json_schema response formats', () => {
    const error = fieldErrorOf(() => parse({ messages: hello, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } }));
    expect(error.field).toBe('response_format');
  });

  it('has a test case for every rejected row', () => {
    const rejectedRows = Object.entries(openAiRequestFields)
      .filter(([, rule]) => rule.kind === 'rejected')
      .map(([field]) => field)
      .sort();
    expect(rejectedCases.map(([field]) => field).sort()).toEqual(rejectedRows);
  });

  const droppedCases: [string, unknown][] = [
    ['seed', 7],
    ['store', true],
    ['metadata', { session: 'a' }],
    ['service_tier', 'auto'],
    ['prompt_cache_key', 'key-1'],
    ['prompt_cache_retention', '24h'],
    ['prediction', { type: 'content', content: 'draft' }],
    ['tags', ['team-a']],
  ];

  it.each(droppedCases)('drops %s', (field, value) => {
    expect(parse({ messages: hello, [field]: value })).toEqual(parse({ messages: hello }));
  });

  it('has a test case for every dropped row', () => {
    const droppedRows = Object.entries(openAiRequestFields)
      .filter(([, rule]) => rule.kind === 'dropped')
      .map(([field]) => field)
      .sort();
    expect(droppedCases.map(([field]) => field).sort()).toEqual(droppedRows);
  });

  it('ignores fields in no row', () => {
    expect(parse({ messages: hello, some_future_field: 1 })).toEqual(parse({ messages: hello }));
  });
});

describe('OpenAI request parsing: top-level fields', () => {
  it('rejects an empty messages list', () => {
    const error = fieldErrorOf(() => parse({ messages: [] }));

    expect(error.field).toBe('messages');
    expect(error.message).toMatch(/at least one message/);
  });

  it('takes max_completion_tokens over max_tokens', () => {
    expect(parse({ messages: hello, max_completion_tokens: 300, max_tokens: 100 }).maxTokens).toBe(300);
    expect(parse({ messages: hello, max_tokens: 100 }).maxTokens).toBe(100);
  });

  it('rejects a max_tokens that is not a count', () => {
    expect(fieldErrorOf(() => parse({ messages: hello, max_tokens: 0 })).field).toBe('max_tokens');
    expect(fieldErrorOf(() => parse({ messages: hello, max_completion_tokens: 1.5 })).field).toBe('max_completion_tokens');
  });

  it('reads sampling settings', () => {
    const parsed = parse({ messages: hello, temperature: 0.4, top_p: 0.8, top_k: 40 });
    expect(parsed.temperature).toBe(0.4);
    expect(parsed.topP).toBe(0.8);
    expect(parsed.topK).toBe(40);
  });

  it('reads a top_k of -1 or 0 as no limit', () => {
    expect(parse({ messages: hello, top_k: -1 })).not.toHaveProperty('topK');
    expect(parse({ messages: hello, top_k: 0 })).not.toHaveProperty('topK');
  });

  it('rejects a temperature that is not a number', () => {
    expect(fieldErrorOf(() => parse({ messages: hello, temperature: 'hot' })).field).toBe('temperature');
  });

  const stopCases: [unknown, string[] | undefined][] = [
    ['END', ['END']],
    [['END', '###'], ['END', '###']],
    [[], undefined],
    [null, undefined],
  ];

  it.each(stopCases)('reads stop %j as stop sequences', (stop, expected) => {
    expect(parse({ messages: hello, stop }).stopSequences).toEqual(expected);
  });

  it('rejects a stop that is not text', () => {
    expect(fieldErrorOf(() => parse({ messages: hello, stop: [1] })).field).toBe('stop');
  });

  it('reads user, and safety_identifier when user is absent', () => {
    expect(parse({ messages: hello, user: 'u-1', safety_identifier: 's-1' }).user).toBe('u-1');
    expect(parse({ messages: hello, safety_identifier: 's-1' }).user).toBe('s-1');
  });

  it('reads stream and the usage request', () => {
    const parsed = parse({ messages: hello, stream: true, stream_options: { include_usage: true } });
    expect(parsed.stream).toBe(true);
    expect(parsed.streamUsage).toBe(true);
    expect(parse({ messages: hello }).stream).toBe(false);
    expect(parse({ messages: hello }).streamUsage).toBe(false);
  });

  it('reads reasoning_effort', () => {
    expect(parse({ messages: hello, reasoning_effort: 'high' }).reasoning).toEqual({ enabled: true, effort: 'high' });
    expect(parse({ messages: hello, reasoning_effort: 'none' }).reasoning).toEqual({ enabled: false });
  });

  it('reads a thinking budget in LiteLLM form', () => {
    expect(parse({ messages: hello, thinking: { type: 'enabled', budget_tokens: 5000 } }).reasoning).toEqual({ enabled: true, budgetTokens: 5000 });
    expect(parse({ messages: hello, thinking: { type: 'disabled' } }).reasoning).toEqual({ enabled: false });
  });

  it('reads tools with their schema, strictness and cache hint', () => {
    const parsed = parse({
      messages: hello,
      tools: [
        {
          type: 'function',
          function: { name: 'weather', description: 'Get weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true },
          cache_control: { type: 'ephemeral' },
        },
        { type: 'function', function: { name: 'now' } },
      ],
    });
    expect(parsed.tools).toEqual([
      {
        name: 'weather',
        description: 'Get weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
        strict: true,
        cache: { type: 'ephemeral' },
      },
      { name: 'now', parameters: { type: 'object', properties: {} } },
    ]);
  });

  it('rejects tools other than functions', () => {
    const error = fieldErrorOf(() => parse({ messages: hello, tools: [{ type: 'custom', custom: { name: 'x' } }] }));
    expect(error.field).toBe('tools[0].type');
  });

  const toolChoices: [unknown, unknown][] = [
    ['auto', { type: 'auto' }],
    ['none', { type: 'none' }],
    ['required', { type: 'required' }],
    [{ type: 'function', function: { name: 'weather' } }, { type: 'tool', name: 'weather' }],
  ];

  it.each(toolChoices)('reads tool_choice %j', (choice, expected) => {
    expect(parse({ messages: hello, tool_choice: choice }).toolChoice).toEqual(expected);
  });

  it('rejects an unknown tool_choice', () => {
    expect(fieldErrorOf(() => parse({ messages: hello, tool_choice: 'any' })).field).toBe('tool_choice');
  });

  it('reads parallel_tool_calls', () => {
    expect(parse({ messages: hello, parallel_tool_calls: false }).parallelToolCalls).toBe(false);
  });

  it('rejects a body without messages', () => {
    expect(fieldErrorOf(() => parse({})).field).toBe('messages');
  });
});

describe('OpenAI request parsing: messages', () => {
  it('keeps two system messages and a mid-conversation one in place', () => {
    const messages = parseMessages([
      { role: 'system', content: 'First rule.' },
      { role: 'developer', content: 'Second rule.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
      { role: 'system', content: 'Late rule.' },
      { role: 'user', content: 'Go on' },
    ]);
    expect(messages.map((message) => message.role)).toEqual(['system', 'developer', 'user', 'assistant', 'system', 'user']);
    expect(messages[4]!.content).toEqual([{ type: 'text', text: 'Late rule.' }]);
  });

  it('reads system content given as text parts with cache hints', () => {
    const [system] = parseMessages([{ role: 'system', content: [{ type: 'text', text: 'Long prompt', cache_control: { type: 'ephemeral', ttl: '1h' } }] }]);
    expect(system!.content).toEqual([{ type: 'text', text: 'Long prompt', cache: { type: 'ephemeral', ttl: '1h' } }]);
  });

  it('reads the participant name', () => {
    expect(parseMessages([{ role: 'user', content: 'Hi', name: 'alice' }])[0]!.name).toBe('alice');
  });

  const imageCases: [string, string, unknown][] = [
    ['a png data URL', `data:image/png;base64,${pngBase64}`, { kind: 'base64', mediaType: 'image/png', data: pngBase64 }],
    ['an image/jpg data URL as image/jpeg', `data:image/jpg;base64,${pngBase64}`, { kind: 'base64', mediaType: 'image/jpeg', data: pngBase64 }],
    ['an upper-case media type', `data:IMAGE/WEBP;base64,${pngBase64}`, { kind: 'base64', mediaType: 'image/webp', data: pngBase64 }],
    ['an https URL', 'https://example.com/cat.png', { kind: 'url', url: 'https://example.com/cat.png' }],
  ];

  it.each(imageCases)('reads %s', (_name, url, source) => {
    const [user] = parseMessages([{ role: 'user', content: [{ type: 'image_url', image_url: { url, detail: 'high' } }] }]);
    expect(user!.content).toEqual([{ type: 'image', source, detail: 'high', sourcePath: 'messages[0].content[0]' }]);
  });

  it('reads an image URL given as a bare string', () => {
    const [user] = parseMessages([{ role: 'user', content: [{ type: 'image_url', image_url: 'https://example.com/cat.png' }] }]);
    expect(user!.content).toEqual([{ type: 'image', source: { kind: 'url', url: 'https://example.com/cat.png' }, sourcePath: 'messages[0].content[0]' }]);
  });

  it('rejects an SVG image naming its path', () => {
    const error = fieldErrorOf(() =>
      parseMessages([
        { role: 'system', content: 'Describe.' },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=' } }] },
      ]),
    );
    expect(error.field).toBe('messages[1].content[0].image_url');
    expect(error.message).toContain('image/svg+xml');
    expect(error.message).toContain('image/png');
  });

  const malformedUrls = ['data:image/png,not-base64', 'data:image/png;base64,@@@', 'data:image/png;base64,', 'ftp://example.com/cat.png'];

  it.each(malformedUrls)('rejects the image URL %s naming its path', (url) => {
    const error = fieldErrorOf(() => parseMessages([{ role: 'user', content: [{ type: 'text', text: 'Look' }, { type: 'image_url', image_url: { url } }] }]));
    expect(error.field).toBe('messages[0].content[1].image_url');
  });

  it('reads a PDF file part as a document', () => {
    const [user] = parseMessages([
      { role: 'user', content: [{ type: 'file', file: { file_data: `data:application/pdf;base64,${pdfBase64}`, filename: 'report.pdf' } }] },
    ]);
    expect(user!.content).toEqual([
      { type: 'document', source: { kind: 'base64', mediaType: 'application/pdf', data: pdfBase64 }, filename: 'report.pdf', sourcePath: 'messages[0].content[0]' },
    ]);
  });

  it('reads a plain-text file part as a text document', () => {
    const data = Buffer.from('Line one').toString('base64');
    const [user] = parseMessages([{ role: 'user', content: [{ type: 'file', file: { file_data: `data:text/plain;base64,${data}` } }] }]);
    expect(user!.content[0]).toMatchObject({ type: 'document', source: { kind: 'text', mediaType: 'text/plain', text: 'Line one' } });
  });

  it('rejects an uploaded file id', () => {
    const error = fieldErrorOf(() => parseMessages([{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }]));
    expect(error.field).toBe('messages[0].content[0].file.file_id');
  });

  it('rejects a file type other than PDF or text', () => {
    const error = fieldErrorOf(() => parseMessages([{ role: 'user', content: [{ type: 'file', file: { file_data: 'data:application/zip;base64,UEsDBA==' } }] }]));
    expect(error.field).toBe('messages[0].content[0].file.file_data');
    expect(error.message).toContain('application/zip');
  });

  it('rejects audio input naming its path', () => {
    const error = fieldErrorOf(() => parseMessages([{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }]));
    expect(error.field).toBe('messages[0].content[0]');
  });

  it('accepts cache_control on user content parts', () => {
    const [user] = parseMessages([{ role: 'user', content: [{ type: 'text', text: 'Big document', cache_control: { type: 'ephemeral' } }] }]);
    expect(user!.content).toEqual([{ type: 'text', text: 'Big document', cache: { type: 'ephemeral' } }]);
  });

  it('rejects an unknown cache_control type', () => {
    const error = fieldErrorOf(() => parseMessages([{ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'forever' } }] }]));
    expect(error.field).toBe('messages[0].content[0].cache_control.type');
  });

  it('reads assistant tool calls as parts after the text', () => {
    const [assistant] = parseMessages([
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
      },
    ]);
    expect(assistant!.content).toEqual([
      { type: 'text', text: 'Checking.' },
      { type: 'tool_call', id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
    ]);
  });

  it('accepts empty tool arguments', () => {
    const [assistant] = parseMessages([{ role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'now', arguments: '' } }] }]);
    expect(assistant!.content).toEqual([{ type: 'tool_call', id: 'call_1', name: 'now', arguments: '' }]);
  });

  const badArguments = ['{"city": "Par', '[1, 2]', '"text"'];

  it.each(badArguments)('rejects the tool arguments %s naming their path', (argumentsText) => {
    const error = fieldErrorOf(() =>
      parseMessages([
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: argumentsText } }] },
      ]),
    );
    expect(error.field).toBe('messages[1].tool_calls[0].function.arguments');
    expect(error.message).not.toContain(argumentsText);
  });

  it('rejects a tool call without an id', () => {
    const error = fieldErrorOf(() => parseMessages([{ role: 'assistant', tool_calls: [{ type: 'function', function: { name: 'now', arguments: '{}' } }] }]));
    expect(error.field).toBe('messages[0].tool_calls[0].id');
  });

  it('reads thinking_blocks before the text and tool calls', () => {
    const [assistant] = parseMessages([
      {
        role: 'assistant',
        content: 'Let me check.',
        reasoning_content: 'I should call the tool.',
        thinking_blocks: [
          { type: 'thinking', thinking: 'I should call the tool.', signature: 'sig-1' },
          { type: 'redacted_thinking', data: 'opaque' },
        ],
        tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{}' } }],
      },
    ]);
    expect(assistant!.content).toEqual([
      { type: 'thinking', text: 'I should call the tool.', signature: 'sig-1' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_call', id: 'toolu_1', name: 'weather', arguments: '{}' },
    ]);
  });

  it('reads reasoning_content as thinking without a signature', () => {
    const [assistant] = parseMessages([{ role: 'assistant', content: 'Four.', reasoning_content: '2 + 2 = 4' }]);
    expect(assistant!.content).toEqual([
      { type: 'thinking', text: '2 + 2 = 4' },
      { type: 'text', text: 'Four.' },
    ]);
  });

  it('reads an earlier refusal as text', () => {
    const [assistant] = parseMessages([{ role: 'assistant', content: null, refusal: 'I cannot help with that.' }]);
    expect(assistant!.content).toEqual([{ type: 'text', text: 'I cannot help with that.' }]);
  });

  it('reads tool messages as tool results of a user message', () => {
    const messages = parseMessages([
      { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
      { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: 'Rain' }] },
    ]);
    expect(messages).toEqual([
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: 'Sunny' }] }] },
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_2', content: [{ type: 'text', text: 'Rain' }] }] },
    ]);
  });

  it('rejects the deprecated function role', () => {
    expect(fieldErrorOf(() => parseMessages([{ role: 'function', name: 'f', content: 'x' }])).field).toBe('messages[0].role');
  });

  it('rejects an unknown role', () => {
    expect(fieldErrorOf(() => parseMessages([{ role: 'critic', content: 'x' }])).field).toBe('messages[0].role');
  });
});

describe('OpenAI request rendering', () => {
  it('keeps system entries in place, developer only for OpenAI', () => {
    const messages: Message[] = [
      { role: 'system', content: [{ type: 'text', text: 'First.' }] },
      { role: 'developer', content: [{ type: 'text', text: 'Second.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'system', content: [{ type: 'text', text: 'Late.' }] },
    ];
    const openAi = renderedMessages(renderOpenAiChatRequest(request(messages), { provider: 'OPENAI' }));
    expect(openAi.map((message) => message.role)).toEqual(['system', 'developer', 'user', 'system']);
    expect(openAi[3]).toEqual({ role: 'system', content: 'Late.' });

    const xai = renderedMessages(renderOpenAiChatRequest(request(messages), { provider: 'XAI' }));
    expect(xai.map((message) => message.role)).toEqual(['system', 'system', 'user', 'system']);
  });

  it('renders the top-level system blocks of an Anthropic request as system messages', () => {
    const parsed = parseAnthropicRequest(
      {
        system: [
          { type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'Use metric units.' },
        ],
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 100,
      },
      'gpt-4o',
    );
    const messages = renderedMessages(renderOpenAiChatRequest(parsed, { provider: 'OPENAI' }));
    expect(messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'system', content: 'Use metric units.' },
      { role: 'user', content: 'Hi' },
    ]);
  });

  it('puts tool messages before user content', () => {
    const messages: Message[] = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Now summarise.' },
          { type: 'tool_result', toolCallId: 'toolu_1', content: [{ type: 'text', text: 'Sunny' }] },
          { type: 'tool_result', toolCallId: 'toolu_2', content: [{ type: 'text', text: 'Rain' }], isError: true },
        ],
      },
    ];
    expect(renderedMessages(renderOpenAiChatRequest(request(messages), { provider: 'OPENAI' }))).toEqual([
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
      { role: 'tool', tool_call_id: 'toolu_2', content: 'Rain' },
      { role: 'user', content: 'Now summarise.' },
    ]);
  });

  it('moves tool result images into a user message after the tool messages', () => {
    const messages: Message[] = [
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            toolCallId: 'toolu_1',
            content: [
              { type: 'text', text: 'Screenshot taken' },
              { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: pngBase64 } },
            ],
          },
          { type: 'text', text: 'What do you see?' },
        ],
      },
    ];
    expect(renderedMessages(renderOpenAiChatRequest(request(messages), { provider: 'OPENAI' }))).toEqual([
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Screenshot taken' },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: `data:image/png;base64,${pngBase64}` } },
          { type: 'text', text: 'What do you see?' },
        ],
      },
    ]);
  });

  it('renders assistant tool calls with JSON text arguments', () => {
    const messages: Message[] = [
      {
        role: 'assistant',
        content: [
          { type: 'tool_call', id: 'toolu_1', name: 'weather', arguments: '{"city":"Paris"}' },
          { type: 'tool_call', id: 'toolu_2', name: 'now', arguments: '' },
        ],
      },
    ];
    expect(renderedMessages(renderOpenAiChatRequest(request(messages), { provider: 'OPENAI' }))).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'now', arguments: '{}' } },
        ],
      },
    ]);
  });

  const thinkingTurn: Message = {
    role: 'assistant',
    content: [
      { type: 'thinking', text: 'Call the tool.', signature: 'sig' },
      { type: 'redacted_thinking', data: 'opaque' },
      { type: 'tool_call', id: 'call_1', name: 'weather', arguments: '{}' },
    ],
  };

  it('echoes reasoning_content to DeepSeek', () => {
    const [assistant] = renderedMessages(renderOpenAiChatRequest(request([thinkingTurn]), { provider: 'DEEPSEEK' }));
    expect(assistant!.reasoning_content).toBe('Call the tool.');
  });

  it.each(['OPENAI', 'MISTRAL', 'XAI', 'ZAI', 'VERTEX'] as const)('drops reasoning for %s', (provider) => {
    const [assistant] = renderedMessages(renderOpenAiChatRequest(request([thinkingTurn]), { provider }));
    expect(assistant).not.toHaveProperty('reasoning_content');
    expect(assistant).not.toHaveProperty('thinking_blocks');
  });

  it('drops cache hints', () => {
    const body = renderOpenAiChatRequest(
      request([{ role: 'user', content: [{ type: 'text', text: 'Big', cache: { type: 'ephemeral' } }] }], {
        tools: [{ name: 'now', parameters: { type: 'object' }, cache: { type: 'ephemeral' } }],
      }),
      { provider: 'OPENAI' },
    );
    expect(JSON.stringify(body)).not.toContain('cache');
  });

  it('rejects top_k', () => {
    const error = fieldErrorOf(() => renderOpenAiChatRequest(request([], { topK: 40 }), { provider: 'OPENAI' }));
    expect(error.field).toBe('top_k');
  });

  it('renders a PDF document as a file part for OpenAI', () => {
    const messages: Message[] = [
      { role: 'user', content: [{ type: 'document', source: { kind: 'base64', mediaType: 'application/pdf', data: pdfBase64 }, title: 'Report' }] },
    ];
    const [user] = renderedMessages(renderOpenAiChatRequest(request(messages), { provider: 'OPENAI' }));
    expect(user!.content).toEqual([{ type: 'file', file: { file_data: `data:application/pdf;base64,${pdfBase64}`, filename: 'Report' } }]);
  });

  it('rejects a PDF document for Mistral naming the client path', () => {
    const parsed = parseAnthropicRequest(
      {
        system: 'Read it.',
        max_tokens: 100,
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello' },
          { role: 'user', content: [{ type: 'text', text: 'Summarise' }, { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdfBase64 } }] },
        ],
      },
      'mistral-large-latest',
    );
    const error = fieldErrorOf(() => renderOpenAiChatRequest(parsed, { provider: 'MISTRAL' }));
    expect(error.field).toBe('messages[2].content[1]');
  });

  it('rejects a document URL', () => {
    const messages: Message[] = [{ role: 'user', content: [{ type: 'document', source: { kind: 'url', url: 'https://example.com/a.pdf' }, sourcePath: 'messages[0].content[0]' }] }];
    expect(fieldErrorOf(() => renderOpenAiChatRequest(request(messages), { provider: 'OPENAI' })).field).toBe('messages[0].content[0]');
  });

  it('renders a text document as text for every target', () => {
    const messages: Message[] = [{ role: 'user', content: [{ type: 'document', source: { kind: 'text', mediaType: 'text/plain', text: 'Notes' } }] }];
    expect(renderedMessages(renderOpenAiChatRequest(request(messages), { provider: 'ZAI' }))[0]).toEqual({ role: 'user', content: 'Notes' });
  });

  const toolChoices: [ChatRequest['toolChoice'], unknown][] = [
    [{ type: 'auto' }, 'auto'],
    [{ type: 'none' }, 'none'],
    [{ type: 'required' }, 'required'],
    [{ type: 'tool', name: 'weather' }, { type: 'function', function: { name: 'weather' } }],
  ];

  it.each(toolChoices)('renders tool choice %j', (toolChoice, expected) => {
    const body = renderOpenAiChatRequest(request([], { tools: [{ name: 'weather', parameters: { type: 'object' } }], toolChoice }), { provider: 'OPENAI' });
    expect(body.tool_choice).toEqual(expected);
  });

  it('sends parallel_tool_calls only with tools', () => {
    const tools = [{ name: 'weather', parameters: { type: 'object' } }];
    expect(renderOpenAiChatRequest(request([], { tools, parallelToolCalls: false }), { provider: 'OPENAI' }).parallel_tool_calls).toBe(false);
    expect(renderOpenAiChatRequest(request([], { parallelToolCalls: false }), { provider: 'OPENAI' })).not.toHaveProperty('parallel_tool_calls');
  });

  it('leaves stream_options to the adapter', () => {
    const body = renderOpenAiChatRequest(request([], { stream: true, streamUsage: true }), { provider: 'OPENAI' });
    expect(body.stream).toBe(true);
    expect(body).not.toHaveProperty('stream_options');
  });

  it('renders an Anthropic request that the Mistral adapter accepts', () => {
    const parsed = parseAnthropicRequest(
      {
        system: 'Be brief.',
        max_tokens: 200,
        temperature: 0.5,
        stop_sequences: ['END'],
        metadata: { user_id: 'u-1' },
        stream: true,
        thinking: { type: 'enabled', budget_tokens: 2048 },
        tools: [{ name: 'weather', description: 'Weather', input_schema: { type: 'object', properties: {} } }],
        tool_choice: { type: 'auto', disable_parallel_tool_use: true },
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01ABCDEFGHIJ', name: 'weather', input: { city: 'Paris' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01ABCDEFGHIJ', content: 'Sunny' }] },
        ],
      },
      'mistral-large-latest',
    );
    const rendered = renderOpenAiChatRequest(parsed, { provider: 'MISTRAL' });
    const prepared = prepareOpenAiCompatibleRequest('MISTRAL', 'mistral-large-latest', rendered);

    const sent = prepared.body.messages as Json[];
    const callId = (sent[2]!.tool_calls as Json[])[0]!.id as string;
    expect(callId).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(sent[3]!.tool_call_id).toBe(callId);
    expect(prepared.body).not.toHaveProperty('stream_options');
    expect(prepared.body).not.toHaveProperty('user');
    expect(prepared.body.reasoning_effort).toBe('low');
    expect(prepared.body.parallel_tool_calls).toBe(false);
  });

  it('keeps every shared field through OpenAI → IR → OpenAI', () => {
    const body: Json = {
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: 'Weather in Paris?', name: 'alice' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'And this picture?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${pngBase64}`, detail: 'low' } },
          ],
        },
        { role: 'assistant', content: 'A cat.' },
        { role: 'system', content: 'Mid-conversation note.' },
        { role: 'user', content: 'Thanks' },
      ],
      max_tokens: 500,
      temperature: 0.3,
      top_p: 0.9,
      stop: ['END'],
      tools: [
        {
          type: 'function',
          function: { name: 'weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true },
        },
      ],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      reasoning_effort: 'low',
      user: 'u-1',
      stream: true,
    };
    expect(renderOpenAiChatRequest(parseOpenAiChatRequest(body, 'gpt-4o'), { provider: 'OPENAI' })).toEqual(body);
  });
});
