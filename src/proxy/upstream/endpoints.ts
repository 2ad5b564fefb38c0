import type { ProviderId } from '../../providers/providers.js';
import type { ZaiEndpoint } from '../../features/provider-keys/settings.js';

/**
 * Fixed upstream URLs. They come from code, never from stored settings or requests, so a provider
 * key cannot send its credentials anywhere else. Tests and private endpoints change where the TCP
 * connection goes with the connection-level override, which keeps these URLs and their Host.
 */
export const chatCompletionsUrls: Record<'OPENAI' | 'MISTRAL' | 'DEEPSEEK' | 'XAI', string> = {
  OPENAI: 'https://api.openai.com/v1/chat/completions',
  MISTRAL: 'https://api.mistral.ai/v1/chat/completions',
  DEEPSEEK: 'https://api.deepseek.com/chat/completions',
  XAI: 'https://api.x.ai/v1/chat/completions',
};

/** zAI's base URL depends on the key's plan and region, chosen by the key's endpoint setting. */
export const zaiBaseUrls: Record<ZaiEndpoint, string> = {
  INTERNATIONAL: 'https://api.z.ai/api/paas/v4',
  CODING_PLAN: 'https://api.z.ai/api/coding/paas/v4',
  CHINA: 'https://open.bigmodel.cn/api/paas/v4',
};

export const anthropicBaseUrl = 'https://api.anthropic.com';

/** An upstream that takes Anthropic Messages requests. */
export type AnthropicEndpoint = { kind: 'anthropic' } | { kind: 'deepseek' } | { kind: 'zai'; endpoint: ZaiEndpoint };

/**
 * Base URLs of the Anthropic-compatible endpoints, to which `/v1/messages` is appended. DeepSeek
 * documents `https://api.deepseek.com/anthropic`. zAI's international endpoint serves both its
 * pay-as-you-go and GLM Coding Plan keys (it is the one Claude Code is configured with).
 */
const zaiAnthropicBaseUrls: Record<ZaiEndpoint, string> = {
  INTERNATIONAL: 'https://api.z.ai/api/anthropic',
  CODING_PLAN: 'https://api.z.ai/api/anthropic',
  // NOTE: unverified: the mainland China platform is assumed to mirror the international path.
  CHINA: 'https://open.bigmodel.cn/api/anthropic',
};

export function anthropicCompatibleBaseUrl(endpoint: AnthropicEndpoint): string {
  if (endpoint.kind === 'anthropic') return anthropicBaseUrl;
  if (endpoint.kind === 'deepseek') return 'https://api.deepseek.com/anthropic';
  return zaiAnthropicBaseUrls[endpoint.endpoint];
}

export type OpenAiCompatibleProvider = 'OPENAI' | 'MISTRAL' | 'DEEPSEEK' | 'XAI' | 'ZAI';

export function isOpenAiCompatible(provider: ProviderId): provider is OpenAiCompatibleProvider {
  return provider === 'OPENAI' || provider === 'MISTRAL' || provider === 'DEEPSEEK' || provider === 'XAI' || provider === 'ZAI';
}

/**
 * Returns the URL for `text`, parsed once: parsing costs microseconds and every proxied request
 * needs one. The objects are shared, so callers must not change them.
 */
export function parsedUrl(text: string): URL {
  let url = parsedUrls.get(text);
  if (url === undefined) {
    url = new URL(text);
    parsedUrls.set(text, url);
  }
  return url;
}

/** Every text here comes from the fixed tables of this file, so the map stays small. */
const parsedUrls = new Map<string, URL>();

export function chatCompletionsUrl(provider: OpenAiCompatibleProvider, settings: Record<string, unknown>): URL {
  if (provider === 'ZAI') {
    const endpoint = (settings.endpoint as ZaiEndpoint | undefined) ?? 'INTERNATIONAL';
    return parsedUrl(`${zaiBaseUrls[endpoint]}/chat/completions`);
  }
  return parsedUrl(chatCompletionsUrls[provider]);
}
