import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProxyDirectoryConfig } from '../../src/config/proxy-directory.config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { ProxyDirectory } from '../../src/proxy/directory/proxy-directory.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../support/database.js';
import { captureLogs } from '../support/log-capture.js';
import { apiKeyFor, CountingSecretBox, millisecondsUntil, Seed, testConfig, writePlatformCredentialsFile } from './helpers.js';

// Changes written through the control plane services must reach a running directory within one
// second: through its own notifications, through a second process over the same PostgreSQL
// database, after its listener connection was killed, and through the change sequence check when
// notifications are missed.

const withinOneSecond = 1_000;

let database: TestDatabase;
let seed: Seed;
let secretBox: CountingSecretBox;
let platformFile: Awaited<ReturnType<typeof writePlatformCredentialsFile>>;
const directories: ProxyDirectory[] = [];
const secondProcesses: DatabaseHandle[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  secretBox = new CountingSecretBox();
  seed = new Seed(database.db, secretBox);
  platformFile = await writePlatformCredentialsFile({ DEEPSEEK: { kind: 'API_KEY', apiKey: apiKeyFor('DEEPSEEK') } });
});

afterEach(async () => {
  for (const directory of directories.splice(0)) await directory.stop();
  for (const handle of secondProcesses.splice(0)) await handle.close();
});

afterAll(async () => {
  await database?.destroy();
  await platformFile?.remove();
});

async function startDirectory(
  options: { handle?: DatabaseHandle; config?: Partial<ProxyDirectoryConfig>; listenerApplicationName?: string } = {},
): Promise<ProxyDirectory> {
  const handle = options.handle ?? database.handle;
  const directory = new ProxyDirectory({
    db: handle.db,
    pool: handle.pool,
    pglite: handle.pglite,
    secretBox,
    logger: captureLogs().logger,
    config: testConfig({ platformCredentialsFile: platformFile.path, ...options.config }),
    listenerApplicationName: options.listenerApplicationName,
  });
  await directory.start();
  directories.push(directory);
  return directory;
}

/** Opens a second "process": its own pool over the same PostgreSQL database. */
async function openSecondProcess(): Promise<DatabaseHandle> {
  const handle = await openDatabase({ url: database.url!, dataDirectory: '', poolMax: 4, connectTimeoutMs: 5_000, migrateOnStart: false });
  secondProcesses.push(handle);
  return handle;
}

async function isInactive(directory: ProxyDirectory, secret: string): Promise<boolean> {
  return (await directory.authenticate(secret))?.active === false;
}

async function resolvedKind(directory: ProxyDirectory, secret: string, provider: 'OPENAI' | 'DEEPSEEK') {
  const gatewayKey = await directory.authenticate(secret);
  return gatewayKey ? (await directory.resolve(gatewayKey, provider)).kind : 'unauthenticated';
}

/** Writes a change the way a lost notification looks: the row and the sequence change, nothing is sent. */
async function deactivateWithoutNotification(gatewayKeyId: string): Promise<void> {
  await database.db.transaction().execute(async (trx) => {
    await trx.updateTable('gateway_keys').set({ active: false }).where('id', '=', gatewayKeyId).execute();
    await sql`update change_sequence set value = value + 1`.execute(trx);
  });
}

async function terminateListener(applicationName: string): Promise<number> {
  const result = await sql<{ terminated: boolean }>`
    select pg_terminate_backend(pid) as terminated
    from pg_stat_activity
    where application_name = ${applicationName} and datname = current_database()
  `.execute(database.db);
  return result.rows.filter((row) => row.terminated).length;
}

