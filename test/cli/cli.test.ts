import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { createTestDatabase, postgresUrl, type TestDatabase } from '../support/database.js';
import { startServerOver } from '../support/in-process-server.js';
import { baseEnvironment, createTemporaryDirectory, ProcessGroup } from '../support/process.js';

const uuidPattern = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const tokenPattern = /krm_[A-Za-z0-9_-]{43}/g;
const usageLine = 'Usage: keyroute <command> [options]';

// Each command is a new Node process that loads TypeScript and opens the database. That takes about
// a second on an idle two-core machine and several under load, so the default 30 s is too short.
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const processes = new ProcessGroup();
let testDatabase: TestDatabase | undefined;
let dataDirectory: Awaited<ReturnType<typeof createTemporaryDirectory>>;
/** Points the CLI at this file's own database: PostgreSQL when DATABASE_URL is set, else PGlite. */
let databaseEnvironment: Record<string, string>;

beforeAll(async () => {
  dataDirectory = await createTemporaryDirectory('cli');
  if (postgresUrl) {
    testDatabase = await createTestDatabase();
    databaseEnvironment = { DATABASE_URL: testDatabase.url! };
  } else {
    databaseEnvironment = { DATA_DIR: dataDirectory.path };
  }
});

afterEach(async () => {
  await processes.killAll();
});

afterAll(async () => {
  await processes.killAll();
  await testDatabase?.destroy();
  await dataDirectory?.remove();
});

async function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const spawned = processes.spawnCli(args, { ...baseEnvironment(), ...databaseEnvironment });
  const { code } = await spawned.waitForExit(30_000);
  return { code, stdout: spawned.stdout(), stderr: spawned.stderr() };
}

/** Runs the CLI and returns its JSON output, failing with the output when it did not exit 0. */
async function cliJson<T>(...args: string[]): Promise<T> {
  const result = await cli(...args, '--json');
  if (result.code !== 0) throw new Error(`keyroute ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/**
 * Starts the server in this process over the CLI's database, runs `check`, and closes both, so
 * that the embedded database is free for the next CLI command.
 */
async function withServer(check: (graphqlStatus: (token: string) => Promise<number>) => Promise<void>): Promise<void> {
  const handle = await openDatabase({
    url: databaseEnvironment.DATABASE_URL,
    dataDirectory: dataDirectory.path,
    poolMax: 2,
    connectTimeoutMs: 5_000,
    migrateOnStart: true,
  });
  try {
    const server = await startServerOver(handle, databaseEnvironment);
    try {
      await check(async (token) => {
        const response = await fetch(`${server.baseUrl}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: '{ viewer { token { actorLabel } } }' }),
        });
        await response.arrayBuffer();
        return response.status;
      });
    } finally {
      await server.stop();
    }
  } finally {
    await handle.close();
  }
}

describe('organizations', () => {
  it('create prints the new id', async () => {
    const result = await cli('organizations', 'create', '--name', 'Acme');

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Created organization ${uuidPattern.source} \\(Acme\\)\\n$`));
  });

  it('create --json prints the organization', async () => {
    const organization = await cliJson<{ id: string; name: string }>('organizations', 'create', '--name', 'Globex');

    expect(organization.id).toMatch(uuidPattern);
    expect(organization.name).toBe('Globex');
  });

  it('list shows each organization', async () => {
    const created = await cliJson<{ id: string }>('organizations', 'create', '--name', 'Initech');

    const text = await cli('organizations', 'list');
    const listed = await cliJson<{ id: string; name: string }[]>('organizations', 'list');

    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${created.id}  Initech\n`);
    expect(listed).toContainEqual(expect.objectContaining({ id: created.id, name: 'Initech' }));
  });
});

