import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { parse, validate } from 'graphql';
import { sql, type Insertable } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../src/config/environment.js';
import { graphqlEnvironment } from '../src/config/graphql.config.js';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import type { ProviderKeyAssignmentsTable, ProviderKeysTable } from '../src/db/schema.js';
import type { WriteContext } from '../src/features/gateway-keys/gateway-key.service.js';
import type { CredentialsInput } from '../src/features/provider-keys/credentials-input.js';
import type { SettingsInput } from '../src/features/provider-keys/settings.js';
import { schema } from '../src/graphql/schema.js';
import { createLogger } from '../src/logger.js';
import type { ProviderId } from '../src/providers/providers.js';
import type { Services } from '../src/services.js';
import { startServer, type RunningServer } from '../src/server.js';
import { QueryLog, type LoggedQuery } from '../test/support/query-log.js';

// Statements and HTTP latency of the console's provider-key listing: `providerKeys(first: 100)`
// with credentials, settings and assignments, for an organization with 100 provider keys (one page)
// and one with 1,000 (ten pages, walked with `after`).
//
// The real server runs in this process on 127.0.0.1 over a database of its own, created on the
// PostgreSQL server of DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and dropped at
// the end, also after a failure or Ctrl-C. Statements are counted with the Kysely plugin QueryLog of
// test/support/query-log.ts, per request id. It does not count BEGIN and COMMIT, which the listing
// does not run anyway.
//
// Requests are sequential, one connection, so the latency is that of an idle server.
// Usage: npx tsx bench/provider-keys.bench.ts

const KEY_COUNTS = [100, 1_000];
const PAGE_SIZE = 100;
const WARMUP_REQUESTS = 50;
const MAX_TIMED_ROUNDS = 200;
const MAX_TIMED_MS_PER_SIZE = 60_000;
/**
 * One gateway key per two provider keys: 50 for 100 keys, 500 for 1,000. A gateway key has one slot
 * per provider, 8 in all, so 50 gateway keys could serve at most 400 of 1,000 provider keys.
 */
const GATEWAY_KEYS_PER_PROVIDER_KEY = 0.5;
/** Providers that have one organization-wide key each. The schema allows at most one per provider. */
const ORGANIZATION_WIDE_PROVIDERS: ProviderId[] = ['ANTHROPIC', 'OPENAI', 'VERTEX_AI', 'BEDROCK'];
/** Share of provider keys per provider: an assumed mix with mostly Anthropic and OpenAI keys. */
const PROVIDER_SHARES: [ProviderId, number][] = [
  ['ANTHROPIC', 0.25],
  ['OPENAI', 0.25],
  ['BEDROCK', 0.1],
  ['VERTEX_AI', 0.1],
  ['MISTRAL', 0.08],
  ['DEEPSEEK', 0.08],
  ['XAI', 0.07],
  ['ZAI', 0.07],
];
/** Probabilities that a key assigned to gateway keys serves one, two or three of them. */
const ASSIGNMENT_SIZE_SHARES = [0.6, 0.3, 0.1];
const DISABLED_SHARE = 0.05;

