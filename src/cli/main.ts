import { parseArgs } from 'node:util';
import { openSecretBox } from '../bootstrap/open-secret-box.js';
import { loadConfig } from '../config/environment.js';
import { CryptoError } from '../crypto/errors.js';
import { rotateCredentials } from '../features/provider-keys/rotation.js';
import { openDatabase, type DatabaseHandle } from '../db/database.js';
import { LastUsedRecorder } from '../db/last-used-recorder.js';
import { migrateToLatest } from '../db/migrations.js';
import { ExpectedError } from '../errors.js';
import { listManagementTokens, findManagementToken, touchManagementTokens } from '../features/management-tokens/management-token.repository.js';
import { ManagementTokenService } from '../features/management-tokens/management-token.service.js';
import { OrganizationService } from '../features/organizations/organization.service.js';
import { createLogger } from '../logger.js';

const usage = `Usage: keyroute <command> [options]

Commands:
  migrate                                   Apply pending database migrations.
  organizations create --name NAME          Create an organization; prints its id.
  organizations list                        List organizations.
  organizations allow-platform-credentials ORG_ID --enabled true|false
                                            Allow or forbid the organization to use the
                                            credentials of PLATFORM_CREDENTIALS_FILE.
  tokens create --organization ID --scope read|write --actor LABEL
                                            Create a management token; prints it once.
  tokens list --organization ID             List an organization's tokens (never their secrets).
  tokens revoke TOKEN_ID                    Revoke a management token.
  credentials rotate                        Re-wrap every stored provider credential to the
                                            current encryption key; exits 1 if any failed.

Options:
  --json    Print machine-readable JSON instead of text.
  --help    Show this help.

The database comes from DATABASE_URL, or the embedded database in DATA_DIR when it is unset.`;

class UsageError extends Error {}

/**
 * The commands that the usage text lists, such as "tokens create". The usage text is the list of
 * commands, so a command is known exactly when its line is there.
 */
const knownCommands = new Set([...usage.matchAll(/^ {2}([a-z][a-z-]*(?: [a-z][a-z-]*)?)(?= |$)/gm)].map((match) => match[1]!));

/** Errors of `parseArgs` for an unknown option, a missing option value or a stray argument. */
function isArgumentError(error: unknown): error is Error {
  return error instanceof Error && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_');
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function requireOption(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`Missing --${name}.`);
  return value;
}

function requireUuid(value: string, what: string): string {
  if (!uuidPattern.test(value)) throw new UsageError(`${what} must be a UUID such as 3f1c…, got ${JSON.stringify(value)}.`);
  return value.toLowerCase();
}

