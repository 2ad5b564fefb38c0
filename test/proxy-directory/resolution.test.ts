import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyDirectory, type AuthenticatedGatewayKey } from '../../src/proxy/directory/proxy-directory.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import { apiKeyFor, corruptEnvelope, CountingSecretBox, Seed, testConfig, usedPart, writePlatformCredentialsFile } from './helpers.js';

// Organizations set up so that each resolution rule applies to one pair of gateway key and
// provider, read through a started directory.
//
// Organization "main" (platform credentials allowed), gateway keys G1 and G2:
//   OPENAI     assigned to G1 (enabled) and organization-wide (enabled)
//   ANTHROPIC  assigned to G1 (disabled) and organization-wide (enabled)
//   MISTRAL    organization-wide (disabled); the platform file has MISTRAL
//   DEEPSEEK   no key; the platform file has DEEPSEEK
//   XAI        no key; the platform file has no XAI
//   ZAI        assigned to G1 with a corrupted envelope, and organization-wide (enabled); the platform file has ZAI
// Organization "forbidden" (platform credentials not allowed): no keys.
// Organization "broken" (platform credentials allowed): DEEPSEEK organization-wide with a corrupted envelope.

const platformKeys = { MISTRAL: apiKeyFor('MISTRAL'), DEEPSEEK: apiKeyFor('DEEPSEEK'), ZAI: apiKeyFor('ZAI') };
const secrets = { openAiG1: apiKeyFor('OPENAI'), openAiOrganization: apiKeyFor('OPENAI') };

let database: TestDatabase;
let directory: ProxyDirectory;
let platformFile: Awaited<ReturnType<typeof writePlatformCredentialsFile>>;
const logs = captureLogs();
const ids: Record<string, string> = {};
let g1: AuthenticatedGatewayKey;
let g2: AuthenticatedGatewayKey;
let forbidden: AuthenticatedGatewayKey;
let broken: AuthenticatedGatewayKey;

beforeAll(async () => {
  database = await createTestDatabase();
  const secretBox = new CountingSecretBox();
  const seed = new Seed(database.db, secretBox);

  const main = await seed.organization({ platformCredentialsAllowed: true });
  const g1Key = await seed.gatewayKey(main, 'G1');
  const g2Key = await seed.gatewayKey(main, 'G2');
  const onlyG1 = { gatewayKeyIds: [g1Key.id] };
  const organizationWide = { organization: true };
  ids.openAiG1 = await seed.providerKey(main, { provider: 'OPENAI', apiKey: secrets.openAiG1, assignment: onlyG1, name: 'OpenAI G1' });
  ids.openAiOrganization = await seed.providerKey(main, { provider: 'OPENAI', apiKey: secrets.openAiOrganization, assignment: organizationWide });
  ids.anthropicG1 = await seed.providerKey(main, { provider: 'ANTHROPIC', apiKey: apiKeyFor('ANTHROPIC'), assignment: onlyG1, enabled: false, name: 'Anthropic G1' });
  ids.anthropicOrganization = await seed.providerKey(main, { provider: 'ANTHROPIC', apiKey: apiKeyFor('ANTHROPIC'), assignment: organizationWide });
  ids.mistralOrganization = await seed.providerKey(main, { provider: 'MISTRAL', apiKey: apiKeyFor('MISTRAL'), assignment: organizationWide, enabled: false, name: 'Mistral shared' });
  ids.zaiG1 = await seed.providerKey(main, { provider: 'ZAI', apiKey: apiKeyFor('ZAI'), assignment: onlyG1 });
  ids.zaiOrganization = await seed.providerKey(main, { provider: 'ZAI', apiKey: apiKeyFor('ZAI'), assignment: organizationWide });
  await corruptEnvelope(database.db, ids.zaiG1);

  const forbiddenOrganization = await seed.organization();
  const forbiddenKey = await seed.gatewayKey(forbiddenOrganization);

  const brokenOrganization = await seed.organization({ platformCredentialsAllowed: true });
  const brokenKey = await seed.gatewayKey(brokenOrganization);
  ids.deepSeekBroken = await seed.providerKey(brokenOrganization, { provider: 'DEEPSEEK', apiKey: apiKeyFor('DEEPSEEK'), assignment: organizationWide });
  await corruptEnvelope(database.db, ids.deepSeekBroken);

  platformFile = await writePlatformCredentialsFile({
    MISTRAL: { kind: 'API_KEY', apiKey: platformKeys.MISTRAL },
    DEEPSEEK: { kind: 'API_KEY', apiKey: platformKeys.DEEPSEEK },
    ZAI: { kind: 'API_KEY', apiKey: platformKeys.ZAI },
  });
  directory = new ProxyDirectory({
    db: database.db,
    pool: database.handle.pool,
    pglite: database.handle.pglite,
    secretBox,
    logger: logs.logger,
    config: testConfig({ platformCredentialsFile: platformFile.path }),
  });
  await directory.start();

  g1 = (await directory.authenticate(g1Key.secret))!;
  g2 = (await directory.authenticate(g2Key.secret))!;
  forbidden = (await directory.authenticate(forbiddenKey.secret))!;
  broken = (await directory.authenticate(brokenKey.secret))!;
});