// `first` is written into the query, as in the README's example, and not passed as a variable:
// the cost limit multiplies by a literal `first` only (see estimateCosts).
const ProviderKeyListing = /* GraphQL */ `
  query ProviderKeyListing($after: String) {
    providerKeys(first: ${PAGE_SIZE}, after: $after) {
      edges {
        node {
          id
          name
          provider
          enabled
          status
          credentialsVersion
          credentials {
            __typename
            ... on ApiKey { maskedKey }
            ... on BedrockRegions { regions { region accessKeyId secretAccessKey } }
            ... on VertexServiceAccount { projectId clientEmail privateKeyId privateKey }
          }
          settings {
            __typename
            ... on OpenAiSettings { organizationId projectId }
            ... on VertexAiSettings { location projectId }
            ... on ZaiSettings { endpoint }
            ... on BedrockSettings { defaultRegion }
          }
          assignment {
            __typename
            ... on OrganizationAssignment { organization { id name } }
            ... on GatewayKeysAssignment { gatewayKeys { id name } }
          }
          createdAt
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

interface ListingNode {
  id: string;
  credentials: { __typename: string };
  settings: { __typename: string } | null;
  assignment: { __typename: 'OrganizationAssignment' } | { __typename: 'GatewayKeysAssignment'; gatewayKeys: { id: string }[] };
}

interface ListingPage {
  data?: { providerKeys: { edges: { node: ListingNode }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } };
  errors?: { message: string }[];
}

const adminUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const databaseName = `keyroute_bench_${randomBytes(4).toString('hex')}`;

/** Aborted on SIGINT or SIGTERM, so that the loops stop and the database is still dropped. */
const interruption = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => interruption.abort(new Error(`Interrupted by ${signal}, so the bench stops and drops its database`)));
}

function checkNotInterrupted(): void {
  interruption.signal.throwIfAborted();
}

async function withAdminClient(work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/** mulberry32: a small seeded generator, so that every run seeds the same assignment layout. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Returns `count` values in shuffled order, each value as often as its share of `count`
 * (largest remainder rounding), so that every run has exactly the stated mix.
 */
function shuffledByShare<T>(random: () => number, entries: readonly [T, number][], count: number): T[] {
  const exact = entries.map(([value, share]) => ({ value, quota: share * count, taken: Math.floor(share * count) }));
  const byRemainder = [...exact].sort((a, b) => b.quota - b.taken - (a.quota - a.taken));
  let missing = count - exact.reduce((sum, entry) => sum + entry.taken, 0);
  for (const entry of byRemainder) {
    if (missing <= 0) break;
    entry.taken += 1;
    missing -= 1;
  }
  const values = exact.flatMap((entry) => Array.from({ length: entry.taken }, () => entry.value));
  // Fisher-Yates shuffle.
  for (let index = values.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [values[index], values[other]] = [values[other]!, values[index]!];
  }
  return values;
}

function randomText(random: () => number, length: number, alphabet: string): string {
  let text = '';
  for (let index = 0; index < length; index += 1) text += alphabet[Math.floor(random() * alphabet.length)];
  return text;
}

/** Credentials in each provider's format, with settings that differ from the defaults where a provider has any. */
function templateInput(provider: ProviderId, random: () => number): { credentials: CredentialsInput; settings?: SettingsInput } {
  const alphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const hex = '0123456789abcdef';
  switch (provider) {
    case 'ANTHROPIC':
      return { credentials: { apiKey: `sk-ant-api03-${randomText(random, 93, alphanumeric)}-${randomText(random, 6, alphanumeric)}AA` } };
    case 'OPENAI':
      return {
        credentials: { apiKey: `sk-proj-${randomText(random, 156, alphanumeric)}` },
        settings: { openAi: { organizationId: `org-${randomText(random, 24, alphanumeric)}`, projectId: `proj_${randomText(random, 24, alphanumeric)}` } },
      };
    case 'MISTRAL':
      return { credentials: { apiKey: randomText(random, 32, alphanumeric) } };
    case 'DEEPSEEK':
      return { credentials: { apiKey: `sk-${randomText(random, 32, hex)}` } };
    case 'XAI':
      return { credentials: { apiKey: `xai-${randomText(random, 80, alphanumeric)}` } };
    case 'ZAI':
      return {
        credentials: { apiKey: `${randomText(random, 32, hex)}.${randomText(random, 16, alphanumeric)}` },
        settings: { zai: { endpoint: 'CODING_PLAN' } },
      };
    case 'BEDROCK':
      return {
        credentials: {
          bedrockRegions: ['us-east-1', 'eu-west-1'].map((region) => ({
            region,
            accessKeyId: `AKIA${randomText(random, 16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
            secretAccessKey: randomText(random, 40, `${alphanumeric}/+`),
          })),
        },
        settings: { bedrock: { defaultRegion: 'us-east-1' } },
      };
    case 'VERTEX_AI': {
      const projectId = 'keyroute-bench';
      const { privateKey } = generateKeyPairSync('rsa', {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      });
      const serviceAccount = {
        type: 'service_account',
        project_id: projectId,
        private_key_id: randomText(random, 40, hex),
        private_key: privateKey,
        client_email: `gateway@${projectId}.iam.gserviceaccount.com`,
        token_uri: 'https://oauth2.googleapis.com/token',
      };
      return { credentials: { vertexServiceAccount: JSON.stringify(serviceAccount) }, settings: { vertexAi: { location: 'us-central1' } } };
    }
  }
}

