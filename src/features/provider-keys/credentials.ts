import { createPrivateKey } from 'node:crypto';
import type { ProviderId } from '../../providers/providers.js';

/**
 * Credential kinds and their plaintext shapes. The plaintext is JSON-encoded into the envelope and
 * never leaves the service layer; GraphQL sees only the masked forms below.
 */
export type CredentialsKind = 'API_KEY' | 'BEDROCK_REGIONS' | 'VERTEX_SERVICE_ACCOUNT';

export interface BedrockRegionCredential {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface VertexServiceAccount {
  type: 'service_account';
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  token_uri: string;
  [field: string]: unknown;
}

export type Credentials =
  | { kind: 'API_KEY'; apiKey: string }
  | { kind: 'BEDROCK_REGIONS'; regions: BedrockRegionCredential[] }
  | { kind: 'VERTEX_SERVICE_ACCOUNT'; serviceAccount: VertexServiceAccount };

export type MaskedCredentials =
  | { kind: 'API_KEY'; maskedKey: string }
  | { kind: 'BEDROCK_REGIONS'; regions: { region: string; maskedAccessKeyId: string }[] }
  | { kind: 'VERTEX_SERVICE_ACCOUNT'; projectId: string; clientEmail: string; maskedPrivateKeyId: string };

export const credentialsKindOf: Record<ProviderId, CredentialsKind> = {
  ANTHROPIC: 'API_KEY',
  OPENAI: 'API_KEY',
  VERTEX_AI: 'VERTEX_SERVICE_ACCOUNT',
  MISTRAL: 'API_KEY',
  DEEPSEEK: 'API_KEY',
  XAI: 'API_KEY',
  ZAI: 'API_KEY',
  BEDROCK: 'BEDROCK_REGIONS',
};

/** Text shown in place of a secret that has no displayable part. */
export const secretIsSet = 'set';
const ellipsis = '…';

/** Public prefixes of key formats; masking may show them because they carry no secret. */
const publicKeyPrefixes = ['sk-ant-', 'sk-proj-', 'sk-svcacct-', 'xai-', 'sk-'];

/**
 * Masks an API key: at most the public prefix of its format and the last 4 characters, and never
 * more than a quarter of the key. Keys too short for that show only the ellipsis.
 */
export function maskApiKey(key: string): string {
  const budget = Math.floor(key.length / 4);
  const prefix = publicKeyPrefixes.find((candidate) => key.startsWith(candidate)) ?? '';
  if (prefix.length + 4 <= budget) return `${prefix}${ellipsis}${key.slice(-4)}`;
  if (4 <= budget) return `${ellipsis}${key.slice(-4)}`;
  return ellipsis;
}

/** `AKIA` and the last 4 characters of an AWS access key id. */
export function maskAccessKeyId(accessKeyId: string): string {
  return `${accessKeyId.slice(0, 4)}${ellipsis}${accessKeyId.slice(-4)}`;
}

/** Masks a private key id to its first and last 4 characters; the id identifies a key but does not unlock it. */
export function maskPrivateKeyId(privateKeyId: string): string {
  return privateKeyId.length >= 16 ? `${privateKeyId.slice(0, 4)}${ellipsis}${privateKeyId.slice(-4)}` : ellipsis;
}

export function maskCredentials(credentials: Credentials): MaskedCredentials {
  switch (credentials.kind) {
    case 'API_KEY':
      return { kind: 'API_KEY', maskedKey: maskApiKey(credentials.apiKey) };
    case 'BEDROCK_REGIONS':
      return {
        kind: 'BEDROCK_REGIONS',
        regions: credentials.regions.map((row) => ({ region: row.region, maskedAccessKeyId: maskAccessKeyId(row.accessKeyId) })),
      };
    case 'VERTEX_SERVICE_ACCOUNT':
      return {
        kind: 'VERTEX_SERVICE_ACCOUNT',
        projectId: credentials.serviceAccount.project_id,
        clientEmail: credentials.serviceAccount.client_email,
        maskedPrivateKeyId: maskPrivateKeyId(credentials.serviceAccount.private_key_id),
      };
  }
}

/**
 * True for a value that is a masked form rather than a secret: it contains the ellipsis that
 * masking inserts (no provider's secrets contain it) or is the "set" marker.
 */
export function looksMasked(value: string): boolean {
  return value.includes(ellipsis) || value.trim().toLowerCase() === secretIsSet;
}

/** Key formats with a stable, distinctive prefix, for catching a key pasted under the wrong provider. */
const distinctivePrefixes: { prefix: string; provider: ProviderId; label: string }[] = [
  { prefix: 'sk-ant-', provider: 'ANTHROPIC', label: 'an Anthropic' },
  { prefix: 'sk-proj-', provider: 'OPENAI', label: 'an OpenAI' },
  { prefix: 'sk-svcacct-', provider: 'OPENAI', label: 'an OpenAI' },
  { prefix: 'xai-', provider: 'XAI', label: 'an xAI' },
  { prefix: 'AKIA', provider: 'BEDROCK', label: 'an AWS access key id, not an API' },
  { prefix: 'AIza', provider: 'VERTEX_AI', label: 'a Google API key, not a provider API' },
];

export function checkApiKey(provider: ProviderId, apiKey: string): string | undefined {
  if (apiKey.length < 8 || apiKey.length > 512) return `must be 8 to 512 characters, got ${apiKey.length}`;
  // \p{Cc} is every control character: C0, DEL and the C1 range U+0080 to U+009F.
  if (/[\s\p{Cc}]/u.test(apiKey)) return 'must not contain whitespace or control characters';
  const foreign = distinctivePrefixes.find((entry) => apiKey.startsWith(entry.prefix) && entry.provider !== provider);
  if (foreign) {
    return `looks like ${foreign.label} key (it starts with ${foreign.prefix}); paste the key issued by this provider, or create the key under the matching provider`;
  }
  return undefined;
}

const googleTokenEndpoints = new Set(['https://oauth2.googleapis.com/token', 'https://accounts.google.com/o/oauth2/token']);
export const maxServiceAccountBytes = 64 * 1024;

/** Parses and checks a Vertex service-account JSON; returns the problems found, or the account. */
export function parseServiceAccount(text: string): { serviceAccount: VertexServiceAccount } | { problems: string[] } {
  if (Buffer.byteLength(text, 'utf8') > maxServiceAccountBytes) {
    return { problems: [`must be at most ${maxServiceAccountBytes} bytes of JSON`] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { problems: ['is not valid JSON; paste the whole key file downloaded from Google Cloud'] };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { problems: ['must be a JSON object: the whole key file downloaded from Google Cloud'] };
  }
  const account = parsed as Record<string, unknown>;
  const problems: string[] = [];
  if (account.type !== 'service_account') problems.push('field type must be "service_account"');
  for (const field of ['project_id', 'private_key_id', 'private_key', 'client_email', 'token_uri']) {
    if (typeof account[field] !== 'string' || (account[field] as string).length === 0) problems.push(`field ${field} is missing`);
  }
  if (typeof account.private_key === 'string' && account.private_key.length > 0) {
    if (looksMasked(account.private_key)) {
      problems.push('field private_key is a masked value; leave the credentials empty to keep the stored key');
    } else {
      try {
        createPrivateKey({ key: account.private_key, format: 'pem' });
      } catch {
        problems.push('field private_key is not a PEM private key that parses');
      }
    }
  }
  if (typeof account.private_key_id === 'string' && looksMasked(account.private_key_id)) {
    problems.push('field private_key_id is a masked value; leave the credentials empty to keep the stored key');
  }
  if (typeof account.client_email === 'string' && account.client_email.length > 0 && !/^[^@\s]+@[^@\s]+$/.test(account.client_email)) {
    problems.push('field client_email is not an email address');
  }
  if (typeof account.token_uri === 'string' && account.token_uri.length > 0 && !googleTokenEndpoints.has(account.token_uri)) {
    problems.push(`field token_uri must be Google's token endpoint https://oauth2.googleapis.com/token`);
  }
  return problems.length > 0 ? { problems } : { serviceAccount: account as VertexServiceAccount };
}
