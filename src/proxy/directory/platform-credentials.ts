import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import {
  checkApiKey,
  credentialsKindOf,
  parseServiceAccount,
  type Credentials,
} from '../../features/provider-keys/credentials.js';
import { awsRegionPattern } from '../../features/provider-keys/settings.js';
import { providers, type ProviderId } from '../../providers/providers.js';

/**
 * The operator's own provider credentials, which the proxy uses for organizations allowed to use
 * them when neither the gateway key nor the organization has a provider key.
 */
export type PlatformCredentials = ReadonlyMap<ProviderId, Credentials>;

/**
 * Raised at start when PLATFORM_CREDENTIALS_FILE cannot be used. The message names the file and
 * each problem with its JSON path, and never quotes a value from the file.
 */
export class PlatformCredentialsError extends Error {
  readonly code = 'invalid_platform_credentials';

  constructor(readonly path: string, readonly problems: string[]) {
    super(`PLATFORM_CREDENTIALS_FILE ${path} is invalid:\n${problems.map((problem) => `  ${problem}`).join('\n')}`);
    this.name = 'PlatformCredentialsError';
  }
}

const apiKeyShape = z.strictObject({ kind: z.literal('API_KEY'), apiKey: z.string() });
const bedrockShape = z.strictObject({
  kind: z.literal('BEDROCK_REGIONS'),
  regions: z.array(z.strictObject({ region: z.string(), accessKeyId: z.string(), secretAccessKey: z.string().min(1) })).min(1),
});
const vertexShape = z.strictObject({ kind: z.literal('VERTEX_SERVICE_ACCOUNT'), serviceAccount: z.record(z.string(), z.unknown()) });
const shapeOfKind = { API_KEY: apiKeyShape, BEDROCK_REGIONS: bedrockShape, VERTEX_SERVICE_ACCOUNT: vertexShape } as const;

const providerIds: readonly string[] = providers.map((provider) => provider.id);

/** Reads and checks the file. An undefined path means no platform credentials. */
export async function loadPlatformCredentials(path: string | undefined): Promise<PlatformCredentials> {
  if (path === undefined) return new Map();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    let reason = `reading it failed (${code ?? 'unknown error'})`;
    if (code === 'ENOENT') reason = 'the file does not exist';
    if (code === 'EACCES') reason = 'permission denied';
    throw new PlatformCredentialsError(path, [`${reason}. Set PLATFORM_CREDENTIALS_FILE to a readable JSON file, or unset it`]);
  }
  return parsePlatformCredentials(text, path);
}

/**
 * Parses `{"OPENAI": {"kind": "API_KEY", "apiKey": "..."}, ...}`: provider ids mapped to
 * credentials of the provider's kind, checked as the GraphQL API checks a provider key's.
 */
export function parsePlatformCredentials(text: string, path: string): PlatformCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parser's message can quote the text around the error, which may be a secret.
    throw new PlatformCredentialsError(path, ['is not valid JSON']);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PlatformCredentialsError(path, ['must be a JSON object mapping provider ids such as OPENAI to credentials']);
  }

  const problems: string[] = [];
  const credentials = new Map<ProviderId, Credentials>();
  for (const [name, value] of Object.entries(parsed)) {
    if (!providerIds.includes(name)) {
      problems.push(`${JSON.stringify(name)} is not a provider id; expected one of ${providerIds.join(', ')}`);
      continue;
    }
    const provider = name as ProviderId;
    const checked = checkCredentials(provider, value, problems);
    if (checked) credentials.set(provider, checked);
  }
  if (problems.length > 0) throw new PlatformCredentialsError(path, problems);
  return credentials;
}

function checkCredentials(provider: ProviderId, value: unknown, problems: string[]): Credentials | undefined {
  const kind = credentialsKindOf[provider];
  const result = shapeOfKind[kind].safeParse(value);
  if (!result.success) {
    for (const issue of result.error.issues) {
      problems.push(`${[provider, ...issue.path].join('.')}: ${issue.message}; ${provider} takes {"kind": "${kind}", …}`);
    }
    return undefined;
  }

  const before = problems.length;
  const credentials = result.data;
  switch (credentials.kind) {
    case 'API_KEY': {
      const problem = checkApiKey(provider, credentials.apiKey);
      if (problem) problems.push(`${provider}.apiKey: ${problem}`);
      break;
    }
    case 'BEDROCK_REGIONS': {
      const seen = new Set<string>();
      credentials.regions.forEach((row, index) => {
        const path = `${provider}.regions.${index}`;
        if (seen.has(row.region)) problems.push(`${path}.region: ${row.region} appears more than once; give each region one row`);
        seen.add(row.region);
        if (row.region !== 'global' && !awsRegionPattern.test(row.region)) {
          problems.push(`${path}.region: expected an AWS region such as us-east-1, or global for the fallback row`);
        }
        if (!/^AKIA[A-Z0-9]{16}$/.test(row.accessKeyId)) {
          problems.push(`${path}.accessKeyId: expected a long-term access key id, AKIA followed by 16 uppercase letters or digits`);
        }
      });
      break;
    }
    case 'VERTEX_SERVICE_ACCOUNT': {
      const account = parseServiceAccount(JSON.stringify(credentials.serviceAccount));
      if ('problems' in account) {
        for (const problem of account.problems) problems.push(`${provider}.serviceAccount: ${problem}`);
      } else {
        return { kind: 'VERTEX_SERVICE_ACCOUNT', serviceAccount: account.serviceAccount };
      }
      break;
    }
  }
  return problems.length > before ? undefined : (credentials as Credentials);
}