interface TemplateRow {
  credentials_kind: string;
  credentials_envelope: Buffer;
  masked_credentials: Record<string, unknown>;
  settings: Record<string, unknown>;
}

/**
 * Creates one provider key per provider through the service, in an organization of their own, and
 * returns their stored rows. Each create through the service costs an encryption and a
 * transaction, so the 1,100 seeded keys copy these rows instead.
 */
async function createTemplates(db: DatabaseHandle['db'], services: Services): Promise<Map<ProviderId, TemplateRow>> {
  const random = seededRandom(7);
  const organization = await services.organizations.create('bench templates');
  const context: WriteContext = { organizationId: organization.id, actor: { tokenId: null, label: 'bench seed' } };
  const templates = new Map<ProviderId, TemplateRow>();
  for (const [provider] of PROVIDER_SHARES) {
    const { credentials, settings } = templateInput(provider, random);
    const { providerKey } = await services.providerKeys.create(context, {
      provider,
      name: `${provider} template`,
      credentials,
      settings: settings ?? null,
      assignment: { organization: true },
    });
    const row = await db
      .selectFrom('provider_keys')
      .select(['credentials_kind', 'credentials_envelope', 'masked_credentials', 'settings'])
      .where('id', '=', providerKey.id)
      .executeTakeFirstOrThrow();
    templates.set(provider, row);
  }
  return templates;
}

interface SeededOrganization {
  keyCount: number;
  token: string;
  gatewayKeyCount: number;
  assignmentRows: number;
  organizationWideKeys: number;
}

/**
 * Seeds an organization with `keyCount` provider keys, newest last, and returns a read token for it.
 * Gateway keys are created through the service. Provider keys and assignments are inserted with
 * SQL and copy a template's envelope, masked view and settings.
 *
 * NOTE: a copied envelope names the template's organization and key in its encryption context, so
 * it does not decrypt as the credentials of the copy. The listing reads only the masked view, but
 * the proxy, a key test or a rotation would fail on these keys. The direct inserts also skip the
 * audit events and change notifications, which the listing does not read.
 */