describe('in this process', () => {
  let organizationId: string;
  let gatewayKey: { id: string; secret: string };
  let directory: ProxyDirectory;

  beforeEach(async () => {
    organizationId = await seed.organization();
    gatewayKey = await seed.gatewayKey(organizationId);
    directory = await startDirectory();
    await directory.authenticate(gatewayKey.secret);
  });

  it('revocation takes effect within one second', async () => {
    await seed.gatewayKeys.update(seed.context(organizationId), gatewayKey.id, { active: false });

    expect(await millisecondsUntil(() => isInactive(directory, gatewayKey.secret), withinOneSecond)).toBeLessThan(withinOneSecond);
  });

  it('deleted gateway key stops authenticating', async () => {
    await seed.gatewayKeys.delete(seed.context(organizationId), gatewayKey.id);

    const elapsed = await millisecondsUntil(async () => (await directory.authenticate(gatewayKey.secret)) === undefined, withinOneSecond);

    expect(elapsed).toBeLessThan(withinOneSecond);
  });

  it('regenerated secret replaces the old one', async () => {
    const { secret } = await seed.gatewayKeys.regenerateSecret(seed.context(organizationId), gatewayKey.id);

    const elapsed = await millisecondsUntil(async () => (await directory.authenticate(gatewayKey.secret)) === undefined, withinOneSecond);

    expect(elapsed).toBeLessThan(withinOneSecond);
    expect((await directory.authenticate(secret))?.id).toBe(gatewayKey.id);
  });

  it('disabled provider key takes effect within one second', async () => {
    const providerKeyId = await seed.providerKey(organizationId, { provider: 'OPENAI', apiKey: apiKeyFor('OPENAI'), assignment: { organization: true } });
    await millisecondsUntil(async () => (await resolvedKind(directory, gatewayKey.secret, 'OPENAI')) === 'use', withinOneSecond);

    await seed.providerKeys.update(seed.context(organizationId), providerKeyId, { enabled: false });

    const elapsed = await millisecondsUntil(async () => (await resolvedKind(directory, gatewayKey.secret, 'OPENAI')) === 'disabled', withinOneSecond);
    expect(elapsed).toBeLessThan(withinOneSecond);
  });

  it('new provider key is used within one second', async () => {
    expect(await resolvedKind(directory, gatewayKey.secret, 'OPENAI')).toBe('none');

    await seed.providerKey(organizationId, { provider: 'OPENAI', apiKey: apiKeyFor('OPENAI'), assignment: { gatewayKeyIds: [gatewayKey.id] } });

    const elapsed = await millisecondsUntil(async () => (await resolvedKind(directory, gatewayKey.secret, 'OPENAI')) === 'use', withinOneSecond);
    expect(elapsed).toBeLessThan(withinOneSecond);
  });

  it('rotated credentials are used within one second', async () => {
    const providerKeyId = await seed.providerKey(organizationId, { provider: 'OPENAI', apiKey: apiKeyFor('OPENAI'), assignment: { organization: true } });
    await resolvedKind(directory, gatewayKey.secret, 'OPENAI');
    const rotated = apiKeyFor('OPENAI');

    await seed.providerKeys.update(seed.context(organizationId), providerKeyId, { credentials: { apiKey: rotated } });

    const usesRotated = async () => {
      const resolved = await directory.resolve((await directory.authenticate(gatewayKey.secret))!, 'OPENAI');
      return resolved.kind === 'use' && resolved.credentials.kind === 'API_KEY' && resolved.credentials.apiKey === rotated;
    };
    expect(await millisecondsUntil(usesRotated, withinOneSecond)).toBeLessThan(withinOneSecond);
  });

  it('deleted provider key stops serving', async () => {
    const providerKeyId = await seed.providerKey(organizationId, { provider: 'OPENAI', apiKey: apiKeyFor('OPENAI'), assignment: { organization: true } });
    await millisecondsUntil(async () => (await resolvedKind(directory, gatewayKey.secret, 'OPENAI')) === 'use', withinOneSecond);

    await seed.providerKeys.delete(seed.context(organizationId), providerKeyId);

    const elapsed = await millisecondsUntil(async () => (await resolvedKind(directory, gatewayKey.secret, 'OPENAI')) === 'none', withinOneSecond);
    expect(elapsed).toBeLessThan(withinOneSecond);
  });

  it('platform permission takes effect within one second', async () => {
    expect(await resolvedKind(directory, gatewayKey.secret, 'DEEPSEEK')).toBe('none');

    await seed.organizations.setPlatformCredentialsAllowed(organizationId, true, { tokenId: null, label: 'proxy-directory-test' });

    const elapsed = await millisecondsUntil(async () => (await resolvedKind(directory, gatewayKey.secret, 'DEEPSEEK')) === 'use', withinOneSecond);
    expect(elapsed).toBeLessThan(withinOneSecond);
  });

  it('a gap in the notifications flushes', async () => {
    const other = await seed.gatewayKey(organizationId, 'other');
    await deactivateWithoutNotification(gatewayKey.id);

    await seed.gatewayKeys.update(seed.context(organizationId), other.id, { name: 'renamed' });

    expect(await millisecondsUntil(() => isInactive(directory, gatewayKey.secret), withinOneSecond)).toBeLessThan(withinOneSecond);
  });

  it('a missed notification alone is not seen', async () => {
    await deactivateWithoutNotification(gatewayKey.id);
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect((await directory.authenticate(gatewayKey.secret))?.active).toBe(true);
  });
});

describe('change sequence check', () => {
  it('flushes when a notification was missed', async () => {
    const organizationId = await seed.organization();
    const gatewayKey = await seed.gatewayKey(organizationId);
    const directory = await startDirectory({ config: { changeCheckIntervalMs: 250 } });
    await directory.authenticate(gatewayKey.secret);

    await deactivateWithoutNotification(gatewayKey.id);

    expect(await millisecondsUntil(() => isInactive(directory, gatewayKey.secret), withinOneSecond)).toBeLessThan(withinOneSecond);
  });
});