async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      organization: { type: 'string' },
      scope: { type: 'string' },
      actor: { type: 'string' },
      enabled: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const [group, action, argument] = positionals;
  if (values.help || !group) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  // Checked before the database is opened, so a mistyped command neither creates nor migrates one.
  const requestedCommand = action ? `${group} ${action}` : group;
  if (!knownCommands.has(requestedCommand)) throw new UsageError(`Unknown command ${JSON.stringify(requestedCommand)}.`);

  const config = loadConfig(process.env);
  const logger = createLogger({ level: 'warn' });
  const database = await openDatabase(config.database);
  const print = (text: string, json: unknown) => process.stdout.write(`${values.json ? JSON.stringify(json) : text}\n`);

  try {
    await runCommand(database, group, action, argument, values, print);
  } finally {
    await database.close();
    logger.flush();
  }

  async function runCommand(
    handle: DatabaseHandle,
    commandGroup: string,
    commandAction: string | undefined,
    commandArgument: string | undefined,
    options: typeof values,
    output: typeof print,
  ): Promise<void> {
    const command = commandAction ? `${commandGroup} ${commandAction}` : commandGroup;
    if (command !== 'migrate') await ensureMigrated(handle);

    const organizations = new OrganizationService(handle.db);
    const tokens = new ManagementTokenService(
      handle.db,
      new LastUsedRecorder((ids, at) => touchManagementTokens(handle.db, ids, at), { intervalMs: 60_000, logger }),
    );

    switch (command) {
      case 'migrate': {
        const { applied, status } = await migrateToLatest(handle.db);
        output(
          applied.length > 0 ? `Applied ${applied.length} migration(s): ${applied.join(', ')}` : 'The database is up to date.',
          { applied, newer: status.newer },
        );
        return;
      }
      case 'organizations create': {
        const organization = await organizations.create(requireOption(options, 'name'));
        output(`Created organization ${organization.id} (${organization.name})`, organization);
        return;
      }
      case 'organizations list': {
        const list = await organizations.list();
        output(list.map((organization) => `${organization.id}  ${organization.name}`).join('\n') || 'No organizations.', list);
        return;
      }
      case 'organizations allow-platform-credentials': {
        if (!commandArgument) throw new UsageError('Missing ORG_ID: keyroute organizations allow-platform-credentials ORG_ID --enabled true|false');
        const id = requireUuid(commandArgument, 'ORG_ID');
        const enabled = requireOption(options, 'enabled');
        if (enabled !== 'true' && enabled !== 'false') throw new UsageError(`--enabled must be true or false, got ${JSON.stringify(enabled)}.`);
        const allowed = enabled === 'true';
        if (!(await organizations.setPlatformCredentialsAllowed(id, allowed, { tokenId: null, label: 'cli' }))) {
          throw new UsageError(`No organization with id ${id}.`);
        }
        output(
          `Organization ${id} ${allowed ? 'may now use' : 'can no longer use'} the platform credentials.`,
          { id, platformCredentialsAllowed: allowed },
        );
        return;
      }
      case 'tokens create': {
        const organizationId = requireUuid(requireOption(options, 'organization'), '--organization');
        const scope = requireOption(options, 'scope');
        if (scope !== 'read' && scope !== 'write') throw new UsageError(`--scope must be read or write, got ${JSON.stringify(scope)}.`);
        if (!(await organizations.find(organizationId))) throw new UsageError(`No organization with id ${organizationId}.`);
        const { token, record } = await tokens.issue({ organizationId, scope, actorLabel: requireOption(options, 'actor') });
        output(
          `Created ${scope} token ${record.id} for "${record.actorLabel}". It is shown only this once:\n${token}`,
          { id: record.id, organizationId, scope, actorLabel: record.actorLabel, token },
        );
        return;
      }
      case 'tokens list': {
        const organizationId = requireUuid(requireOption(options, 'organization'), '--organization');
        const list = await listManagementTokens(handle.db, organizationId);
        output(
          list
            .map((token) => `${token.id}  ${token.scope.padEnd(5)}  ${token.displayPrefix}…  ${token.actorLabel}${token.revokedAt ? '  (revoked)' : ''}`)
            .join('\n') || 'No tokens.',
          list,
        );
        return;
      }
      case 'tokens revoke': {
        if (!commandArgument) throw new UsageError('Missing TOKEN_ID: keyroute tokens revoke TOKEN_ID');
        const id = requireUuid(commandArgument, 'TOKEN_ID');
        if (await tokens.revoke(id)) {
          output(`Revoked token ${id}.`, { id, revoked: true });
          return;
        }
        const existing = await findManagementToken(handle.db, id);
        if (!existing) throw new UsageError(`No management token with id ${id}.`);
        output(`Token ${id} was already revoked.`, { id, revoked: true });
        return;
      }
      case 'credentials rotate': {
        const secretBox = await openSecretBox(config, handle, logger);
        try {
          const report = await rotateCredentials(handle.db, secretBox, logger);
          const failed = report.failed.map((entry) => `  ${entry.id}  ${entry.code}${entry.retryable ? ' (retryable; not marked)' : ' (marked UNDECRYPTABLE)'}`);
          output(
            [
              `Re-wrapped ${report.rewrapped}, already current ${report.current}, changed during rotation ${report.changedConcurrently}, failed ${report.failed.length}.`,
              ...failed,
            ].join('\n'),
            report,
          );
          if (report.failed.length > 0) process.exitCode = 1;
        } finally {
          secretBox.backend.close();
        }
        return;
      }
      default:
        throw new UsageError(`Unknown command ${JSON.stringify(command)}.`);
    }
  }
}

async function ensureMigrated(database: DatabaseHandle): Promise<void> {
  const { applied } = await migrateToLatest(database.db);
  if (applied.length > 0) process.stderr.write(`Applied ${applied.length} pending migration(s).\n`);
}

try {
  await run(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || isArgumentError(error)) {
    process.stderr.write(`keyroute: ${error.message}\n\n${usage}\n`);
    process.exit(2);
  }
  const code = (error as { code?: string }).code;
  if (error instanceof ExpectedError || error instanceof CryptoError || code === 'invalid_configuration' || code === 'database_unavailable' || code === 'migration_failed') {
    process.stderr.write(`keyroute: ${(error as Error).message}\n`);
    process.exit(1);
  }
  throw error;
}
