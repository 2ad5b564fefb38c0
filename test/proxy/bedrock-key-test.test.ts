import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBedrockTenant,
  newBedrockRow,
  startBedrockProxyContext,
  testProviderKey,
  type BedrockProxyContext,
} from './bedrock-helpers.js';

// testProviderKey over GraphQL for Bedrock keys: one signed ListFoundationModels request per
// credential row, against the fake's control plane hosts, and one result per row.

let context: BedrockProxyContext;

beforeAll(async () => {
  context = await startBedrockProxyContext({ PROVIDER_KEY_TESTS_PER_MINUTE: '100', PROVIDER_KEY_TEST_TIMEOUT_MS: '2000' });
});

afterAll(async () => {
  await context?.close();
});

/** Returns the result of testProviderKey, and throws when it is another union member. */
function keyTestResult(result: Awaited<ReturnType<typeof testProviderKey>>) {
  if (result.__typename !== 'ProviderKeyTestResult') throw new Error(`testProviderKey returned ${result.__typename}`);
  return result;
}

/** Returns the hosts of the control plane requests that the fake received after `start`, sorted. */
function controlPlaneHostsSince(start: number): string[] {
  return context.bedrock.requests
    .slice(start)
    .filter((request) => request.operation === 'list-foundation-models' || request.host?.startsWith('bedrock.'))
    .map((request) => request.host ?? '')
    .sort();
}

describe('testProviderKey for Bedrock', () => {
  it('one result per row', async () => {
    const rows = [newBedrockRow('us-east-1'), newBedrockRow('eu-central-1'), newBedrockRow('global')];
    const tenant = await createBedrockTenant(context, { rows, defaultRegion: 'eu-west-1', wrongSecretRows: ['eu-central-1'] });
    const start = context.bedrock.requests.length;

    const result = keyTestResult(await testProviderKey(context, tenant, { id: tenant.providerKey.globalId }));
    const byRow = Object.fromEntries((result.regions ?? []).map((region) => [region.row, region]));
    expect(result.regions?.map((region) => region.row)).toEqual(['us-east-1', 'eu-central-1', 'global']);
    expect(byRow['us-east-1']).toMatchObject({ testedRegion: 'us-east-1', outcome: 'VALID', httpStatus: 200, message: null });
    expect(byRow['eu-central-1']).toMatchObject({ testedRegion: 'eu-central-1', outcome: 'INVALID', httpStatus: 403 });
    expect(byRow['eu-central-1']?.message).toContain('InvalidSignatureException');
    expect(byRow.global).toMatchObject({ testedRegion: 'eu-west-1', outcome: 'VALID', httpStatus: 200 });
    expect(result.outcome).toBe('INVALID');
    expect(result.message).toContain('eu-central-1: ');
    expect(result.message).not.toContain('us-east-1');
    expect(controlPlaneHostsSince(start)).toEqual(['bedrock.eu-central-1.amazonaws.com', 'bedrock.eu-west-1.amazonaws.com', 'bedrock.us-east-1.amazonaws.com']);
  });

  it('requests signed per row and region', async () => {
    const rows = [newBedrockRow('us-west-2'), newBedrockRow('global')];
    const tenant = await createBedrockTenant(context, { rows, defaultRegion: 'ap-northeast-1' });
    const start = context.bedrock.requests.length;

    const result = await testProviderKey(context, tenant, { id: tenant.providerKey.globalId });
    const requests = context.bedrock.requests.slice(start);
    const byHost = Object.fromEntries(requests.map((request) => [request.host, request]));

    expect(result).toMatchObject({ __typename: 'ProviderKeyTestResult', outcome: 'VALID', message: null });
    expect(requests).toHaveLength(2);
    expect(byHost['bedrock.us-west-2.amazonaws.com']?.accessKeyId).toBe(rows[0]!.accessKeyId);
    expect(byHost['bedrock.ap-northeast-1.amazonaws.com']?.accessKeyId).toBe(rows[1]!.accessKeyId);
    for (const request of requests) {
      expect(request.rejection).toBeUndefined();
      expect(request.method).toBe('GET');
      expect(request.rawTarget).toBe('/foundation-models?byProvider=anthropic');
    }
  });

  it('global row without a default region', async () => {
    const tenant = await createBedrockTenant(context, { rows: [newBedrockRow('global')] });

    const result = keyTestResult(await testProviderKey(context, tenant, { id: tenant.providerKey.globalId }));

    expect(result.outcome).toBe('VALID');
    expect(result.regions).toEqual([
      expect.objectContaining({ row: 'global', testedRegion: 'us-east-1', outcome: 'VALID' }),
    ]);
  });

  it('unknown access key id invalid', async () => {
    const tenant = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')], unknownRows: ['us-east-1'] });

    const result = keyTestResult(await testProviderKey(context, tenant, { id: tenant.providerKey.globalId }));

    expect(result).toMatchObject({ outcome: 'INVALID', httpStatus: 403 });
    expect(result.message).toContain('UnrecognizedClientException');
  });

  it('access denied not permitted', async () => {
    const tenant = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')] });
    context.bedrock.enqueue({
      error: {
        status: 403,
        exception: 'AccessDeniedException',
        message: 'User: arn:aws:iam::123456789012:user/keyroute is not authorized to perform: bedrock:ListFoundationModels',
      },
    });

    const result = keyTestResult(await testProviderKey(context, tenant, { id: tenant.providerKey.globalId }));

    expect(result).toMatchObject({ outcome: 'NOT_PERMITTED', httpStatus: 403 });
    expect(result.message).toContain('Grant it bedrock:ListFoundationModels');
  });

  it('unsaved rows tested', async () => {
    const rows = [newBedrockRow('eu-central-1'), newBedrockRow('global')];
    const tenant = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')] });
    context.acceptedCredentials.push(...rows);

    const result = keyTestResult(
      await testProviderKey(context, tenant, {
        unsaved: { provider: 'BEDROCK', credentials: { bedrockRegions: rows }, settings: { bedrock: { defaultRegion: 'us-east-2' } } },
      }),
    );

    expect(result.outcome).toBe('VALID');
    expect(result.regions?.map((region) => [region.row, region.testedRegion])).toEqual([
      ['eu-central-1', 'eu-central-1'],
      ['global', 'us-east-2'],
    ]);
  });

  it('no secret in results', async () => {
    const rows = [newBedrockRow('us-east-1'), newBedrockRow('global')];
    const tenant = await createBedrockTenant(context, { rows, defaultRegion: 'us-east-1', wrongSecretRows: ['global'] });
    const echo = `failed for ${rows[0]!.accessKeyId} with ${rows[0]!.secretAccessKey}`;
    context.bedrock.enqueue({ error: { status: 500, exception: 'InternalServerException', message: echo } });

    const result = keyTestResult(await testProviderKey(context, tenant, { id: tenant.providerKey.globalId }));
    const text = JSON.stringify(result);

    expect(result.regions?.map((region) => region.outcome).sort()).toEqual(['INVALID', 'TRANSIENT']);
    for (const row of rows) {
      expect(text).not.toContain(row.secretAccessKey);
      expect(text).not.toContain(row.accessKeyId);
      expect(context.server.logs.text()).not.toContain(row.secretAccessKey);
    }
  });
});
