import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { sql, type Kysely } from 'kysely';
import { expect } from 'vitest';
import { encodeGlobalID } from '../../src/graphql/global-id.js';
import type { Database } from '../../src/db/schema.js';
import type { CreateGatewayKeyInput } from '../generated/graphql.js';
import type { TestServer } from '../support/server.js';
import { CreateGatewayKey } from './documents.js';

export interface GraphqlResponse<Result> {
  status: number;
  headers: Headers;
  data?: Result | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
  /** The body as received, for searching it for secrets. */
  raw: string;
}

/** Posts a typed document like `server.graphql` does, and also returns the response headers. */
export async function execute<Result, Variables>(
  server: TestServer,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  token: string,
): Promise<GraphqlResponse<Result>> {
  return postGraphql(server, { query: print(document), variables }, { authorization: `Bearer ${token}` });
}

/** Posts any JSON body to `/graphql`, for requests that typed documents cannot express. */
export async function postGraphql<Result = Record<string, unknown>>(
  server: TestServer,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<GraphqlResponse<Result>> {
  const response = await fetch(`${server.baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const raw = await response.text();
  const parsed = JSON.parse(raw) as Pick<GraphqlResponse<Result>, 'data' | 'errors'>;
  return { status: response.status, headers: response.headers, data: parsed.data, errors: parsed.errors, raw };
}

/** Checks which union member a result is, and returns it narrowed to that member. */
export function expectMember<T extends { __typename: string }, Name extends T['__typename']>(
  value: T | null | undefined,
  typename: Name,
): Extract<T, { __typename: Name }> {
  expect(value?.__typename).toBe(typename);
  return value as Extract<T, { __typename: Name }>;
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Returns a well-formed management token that the server never issued. */
export function unknownManagementToken(): string {
  return `krm_${randomBytes(32).toString('base64url')}`;
}

/** Returns a well-formed GatewayKey id that matches no row. */
export function missingGatewayKeyId(): string {
  return encodeGlobalID('GatewayKey', randomUUID());
}

export async function countRows(db: Kysely<Database>, table: 'gateway_keys' | 'audit_events' | 'management_tokens'): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

export async function findGatewayKeyRow(db: Kysely<Database>, id: string) {
  return db.selectFrom('gateway_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findTokenIdBySecret(db: Kysely<Database>, token: string): Promise<string> {
  const row = await db
    .selectFrom('management_tokens')
    .select('id')
    .where('token_hash', '=', sha256(token))
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface ColumnValue {
  table: string;
  column: string;
  /** The value as text; a bytea value appears twice, as hex and as UTF-8. */
  text: string;
}

/**
 * Reads every value of every column of every table outside the PostgreSQL catalogs as text, so a
 * test can search the whole database for a secret.
 */
export async function dumpDatabase(db: Kysely<Database>): Promise<ColumnValue[]> {
  const tables = await sql<{ table_schema: string; table_name: string }>`
    select table_schema, table_name from information_schema.tables
    where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')
    order by table_schema, table_name`.execute(db);

  const values: ColumnValue[] = [];
  for (const { table_schema: schema, table_name: table } of tables.rows) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(`${schema}.${table}`)}`.execute(db);
    for (const row of rows.rows) {
      for (const [column, value] of Object.entries(row)) {
        for (const text of valueTexts(value)) values.push({ table: `${schema}.${table}`, column, text });
      }
    }
  }
  return values;
}

function valueTexts(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const buffer = Buffer.from(value);
    return [buffer.toString('hex'), buffer.toString('utf8')];
  }
  if (value instanceof Date) return [value.toISOString()];
  if (typeof value === 'object') return [JSON.stringify(value)];
  return [String(value)];
}

/** Returns the columns, as `schema.table.column`, where `needle` occurs in some row. */
export async function findInDatabase(db: Kysely<Database>, needle: string): Promise<string[]> {
  const values = await dumpDatabase(db);
  return values.filter((value) => value.text.includes(needle)).map((value) => `${value.table}.${value.column}`);
}

/** Creates a gateway key through the API and returns its payload; fails the test on any other result. */
export async function createGatewayKey(server: TestServer, token: string, input: CreateGatewayKeyInput) {
  const response = await execute(server, CreateGatewayKey, { input }, token);
  const payload = response.data?.createGatewayKey;
  if (payload?.__typename !== 'GatewayKeyWithSecret') {
    throw new Error(`createGatewayKey returned ${response.raw}`);
  }
  return { ...payload, raw: response.raw };
}
