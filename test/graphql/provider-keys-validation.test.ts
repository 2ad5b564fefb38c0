import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CreateProviderKeyInput, CredentialsInput, Provider } from '../generated/graphql.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { execute } from './helpers.js';
import { ProviderKeyCreate } from './provider-keys.documents.js';
import {
  createProviderKey,
  decryptStoredCredentials,
  fakeAccessKeyId,
  fakeKeys,
  fakeSecretAccessKey,
  narrow,
  providerKeyRowId,
  rsaPrivateKeyPem,
  serviceAccount,
} from './provider-keys.helpers.js';

let server: TestServer;
let token: string;
let organizationId: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ token, organizationId } = await server.createTenant('Provider key validation', 'write'));
});

afterAll(async () => {
  await server?.close();
});

async function countProviderKeys(): Promise<number> {
  const rows = await server.testDatabase.db.selectFrom('provider_keys').select('id').execute();
  return rows.length;
}

/** Runs a create with an organization-wide assignment and returns its result. */
async function createResult(provider: Provider, credentials: CredentialsInput, extra: Partial<CreateProviderKeyInput> = {}) {
  const response = await execute(
    server,
    ProviderKeyCreate,
    { input: { provider, name: 'validation', credentials, assignment: { organization: true }, ...extra } },
    token,
  );
  return response.data?.createProviderKey;
}

/** Deletes the organization's keys, because an accepted create takes the slot that the next case needs. */
async function removeProviderKeys(): Promise<void> {
  await server.testDatabase.db.deleteFrom('provider_keys').where('organization_id', '=', organizationId).execute();
}

afterEach(removeProviderKeys);

interface RejectedCase {
  name: string;
  provider: Provider;
  credentials: CredentialsInput;
  path: string[];
  message: RegExp;
}

function accountJson(overrides: Record<string, unknown>): string {
  return JSON.stringify({ ...serviceAccount(), ...overrides });
}

function accountWithout(field: string): string {
  const account: Record<string, unknown> = { ...serviceAccount() };
  delete account[field];
  return JSON.stringify(account);
}

const apiKeyPath = ['input', 'credentials', 'apiKey'];
const rowPath = (index: number, field?: string) =>
  ['input', 'credentials', 'bedrockRegions', String(index), ...(field ? [field] : [])];
const vertexPath = ['input', 'credentials', 'vertexServiceAccount'];
const validRow = () => ({ region: 'us-east-1', accessKeyId: fakeAccessKeyId(), secretAccessKey: fakeSecretAccessKey() });

