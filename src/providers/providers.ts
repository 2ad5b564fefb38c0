/** The upstream providers, with the prefix used in model references (`openai/gpt-4o`). */
export const providers = [
  { id: 'ANTHROPIC', prefix: 'anthropic', label: 'Anthropic' },
  { id: 'OPENAI', prefix: 'openai', label: 'OpenAI' },
  { id: 'VERTEX_AI', prefix: 'vertex', label: 'Google Vertex AI' },
  { id: 'MISTRAL', prefix: 'mistral', label: 'Mistral' },
  { id: 'DEEPSEEK', prefix: 'deepseek', label: 'DeepSeek' },
  { id: 'XAI', prefix: 'xai', label: 'xAI' },
  { id: 'ZAI', prefix: 'zai', label: 'zAI' },
  { id: 'BEDROCK', prefix: 'bedrock', label: 'AWS Bedrock' },
] as const;

export type ProviderId = (typeof providers)[number]['id'];

/** Model-reference prefixes that name a provider under another word. */
export const prefixAliases: Readonly<Record<string, ProviderId>> = { google: 'VERTEX_AI' };

export function providerForPrefix(prefix: string): ProviderId | undefined {
  const provider = providers.find((entry) => entry.prefix === prefix)?.id;
  if (provider) return provider;
  // An own-property check, because a plain lookup would find `constructor` or `toString` on the prototype.
  return Object.hasOwn(prefixAliases, prefix) ? prefixAliases[prefix] : undefined;
}

export function prefixOfProvider(provider: ProviderId): string {
  return providers.find((entry) => entry.id === provider)!.prefix;
}