afterAll(async () => {
  await directory?.stop();
  await database?.destroy();
  await platformFile?.remove();
});

describe('resolution rules', () => {
  it('rule 1 uses the enabled key of the gateway key', async () => {
    const resolved = await directory.resolve(g1, 'OPENAI');

    expect(resolved.kind).toBe('use');
    expect(resolved).toMatchObject({ source: 'GATEWAY_KEY', providerKeyId: ids.openAiG1, credentialsVersion: 1 });
    expect(usedPart(resolved).credentials).toEqual({ kind: 'API_KEY', apiKey: secrets.openAiG1 });
  });

  it('rule 1 returns the settings with defaults', async () => {
    const resolved = await directory.resolve(g1, 'OPENAI');

    expect(usedPart(resolved).settings).toEqual({ organizationId: null, projectId: null });
  });

  it('rule 2 names the disabled key of the gateway key', async () => {
    const resolved = await directory.resolve(g1, 'ANTHROPIC');

    expect(resolved).toEqual({ kind: 'disabled', source: 'GATEWAY_KEY', providerKeyId: ids.anthropicG1, name: 'Anthropic G1' });
  });

  it('rule 3 uses the enabled organization-wide key', async () => {
    const resolved = await directory.resolve(g2, 'OPENAI');

    expect(resolved).toMatchObject({ kind: 'use', source: 'ORGANIZATION', providerKeyId: ids.openAiOrganization });
    expect(usedPart(resolved).credentials).toEqual({ kind: 'API_KEY', apiKey: secrets.openAiOrganization });
  });

  it('rule 3 applies without a key of the gateway key', async () => {
    const resolved = await directory.resolve(g2, 'ANTHROPIC');

    expect(resolved).toMatchObject({ kind: 'use', source: 'ORGANIZATION', providerKeyId: ids.anthropicOrganization });
  });

  it('rule 4 names the disabled organization-wide key', async () => {
    const resolved = await directory.resolve(g1, 'MISTRAL');

    expect(resolved).toEqual({ kind: 'disabled', source: 'ORGANIZATION', providerKeyId: ids.mistralOrganization, name: 'Mistral shared' });
  });

  it('rule 5 uses allowed platform credentials', async () => {
    const resolved = await directory.resolve(g1, 'DEEPSEEK');

    expect(resolved).toMatchObject({ kind: 'use', source: 'PLATFORM', providerKeyId: null });
    expect(usedPart(resolved).credentials).toEqual({ kind: 'API_KEY', apiKey: platformKeys.DEEPSEEK });
  });

  it('rule 5 skips a forbidden organization', async () => {
    expect(await directory.resolve(forbidden, 'DEEPSEEK')).toEqual({ kind: 'none' });
  });

  it('rule 6 without platform credentials for the provider', async () => {
    expect(await directory.resolve(g1, 'XAI')).toEqual({ kind: 'none' });
  });

  it('undecryptable key of the gateway key is unavailable', async () => {
    const resolved = await directory.resolve(g1, 'ZAI');

    expect(resolved).toEqual({
      kind: 'unavailable',
      source: 'GATEWAY_KEY',
      providerKeyId: ids.zaiG1,
      code: 'decryption_failed',
      retryable: false,
    });
  });

  it('undecryptable organization-wide key is unavailable', async () => {
    const resolved = await directory.resolve(broken, 'DEEPSEEK');

    expect(resolved).toEqual({
      kind: 'unavailable',
      source: 'ORGANIZATION',
      providerKeyId: ids.deepSeekBroken,
      code: 'decryption_failed',
      retryable: false,
    });
  });

  it('unavailable stays unavailable on repeat', async () => {
    await directory.resolve(g1, 'ZAI');

    expect((await directory.resolve(g1, 'ZAI')).kind).toBe('unavailable');
  });

  it('decrypt failure is logged with the key id', () => {
    const line = logs.lines.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.providerKeyId === ids.zaiG1);

    expect(line).toMatchObject({ level: 'warn', code: 'decryption_failed' });
  });

  it('platform secrets stay out of the logs', () => {
    for (const secret of Object.values(platformKeys)) expect(logs.text()).not.toContain(secret);
  });

  it('provider secrets stay out of the logs', () => {
    for (const secret of Object.values(secrets)) expect(logs.text()).not.toContain(secret);
  });

  it('cached credentials are frozen', async () => {
    const resolved = await directory.resolve(g1, 'OPENAI');

    expect(Object.isFrozen(usedPart(resolved).credentials)).toBe(true);
  });
});

describe('authenticate', () => {
  it('returns the gateway key fields', () => {
    expect(g1).toMatchObject({ name: 'G1', active: true, expiresAt: null, modelAllowList: null });
  });

  it('returns undefined for an unknown secret', async () => {
    expect(await directory.authenticate(`kr_${'A'.repeat(43)}`)).toBeUndefined();
  });

  it('returns undefined for a malformed secret', async () => {
    expect(await directory.authenticate('not a gateway key')).toBeUndefined();
  });
});