async function seedOrganization(
  db: DatabaseHandle['db'],
  services: Services,
  templates: Map<ProviderId, TemplateRow>,
  keyCount: number,
): Promise<SeededOrganization> {
  const random = seededRandom(keyCount);
  const organization = await services.organizations.create(`bench ${keyCount} keys`);
  const context: WriteContext = { organizationId: organization.id, actor: { tokenId: null, label: 'bench seed' } };

  const gatewayKeyIds: string[] = [];
  const gatewayKeyCount = Math.round(keyCount * GATEWAY_KEYS_PER_PROVIDER_KEY);
  for (let index = 0; index < gatewayKeyCount; index += 1) {
    checkNotInterrupted();
    const { gatewayKey } = await services.gatewayKeys.create(context, { name: `app ${String(index + 1).padStart(3, '0')}` });
    gatewayKeyIds.push(gatewayKey.id);
  }

  // Spread the organization-wide keys over the list, so that some pages hold one and others none.
  const organizationWideAt = new Map(
    ORGANIZATION_WIDE_PROVIDERS.map((provider, index) => [
      Math.floor(((index + 0.5) * keyCount) / ORGANIZATION_WIDE_PROVIDERS.length),
      provider,
    ]),
  );
  const providerOfKey = shuffledByShare(random, PROVIDER_SHARES, keyCount);
  for (const [position, provider] of organizationWideAt) {
    // Swap a key of the required provider into the organization-wide position, so the mix stays the same.
    const swapWith = providerOfKey.findIndex((candidate, index) => candidate === provider && !organizationWideAt.has(index));
    if (swapWith < 0) throw new Error(`The mix of ${keyCount} keys has no ${provider} key to make organization-wide`);
    [providerOfKey[position], providerOfKey[swapWith]] = [provider, providerOfKey[position]!];
  }
  const assignmentSizes = shuffledByShare(
    random,
    ASSIGNMENT_SIZE_SHARES.map((share, index): [number, number] => [index + 1, share]),
    keyCount - organizationWideAt.size,
  );
  const createdBase = Date.now() - keyCount * 60_000;
  const keyRows: Insertable<ProviderKeysTable>[] = [];
  const assignmentRows: Insertable<ProviderKeyAssignmentsTable>[] = [];
  // Slots already taken: `${gatewayKeyId} ${provider}`, unique like provider_key_assignments_gateway_key_key.
  const takenSlots = new Set<string>();

  for (let index = 0; index < keyCount; index += 1) {
    const provider = providerOfKey[index]!;
    const template = templates.get(provider)!;
    const id = randomUUID();
    // One minute apart, so that the list order by created_at is the insertion order.
    const createdAt = new Date(createdBase + index * 60_000);
    keyRows.push({
      id,
      organization_id: organization.id,
      provider,
      name: `${provider.toLowerCase()} key ${index + 1}`,
      enabled: random() >= DISABLED_SHARE,
      credentials_kind: template.credentials_kind,
      credentials_envelope: template.credentials_envelope,
      masked_credentials: JSON.stringify(template.masked_credentials),
      settings: JSON.stringify(template.settings),
      created_at: createdAt,
      updated_at: createdAt,
      credentials_updated_at: createdAt,
    });

    if (organizationWideAt.has(index)) {
      assignmentRows.push({ organization_id: organization.id, provider, provider_key_id: id, gateway_key_id: null });
      continue;
    }
    const assignmentSize = assignmentSizes.pop()!;
    const free = gatewayKeyIds.filter((gatewayKeyId) => !takenSlots.has(`${gatewayKeyId} ${provider}`));
    if (free.length < assignmentSize) {
      throw new Error(
        `Only ${free.length} gateway keys have a free ${provider} slot for provider key ${index + 1}, which needs ${assignmentSize}. ` +
          'Raise GATEWAY_KEYS_PER_PROVIDER_KEY.',
      );
    }
    for (let count = 0; count < assignmentSize; count += 1) {
      const [gatewayKeyId] = free.splice(Math.floor(random() * free.length), 1);
      takenSlots.add(`${gatewayKeyId} ${provider}`);
      assignmentRows.push({ organization_id: organization.id, provider, provider_key_id: id, gateway_key_id: gatewayKeyId! });
    }
  }

  // One statement per table: 1,000 rows of 12 columns are 12,000 parameters, below PostgreSQL's limit of 65,535.
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('provider_keys').values(keyRows).execute();
    await trx.insertInto('provider_key_assignments').values(assignmentRows).execute();
  });

  const { token } = await services.managementTokens.issue({ organizationId: organization.id, scope: 'read', actorLabel: 'bench' });
  return { keyCount, token, gatewayKeyCount, assignmentRows: assignmentRows.length, organizationWideKeys: organizationWideAt.size };
}

interface PageResponse {
  page: ListingPage;
  elapsedMs: number;
  requestId: string | null;
}

async function requestPage(baseUrl: string, token: string, after: string | null): Promise<PageResponse> {
  const body = JSON.stringify({ query: ProviderKeyListing, variables: { after } });
  const started = performance.now();
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
    signal: AbortSignal.any([interruption.signal, AbortSignal.timeout(30_000)]),
  });
  const text = await response.text();
  const elapsedMs = performance.now() - started;

  const page = JSON.parse(text) as ListingPage;
  if (response.status !== 200 || page.errors || !page.data) {
    throw new Error(`providerKeys returned HTTP ${response.status}: ${text.slice(0, 500)}`);
  }
  return { page, elapsedMs, requestId: response.headers.get('x-request-id') };
}

/** Statements, latency and content of one page position across the rounds of one organization. */
interface PageStats {
  latenciesMs: number[];
  statementCounts: number[];
  /** Statement count per table of the first round, such as `provider_keys 1`. */
  statementsByTable: string;
  edges: number;
  gatewayKeyReferences: number;
  organizationWideKeys: number;
}

function describeByTable(queries: LoggedQuery[]): string {
  const counts = new Map<string, number>();
  for (const query of queries) {
    const label = query.table ?? query.kind;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].map(([label, count]) => `${label} ${count}`).join(', ');
}

