import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import type { UpstreamOverride } from '../../../src/config/upstream.config.js';
import { countTokens, randomId, sendJsonBody, splitArguments, splitText, type FakeToolCall } from './fake-server.js';
import { verifySigV4, type SigV4Credential } from './sigv4-verifier.js';

/**
 * A fake of AWS Bedrock: the runtime (`bedrock-runtime.<region>.amazonaws.com`: Converse,
 * ConverseStream, InvokeModel, InvokeModelWithResponseStream) and the control plane's
 * ListFoundationModels (`bedrock.<region>.amazonaws.com`), for every region it is given, on one
 * port of 127.0.0.1. Clients reach it through connection-level overrides that keep the real URL
 * and Host. It verifies each request's SigV4 signature against the expected secret, region, host
 * and body, and records what it received. Its responses have Bedrock's formats: JSON errors named
 * by `x-amzn-errortype`, and binary event streams with `:event-type` headers and padded JSON payloads.
 * test/bedrock/sdk-fidelity.test.ts runs the official AWS and Anthropic Bedrock SDKs against it.
 */

export interface FakeBedrockOptions {
  /** The access keys the fake accepts; any other key id gets UnrecognizedClientException. */
  credentials: readonly SigV4Credential[];
  /** Regions it serves, each with a runtime and a control plane host. */
  regions: readonly string[];
  /** Model ids listed by ListFoundationModels. */
  foundationModels?: readonly string[];
}

export interface FakeBedrockReply {
  /** Defaults to a greeting, unless toolCalls are given. */
  text?: string;
  toolCalls?: FakeToolCall[];
  /** Reasoning sent before the text, with its signature. */
  reasoning?: { text: string; signature: string };
  /** Replaces the stop reason the reply would have (`end_turn` or `tool_use`). */
  stopReason?: string;
  /** Characters per streamed text delta; by default the text streams word by word. */
  deltaSize?: number;
}

export interface FakeBedrockError {
  status: number;
  /** The exception name sent in `x-amzn-errortype`, such as `ThrottlingException`. */
  exception: string;
  message?: string;
  headers?: Record<string, string>;
}

/** One raw event stream frame, for scripted streams. */
export interface FakeBedrockFrame {
  /** `event` (the default), `exception` or `error`. */
  messageType?: 'event' | 'exception' | 'error';
  /** `:event-type` of an event, `:exception-type` of an exception, `:error-code` of an error. */
  type: string;
  /** The JSON payload; an exception's is `{message}`. */
  payload?: unknown;
  /** The `:error-message` header of an error frame. */
  errorMessage?: string;
}

/** What the fake does with one request that passed its checks; behaviours apply in arrival order. */
export interface FakeBedrockBehaviour {
  reply?: FakeBedrockReply;
  /** Responds with this HTTP error instead. */
  error?: FakeBedrockError;
  /** Ends a stream with this exception frame after that many deltas; 0 sends the exception alone. */
  streamException?: { afterDeltas: number; exception: string; message?: string };
  /** Sends these frames as the whole stream body instead of generating one. */
  frames?: FakeBedrockFrame[];
  /** Writes the stream body in pieces of this many bytes, so frames straddle writes. */
  writeChunkBytes?: number;
  /** Waits this long before sending the response headers. */
  headersDelayMs?: number;
}

export interface RecordedBedrockRequest {
  method: string;
  /** The request target as received: path and query, still percent-encoded. */
  rawTarget: string;
  host: string | undefined;
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  /** The JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
  /** The region of the host, when it is one the fake serves. */
  region?: string;
  /** The operation, such as `converse-stream`, or `list-foundation-models`. */
  operation?: string;
  /** The model id, percent-decoded from the path. */
  modelId?: string;
  /** The access key id of an accepted signature. */
  accessKeyId?: string;
  /** The canonical request of an accepted signature. */
  canonicalRequest?: string;
  /** Why the fake rejected the request instead of serving it, such as a signature mismatch. */
  rejection?: string;
}

