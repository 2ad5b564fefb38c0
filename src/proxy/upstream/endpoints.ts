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

export type OpenAiCompatibleProvider = 'OPENAI' | 'MISTRAL' | 'DEEPSEEK' | 'XAI' | 'ZAI';

export function isOpenAiCompatible(provider: ProviderId): provider is OpenAiCompatibleProvider {
  return provider === 'OPENAI' || provider === 'MISTRAL' || provider === 'DEEPSEEK' || provider === 'XAI' || provider === 'ZAI';
}

export function chatCompletionsUrl(provider: OpenAiCompatibleProvider, settings: Record<string, unknown>): URL {
  if (provider === 'ZAI') {
    const endpoint = (settings.endpoint as ZaiEndpoint | undefined) ?? 'INTERNATIONAL';
    return new URL(`${zaiBaseUrls[endpoint]}/chat/completions`);
  }
  return new URL(chatCompletionsUrls[provider]);
}