// A second process and a killed listener connection exist only on PostgreSQL: the embedded
// database is one session in one process.
describe('across processes', () => {
  let organizationId: string;
  let gatewayKey: { id: string; secret: string };

  beforeEach(async () => {
    organizationId = await seed.organization();
    gatewayKey = await seed.gatewayKey(organizationId);
  });

  it.skipIf(!postgresUrl)('second process sees revocation within one second', async () => {
    const other = await startDirectory({ handle: await openSecondProcess() });
    await other.authenticate(gatewayKey.secret);

    await seed.gatewayKeys.update(seed.context(organizationId), gatewayKey.id, { active: false });

    expect(await millisecondsUntil(() => isInactive(other, gatewayKey.secret), withinOneSecond)).toBeLessThan(withinOneSecond);
  });

  it.skipIf(!postgresUrl)('second process sees a disabled provider key within one second', async () => {
    const providerKeyId = await seed.providerKey(organizationId, { provider: 'OPENAI', apiKey: apiKeyFor('OPENAI'), assignment: { organization: true } });
    const other = await startDirectory({ handle: await openSecondProcess() });
    expect(await resolvedKind(other, gatewayKey.secret, 'OPENAI')).toBe('use');

    await seed.providerKeys.update(seed.context(organizationId), providerKeyId, { enabled: false });

    const elapsed = await millisecondsUntil(async () => (await resolvedKind(other, gatewayKey.secret, 'OPENAI')) === 'disabled', withinOneSecond);
    expect(elapsed).toBeLessThan(withinOneSecond);
  });

  it.skipIf(!postgresUrl)('listener reconnects after termination', async () => {
    const applicationName = `keyroute-listener-test-${randomBytes(4).toString('hex')}`;
    const other = await startDirectory({ handle: await openSecondProcess(), listenerApplicationName: applicationName });

    expect(await terminateListener(applicationName)).toBe(1);
    expect(await millisecondsUntil(async () => !other.listening, withinOneSecond)).toBeLessThan(withinOneSecond);
    expect(await millisecondsUntil(async () => other.listening, withinOneSecond)).toBeLessThan(withinOneSecond);
  });

  it.skipIf(!postgresUrl)('revocation after termination within one second', async () => {
    const applicationName = `keyroute-listener-test-${randomBytes(4).toString('hex')}`;
    const other = await startDirectory({ handle: await openSecondProcess(), listenerApplicationName: applicationName });
    await other.authenticate(gatewayKey.secret);
    await terminateListener(applicationName);
    await millisecondsUntil(async () => !other.listening, withinOneSecond);
    await millisecondsUntil(async () => other.listening, withinOneSecond);

    await seed.gatewayKeys.update(seed.context(organizationId), gatewayKey.id, { active: false });

    expect(await millisecondsUntil(() => isInactive(other, gatewayKey.secret), withinOneSecond)).toBeLessThan(withinOneSecond);
  });

  it.skipIf(!postgresUrl)('revocation during termination within one second', async () => {
    const applicationName = `keyroute-listener-test-${randomBytes(4).toString('hex')}`;
    const other = await startDirectory({ handle: await openSecondProcess(), listenerApplicationName: applicationName });
    await other.authenticate(gatewayKey.secret);

    await terminateListener(applicationName);
    await seed.gatewayKeys.update(seed.context(organizationId), gatewayKey.id, { active: false });

    expect(await millisecondsUntil(() => isInactive(other, gatewayKey.secret), withinOneSecond)).toBeLessThan(withinOneSecond);
  });

  it.skipIf(!postgresUrl)('reconnect flushes changes it missed', async () => {
    const applicationName = `keyroute-listener-test-${randomBytes(4).toString('hex')}`;
    const other = await startDirectory({ handle: await openSecondProcess(), listenerApplicationName: applicationName });
    await other.authenticate(gatewayKey.secret);
    await deactivateWithoutNotification(gatewayKey.id);

    await terminateListener(applicationName);

    expect(await millisecondsUntil(() => isInactive(other, gatewayKey.secret), withinOneSecond)).toBeLessThan(withinOneSecond);
  });

  it.skipIf(!postgresUrl)('second process check catches missed notifications', async () => {
    const other = await startDirectory({ handle: await openSecondProcess(), config: { changeCheckIntervalMs: 250 } });
    await other.authenticate(gatewayKey.secret);

    await deactivateWithoutNotification(gatewayKey.id);

    expect(await millisecondsUntil(() => isInactive(other, gatewayKey.secret), withinOneSecond)).toBeLessThan(withinOneSecond);
  });
});