export interface FakeBedrock {
  /** Where the fake listens: `http://127.0.0.1:PORT`. */
  readonly address: string;
  /** One override per served host: the runtime and control plane of each region. */
  readonly overrides: UpstreamOverride[];
  readonly requests: RecordedBedrockRequest[];
  enqueue(...behaviours: FakeBedrockBehaviour[]): void;
  /** Resolves with the request numbered `count` (1-based) once it has arrived. */
  waitForRequest(count?: number, timeoutMs?: number): Promise<RecordedBedrockRequest>;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;

const codec = new EventStreamCodec(
  (bytes: Uint8Array) => new TextDecoder().decode(bytes),
  (text: string) => new TextEncoder().encode(text),
);

const defaultFoundationModels = [
  'anthropic.claude-3-5-haiku-20241022-v1:0',
  'anthropic.claude-sonnet-4-5-20250929-v1:0',
  'amazon.nova-pro-v1:0',
  'meta.llama3-1-70b-instruct-v1:0',
];

const hostPattern = /^(bedrock-runtime|bedrock)\.([a-z0-9-]+)\.amazonaws\.com$/;
const runtimePathPattern = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|converse|converse-stream)$/;
const geographyPrefix = /^(us|us-gov|eu|apac|jp|au|global)\./;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Bedrock's `x-amzn-errortype` carries the exception name and a namespace URL after a colon. */
function sendError(response: ServerResponse, error: FakeBedrockError): void {
  sendJsonBody(response, error.status, { message: error.message ?? `${error.exception} from the fake Bedrock` }, {
    'x-amzn-errortype': `${error.exception}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    'x-amzn-requestid': randomUUID(),
    ...error.headers,
  });
}

function validationError(response: ServerResponse, message: string): void {
  sendError(response, { status: 400, exception: 'ValidationException', message });
}

/** Returns random padding like the `p` field Bedrock adds to stream payloads, so that their sizes reveal nothing. */
function padding(): string {
  return randomBytes(1 + Math.floor(Math.random() * 12)).toString('hex');
}

function encodeFrame(frame: FakeBedrockFrame): Uint8Array {
  const messageType = frame.messageType ?? 'event';
  const headers: MessageHeaders = { ':message-type': { type: 'string', value: messageType } };
  let payload: unknown = frame.payload ?? {};
  if (messageType === 'event') {
    headers[':event-type'] = { type: 'string', value: frame.type };
    headers[':content-type'] = { type: 'string', value: 'application/json' };
    if (isRecord(payload)) payload = { ...payload, p: padding() };
  } else if (messageType === 'exception') {
    headers[':exception-type'] = { type: 'string', value: frame.type };
    headers[':content-type'] = { type: 'string', value: 'application/json' };
  } else {
    headers[':error-code'] = { type: 'string', value: frame.type };
    headers[':error-message'] = { type: 'string', value: frame.errorMessage ?? '' };
    payload = undefined;
  }
  const body = payload === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(payload));
  return codec.encode({ headers, body });
}

/** Returns the foundation model behind an id, profile or ARN, or undefined when the ARN does not name one. */
function foundationModelOf(modelId: string): string | undefined {
  if (modelId.startsWith('arn:')) {
    const resource = modelId.slice(modelId.indexOf('/') + 1);
    if (/:(foundation-model|inference-profile)\//.test(modelId)) return resource.replace(geographyPrefix, '');
    return undefined;
  }
  return modelId.replace(geographyPrefix, '');
}

interface PreparedReply {
  text: string;
  toolCalls: Array<{ id: string; name: string; arguments: Record<string, unknown>; json: string }>;
  reasoning: { text: string; signature: string } | undefined;
  stopReason: string;
  deltaSize: number | undefined;
  inputTokens: number;
  outputTokens: number;
}

function prepareReply(reply: FakeBedrockReply, input: unknown): PreparedReply {
  const toolCalls = (reply.toolCalls ?? []).map((call) => ({
    id: call.id ?? randomId('tooluse_', 22),
    name: call.name,
    arguments: call.arguments,
    json: JSON.stringify(call.arguments),
  }));
  const text = reply.text ?? (toolCalls.length > 0 ? '' : 'Hello from the fake Bedrock.');
  return {
    text,
    toolCalls,
    reasoning: reply.reasoning,
    stopReason: reply.stopReason ?? (toolCalls.length > 0 ? 'tool_use' : 'end_turn'),
    deltaSize: reply.deltaSize,
    inputTokens: countTokens(input),
    outputTokens: countTokens(text) + toolCalls.reduce((sum, call) => sum + countTokens(call.json), 0),
  };
}

// ---------------------------------------------------------------------------------------------
// Request checks that translation bugs tend to hit

const converseFields = new Set([
  'messages', 'system', 'inferenceConfig', 'toolConfig', 'additionalModelRequestFields', 'additionalModelResponseFieldPaths',
  'guardrailConfig', 'performanceConfig', 'requestMetadata', 'promptVariables', 'serviceTier',
]);
const converseBlockKeys = new Set(['text', 'image', 'document', 'video', 'toolUse', 'toolResult', 'reasoningContent', 'cachePoint', 'guardContent', 'citationsContent']);
const inferenceConfigFields = new Set(['maxTokens', 'temperature', 'topP', 'stopSequences']);

/** Returns the ValidationException message for a Converse body Bedrock would reject, or undefined. */
function checkConverseBody(body: unknown): string | undefined {
  if (!isRecord(body)) return 'The request body is not a JSON object.';
  const unknown = Object.keys(body).find((field) => !converseFields.has(field));
  if (unknown) return `Malformed input request: extraneous key [${unknown}] is not permitted.`;
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'The messages field is required and must not be empty.';
  let previousRole: unknown;
  let usesTools = false;
  for (const [index, message] of body.messages.entries()) {
    if (!isRecord(message) || (message.role !== 'user' && message.role !== 'assistant')) return `messages.${index}.role must be user or assistant.`;
    if (message.role === previousRole) {
      return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    }
    previousRole = message.role;
    if (!Array.isArray(message.content) || message.content.length === 0) return `messages.${index}.content must not be empty.`;
    for (const block of message.content) {
      const keys = isRecord(block) ? Object.keys(block) : [];
      if (keys.length !== 1 || !converseBlockKeys.has(keys[0]!)) return `messages.${index}.content has a block that is not exactly one content type.`;
      if (keys[0] === 'text' && (typeof (block as Json).text !== 'string' || ((block as Json).text as string).trim() === '')) {
        return 'The text field in the ContentBlock object is blank. Add text to the text field, and try again.';
      }
      if (keys[0] === 'toolUse' || keys[0] === 'toolResult') usesTools = true;
      if (keys[0] === 'toolResult') {
        const result = (block as Json).toolResult as Json;
        const content = Array.isArray(result.content) ? (result.content as unknown[]) : [];
        if (content.length === 0) return `messages.${index}.content has a toolResult without content.`;
        if (content.some((item) => isRecord(item) && typeof item.text === 'string' && item.text.trim() === '')) {
          return 'The text field in the ToolResultContentBlock object is blank. Add text to the text field, and try again.';
        }
      }
    }
  }
  if (usesTools && !isRecord(body.toolConfig)) return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  if (body.inferenceConfig !== undefined) {
    if (!isRecord(body.inferenceConfig)) return 'inferenceConfig must be an object.';
    const extra = Object.keys(body.inferenceConfig).find((field) => !inferenceConfigFields.has(field));
    if (extra) return `Malformed input request: inferenceConfig has the unknown field [${extra}].`;
  }
  return undefined;
}

/**
 * Checks an InvokeModel body for Claude. The fields checked are those a gateway must change:
 * `model` and `stream` must be gone and `anthropic_version` present.
 */
// NOTE: real Bedrock rejects more unknown fields than these, but the fake checks only the ones the
// gateway rewrites.
function checkInvokeBody(body: unknown): string | undefined {
  if (!isRecord(body)) return 'Malformed input request: the body is not a JSON object.';
  for (const field of ['model', 'stream', 'tags']) {
    if (field in body) return `Malformed input request: #: extraneous key [${field}] is not permitted, please reformat your input and try again.`;
  }
  if (typeof body.anthropic_version !== 'string') return 'Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.';
  if (typeof body.max_tokens !== 'number') return 'Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again.';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'Malformed input request: #: required key [messages] not found, please reformat your input and try again.';
  if (body.anthropic_beta !== undefined && (!Array.isArray(body.anthropic_beta) || !body.anthropic_beta.every((beta) => typeof beta === 'string'))) {
    return 'Malformed input request: #/anthropic_beta: expected type: JSONArray of strings.';
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Streams

/** Writes frames with backpressure, counting deltas for a scripted exception. */
class FrameWriter {
  #deltas = 0;

  constructor(
    private readonly response: ServerResponse,
    private readonly behaviour: FakeBedrockBehaviour,
  ) {}

  get open(): boolean {
    return !this.response.destroyed && !this.response.writableEnded;
  }

  start(contentType: Record<string, string>): void {
    this.response.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': randomUUID(), ...contentType });
    this.response.flushHeaders();
  }

  async frame(frame: FakeBedrockFrame): Promise<boolean> {
    return this.#write(encodeFrame(frame));
  }

  /** Writes a delta frame, or the scripted exception when its count is reached. */
  async delta(frame: FakeBedrockFrame): Promise<boolean> {
    if (!(await this.#exceptionDue())) return false;
    this.#deltas += 1;
    return this.frame(frame);
  }

  /** Sends the scripted exception if it is due after the last delta; returns false when it was sent. */
  async #exceptionDue(): Promise<boolean> {
    const scripted = this.behaviour.streamException;
    if (scripted === undefined || this.#deltas < scripted.afterDeltas) return this.open;
    await this.frame({ messageType: 'exception', type: scripted.exception, payload: { message: scripted.message ?? `${scripted.exception} from the fake Bedrock` } });
    this.end();
    return false;
  }

  finishDeltas(): Promise<boolean> {
    return this.#exceptionDue();
  }

  end(): void {
    if (this.open) this.response.end();
  }

  async #write(bytes: Uint8Array): Promise<boolean> {
    if (!this.open) return false;
    const size = this.behaviour.writeChunkBytes ?? bytes.byteLength;
    for (let offset = 0; offset < bytes.byteLength; offset += size) {
      if (!this.response.write(bytes.subarray(offset, offset + size))) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.response.off('drain', done);
            this.response.off('close', done);
            resolve();
          };
          this.response.on('drain', done);
          this.response.on('close', done);
        });
      }
      if (this.behaviour.writeChunkBytes !== undefined) await sleep(1);
      if (!this.open) return false;
    }
    return true;
  }
}