describe('tokens', () => {
  let organizationId: string;

  beforeAll(async () => {
    ({ id: organizationId } = await cliJson<{ id: string }>('organizations', 'create', '--name', 'Token tests'));
  });

  it('create prints the token once', async () => {
    const result = await cli('tokens', 'create', '--organization', organizationId, '--scope', 'write', '--actor', 'terraform');

    const tokens = result.stdout.match(tokenPattern) ?? [];
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Created write token ${uuidPattern.source} for "terraform"\\. It is shown only this once:\\n`));
    expect(tokens).toHaveLength(1);
    expect(result.stderr).not.toMatch(tokenPattern);
  });

  it('create --json prints the token and its record', async () => {
    const created = await cliJson<Record<string, string>>(
      'tokens', 'create', '--organization', organizationId, '--scope', 'read', '--actor', 'ci',
    );

    expect(created.id).toMatch(uuidPattern);
    expect(created.organizationId).toBe(organizationId);
    expect(created.scope).toBe('read');
    expect(created.actorLabel).toBe('ci');
    expect(created.token).toMatch(/^krm_[A-Za-z0-9_-]{43}$/);
  });

  it('list never shows the secret', async () => {
    const created = await cliJson<{ id: string; token: string }>(
      'tokens', 'create', '--organization', organizationId, '--scope', 'read', '--actor', 'dashboard',
    );

    const text = await cli('tokens', 'list', '--organization', organizationId);
    const json = await cli('tokens', 'list', '--organization', organizationId, '--json');

    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${created.id}  read   ${created.token.slice(0, 10)}…  dashboard`);
    expect(text.stdout).not.toContain(created.token);
    expect(json.stdout).not.toContain(created.token);
    expect(json.stdout).not.toMatch(/hash/i);
    expect(JSON.parse(json.stdout)).toContainEqual(expect.objectContaining({ id: created.id, displayPrefix: created.token.slice(0, 10) }));
  });

  it('revoked token gets 401', async () => {
    const kept = await cliJson<{ id: string; token: string }>(
      'tokens', 'create', '--organization', organizationId, '--scope', 'write', '--actor', 'kept',
    );
    const revoked = await cliJson<{ id: string; token: string }>(
      'tokens', 'create', '--organization', organizationId, '--scope', 'write', '--actor', 'revoked',
    );
    await withServer(async (graphqlStatus) => {
      expect(await graphqlStatus(revoked.token)).toBe(200);
    });

    const result = await cli('tokens', 'revoke', revoked.id);
    const list = await cli('tokens', 'list', '--organization', organizationId);

    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Revoked token ${revoked.id}.\n`);
    expect(list.stdout).toContain(`revoked  (revoked)`);
    await withServer(async (graphqlStatus) => {
      expect(await graphqlStatus(revoked.token)).toBe(401);
      expect(await graphqlStatus(kept.token)).toBe(200);
    });
  });

  it('revoke twice succeeds', async () => {
    const created = await cliJson<{ id: string }>('tokens', 'create', '--organization', organizationId, '--scope', 'read', '--actor', 'twice');
    await cli('tokens', 'revoke', created.id);

    const again = await cli('tokens', 'revoke', created.id);

    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`Token ${created.id} was already revoked.\n`);
  });
});

describe('bad arguments', () => {
  const organizationId = randomUUID();
  const cases = [
    {
      case: 'a missing --scope',
      args: ['tokens', 'create', '--organization', organizationId, '--actor', 'ci'],
      message: 'Missing --scope.',
    },
    {
      case: 'an unknown scope',
      args: ['tokens', 'create', '--organization', organizationId, '--scope', 'admin', '--actor', 'ci'],
      message: '--scope must be read or write, got "admin".',
    },
    {
      case: 'a bad organization uuid',
      args: ['tokens', 'create', '--organization', 'acme', '--scope', 'read', '--actor', 'ci'],
      message: '--organization must be a UUID',
    },
    { case: 'a bad token uuid', args: ['tokens', 'revoke', '1234'], message: 'TOKEN_ID must be a UUID' },
    { case: 'a missing token id', args: ['tokens', 'revoke'], message: 'Missing TOKEN_ID' },
    { case: 'an unknown command', args: ['frobnicate'], message: 'Unknown command "frobnicate".' },
    { case: 'an unknown subcommand', args: ['tokens', 'delete'], message: 'Unknown command "tokens delete".' },
    { case: 'an unknown option', args: ['organizations', 'create', '--colour', 'red'], message: "Unknown option '--colour'" },
    { case: 'an option without value', args: ['organizations', 'create', '--name'], message: "Option '--name <value>' argument missing" },
  ];

  it.each(cases)('exit 2 with usage for $case', async ({ args, message }) => {
    const result = await cli(...args);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`keyroute: ${message}`);
    expect(result.stderr).toContain(usageLine);
    expect(result.stdout).toBe('');
  });

  it('leave the database untouched for an unknown command', async () => {
    const emptyDirectory = await createTemporaryDirectory('cli-unknown');
    try {
      const spawned = processes.spawnCli(['frobnicate'], { ...baseEnvironment(), DATA_DIR: emptyDirectory.path });

      const exit = await spawned.waitForExit();

      expect(exit.code).toBe(2);
      expect(await readdir(emptyDirectory.path)).toEqual([]);
    } finally {
      await emptyDirectory.remove();
    }
  });
});

describe('help and migrate', () => {
  it('--help prints usage and exits 0', async () => {
    const result = await cli('--help');

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(usageLine);
    expect(result.stderr).toBe('');
  });

  it('migrate reports an up-to-date database', async () => {
    await cli('organizations', 'list');

    const result = await cli('migrate', '--json');

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ applied: [], newer: [] });
  });
});
