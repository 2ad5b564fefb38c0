import { describe, expect, it } from 'vitest';
import type { ChatRequest, Message } from '../../src/proxy/translation/ir.js';
import { renderConverseRequest } from '../../src/proxy/translation/bedrock-converse/request.js';
import { RequestFieldError } from '../../src/proxy/upstream/request-field-error.js';

type Json = Record<string, unknown>;

const png = 'iVBORw0KGgo=';

function request(messages: Message[], extra: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'amazon.nova-pro-v1:0', messages, stream: false, streamUsage: false, ...extra };
}

function render(chat: ChatRequest, anthropicModel = false): Json {
  return renderConverseRequest(chat, { anthropicModel, defaultMaxTokens: 4096 }).body;
}

const user = (text: string): Message => ({ role: 'user', content: [{ type: 'text', text }] });

describe('renderConverseRequest', () => {
  const cases: { name: string; chat: ChatRequest; anthropicModel?: boolean; expected: Json }[] = [
    {
      name: 'text turn',
      chat: request([user('Hello')]),
      expected: { messages: [{ role: 'user', content: [{ text: 'Hello' }] }] },
    },
    {
      name: 'system entries move to the top in order',
      chat: request([
        { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
        user('Hi'),
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        user('Again'),
      ]),
      expected: {
        system: [{ text: 'Be brief.' }, { text: 'Answer in French.' }],
        messages: [{ role: 'user', content: [{ text: 'Hi' }, { text: 'Again' }] }],
      },
    },
    {
      name: 'cache hints become cache points',
      chat: request(
        [
          { role: 'system', content: [{ type: 'text', text: 'Long prompt', cache: { type: 'ephemeral' } }] },
          { role: 'user', content: [{ type: 'text', text: 'Document text', cache: { type: 'ephemeral', ttl: '1h' } }, { type: 'text', text: 'Question' }] },
        ],
        { tools: [{ name: 'lookup', parameters: { type: 'object' }, cache: { type: 'ephemeral' } }] },
      ),
      expected: {
        system: [{ text: 'Long prompt' }, { cachePoint: { type: 'default' } }],
        messages: [{ role: 'user', content: [{ text: 'Document text' }, { cachePoint: { type: 'default', ttl: '1h' } }, { text: 'Question' }] }],
        toolConfig: { tools: [{ toolSpec: { name: 'lookup', inputSchema: { json: { type: 'object' } } } }, { cachePoint: { type: 'default' } }] },
      },
    },
    {
      name: 'inference settings',
      chat: request([user('Hi')], { maxTokens: 200, temperature: 0.3, topP: 0.9, stopSequences: ['END'] }),
      expected: {
        messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
        inferenceConfig: { maxTokens: 200, temperature: 0.3, topP: 0.9, stopSequences: ['END'] },
      },
    },
    {
      name: 'base64 and data URL images',
      chat: request([
        {
          role: 'user',
          content: [
            { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: png } },
            { type: 'image', source: { kind: 'url', url: `data:image/jpg;base64,${png}` } },
          ],
        },
      ]),
      expected: {
        messages: [
          {
            role: 'user',
            content: [{ image: { format: 'png', source: { bytes: png } } }, { image: { format: 'jpeg', source: { bytes: png } } }],
          },
        ],
      },
    },
    {
      name: 'documents with names Converse accepts',
      chat: request([
        {
          role: 'user',
          content: [
            { type: 'document', source: { kind: 'base64', mediaType: 'application/pdf', data: png }, title: 'Q3 report: final.pdf' },
            { type: 'document', source: { kind: 'text', mediaType: 'text/plain', text: 'notes' } },
          ],
        },
      ]),
      expected: {
        messages: [
          {
            role: 'user',
            content: [
              { document: { format: 'pdf', name: 'Q3 report- final-pdf', source: { bytes: png } } },
              { document: { format: 'txt', name: 'document 0-1', source: { bytes: Buffer.from('notes').toString('base64') } } },
            ],
          },
        ],
      },
    },
    {
      name: 'tool calls and results',
      chat: request(
        [
          user('Weather?'),
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'Checking.' },
              { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
              { type: 'tool_call', id: 'functions.get_time:0', name: 'get_time', arguments: '' },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: '18 C' }] },
              { type: 'tool_result', toolCallId: 'functions.get_time:0', content: [{ type: 'text', text: 'failed' }], isError: true },
            ],
          },
        ],
        { tools: [{ name: 'get_weather', description: 'Weather', parameters: { type: 'object' } }, { name: 'get_time', description: '', parameters: { type: 'object' } }], toolChoice: { type: 'auto' } },
      ),
      expected: {
        messages: [
          { role: 'user', content: [{ text: 'Weather?' }] },
          {
            role: 'assistant',
            content: [
              { text: 'Checking.' },
              { toolUse: { toolUseId: 'call_1', name: 'get_weather', input: { city: 'Paris' } } },
              { toolUse: { toolUseId: expect.stringMatching(/^tooluse_kr[\w-]{24}$/), name: 'get_time', input: {} } },
            ],
          },
          {
            role: 'user',
            content: [
              { toolResult: { toolUseId: 'call_1', content: [{ text: '18 C' }] } },
              { toolResult: { toolUseId: expect.stringMatching(/^tooluse_kr/), content: [{ text: 'failed' }], status: 'error' } },
            ],
          },
        ],
        toolConfig: {
          tools: [
            { toolSpec: { name: 'get_weather', description: 'Weather', inputSchema: { json: { type: 'object' } } } },
            { toolSpec: { name: 'get_time', inputSchema: { json: { type: 'object' } } } },
          ],
          toolChoice: { auto: {} },
        },
      },
    },
    {
      name: 'required tool choice',
      chat: request([user('Hi')], { tools: [{ name: 'a', parameters: {} }], toolChoice: { type: 'required' } }),
      expected: { messages: [{ role: 'user', content: [{ text: 'Hi' }] }], toolConfig: { tools: [{ toolSpec: { name: 'a', inputSchema: { json: {} } } }], toolChoice: { any: {} } } },
    },
    {
      name: 'named tool choice',
      chat: request([user('Hi')], { tools: [{ name: 'a', parameters: {} }], toolChoice: { type: 'tool', name: 'a' } }),
      expected: { messages: [{ role: 'user', content: [{ text: 'Hi' }] }], toolConfig: { tools: [{ toolSpec: { name: 'a', inputSchema: { json: {} } } }], toolChoice: { tool: { name: 'a' } } } },
    },
    {
      name: 'tool choice none drops the tools',
      chat: request([user('Hi')], { tools: [{ name: 'a', parameters: {} }], toolChoice: { type: 'none' } }),
      expected: { messages: [{ role: 'user', content: [{ text: 'Hi' }] }] },
    },
    {
      name: 'reasoning with signature goes back, without is dropped',
      chat: request([
        user('Think'),
        {
          role: 'assistant',
          content: [
            { type: 'thinking', text: 'Hmm', signature: 'sig-1' },
            { type: 'thinking', text: 'Unsigned' },
            { type: 'redacted_thinking', data: 'ZW5jcnlwdGVk' },
            { type: 'text', text: 'Done.' },
          ],
        },
        user('More'),
      ]),
      expected: {
        messages: [
          { role: 'user', content: [{ text: 'Think' }] },
          {
            role: 'assistant',
            content: [
              { reasoningContent: { reasoningText: { text: 'Hmm', signature: 'sig-1' } } },
              { reasoningContent: { redactedContent: 'ZW5jcnlwdGVk' } },
              { text: 'Done.' },
            ],
          },
          { role: 'user', content: [{ text: 'More' }] },
        ],
      },
    },
    {
      name: 'thinking for an Anthropic model',
      chat: request([user('Think')], { maxTokens: 10_000, reasoning: { enabled: true, budgetTokens: 4000 } }),
      anthropicModel: true,
      expected: {
        messages: [{ role: 'user', content: [{ text: 'Think' }] }],
        inferenceConfig: { maxTokens: 10_000 },
        additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 4000 } },
      },
    },
    {
      name: 'thinking fitted to the default maximum',
      chat: request([user('Think')], { reasoning: { enabled: true, effort: 'high' } }),
      anthropicModel: true,
      expected: {
        messages: [{ role: 'user', content: [{ text: 'Think' }] }],
        inferenceConfig: { maxTokens: 4096 },
        additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 3072 } },
      },
    },
    {
      name: 'reasoning turned off on another model sends nothing',
      chat: request([user('Hi')], { reasoning: { enabled: false } }),
      expected: { messages: [{ role: 'user', content: [{ text: 'Hi' }] }] },
    },
    {
      name: 'consecutive assistant turns merge and empty text is dropped',
      chat: request([user('a'), { role: 'assistant', content: [{ type: 'text', text: 'b' }] }, { role: 'assistant', content: [{ type: 'text', text: '' }, { type: 'text', text: 'c' }] }]),
      expected: { messages: [{ role: 'user', content: [{ text: 'a' }] }, { role: 'assistant', content: [{ text: 'b' }, { text: 'c' }] }] },
    },
  ];

  for (const testCase of cases) {
    it(`renders ${testCase.name}`, () => {
      expect(render(testCase.chat, testCase.anthropicModel)).toEqual(testCase.expected);
    });
  }

  it('keeps tools declared for tool choice none with tool history', () => {
    const chat = request(
      [
        user('a'),
        { role: 'assistant', content: [{ type: 'tool_call', id: 'c1', name: 'x', arguments: '{}' }] },
        { role: 'user', content: [{ type: 'tool_result', toolCallId: 'c1', content: [{ type: 'text', text: 'ok' }] }] },
      ],
      { tools: [{ name: 'x', parameters: {} }], toolChoice: { type: 'none' } },
    );

    expect(render(chat).toolConfig).toEqual({ tools: [{ toolSpec: { name: 'x', inputSchema: { json: {} } } }] });
  });

  it('declares the tools of tool history', () => {
    const chat = request([
      user('a'),
      { role: 'assistant', content: [{ type: 'tool_call', id: 'c1', name: 'lookup', arguments: '{}' }] },
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'c1', content: [{ type: 'text', text: 'ok' }] }] },
    ]);

    expect(render(chat).toolConfig).toEqual({ tools: [{ toolSpec: { name: 'lookup', inputSchema: { json: { type: 'object' } } } }] });
  });

  it('sends text for an empty tool result', () => {
    const chat = request(
      [
        user('a'),
        { role: 'assistant', content: [{ type: 'tool_call', id: 'c1', name: 'x', arguments: '{}' }] },
        { role: 'user', content: [{ type: 'tool_result', toolCallId: 'c1', content: [{ type: 'text', text: '' }] }] },
      ],
      { tools: [{ name: 'x', parameters: {} }] },
    );
    const messages = render(chat).messages as Array<{ content: Json[] }>;

    expect(messages[2]!.content[0]).toEqual({ toolResult: { toolUseId: 'c1', content: [{ text: '(empty)' }] } });
  });

  it('rewrites a tool id the same way in the call and its result', () => {
    const { body, toolIds } = renderConverseRequest(
      request(
        [
          user('a'),
          { role: 'assistant', content: [{ type: 'tool_call', id: 'functions.f:1', name: 'f', arguments: '{}' }] },
          { role: 'user', content: [{ type: 'tool_result', toolCallId: 'functions.f:1', content: [] }] },
        ],
        { tools: [{ name: 'f', parameters: {} }] },
      ),
      { anthropicModel: false },
    );
    const messages = body.messages as Array<{ content: Json[] }>;
    const callId = (messages[1]!.content[0]!.toolUse as Json).toolUseId as string;

    expect((messages[2]!.content[0]!.toolResult as Json).toolUseId).toBe(callId);
    expect(toolIds.restore(callId)).toBe('functions.f:1');
  });

  const rejections: { name: string; chat: ChatRequest; field: string; message: RegExp }[] = [
    {
      name: 'an http image URL',
      chat: request([user('a'), { role: 'assistant', content: [{ type: 'text', text: 'b' }] }, { role: 'user', content: [{ type: 'image', source: { kind: 'url', url: 'https://example.com/cat.png' } }] }]),
      field: 'messages[2].content[0]',
      message: /The image at messages\[2\]\.content\[0\] is given by an http\(s\) URL, but Bedrock Converse takes image bytes only/,
    },
    {
      name: 'an image in a tool result given by URL',
      chat: request(
        [
          user('a'),
          { role: 'assistant', content: [{ type: 'tool_call', id: 'c1', name: 'x', arguments: '{}' }] },
          { role: 'user', content: [{ type: 'tool_result', toolCallId: 'c1', content: [{ type: 'image', source: { kind: 'url', url: 'https://example.com/a.png' } }] }] },
        ],
        { tools: [{ name: 'x', parameters: {} }] },
      ),
      field: 'messages[2].content[0].content[0]',
      message: /takes image bytes only/,
    },
    {
      name: 'a document given by URL',
      chat: request([{ role: 'user', content: [{ type: 'document', source: { kind: 'url', url: 'https://example.com/a.pdf' } }] }]),
      field: 'messages[0].content[0]',
      message: /takes document bytes only/,
    },
    {
      name: 'an image type Converse does not take',
      chat: request([{ role: 'user', content: [{ type: 'image', source: { kind: 'base64', mediaType: 'image/bmp', data: png } }] }]),
      field: 'messages[0].content[0]',
      message: /Unsupported image type "image\/bmp"/,
    },
    {
      name: 'a document type Converse does not take',
      chat: request([{ role: 'user', content: [{ type: 'document', source: { kind: 'base64', mediaType: 'application/zip', data: png } }] }]),
      field: 'messages[0].content[0]',
      message: /Unsupported document type "application\/zip"/,
    },
    {
      name: 'tool arguments that are not an object',
      chat: request([user('a'), { role: 'assistant', content: [{ type: 'tool_call', id: 'c1', name: 'x', arguments: '[1' }] }]),
      field: 'messages[1].content[0]',
      message: /are not a JSON object/,
    },
    { name: 'top_k', chat: request([user('a')], { topK: 5 }), field: 'top_k', message: /no model-independent top_k/ },
    {
      name: 'reasoning on a non-Anthropic model',
      chat: request([user('a')], { reasoning: { enabled: true, effort: 'low' } }),
      field: 'reasoning_effort',
      message: /no model-independent reasoning setting/,
    },
  ];

  for (const rejection of rejections) {
    it(`rejects ${rejection.name}`, () => {
      let caught: unknown;
      try {
        render(rejection.chat);
      } catch (error) {
        caught = error;
      }

      expect(caught).toBeInstanceOf(RequestFieldError);
      expect((caught as RequestFieldError).field).toBe(rejection.field);
      expect((caught as RequestFieldError).message).toMatch(rejection.message);
    });
  }
});