async function streamConverse(writer: FrameWriter, reply: PreparedReply): Promise<void> {
  if (!(await writer.frame({ type: 'messageStart', payload: { role: 'assistant' } }))) return;

  let index = 0;
  if (reply.reasoning) {
    for (const piece of splitText(reply.reasoning.text, reply.deltaSize)) {
      if (!(await writer.delta({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { reasoningContent: { text: piece } } } }))) return;
    }
    const signature = { contentBlockIndex: index, delta: { reasoningContent: { signature: reply.reasoning.signature } } };
    if (!(await writer.frame({ type: 'contentBlockDelta', payload: signature }))) return;
    if (!(await writer.frame({ type: 'contentBlockStop', payload: { contentBlockIndex: index } }))) return;
    index += 1;
  }

  if (reply.text !== '') {
    for (const piece of splitText(reply.text, reply.deltaSize)) {
      if (!(await writer.delta({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { text: piece } } }))) return;
    }
    if (!(await writer.frame({ type: 'contentBlockStop', payload: { contentBlockIndex: index } }))) return;
    index += 1;
  }

  for (const call of reply.toolCalls) {
    const start = { contentBlockIndex: index, start: { toolUse: { toolUseId: call.id, name: call.name } } };
    if (!(await writer.frame({ type: 'contentBlockStart', payload: start }))) return;
    for (const fragment of splitArguments(call.json)) {
      if (!(await writer.delta({ type: 'contentBlockDelta', payload: { contentBlockIndex: index, delta: { toolUse: { input: fragment } } } }))) return;
    }
    if (!(await writer.frame({ type: 'contentBlockStop', payload: { contentBlockIndex: index } }))) return;
    index += 1;
  }

  if (!(await writer.finishDeltas())) return;
  if (!(await writer.frame({ type: 'messageStop', payload: { stopReason: reply.stopReason } }))) return;
  const usage = { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens, totalTokens: reply.inputTokens + reply.outputTokens };
  if (!(await writer.frame({ type: 'metadata', payload: { usage, metrics: { latencyMs: 42 } } }))) return;
  writer.end();
}

