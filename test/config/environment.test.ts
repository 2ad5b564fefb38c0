import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/environment.js';
import { repositoryRoot } from '../support/process.js';

function configErrorOf(variables: Record<string, string>): ConfigError {
  try {
    loadConfig(variables);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(Object.keys(variables))}`);
}

describe('configuration defaults', () => {
  const config = loadConfig({});

  it('listens on 127.0.0.1', () => {
    expect(config.server.host).toBe('127.0.0.1');
  });

  it('listens on port 4310', () => {
    expect(config.server.port).toBe(4310);
  });

  it('allows no CORS origins', () => {
    expect(config.server.corsOrigins).toEqual([]);
  });

  it('drains for 60 seconds', () => {
    expect(config.server.shutdownDrainMs).toBe(60_000);
  });

  it('keeps idle connections for 65 seconds', () => {
    expect(config.server.keepAliveTimeoutMs).toBe(65_000);
  });

  it('uses the embedded database', () => {
    expect(config.database.url).toBeUndefined();
    expect(config.database.dataDirectory).toBe('.keyroute-data');
  });

  it('migrates on start', () => {
    expect(config.database.migrateOnStart).toBe(true);
  });

  it('treats blank values as unset', () => {
    const blank = loadConfig({ PORT: '', LISTEN_HOST: '  ', DATABASE_URL: ' ', SHUTDOWN_DRAIN_MS: '' });

    expect(blank.server.port).toBe(4310);
    expect(blank.server.host).toBe('127.0.0.1');
    expect(blank.database.url).toBeUndefined();
    expect(blank.server.shutdownDrainMs).toBe(60_000);
  });
});

describe('configuration values', () => {
  it('parses valid settings', () => {
    const config = loadConfig({
      LISTEN_HOST: '0.0.0.0',
      PORT: '8080',
      CORS_ORIGINS: 'https://console.example.com, http://localhost:5173/',
      KEEP_ALIVE_TIMEOUT_MS: '70000',
      SHUTDOWN_DRAIN_MS: '120000',
      MIGRATE_ON_START: 'false',
      DATABASE_URL: 'postgres://keyroute:secret@db.example.com:5433/keyroute',
    });

    expect(config.server.host).toBe('0.0.0.0');
    expect(config.server.port).toBe(8080);
    expect(config.server.corsOrigins).toEqual(['https://console.example.com', 'http://localhost:5173']);
    expect(config.server.keepAliveTimeoutMs).toBe(70_000);
    expect(config.server.shutdownDrainMs).toBe(120_000);
    expect(config.database.migrateOnStart).toBe(false);
    expect(config.database.url).toBe('postgres://keyroute:secret@db.example.com:5433/keyroute');
  });

  it('accepts a socket directory as host', () => {
    const config = loadConfig({ DATABASE_URL: 'postgresql:///keyroute?host=/var/run/postgresql' });

    expect(config.database.url).toBe('postgresql:///keyroute?host=/var/run/postgresql');
  });
});

describe('invalid configuration', () => {
  const cases = [
    { variable: 'PORT', value: '70000', expected: 'expected an integer from 0 to 65535' },
    { variable: 'PORT', value: 'http', expected: 'expected an integer from 0 to 65535' },
    { variable: 'LISTEN_HOST', value: 'not a host', expected: 'expected an IP address or host name' },
    { variable: 'LOG_LEVEL', value: 'loud', expected: 'expected one of fatal, error, warn, info, debug, trace, silent' },
    { variable: 'NODE_ENV', value: 'staging', expected: 'expected one of development, production, test' },
    { variable: 'CORS_ORIGINS', value: 'https://console.example.com/app', expected: 'expected an origin' },
    { variable: 'CORS_ORIGINS', value: '*', expected: 'expected an origin' },
    { variable: 'KEEP_ALIVE_TIMEOUT_MS', value: '65s', expected: 'expected an integer from 1000 to 600000 (milliseconds)' },
    { variable: 'SHUTDOWN_DELAY_MS', value: '-1', expected: 'expected an integer from 0 to 60000 (milliseconds)' },
    { variable: 'SHUTDOWN_DRAIN_MS', value: '1.5', expected: 'expected an integer from 0 to 3600000 (milliseconds)' },
    { variable: 'DATABASE_POOL_MAX', value: '0', expected: 'expected an integer from 1 to 1000' },
    { variable: 'MIGRATE_ON_START', value: 'maybe', expected: 'expected true or false' },
    { variable: 'GRAPHQL_MAX_DEPTH', value: '1', expected: 'expected an integer from 2 to 100' },
    { variable: 'DATABASE_URL', value: 'localhost:5432', expected: 'expected a postgres:// or postgresql:// URL' },
    { variable: 'DATABASE_URL', value: 'not a url', expected: 'expected a URL such as postgres://' },
    { variable: 'DATABASE_URL', value: 'mysql://db.example.com/keyroute', expected: 'expected a postgres:// or postgresql:// URL' },
    { variable: 'DATABASE_URL', value: 'postgres://db.example.com', expected: 'expected a database name' },
    { variable: 'DATABASE_URL', value: 'postgres://db.example.com/key%zzroute', expected: 'expected a percent-encoded database name' },
  ];

  it.each(cases)('$variable=$value names the expected form', ({ variable, value, expected }) => {
    const error = configErrorOf({ [variable]: value });

    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.variable).toBe(variable);
    expect(error.issues[0]!.message).toContain(expected);
    expect(error.message).toContain(`${variable}: ${expected}`);
  });

  it('reports every invalid variable at once', () => {
    const invalid = {
      PORT: '70000',
      LISTEN_HOST: 'not a host',
      LOG_LEVEL: 'loud',
      CORS_ORIGINS: '*',
      SHUTDOWN_DRAIN_MS: 'forever',
      MIGRATE_ON_START: 'maybe',
      DATABASE_URL: 'mysql://db.example.com/keyroute',
    };

    const error = configErrorOf(invalid);

    const reported = error.issues.map((issue) => issue.variable).sort();
    expect(reported).toEqual(Object.keys(invalid).sort());
    expect(error.message).toMatch(/^Invalid configuration \(7 problems\)/);
    for (const variable of Object.keys(invalid)) {
      expect(error.message).toContain(`\n  ${variable}: expected `);
    }
  });

  it('reports each bad entry of a list', () => {
    const error = configErrorOf({ CORS_ORIGINS: 'https://ok.example.com,ftp://files.example.com,https://a.example.com/path' });

    expect(error.issues).toHaveLength(2);
    expect(error.issues[0]!.message).toContain('ftp://files.example.com');
    expect(error.issues[1]!.message).toContain('https://a.example.com/path');
  });

  it('has the stable code invalid_configuration', () => {
    expect(configErrorOf({ PORT: 'x' }).code).toBe('invalid_configuration');
  });
});

describe('DATABASE_URL errors', () => {
  const password = 'hunter2-Pa55word';
  const urls = [
    `mysql://admin:${password}@db.example.com:3306/keyroute`,
    `postgres://admin:${password}@db.example.com:5432`,
    `postgres://admin:${password}@db.example.com:99999/keyroute`,
    `admin:${password}@db.example.com:5432/keyroute`,
    `postgres://admin:${password}@db example.com/keyroute`,
    `postgres://admin:${password}@db.example.com/key%zzroute`,
  ];

  it.each(urls)('never echo the password of %s', (url) => {
    const error = configErrorOf({ DATABASE_URL: url });

    expect(error.issues.map((issue) => issue.variable)).toEqual(['DATABASE_URL']);
    expect(error.message).not.toContain(password);
    expect(JSON.stringify(error.issues)).not.toContain(password);
  });
});

describe('environment access', () => {
  /** Entry points that read the environment and pass it to loadConfig; nothing else may. */
  const allowed = ['src/main.ts', 'src/cli/main.ts'];

  async function listSourceFiles(directory: string): Promise<string[]> {
    const entries = await readdir(directory, { withFileTypes: true });
    const files: string[] = [];
    for (const entry of entries) {
      const entryPath = path.join(directory, entry.name);
      if (entry.isDirectory()) files.push(...(await listSourceFiles(entryPath)));
      else if (/\.(ts|js|mts|cts)$/.test(entry.name)) files.push(entryPath);
    }
    return files;
  }

  it('is limited to the entry points', async () => {
    const sourceFiles = await listSourceFiles(path.join(repositoryRoot, 'src'));
    const readers: string[] = [];
    for (const file of sourceFiles) {
      const text = await readFile(file, 'utf8');
      if (/process\s*\.\s*env\b|process\s*\[\s*['"`]env['"`]\s*\]/.test(text)) {
        readers.push(path.relative(repositoryRoot, file).split(path.sep).join('/'));
      }
    }

    expect(sourceFiles.length).toBeGreaterThan(10);
    expect(readers.filter((file) => !allowed.includes(file))).toEqual([]);
  });
});