/**
 * Walks every page of the organization's list once. With `stats` it records each page's latency
 * and statements; it always checks that the walk returns every key once, in full pages.
 */
async function walkPages(
  baseUrl: string,
  organization: SeededOrganization,
  queryLog: QueryLog,
  stats: PageStats[] | undefined,
): Promise<number> {
  const expectedPages = Math.ceil(organization.keyCount / PAGE_SIZE);
  const seen = new Set<string>();
  let after: string | null = null;
  let walkMs = 0;
  for (let pageIndex = 0; pageIndex < expectedPages; pageIndex += 1) {
    checkNotInterrupted();
    const { page, elapsedMs, requestId } = await requestPage(baseUrl, organization.token, after);
    const { edges, pageInfo } = page.data!.providerKeys;
    const expectedEdges = Math.min(PAGE_SIZE, organization.keyCount - pageIndex * PAGE_SIZE);
    if (edges.length !== expectedEdges) throw new Error(`Page ${pageIndex + 1} has ${edges.length} keys; expected ${expectedEdges}`);
    if (pageInfo.hasNextPage !== pageIndex < expectedPages - 1) {
      throw new Error(`Page ${pageIndex + 1} of ${expectedPages} has hasNextPage ${pageInfo.hasNextPage}`);
    }
    for (const { node } of edges) seen.add(node.id);
    walkMs += elapsedMs;

    const queries = queryLog.queriesOf(requestId);
    if (stats) {
      const pageStats = (stats[pageIndex] ??= {
        latenciesMs: [],
        statementCounts: [],
        statementsByTable: describeByTable(queries),
        edges: edges.length,
        gatewayKeyReferences: edges.reduce(
          (sum, { node }) => sum + (node.assignment.__typename === 'GatewayKeysAssignment' ? node.assignment.gatewayKeys.length : 0),
          0,
        ),
        organizationWideKeys: edges.filter(({ node }) => node.assignment.__typename === 'OrganizationAssignment').length,
      });
      pageStats.latenciesMs.push(elapsedMs);
      pageStats.statementCounts.push(queries.length);
    }
    after = pageInfo.endCursor;
  }
  queryLog.clear();
  if (seen.size !== organization.keyCount) throw new Error(`The pages listed ${seen.size} distinct keys; expected ${organization.keyCount}`);
  return walkMs;
}

/** Checks that the listing exercises every member of the credentials, settings and assignment unions. */
async function checkUnionMembers(baseUrl: string, organization: SeededOrganization): Promise<void> {
  const typeNames = new Set<string>();
  let after: string | null = null;
  let gatewayKeyReferences = 0;
  for (let pageIndex = 0; pageIndex < Math.ceil(organization.keyCount / PAGE_SIZE); pageIndex += 1) {
    const { page } = await requestPage(baseUrl, organization.token, after);
    for (const { node } of page.data!.providerKeys.edges) {
      typeNames.add(node.credentials.__typename).add(node.assignment.__typename);
      if (node.settings) typeNames.add(node.settings.__typename);
      if (node.assignment.__typename === 'GatewayKeysAssignment') gatewayKeyReferences += node.assignment.gatewayKeys.length;
    }
    after = page.data!.providerKeys.pageInfo.endCursor;
  }
  const expected = ['ApiKey', 'BedrockRegions', 'VertexServiceAccount', 'OpenAiSettings', 'VertexAiSettings', 'ZaiSettings', 'BedrockSettings', 'OrganizationAssignment', 'GatewayKeysAssignment'];
  const missing = expected.filter((name) => !typeNames.has(name));
  if (missing.length > 0) throw new Error(`The listing of ${organization.keyCount} keys returned no ${missing.join(', ')}`);
  const expectedReferences = organization.assignmentRows - organization.organizationWideKeys;
  if (gatewayKeyReferences !== expectedReferences) {
    throw new Error(`The listing returned ${gatewayKeyReferences} assigned gateway keys; the seed inserted ${expectedReferences}`);
  }
}

/** Returns the nearest-rank percentile of `values`, where `fraction` is 0.5 for the median and 0.99 for p99. */
function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(fraction * sorted.length)) - 1]!;
}

function formatRange(values: readonly number[]): string {
  const min = Math.min(...values);
  const max = Math.max(...values);
  return min === max ? String(min) : `${min}-${max}`;
}