/** Builds an InvokeModelWithResponseStream frame: one Anthropic event as base64 JSON in `bytes`. */
function chunk(event: Json): FakeBedrockFrame {
  return { type: 'chunk', payload: { bytes: Buffer.from(JSON.stringify(event), 'utf8').toString('base64') } };
}

async function streamInvoke(writer: FrameWriter, reply: PreparedReply, model: string): Promise<void> {
  const message = {
    id: randomId('msg_bdrk_'),
    type: 'message',
    role: 'assistant',
    model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: reply.inputTokens, output_tokens: 1 },
  };
  if (!(await writer.frame(chunk({ type: 'message_start', message })))) return;

  let index = 0;
  if (reply.reasoning) {
    if (!(await writer.frame(chunk({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } })))) return;
    for (const piece of splitText(reply.reasoning.text, reply.deltaSize)) {
      if (!(await writer.delta(chunk({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: piece } })))) return;
    }
    if (!(await writer.frame(chunk({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: reply.reasoning.signature } })))) return;
    if (!(await writer.frame(chunk({ type: 'content_block_stop', index })))) return;
    index += 1;
  }

  if (reply.text !== '') {
    if (!(await writer.frame(chunk({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } })))) return;
    for (const piece of splitText(reply.text, reply.deltaSize)) {
      if (!(await writer.delta(chunk({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } })))) return;
    }
    if (!(await writer.frame(chunk({ type: 'content_block_stop', index })))) return;
    index += 1;
  }

  for (const call of reply.toolCalls) {
    if (!(await writer.frame(chunk({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: call.id, name: call.name, input: {} } })))) return;
    for (const fragment of splitArguments(call.json)) {
      if (!(await writer.delta(chunk({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: fragment } })))) return;
    }
    if (!(await writer.frame(chunk({ type: 'content_block_stop', index })))) return;
    index += 1;
  }

  if (!(await writer.finishDeltas())) return;
  const delta = { type: 'message_delta', delta: { stop_reason: reply.stopReason, stop_sequence: null }, usage: { output_tokens: reply.outputTokens } };
  if (!(await writer.frame(chunk(delta)))) return;
  // Bedrock adds its invocation metrics to the last event.
  const metrics = { inputTokenCount: reply.inputTokens, outputTokenCount: reply.outputTokens, invocationLatency: 42, firstByteLatency: 7 };
  if (!(await writer.frame(chunk({ type: 'message_stop', 'amazon-bedrock-invocationMetrics': metrics })))) return;
  writer.end();
}

