/**
 * The upstream request for AWS Bedrock. The region and credential row follow the region rule.
 * Anthropic models go through InvokeModel with Anthropic's body, so Anthropic-format clients pass
 * through, and other models through Converse with the Converse adapter. Every request is signed
 * with SigV4 over the exact bytes sent, and the binary event stream is decoded into events.
 */
import { randomUUID } from 'node:crypto';
import { headerText } from '../http/headers.js';
import type { ForwardRequest, ResponseHandling, StreamDecoder } from './forward.js';
import type { ProxyCall } from './proxy-call.js';
import type { SseEvent } from './sse/sse-parser.js';
import { parseAnthropicRequest } from './translation/anthropic-messages/request.js';
import { renderAnthropicResponse } from './translation/anthropic-messages/response.js';
import { AnthropicStreamRenderer } from './translation/anthropic-messages/stream.js';
import { renderConverseRequest } from './translation/bedrock-converse/request.js';
import { parseConverseResponse } from './translation/bedrock-converse/response.js';
import { ConverseStreamParser } from './translation/bedrock-converse/stream.js';
import type { ChatRequest } from './translation/ir.js';
import { parseOpenAiChatRequest } from './translation/openai-chat/request.js';
import { renderOpenAiChatResponse } from './translation/openai-chat/response.js';
import { OpenAiChatStreamRenderer } from './translation/openai-chat/stream.js';
import type { ToolIdMap } from './translation/tool-ids.js';
import { translatedHandling, type StreamParser, type StreamRenderer, type TranslationHooks } from './translation/translated-handling.js';
import { bedrockRuntimeUrl } from './upstream/bedrock/bedrock-endpoints.js';
import { mapBedrockHttpError, mapBedrockStreamException, type BedrockErrorContext } from './upstream/bedrock/bedrock-errors.js';
import {
  BedrockEventStreamDecoder,
  BedrockEventStreamError,
  invokeChunkToSseEvent,
  type DecodedBedrockEvent,
} from './upstream/bedrock/bedrock-event-stream.js';
import { prepareBedrockInvokeRequest } from './upstream/bedrock/bedrock-invoke.js';
import { bedrockApiHeader, chooseBedrockApi, isAnthropicModel, parseBedrockModelId } from './upstream/bedrock/bedrock-model.js';
import { bedrockRegionHeader, chooseBedrockRegion } from './upstream/bedrock/bedrock-region.js';
import type { BedrockSignerCache } from './upstream/bedrock/bedrock-signer.js';
import type { UpstreamRequestInput } from './upstream-request.js';
import { anthropicBodyFor, clientModelOf, forwardRequestOf, translationHooksOf } from './upstream-request-parts.js';
import { ProxyError } from './errors.js';

type Json = Record<string, unknown>;

export async function buildBedrockRequest(input: UpstreamRequestInput, signers: BedrockSignerCache): Promise<ForwardRequest> {
  if (input.credentials.kind !== 'BEDROCK_REGIONS') {
    throw ProxyError.gateway('internal_error', 'The AWS Bedrock credential is not a set of regions.');
  }
  const model = unwrap(parseBedrockModelId(input.model));
  const api = unwrap(chooseBedrockApi(model, headerText(input.requestHeaders[bedrockApiHeader])));
  const choice = unwrap(
    chooseBedrockRegion({
      model,
      regionHeader: headerText(input.requestHeaders[bedrockRegionHeader]),
      rows: input.credentials.regions,
      settings: input.settings,
      providerKeyLabel: input.providerKeyLabel,
    }),
  );
  const row = choice.credentials;
  const secrets = [row.secretAccessKey, row.accessKeyId];
  const errorContext: BedrockErrorContext = { providerKeyId: input.providerKeyLabel, region: choice.region, modelId: model.id, secrets };
  const signer = signers.get(input.credentialsKey.providerKeyId, input.credentialsKey.credentialsVersion, row, choice.region);

  let url: URL;
  let headers: Record<string, string>;
  let body: string;
  let handling: ResponseHandling;
  let decoder: () => StreamDecoder;
  if (api === 'invoke') {
    const plan = anthropicBodyFor(input, secrets);
    const prepared = prepareBedrockInvokeRequest({
      region: choice.region,
      modelId: model.id,
      stream: input.stream,
      clientBody: plan.body,
      anthropicBeta: input.dialect === 'anthropic' ? headerText(input.requestHeaders['anthropic-beta']) : undefined,
    });
    ({ url, headers, body } = prepared);
    handling = plan.handling;
    decoder = () => new BedrockStreamDecoder(errorContext, 'invoke');
  } else {
    const request = input.dialect === 'openai' ? parseOpenAiChatRequest(input.body, model.id) : parseAnthropicRequest(input.body, model.id);
    const rendered = renderConverseRequest(request, {
      anthropicModel: isAnthropicModel(model),
      defaultMaxTokens: input.catalogEntry?.maxOutputTokens,
    });
    url = bedrockRuntimeUrl(choice.region, model.id, input.stream ? 'converse-stream' : 'converse');
    headers = { 'content-type': 'application/json', accept: 'application/json' };
    body = JSON.stringify(rendered.body);
    handling = converseHandling(input, request, rendered.toolIds, translationHooksOf(input, secrets), errorContext);
    decoder = () => new BedrockStreamDecoder(errorContext, 'converse');
  }

  return forwardRequestOf(input, secrets, {
    url,
    headers: await signer.sign({ method: 'POST', url, headers, body }),
    body,
    handling,
    createDecoder: decoder,
    // Bedrock reports some failures as an exception frame inside a 200 stream; when that frame
    // comes first, the client still gets an HTTP error.
    commitOnFirstEvent: true,
    mapError: (response) => mapBedrockHttpError(response, errorContext),
    region: choice.region,
  });
}

