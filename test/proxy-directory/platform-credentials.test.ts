import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPlatformCredentials, parsePlatformCredentials, PlatformCredentialsError } from '../../src/proxy/directory/platform-credentials.js';
import { apiKeyFor, writePlatformCredentialsFile } from './helpers.js';

const secret = apiKeyFor('OPENAI');
const files: { remove(): Promise<void> }[] = [];

afterEach(async () => {
  for (const file of files.splice(0)) await file.remove();
});

function problemsOf(content: unknown): string[] {
  try {
    parsePlatformCredentials(typeof content === 'string' ? content : JSON.stringify(content), '/etc/keyroute/platform.json');
  } catch (error) {
    if (error instanceof PlatformCredentialsError) return error.problems;
    throw error;
  }
  return [];
}

function messageOf(content: string): string {
  try {
    parsePlatformCredentials(content, '/etc/keyroute/platform.json');
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}

const privateKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('parsePlatformCredentials', () => {
  it('reads an API key', () => {
    const credentials = parsePlatformCredentials(JSON.stringify({ OPENAI: { kind: 'API_KEY', apiKey: secret } }), 'file');

    expect(credentials.get('OPENAI')).toEqual({ kind: 'API_KEY', apiKey: secret });
  });

  it('reads Bedrock regions', () => {
    const regions = [{ region: 'us-east-1', accessKeyId: `AKIA${'A'.repeat(16)}`, secretAccessKey: randomBytes(20).toString('base64') }];
    const credentials = parsePlatformCredentials(JSON.stringify({ BEDROCK: { kind: 'BEDROCK_REGIONS', regions } }), 'file');

    expect(credentials.get('BEDROCK')).toEqual({ kind: 'BEDROCK_REGIONS', regions });
  });

  it('reads a Vertex service account', () => {
    const serviceAccount = {
      type: 'service_account',
      project_id: 'keyroute-test',
      private_key_id: 'a'.repeat(40),
      private_key: privateKey,
      client_email: 'proxy@keyroute-test.iam.gserviceaccount.com',
      token_uri: 'https://oauth2.googleapis.com/token',
    };
    const credentials = parsePlatformCredentials(JSON.stringify({ VERTEX_AI: { kind: 'VERTEX_SERVICE_ACCOUNT', serviceAccount } }), 'file');

    expect(credentials.get('VERTEX_AI')).toEqual({ kind: 'VERTEX_SERVICE_ACCOUNT', serviceAccount });
  });

  it('rejects an unknown provider', () => {
    expect(problemsOf({ OPENROUTER: { kind: 'API_KEY', apiKey: secret } })[0]).toContain('"OPENROUTER" is not a provider id');
  });

  it('rejects the wrong credential kind', () => {
    expect(problemsOf({ BEDROCK: { kind: 'API_KEY', apiKey: secret } })[0]).toContain('BEDROCK takes {"kind": "BEDROCK_REGIONS"');
  });

  it('rejects a key of another provider', () => {
    expect(problemsOf({ ANTHROPIC: { kind: 'API_KEY', apiKey: secret } })[0]).toContain('ANTHROPIC.apiKey: looks like an OpenAI key');
  });

  it('rejects a temporary AWS key', () => {
    const regions = [{ region: 'us-east-1', accessKeyId: `ASIA${'A'.repeat(16)}`, secretAccessKey: 'x'.repeat(40) }];

    expect(problemsOf({ BEDROCK: { kind: 'BEDROCK_REGIONS', regions } })[0]).toContain('BEDROCK.regions.0.accessKeyId');
  });

  it('reports every problem at once', () => {
    expect(problemsOf({ OPENROUTER: {}, ANTHROPIC: { kind: 'API_KEY', apiKey: secret } })).toHaveLength(2);
  });

  it('rejects invalid JSON without quoting it', () => {
    const message = messageOf(`{"OPENAI": {"kind": "API_KEY", "apiKey": "${secret}"`);

    expect(message).toContain('is not valid JSON');
    expect(message).not.toContain(secret);
  });

  it('never quotes a secret in problems', () => {
    const message = messageOf(JSON.stringify({ ANTHROPIC: { kind: 'API_KEY', apiKey: secret, extra: secret } }));

    expect(message).toContain('ANTHROPIC');
    expect(message).not.toContain(secret);
  });

  it('rejects a JSON array', () => {
    expect(problemsOf('[]')[0]).toContain('must be a JSON object');
  });
});

describe('loadPlatformCredentials', () => {
  it('returns none without a file', async () => {
    expect((await loadPlatformCredentials(undefined)).size).toBe(0);
  });

  it('reads the file', async () => {
    const file = await writePlatformCredentialsFile({ OPENAI: { kind: 'API_KEY', apiKey: secret } });
    files.push(file);

    expect((await loadPlatformCredentials(file.path)).get('OPENAI')).toEqual({ kind: 'API_KEY', apiKey: secret });
  });

  it('names a missing file', async () => {
    await expect(loadPlatformCredentials('/nonexistent/keyroute-platform.json')).rejects.toThrow(
      'PLATFORM_CREDENTIALS_FILE /nonexistent/keyroute-platform.json is invalid:\n  the file does not exist',
    );
  });
});
