import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cryptoEnvironment, toCryptoConfig } from '../../src/config/crypto.config.js';

const keyA = randomBytes(32).toString('base64');
const keyB = randomBytes(32).toString('base64');
const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function parse(environment: Record<string, string>) {
  const result = cryptoEnvironment.safeParse(environment);
  if (!result.success) throw new Error(`Expected a valid environment: ${result.error.message}`);
  return toCryptoConfig(result.data);
}

/** Returns the issues as "VARIABLE: message" lines. */
function issuesOf(environment: Record<string, string>): string[] {
  const result = cryptoEnvironment.safeParse(environment);
  if (result.success) throw new Error('Expected validation issues, but the environment is valid.');
  return result.error.issues.map((issue) => `${String(issue.path[0])}: ${issue.message}`);
}

function variablesOf(issues: string[]): string[] {
  return [...new Set(issues.map((issue) => issue.slice(0, issue.indexOf(':'))))].sort();
}

describe('crypto configuration', () => {
  it('has no backend by default', () => {
    expect(parse({})).toEqual({ kms: undefined, keyring: undefined });
  });

  it('reads KMS settings', () => {
    const config = parse({ KMS_KEY_ID: 'alias/keyroute', KMS_REGION: 'us-east-1', KMS_ENDPOINT: 'http://127.0.0.1:4566' });

    expect(config.kms).toEqual({
      keyId: 'alias/keyroute',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4566',
      timeoutMs: 5_000,
    });
  });

  it('takes the region from a key ARN', () => {
    expect(parse({ KMS_KEY_ID: keyArn }).kms?.region).toBe('eu-west-1');
  });

  it('reads KMS_TIMEOUT_MS', () => {
    expect(parse({ KMS_KEY_ID: keyArn, KMS_TIMEOUT_MS: '1500' }).kms?.timeoutMs).toBe(1_500);
  });

  it('makes the first keyring entry current', () => {
    const config = parse({ KEYRING_KEYS: `first:${keyA}, second:${keyB}` });

    expect(config.keyring?.currentKeyId).toBe('first');
    expect(config.keyring?.keys.map((entry) => entry.id)).toEqual(['first', 'second']);
    expect(config.keyring?.keys[1]?.key.reveal().toString('base64')).toBe(keyB);
  });

  it('reads KEYRING_CURRENT_KEY_ID', () => {
    const config = parse({ KEYRING_KEYS: `first:${keyA},second:${keyB}`, KEYRING_CURRENT_KEY_ID: 'second' });

    expect(config.keyring?.currentKeyId).toBe('second');
  });

  it('treats empty strings as unset', () => {
    expect(parse({ KMS_KEY_ID: '', KEYRING_KEYS: ' ', KMS_TIMEOUT_MS: '' })).toEqual({ kms: undefined, keyring: undefined });
  });

  it('reports every bad value at once', () => {
    const issues = issuesOf({
      KMS_KEY_ID: 'my key',
      KMS_REGION: 'Mars',
      KMS_ENDPOINT: 'ftp://127.0.0.1',
      KMS_TIMEOUT_MS: 'soon',
      KEYRING_KEYS: `k1:${keyA.slice(0, 20)}`,
      KEYRING_CURRENT_KEY_ID: 'no spaces allowed',
    });

    expect(variablesOf(issues)).toEqual([
      'KEYRING_CURRENT_KEY_ID',
      'KEYRING_KEYS',
      'KMS_ENDPOINT',
      'KMS_KEY_ID',
      'KMS_REGION',
      'KMS_TIMEOUT_MS',
    ]);
  });

  it('states the expected form of KMS_KEY_ID', () => {
    expect(issuesOf({ KMS_KEY_ID: 'my key', KMS_REGION: 'us-east-1' })).toEqual([
      expect.stringMatching(/^KMS_KEY_ID: expected a key id .*alias\/keyroute.*got "my key"$/),
    ]);
  });

  it('requires KMS_REGION for an alias', () => {
    expect(issuesOf({ KMS_KEY_ID: 'alias/keyroute' })).toEqual([
      expect.stringMatching(/^KMS_REGION: expected an AWS region/),
    ]);
  });

  it('rejects a KMS_REGION that contradicts the ARN', () => {
    expect(issuesOf({ KMS_KEY_ID: keyArn, KMS_REGION: 'us-east-1' })).toEqual([
      expect.stringMatching(/^KMS_REGION: expected eu-west-1/),
    ]);
  });

  it('rejects KMS settings without KMS_KEY_ID', () => {
    expect(variablesOf(issuesOf({ KMS_REGION: 'us-east-1', KMS_ENDPOINT: 'http://127.0.0.1:4566' }))).toEqual([
      'KMS_ENDPOINT',
      'KMS_REGION',
    ]);
  });

  it('rejects KMS and keyring together', () => {
    expect(issuesOf({ KMS_KEY_ID: keyArn, KEYRING_KEYS: `k1:${keyA}` })).toEqual([
      expect.stringMatching(/^KEYRING_KEYS: expected either KMS_KEY_ID .* or KEYRING_KEYS/),
    ]);
  });

  it('rejects an endpoint with credentials', () => {
    expect(issuesOf({ KMS_KEY_ID: keyArn, KMS_ENDPOINT: 'http://user:pass@127.0.0.1:4566' })).toEqual([
      'KMS_ENDPOINT: expected a URL without user name or password',
    ]);
  });

  it('rejects a timeout out of range', () => {
    expect(variablesOf(issuesOf({ KMS_KEY_ID: keyArn, KMS_TIMEOUT_MS: '0' }))).toEqual(['KMS_TIMEOUT_MS']);
  });

  it.each([
    ['a key of 16 bytes', `k1:${randomBytes(16).toString('base64')}`, 'the key of "k1" is 16 bytes, not 32'],
    ['a key that is not base64', `k1:${'*'.repeat(44)}`, 'the key of "k1" is not standard base64'],
    ['an entry without id', keyA, 'entry 1 has no ":" between id and key'],
    ['an invalid id', `bad id:${keyA}`, 'entry 1 has an invalid id'],
    ['a repeated id', `k1:${keyA},k1:${keyB}`, 'entry 2 repeats the id "k1"'],
  ])('rejects %s in KEYRING_KEYS', (_case, value, problem) => {
    const issues = issuesOf({ KEYRING_KEYS: value });

    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^KEYRING_KEYS: expected comma-separated id:base64 entries/);
    expect(issues[0]).toContain(problem);
  });

  it('reports every bad keyring entry', () => {
    const [issue] = issuesOf({ KEYRING_KEYS: `k1:short,k2:${keyA},k2:${keyB}` });

    expect(issue).toContain('"k1"');
    expect(issue).toContain('entry 3 repeats the id "k2"');
  });

  it('rejects a current key id outside the keyring', () => {
    expect(issuesOf({ KEYRING_KEYS: `first:${keyA}`, KEYRING_CURRENT_KEY_ID: 'other' })).toEqual([
      'KEYRING_CURRENT_KEY_ID: expected one of the KEYRING_KEYS ids (first), got "other"',
    ]);
  });

  it('rejects a current key id without a keyring', () => {
    expect(variablesOf(issuesOf({ KEYRING_CURRENT_KEY_ID: 'first' }))).toEqual(['KEYRING_CURRENT_KEY_ID']);
  });

  it('never quotes key material in messages', () => {
    const shortKey = randomBytes(16).toString('base64');
    const bareKey = randomBytes(32).toString('base64');

    const text = issuesOf({ KEYRING_KEYS: `k1:${shortKey},${bareKey},k3:${keyA},k3:${keyB}` }).join('\n');

    expect(text).not.toContain(shortKey);
    expect(text).not.toContain(bareKey);
    expect(text).not.toContain(keyA);
    expect(text).not.toContain(keyB);
  });

  it('prints keyring keys as redacted', () => {
    const config = parse({ KEYRING_KEYS: `first:${keyA}` });

    expect(JSON.stringify(config)).not.toContain(keyA);
    expect(JSON.stringify(config)).toContain('[redacted]');
    expect(inspect(config, { depth: 10 })).not.toContain(keyA);
    expect(inspect(config, { depth: 10 })).toContain('[redacted]');
  });
});