/** Converse's body and stream, parsed into the IR and rendered in the client's format. */
function converseHandling(
  input: UpstreamRequestInput,
  request: ChatRequest,
  toolIds: ToolIdMap,
  hooks: TranslationHooks,
  errorContext: BedrockErrorContext,
): ResponseHandling {
  const model = clientModelOf(input);
  const restoreToolCallId = toolIds.size > 0 ? (id: string) => toolIds.restore(id) : undefined;
  // Converse returns no message id; the upstream request id is as good, and can be looked up at AWS.
  const messageId = randomUUID();
  const parseBody = (body: Json, call: ProxyCall) => parseConverseResponse(body, { id: call.upstreamRequestId ?? messageId, model });
  const converse = new ConverseStreamParser({ id: messageId, model, errorContext });
  const parser: StreamParser = {
    push: (event) => converse.push({ kind: 'event', type: event.event ?? '', payload: JSON.parse(event.data) as Json }),
    end: () => converse.end(),
    get rawUsage() {
      return converse.rawUsage;
    },
  };
  const renderer: StreamRenderer =
    input.dialect === 'openai'
      ? new OpenAiChatStreamRenderer({ model, includeUsage: request.streamUsage, restoreToolCallId })
      : new AnthropicStreamRenderer({ model, restoreToolCallId });
  return translatedHandling({
    hooks,
    isErrorEvent: () => false,
    parseBody,
    renderBody: (response) =>
      input.dialect === 'openai'
        ? renderOpenAiChatResponse(response, { model, created: Math.floor(Date.now() / 1000), toolIds })
        : renderAnthropicResponse(response, { model, toolIds }),
    parser,
    renderer,
  });
}

/**
 * Decodes Bedrock's event stream into events for the stream handling: Invoke `chunk` payloads into
 * the Anthropic events they carry, Converse events into an event named by its type with its JSON
 * payload. An exception frame ends the stream with the mapped error. Events decoded before it in
 * the same read are returned first, so that the client gets them, and the error is thrown at the
 * next call.
 */
class BedrockStreamDecoder implements StreamDecoder {
  readonly #decoder = new BedrockEventStreamDecoder();
  #error: ProxyError | undefined;

  constructor(
    private readonly errorContext: BedrockErrorContext,
    private readonly api: 'invoke' | 'converse',
  ) {}

  push(chunk: Buffer): SseEvent[] {
    if (this.#error) throw this.#error;
    const events: SseEvent[] = [];
    for (const decoded of this.#decode(() => this.#decoder.push(chunk))) {
      if (decoded.kind === 'exception') {
        this.#error = mapBedrockStreamException(decoded, this.errorContext);
        break;
      }
      if (this.api === 'invoke') {
        const event = invokeChunkToSseEvent(decoded);
        if (event) events.push(event);
      } else {
        events.push({ event: decoded.type, data: JSON.stringify(decoded.payload) });
      }
    }
    if (events.length === 0 && this.#error) throw this.#error;
    return events;
  }

  end(): SseEvent[] {
    if (this.#error) throw this.#error;
    this.#decode(() => this.#decoder.end());
    return [];
  }

  /** Runs the decoder, turning invalid bytes into the 502 the client gets. */
  #decode(step: () => DecodedBedrockEvent[]): DecodedBedrockEvent[] {
    try {
      return step();
    } catch (error) {
      if (!(error instanceof BedrockEventStreamError)) throw error;
      throw new ProxyError({
        status: 502,
        type: 'api_error',
        code: 'upstream_error',
        message: `AWS Bedrock sent an invalid event stream: ${error.message}`,
        upstreamCode: error.code,
        providerKeyId: this.errorContext.providerKeyId ?? null,
      });
    }
  }
}

function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: ProxyError }): T {
  if (!result.ok) throw result.error;
  return result.value;
}