const rejected: RejectedCase[] = [
  { name: 'an API key of 7 characters', provider: 'MISTRAL', credentials: { apiKey: 'k7Qp2xZ' }, path: apiKeyPath, message: /must be 8 to 512 characters, got 7/ },
  { name: 'an API key of 513 characters', provider: 'MISTRAL', credentials: { apiKey: 'k'.repeat(513) }, path: apiKeyPath, message: /must be 8 to 512 characters, got 513/ },
  { name: 'an API key with a space', provider: 'MISTRAL', credentials: { apiKey: 'k7Qp2xZa 9mW3vB1c' }, path: apiKeyPath, message: /whitespace or control characters/ },
  { name: 'an API key with a trailing newline', provider: 'MISTRAL', credentials: { apiKey: 'k7Qp2xZa9mW3vB1c\n' }, path: apiKeyPath, message: /whitespace or control characters/ },
  { name: 'an API key with a tab', provider: 'MISTRAL', credentials: { apiKey: '\tk7Qp2xZa9mW3vB1c' }, path: apiKeyPath, message: /whitespace or control characters/ },
  { name: 'an API key with a bell character', provider: 'MISTRAL', credentials: { apiKey: 'k7Qp2xZa\u00079mW3vB1c' }, path: apiKeyPath, message: /whitespace or control characters/ },
  { name: 'an API key with DEL', provider: 'MISTRAL', credentials: { apiKey: 'k7Qp2xZa\u007f9mW3vB1c' }, path: apiKeyPath, message: /whitespace or control characters/ },
  { name: 'an API key with a C1 control character', provider: 'MISTRAL', credentials: { apiKey: 'k7Qp2xZa\u00859mW3vB1c' }, path: apiKeyPath, message: /whitespace or control characters/ },
  { name: 'an API key with a non-breaking space', provider: 'MISTRAL', credentials: { apiKey: 'k7Qp2xZa\u00a09mW3vB1c' }, path: apiKeyPath, message: /whitespace or control characters/ },
  {
    name: 'an Anthropic key for OpenAI',
    provider: 'OPENAI',
    credentials: { apiKey: fakeKeys.anthropic() },
    path: apiKeyPath,
    message: /looks like an Anthropic key \(it starts with sk-ant-\); paste the key issued by this provider, or create the key under the matching provider/,
  },
  { name: 'an OpenAI project key for Anthropic', provider: 'ANTHROPIC', credentials: { apiKey: fakeKeys.openAiProject() }, path: apiKeyPath, message: /looks like an OpenAI key/ },
  { name: 'an xAI key for DeepSeek', provider: 'DEEPSEEK', credentials: { apiKey: fakeKeys.xai() }, path: apiKeyPath, message: /looks like an xAI key/ },
  { name: 'an AWS access key id as API key', provider: 'MISTRAL', credentials: { apiKey: fakeAccessKeyId() }, path: apiKeyPath, message: /AWS access key id/ },
  { name: 'no Bedrock rows', provider: 'BEDROCK', credentials: { bedrockRegions: [] }, path: ['input', 'credentials', 'bedrockRegions'], message: /at least one row/ },
  { name: 'an uppercase region', provider: 'BEDROCK', credentials: { bedrockRegions: [{ ...validRow(), region: 'US-EAST-1' }] }, path: rowPath(0, 'region'), message: /expected an AWS region such as us-east-1, or global/ },
  { name: 'a region without number', provider: 'BEDROCK', credentials: { bedrockRegions: [{ ...validRow(), region: 'us-east' }] }, path: rowPath(0, 'region'), message: /expected an AWS region/ },
  { name: 'an empty region', provider: 'BEDROCK', credentials: { bedrockRegions: [{ ...validRow(), region: '' }] }, path: rowPath(0, 'region'), message: /expected an AWS region/ },
  { name: 'a URL as region', provider: 'BEDROCK', credentials: { bedrockRegions: [{ ...validRow(), region: 'https://bedrock.example/us-east-1' }] }, path: rowPath(0, 'region'), message: /expected an AWS region/ },
  {
    name: 'a region twice',
    provider: 'BEDROCK',
    credentials: { bedrockRegions: [validRow(), validRow()] },
    path: rowPath(1, 'region'),
    message: /us-east-1 appears more than once; give each region one row/,
  },
  { name: 'a short access key id', provider: 'BEDROCK', credentials: { bedrockRegions: [{ ...validRow(), accessKeyId: 'AKIA1234567890ABCDE' }] }, path: rowPath(0, 'accessKeyId'), message: /expected AKIA followed by 16 uppercase letters or digits/ },
  { name: 'a long access key id', provider: 'BEDROCK', credentials: { bedrockRegions: [{ ...validRow(), accessKeyId: 'AKIA1234567890ABCDEFG' }] }, path: rowPath(0, 'accessKeyId'), message: /expected AKIA followed by 16/ },
  { name: 'a lowercase access key id', provider: 'BEDROCK', credentials: { bedrockRegions: [{ ...validRow(), accessKeyId: 'AKIAabcdefghijklmnop' }] }, path: rowPath(0, 'accessKeyId'), message: /expected AKIA followed by 16/ },
  { name: 'an access key id of another prefix', provider: 'BEDROCK', credentials: { bedrockRegions: [{ ...validRow(), accessKeyId: 'AIDA1234567890ABCDEF' }] }, path: rowPath(0, 'accessKeyId'), message: /expected AKIA followed by 16/ },
  {
    name: 'a temporary ASIA key',
    provider: 'BEDROCK',
    credentials: { bedrockRegions: [{ ...validRow(), accessKeyId: 'ASIA1234567890ABCDEF' }] },
    path: rowPath(0, 'accessKeyId'),
    message: /temporary key \(ASIA…\), which needs a session token and expires within hours/,
  },
  { name: 'an empty secret access key', provider: 'BEDROCK', credentials: { bedrockRegions: [{ ...validRow(), secretAccessKey: '' }] }, path: rowPath(0, 'secretAccessKey'), message: /is missing/ },
  { name: 'no secret access key', provider: 'BEDROCK', credentials: { bedrockRegions: [{ region: 'us-east-1', accessKeyId: fakeAccessKeyId() }] }, path: rowPath(0, 'secretAccessKey'), message: /is missing/ },
  { name: 'no access key id', provider: 'BEDROCK', credentials: { bedrockRegions: [{ region: 'us-east-1', secretAccessKey: fakeSecretAccessKey() }] }, path: rowPath(0, 'accessKeyId'), message: /is missing; a new row needs its access key id/ },
  { name: 'a region with nothing else', provider: 'BEDROCK', credentials: { bedrockRegions: [{ region: 'us-east-1' }] }, path: rowPath(0), message: /no stored credentials for us-east-1/ },
  { name: 'service account text that is not JSON', provider: 'VERTEX_AI', credentials: { vertexServiceAccount: 'project=my-project' }, path: vertexPath, message: /is not valid JSON/ },
  { name: 'a JSON array', provider: 'VERTEX_AI', credentials: { vertexServiceAccount: '[]' }, path: vertexPath, message: /must be a JSON object/ },
  { name: 'an authorized_user file', provider: 'VERTEX_AI', credentials: { vertexServiceAccount: accountJson({ type: 'authorized_user' }) }, path: vertexPath, message: /field type must be "service_account"/ },
  ...['project_id', 'private_key_id', 'private_key', 'client_email', 'token_uri'].map((field) => ({
    name: `a service account without ${field}`,
    provider: 'VERTEX_AI' as const,
    credentials: { vertexServiceAccount: accountWithout(field) },
    path: vertexPath,
    message: new RegExp(`field ${field} is missing`),
  })),
  { name: 'a private key that is not PEM', provider: 'VERTEX_AI', credentials: { vertexServiceAccount: accountJson({ private_key: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC' }) }, path: vertexPath, message: /private_key is not a PEM private key that parses/ },
  {
    name: 'a truncated PEM private key',
    provider: 'VERTEX_AI',
    credentials: { vertexServiceAccount: accountJson({ private_key: `${rsaPrivateKeyPem().slice(0, 300)}\n-----END PRIVATE KEY-----\n` }) },
    path: vertexPath,
    message: /private_key is not a PEM private key that parses/,
  },
  { name: 'a client_email that is no address', provider: 'VERTEX_AI', credentials: { vertexServiceAccount: accountJson({ client_email: 'gateway' }) }, path: vertexPath, message: /client_email is not an email address/ },
  { name: 'a token_uri of another host', provider: 'VERTEX_AI', credentials: { vertexServiceAccount: accountJson({ token_uri: 'https://token.example.invalid/token' }) }, path: vertexPath, message: /token_uri must be Google's token endpoint/ },
  { name: 'a token_uri over http', provider: 'VERTEX_AI', credentials: { vertexServiceAccount: accountJson({ token_uri: 'http://oauth2.googleapis.com/token' }) }, path: vertexPath, message: /token_uri must be Google's token endpoint/ },
  { name: 'an API key for Bedrock', provider: 'BEDROCK', credentials: { apiKey: fakeKeys.mistral() }, path: apiKeyPath, message: /does not match the provider BEDROCK, which takes bedrockRegions/ },
  { name: 'an API key for Vertex', provider: 'VERTEX_AI', credentials: { apiKey: fakeKeys.mistral() }, path: apiKeyPath, message: /does not match the provider VERTEX_AI, which takes vertexServiceAccount/ },
  { name: 'Bedrock rows for Anthropic', provider: 'ANTHROPIC', credentials: { bedrockRegions: [validRow()] }, path: ['input', 'credentials', 'bedrockRegions'], message: /which takes apiKey/ },
  { name: 'a service account for OpenAI', provider: 'OPENAI', credentials: { vertexServiceAccount: accountJson({}) }, path: vertexPath, message: /which takes apiKey/ },
];

describe('rejected credentials', () => {
  it.each(rejected)('rejects $name', async ({ provider, credentials, path, message }) => {
    const result = await createResult(provider, credentials);

    const error = narrow(result, 'ValidationError');
    expect(error.code).toBe('validation_failed');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([path]);
    expect(error.fieldErrors[0]?.message).toMatch(message);
  });

  it('writes no row for rejected input', async () => {
    const before = await countProviderKeys();

    for (const { provider, credentials } of rejected) await createResult(provider, credentials);

    expect(await countProviderKeys()).toBe(before);
  });

  it('lists every problem at once', async () => {
    const result = await createResult('BEDROCK', {
      bedrockRegions: [
        { region: 'Mars', accessKeyId: 'ASIA1234567890ABCDEF', secretAccessKey: fakeSecretAccessKey() },
        { region: 'eu-west-1', accessKeyId: 'AKIA123', secretAccessKey: fakeSecretAccessKey() },
      ],
    }, { name: ' ' });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([
      ['input', 'name'],
      rowPath(0, 'region'),
      rowPath(0, 'accessKeyId'),
      rowPath(1, 'accessKeyId'),
    ]);
  });

  it('rejects a name of 101 characters', async () => {
    const result = await createResult('MISTRAL', { apiKey: fakeKeys.mistral() }, { name: 'n'.repeat(101) });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'name']]);
    expect(error.fieldErrors[0]?.message).toMatch(/at most 100 characters/);
  });

  it('rejects an idempotency key with a space', async () => {
    const result = await createResult('MISTRAL', { apiKey: fakeKeys.mistral() }, { idempotencyKey: 'retry 1' });

    const error = narrow(result, 'ValidationError');
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([['input', 'idempotencyKey']]);
  });
});

describe('accepted credentials', () => {
  it('accepts API keys of 8 and 512 characters', async () => {
    const short = await createResult('MISTRAL', { apiKey: 'k7Qp2xZa' });
    await removeProviderKeys();
    const long = await createResult('MISTRAL', { apiKey: 'k'.repeat(512) });

    expect(short?.__typename).toBe('ProviderKeyPayload');
    expect(long?.__typename).toBe('ProviderKeyPayload');
  });

  it('accepts the global region without warning', async () => {
    const result = await createResult('BEDROCK', { bedrockRegions: [{ ...validRow(), region: 'global' }] });

    expect(narrow(result, 'ProviderKeyPayload').warnings).toEqual([]);
  });

  it('accepts a known region without warning', async () => {
    const result = await createResult('BEDROCK', { bedrockRegions: [{ ...validRow(), region: 'ap-northeast-1' }] });

    expect(narrow(result, 'ProviderKeyPayload').warnings).toEqual([]);
  });

  it('warns about a region outside the known list', async () => {
    const result = await createResult('BEDROCK', { bedrockRegions: [validRow(), { ...validRow(), region: 'xx-mars-1' }] });

    const payload = narrow(result, 'ProviderKeyPayload');
    expect(payload.warnings).toHaveLength(1);
    expect(payload.warnings[0]?.path).toEqual(rowPath(1, 'region'));
    expect(payload.warnings[0]?.message).toMatch(/xx-mars-1 is not a region this version knows/);
    expect(narrow(payload.providerKey.credentials, 'BedrockRegions').regions.map((row) => row.region)).toEqual(['us-east-1', 'xx-mars-1']);
  });

  it('accepts a service account of exactly 64 KiB', async () => {
    const account = serviceAccount();
    const base = JSON.stringify({ ...account, padding: '' });
    const text = JSON.stringify({ ...account, padding: 'p'.repeat(64 * 1024 - Buffer.byteLength(base)) });

    const result = await createResult('VERTEX_AI', { vertexServiceAccount: text });

    expect(Buffer.byteLength(text)).toBe(64 * 1024);
    expect(result?.__typename).toBe('ProviderKeyPayload');
  });

  it('rejects a service account over 64 KiB', async () => {
    const account = serviceAccount();
    const base = JSON.stringify({ ...account, padding: '' });
    const text = JSON.stringify({ ...account, padding: 'p'.repeat(64 * 1024 + 1 - Buffer.byteLength(base)) });

    const result = await createResult('VERTEX_AI', { vertexServiceAccount: text });

    const error = narrow(result, 'ValidationError');
    expect(Buffer.byteLength(text)).toBe(64 * 1024 + 1);
    expect(error.fieldErrors.map((issue) => issue.path)).toEqual([vertexPath]);
    expect(error.fieldErrors[0]?.message).toMatch(/at most 65536 bytes/);
  });
});

describe('reference-like values', () => {
  // Set so that a resolved reference would store these values instead of the literal text.
  const environment = { OPENAI_KEY: 'sk-resolved-from-environment-0000', X: 'resolved-x-value' } as const;
  const saved: Record<string, string | undefined> = {};

  beforeAll(() => {
    for (const [name, value] of Object.entries(environment)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });

  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it.each(['os.environ/OPENAI_KEY', '${env:X}', 'file:/etc/passwd', '$OPENAI_KEY', 'env:OPENAI_KEY'])(
    'stores the API key %s verbatim',
    async (literal) => {
      const { providerKey } = await createProviderKey(server, token, {
        provider: 'MISTRAL',
        name: 'literal',
        credentials: { apiKey: literal },
        assignment: { organization: true },
      });

      const stored = await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id));
      expect(stored).toEqual({ kind: 'API_KEY', apiKey: literal });
    },
  );

  it('stores a Bedrock secret reference verbatim', async () => {
    const row = { region: 'us-east-1', accessKeyId: fakeAccessKeyId(), secretAccessKey: '${env:X}' };

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'BEDROCK',
      name: 'literal',
      credentials: { bedrockRegions: [row] },
      assignment: { organization: true },
    });

    const stored = await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id));
    expect(stored).toEqual({ kind: 'BEDROCK_REGIONS', regions: [row] });
  });

  it('stores service account fields verbatim', async () => {
    const account = serviceAccount({ project_id: 'os.environ/OPENAI_KEY', client_id: 'file:/etc/passwd', universe_domain: '${env:X}' });

    const { providerKey } = await createProviderKey(server, token, {
      provider: 'VERTEX_AI',
      name: 'literal',
      credentials: { vertexServiceAccount: JSON.stringify(account) },
      assignment: { organization: true },
    });

    const stored = await decryptStoredCredentials(server, organizationId, providerKeyRowId(providerKey.id));
    expect(stored).toEqual({ kind: 'VERTEX_SERVICE_ACCOUNT', serviceAccount: account });
    expect(narrow(providerKey.credentials, 'VertexServiceAccount').projectId).toBe('os.environ/OPENAI_KEY');
  });
});