// ---------------------------------------------------------------------------------------------
// Routes

function converseMessage(reply: PreparedReply): Json {
  const content: Json[] = [];
  if (reply.reasoning) content.push({ reasoningContent: { reasoningText: { text: reply.reasoning.text, signature: reply.reasoning.signature } } });
  if (reply.text !== '') content.push({ text: reply.text });
  for (const call of reply.toolCalls) content.push({ toolUse: { toolUseId: call.id, name: call.name, input: call.arguments } });
  return { role: 'assistant', content };
}

function invokeMessage(reply: PreparedReply, model: string): Json {
  const content: Json[] = [];
  if (reply.reasoning) content.push({ type: 'thinking', thinking: reply.reasoning.text, signature: reply.reasoning.signature });
  if (reply.text !== '') content.push({ type: 'text', text: reply.text });
  for (const call of reply.toolCalls) content.push({ type: 'tool_use', id: call.id, name: call.name, input: call.arguments });
  return {
    id: randomId('msg_bdrk_'),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: reply.stopReason,
    stop_sequence: null,
    usage: { input_tokens: reply.inputTokens, output_tokens: reply.outputTokens },
  };
}

async function serveRuntime(request: RecordedBedrockRequest, response: ServerResponse, behaviour: FakeBedrockBehaviour): Promise<void> {
  const route = runtimePathPattern.exec(request.rawTarget.split('?', 1)[0]!);
  if (request.method !== 'POST' || !route) {
    sendError(response, { status: 404, exception: 'UnknownOperationException', message: `No operation ${request.method} ${request.rawTarget}.` });
    return;
  }
  const modelId = decodeURIComponent(route[1]!);
  const operation = route[2]!;
  request.modelId = modelId;
  request.operation = operation;
  const foundationModel = foundationModelOf(modelId);
  const writer = new FrameWriter(response, behaviour);

  if (behaviour.frames !== undefined) {
    writer.start({});
    for (const frame of behaviour.frames) if (!(await writer.frame(frame))) return;
    writer.end();
    return;
  }

  if (operation === 'converse' || operation === 'converse-stream') {
    const invalid = checkConverseBody(request.body);
    if (invalid) return validationError(response, invalid);
    const body = request.body as Json;
    const reply = prepareReply(behaviour.reply ?? {}, [body.system, body.messages, body.toolConfig]);
    if (operation === 'converse') {
      const usage = { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens, totalTokens: reply.inputTokens + reply.outputTokens };
      sendJsonBody(response, 200, { output: { message: converseMessage(reply) }, stopReason: reply.stopReason, usage, metrics: { latencyMs: 42 } }, { 'x-amzn-requestid': randomUUID() });
      return;
    }
    writer.start({});
    await streamConverse(writer, reply);
    return;
  }

  if (foundationModel !== undefined && !foundationModel.startsWith('anthropic.')) {
    return validationError(response, `The fake Bedrock serves InvokeModel for Anthropic models only, not ${foundationModel}.`);
  }
  const invalid = checkInvokeBody(request.body);
  if (invalid) return validationError(response, invalid);
  const body = request.body as Json;
  const reply = prepareReply(behaviour.reply ?? {}, [body.system, body.messages, body.tools]);
  const model = foundationModel ?? modelId;
  if (operation === 'invoke') {
    sendJsonBody(response, 200, invokeMessage(reply, model), {
      'x-amzn-requestid': randomUUID(),
      'x-amzn-bedrock-input-token-count': String(reply.inputTokens),
      'x-amzn-bedrock-output-token-count': String(reply.outputTokens),
      'x-amzn-bedrock-invocation-latency': '42',
    });
    return;
  }
  writer.start({ 'x-amzn-bedrock-content-type': 'application/json' });
  await streamInvoke(writer, reply, model);
}