interface SizeResult {
  organization: SeededOrganization;
  rounds: number;
  pages: PageStats[];
  walkLatenciesMs: number[];
}

async function measure(baseUrl: string, organization: SeededOrganization, queryLog: QueryLog): Promise<SizeResult> {
  const pagesPerRound = Math.ceil(organization.keyCount / PAGE_SIZE);
  await checkUnionMembers(baseUrl, organization);
  for (let round = 0; round < Math.ceil(WARMUP_REQUESTS / pagesPerRound); round += 1) {
    await walkPages(baseUrl, organization, queryLog, undefined);
  }

  const pages: PageStats[] = [];
  const walkLatenciesMs: number[] = [];
  const deadline = performance.now() + MAX_TIMED_MS_PER_SIZE;
  let rounds = 0;
  while (rounds < MAX_TIMED_ROUNDS && performance.now() < deadline) {
    walkLatenciesMs.push(await walkPages(baseUrl, organization, queryLog, pages));
    rounds += 1;
  }
  return { organization, rounds, pages, walkLatenciesMs };
}

function printResults(results: SizeResult[], header: string[]): void {
  const rows: string[][] = [['keys', 'page', 'requests', 'statements', 'p50 ms', 'p99 ms', 'keys on page', 'org-wide', 'assigned gateway keys']];
  for (const { organization, rounds, pages, walkLatenciesMs } of results) {
    pages.forEach((page, index) => {
      rows.push([
        String(organization.keyCount),
        String(index + 1),
        String(page.latenciesMs.length),
        formatRange(page.statementCounts),
        percentile(page.latenciesMs, 0.5).toFixed(1),
        percentile(page.latenciesMs, 0.99).toFixed(1),
        String(page.edges),
        String(page.organizationWideKeys),
        String(page.gatewayKeyReferences),
      ]);
    });
    if (pages.length > 1) {
      const statementsPerWalk = walkLatenciesMs.map((_, round) => pages.reduce((sum, page) => sum + page.statementCounts[round]!, 0));
      rows.push([
        String(organization.keyCount),
        `all ${pages.length}`,
        String(rounds),
        formatRange(statementsPerWalk),
        percentile(walkLatenciesMs, 0.5).toFixed(1),
        percentile(walkLatenciesMs, 0.99).toFixed(1),
        String(organization.keyCount),
        String(pages.reduce((sum, page) => sum + page.organizationWideKeys, 0)),
        String(pages.reduce((sum, page) => sum + page.gatewayKeyReferences, 0)),
      ]);
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) => row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));

  console.log(header.join('\n'));
  console.log('');
  console.log(lines[0]);
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const line of lines.slice(1)) console.log(line);
  console.log('');
  console.log('Statements of one request, by table (the first timed round):');
  for (const { organization, pages } of results) {
    pages.forEach((page, index) => console.log(`  ${organization.keyCount} keys, page ${index + 1}: ${page.statementsByTable}`));
  }
}

/**
 * Estimates the cost of the listing query with the server's cost-limit rule and schema, once as
 * sent and once with `first` passed as a variable, which the rule does not multiply by.
 *
 * NOTE: @escape.tech/graphql-armor-cost-limit is not in package.json. It is resolved as the
 * dependency of @escape.tech/graphql-armor that implements the server's cost limit.
 */
function estimateCosts(): { literalFirst: number; variableFirst: number } {
  const estimate = (query: string): number => {
    let cost: number | undefined;
    const rule = costLimitRule({ maxCost: Number.MAX_SAFE_INTEGER, onAccept: [(_context, { n }) => (cost = n)] });
    const errors = validate(schema, parse(query), [rule]);
    if (errors.length > 0 || cost === undefined) throw new Error(`Failed to estimate the query cost: ${errors.join('; ')}`);
    return cost;
  };
  const variableForm = ProviderKeyListing.replace('($after: String)', '($first: Int, $after: String)').replace(
    `first: ${PAGE_SIZE},`,
    'first: $first,',
  );
  return { literalFirst: estimate(ProviderKeyListing), variableFirst: estimate(variableForm) };
}

