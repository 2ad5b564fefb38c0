import { ProxyError } from '../../errors.js';

/**
 * The Vertex endpoint that serves a model, and the model id that endpoint takes. The client model
 * is what follows `vertex/` (or `google/`) in the client's model reference.
 *
 * | client model                                 | endpoint                           | upstream model         |
 * |----------------------------------------------|------------------------------------|------------------------|
 * | `claude-…`, `anthropic/claude-…`             | Claude rawPredict (Anthropic body) | `claude-…`, in the URL |
 * | `publishers/anthropic/models/claude-…`       | Claude rawPredict (Anthropic body) | `claude-…`, in the URL |
 * | `gemini-…` and any other id without a `/`    | OpenAI-compatible chat completions | `google/<model>`       |
 * | `<publisher>/<model>` (`google/…`, `meta/…`) | OpenAI-compatible chat completions | as written             |
 * | `publishers/<publisher>/models/<model>`      | OpenAI-compatible chat completions | `<publisher>/<model>`  |
 *
 * So `/v1/messages` is native for Claude and translated for every other model, and
 * `/v1/chat/completions` is native for every model but Claude, which is translated.
 * count_tokens exists only for Claude (`count-tokens:rawPredict`); other models get a 404.
 */
export type VertexRoute =
  | {
      endpoint: 'anthropic';
      /** The Vertex model id, such as `claude-sonnet-4-5@20250929`, for the URL path. */
      model: string;
    }
  | {
      endpoint: 'openai-compatible';
      /** `publisher/model`, such as `google/gemini-2.5-flash`, for the body's `model`. */
      model: string;
    };

/** Publishers are lowercase names such as `google`, `anthropic`, `meta`, `mistralai`, `xai`. */
const publisherPattern = /^[a-z][a-z0-9-]{0,62}$/;
/**
 * Model ids as Vertex writes them: letters, digits, `.`, `_`, `-`, and `@` before a version date.
 * Nothing else, because Claude's id becomes a URL path segment.
 */
const modelIdPattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$/;
const resourceName = /^publishers\/([^/]+)\/models\/([^/]+)$/;

function invalidModel(model: string, reason: string): ProxyError {
  return ProxyError.gateway(
    'invalid_request_error',
    `The Vertex AI model ${JSON.stringify(model.slice(0, 200))} ${reason}; write a model id such as gemini-2.5-flash, claude-sonnet-4-5@20250929 or meta/llama-4-maverick-17b-128e-instruct-maas.`,
    { param: 'model' },
  );
}

/** Splits the model into publisher and model id. A model without a publisher is Google's, unless it is Claude. */
function splitPublisher(model: string): { publisher: string; id: string } {
  const resource = resourceName.exec(model);
  if (resource) return { publisher: resource[1]!, id: resource[2]! };
  const slash = model.indexOf('/');
  if (slash === -1) return { publisher: model.startsWith('claude-') ? 'anthropic' : 'google', id: model };
  return { publisher: model.slice(0, slash), id: model.slice(slash + 1) };
}

/** Applies the table at the top of this file. Throws a 400 ProxyError for a model that cannot be a Vertex model id. */
export function dispatchVertexModel(model: string): VertexRoute {
  const { publisher, id } = splitPublisher(model);
  if (!publisherPattern.test(publisher)) throw invalidModel(model, `has an invalid publisher ${JSON.stringify(publisher.slice(0, 64))}`);
  if (!modelIdPattern.test(id)) throw invalidModel(model, 'is not a model id');
  if (publisher === 'anthropic') return { endpoint: 'anthropic', model: id };
  return { endpoint: 'openai-compatible', model: `${publisher}/${id}` };
}

/** Returns the 404 for count_tokens on a model other than Claude, the only one Vertex counts tokens for. */
export function countTokensNotSupported(route: VertexRoute): ProxyError {
  return ProxyError.gateway(
    'not_found_error',
    `Google Vertex AI has no token counting endpoint for ${route.model}; count_tokens is available for Claude models only.`,
  );
}