function serveControlPlane(request: RecordedBedrockRequest, response: ServerResponse, models: readonly string[]): void {
  const [path, query = ''] = request.rawTarget.split('?', 2) as [string, string?];
  if (request.method !== 'GET' || path !== '/foundation-models') {
    sendError(response, { status: 404, exception: 'UnknownOperationException', message: `No operation ${request.method} ${path}.` });
    return;
  }
  request.operation = 'list-foundation-models';
  const byProvider = new URLSearchParams(query).get('byProvider')?.toLowerCase();
  const summaries = models
    .filter((id) => byProvider === undefined || id.split('.', 1)[0] === byProvider)
    .map((id) => ({
      modelArn: `arn:aws:bedrock:${request.region}::foundation-model/${id}`,
      modelId: id,
      modelName: id,
      providerName: id.split('.', 1)[0],
      inputModalities: ['TEXT'],
      outputModalities: ['TEXT'],
      responseStreamingSupported: true,
      customizationsSupported: [],
      inferenceTypesSupported: ['ON_DEMAND'],
      modelLifecycle: { status: 'ACTIVE' },
    }));
  sendJsonBody(response, 200, { modelSummaries: summaries }, { 'x-amzn-requestid': randomUUID() });
}

function readBody(incoming: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (part: Buffer) => chunks.push(part));
    incoming.on('end', () => resolve(Buffer.concat(chunks)));
    incoming.on('error', reject);
  });
}