const defaultMaxCost = graphqlEnvironment.shape.GRAPHQL_MAX_COST.parse(undefined);
const costs = estimateCosts();
// The server rejects an operation whose estimate exceeds GRAPHQL_MAX_COST, so the bench raises it just enough.
const maxCost = costs.literalFirst > defaultMaxCost ? Math.ceil(costs.literalFirst / 1_000) * 1_000 : defaultMaxCost;
const costNote =
  maxCost === defaultMaxCost
    ? `GRAPHQL_MAX_COST ${maxCost} (the default); estimated cost of the query ${costs.literalFirst.toFixed(0)}`
    : `GRAPHQL_MAX_COST raised from the default ${defaultMaxCost} to ${maxCost}: the default rejects this query, estimated cost ` +
      `${costs.literalFirst.toFixed(0)} with first: ${PAGE_SIZE} in the query (${costs.variableFirst.toFixed(0)} with first as a variable)`;

await withAdminClient((client) => client.query(`create database ${databaseName}`));
const databaseUrl = new URL(adminUrl);
databaseUrl.pathname = `/${databaseName}`;
let running: RunningServer | undefined;
let handle: DatabaseHandle | undefined;
try {
  const config = loadConfig({
    NODE_ENV: 'production',
    LISTEN_HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl.toString(),
    MIGRATE_ON_START: 'true',
    SHUTDOWN_DELAY_MS: '0',
    SHUTDOWN_DRAIN_MS: '5000',
    GRAPHQL_MAX_COST: String(maxCost),
    KEYRING_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    // Nothing here calls a provider, and this makes the server reject every upstream origin without an override.
    UPSTREAM_REQUIRE_OVERRIDE: 'true',
  });
  handle = await openDatabase(config.database);
  const queryLog = new QueryLog();
  // The server's statements go through the plugin, and the seed's SQL goes through `handle.db` without it.
  const serverDatabase: DatabaseHandle = { ...handle, db: handle.db.withPlugin(queryLog) };
  const logger = createLogger({ level: config.log.level, destination: pino.destination(2) });
  running = await startServer(config, logger, { database: serverDatabase });
  const { services } = running.app;

  const templates = await createTemplates(handle.db, services);
  const organizations: SeededOrganization[] = [];
  for (const keyCount of KEY_COUNTS) organizations.push(await seedOrganization(handle.db, services, templates, keyCount));
  await sql`analyze`.execute(handle.db);
  queryLog.clear();

  const loadBefore = loadavg();
  const results: SizeResult[] = [];
  for (const organization of organizations) results.push(await measure(running.baseUrl, organization, queryLog));
  const loadAfter = loadavg();

  const version = await sql<{ server_version: string }>`show server_version`.execute(handle.db);
  const formatLoad = (load: number[]) => load.map((value) => value.toFixed(2)).join(' / ');
  printResults(results, [
    `providerKeys(first: ${PAGE_SIZE}) over HTTP, one request at a time on one kept-alive connection`,
    `Node ${process.version}, PostgreSQL ${version.rows[0]!.server_version}, ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}`,
    costNote,
    `Statements: Kysely plugin QueryLog (test/support/query-log.ts), per x-request-id. BEGIN and COMMIT are not counted`,
    `Warm-up ${WARMUP_REQUESTS} requests per size, then up to ${MAX_TIMED_ROUNDS} rounds or ${MAX_TIMED_MS_PER_SIZE / 1_000} s per size; a round walks every page, and its latency is the sum of its requests`,
    ...organizations.map(
      (organization) =>
        `Seed of ${organization.keyCount} keys: ${organization.gatewayKeyCount} gateway keys, ${organization.organizationWideKeys} organization-wide keys, ` +
        `${organization.assignmentRows - organization.organizationWideKeys} gateway-key assignments`,
    ),
    `Load average (1 / 5 / 15 min): ${formatLoad(loadBefore)} before, ${formatLoad(loadAfter)} after`,
  ]);
} finally {
  try {
    // The server's shutdown closes the database handle, and a failed startServer has closed it already.
    if (running) await running.app.shutdown();
    else await handle?.close().catch(() => undefined);
  } finally {
    await withAdminClient((client) => client.query(`drop database if exists ${databaseName} with (force)`));
  }
}