/** Starts the fake on 127.0.0.1, port 0. */
export async function startFakeBedrock(options: FakeBedrockOptions): Promise<FakeBedrock> {
  const requests: RecordedBedrockRequest[] = [];
  const queue: FakeBedrockBehaviour[] = [];
  const arrivalWaiters: (() => void)[] = [];
  const models = options.foundationModels ?? defaultFoundationModels;

  async function handle(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    const rawBody = await readBody(incoming);
    let body: unknown;
    try {
      body = rawBody.byteLength > 0 ? JSON.parse(rawBody.toString('utf8')) : undefined;
    } catch {
      body = undefined;
    }
    const host = incoming.headers.host;
    const request: RecordedBedrockRequest = { method: incoming.method ?? 'GET', rawTarget: incoming.url ?? '/', host, headers: incoming.headers, rawBody, body };
    requests.push(request);
    for (const wake of arrivalWaiters.splice(0)) wake();

    const hostMatch = host === undefined ? null : hostPattern.exec(host);
    if (!hostMatch || !options.regions.includes(hostMatch[2]!)) {
      request.rejection = `Host ${JSON.stringify(host)} is not a Bedrock host of the regions ${options.regions.join(', ')}`;
      sendJsonBody(response, 421, { message: `fake Bedrock: ${request.rejection}` });
      return;
    }
    request.region = hostMatch[2]!;

    const verdict = verifySigV4({ method: request.method, rawTarget: request.rawTarget, headers: incoming.headers, body: rawBody }, {
      credentials: options.credentials,
      region: request.region,
      service: 'bedrock',
    });
    if (!verdict.ok) {
      request.rejection = `${verdict.exception}: ${verdict.message}`;
      sendError(response, { status: verdict.status, exception: verdict.exception, message: verdict.message });
      return;
    }
    request.accessKeyId = verdict.accessKeyId;
    request.canonicalRequest = verdict.canonicalRequest;

    const behaviour = queue.shift() ?? {};
    if (behaviour.headersDelayMs) await sleep(behaviour.headersDelayMs);
    if (response.destroyed) return;
    if (behaviour.error) {
      sendError(response, behaviour.error);
      return;
    }
    if (hostMatch[1] === 'bedrock') serveControlPlane(request, response, models);
    else await serveRuntime(request, response, behaviour);
  }

  const server = createServer((incoming, response) => {
    handle(incoming, response).catch((error: unknown) => {
      if (!response.headersSent) sendJsonBody(response, 500, { message: `fake Bedrock failed: ${String(error)}` });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const overrides = options.regions.flatMap((region) => [
    { origin: `https://bedrock-runtime.${region}.amazonaws.com`, address },
    { origin: `https://bedrock.${region}.amazonaws.com`, address },
  ]);

  return {
    address,
    overrides,
    requests,
    enqueue(...behaviours) {
      queue.push(...behaviours);
    },
    async waitForRequest(count = requests.length + 1, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (requests.length < count) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`fake Bedrock: request ${count} did not arrive within ${timeoutMs} ms`);
        await Promise.race([new Promise<void>((resolve) => arrivalWaiters.push(resolve)), sleep(remaining)]);
      }
      return requests[count - 1]!;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Encodes frames as a complete event stream body, for decoder tests that need recorded bytes. */
export function encodeEventStream(frames: readonly FakeBedrockFrame[]): Uint8Array {
  const encoded = frames.map(encodeFrame);
  const out = new Uint8Array(encoded.reduce((sum, frame) => sum + frame.byteLength, 0));
  let offset = 0;
  for (const frame of encoded) {
    out.set(frame, offset);
    offset += frame.byteLength;
  }
  return out;
}
