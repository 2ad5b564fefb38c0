import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { summarizeBedrockTest, testBedrockCredentials, type BedrockRegionTestResult } from '../../src/proxy/upstream/bedrock/bedrock-key-test.js';
import type { UpstreamTransport } from '../../src/proxy/upstream/transport.js';
import { startFakeBedrock, type FakeBedrock } from '../support/fake-upstreams/bedrock.js';
import { createTestTransport } from '../support/fake-upstreams/test-transport.js';
import { euRow, fakeRegions, globalRow, usEastRow } from './helpers.js';

describe('testBedrockCredentials', () => {
  let fake: FakeBedrock;
  let transport: UpstreamTransport;

  beforeAll(async () => {
    // The eu-central-1 row's secret is not the one the fake accepts for its key id.
    fake = await startFakeBedrock({ credentials: [usEastRow, { ...euRow, secretAccessKey: 'kr/test/TheRealEuSecret/0000000000000000' }, globalRow], regions: fakeRegions });
    transport = createTestTransport(fake.overrides);
  });

  afterAll(async () => {
    await transport.destroy();
    await fake.close();
  });

  it('reports each row', async () => {
    const results = await testBedrockCredentials(transport, { regions: [usEastRow, euRow, globalRow] }, { defaultRegion: 'us-west-2' }, { timeoutMs: 5_000 });
    const byRow = Object.fromEntries(results.map((result) => [result.row, result]));

    expect(results.map((result) => result.row)).toEqual(['us-east-1', 'eu-central-1', 'global']);
    expect(byRow['us-east-1']).toMatchObject({ testedRegion: 'us-east-1', outcome: 'VALID', message: null, httpStatus: 200 });
    expect(byRow['eu-central-1']).toMatchObject({ testedRegion: 'eu-central-1', outcome: 'INVALID', httpStatus: 403 });
    expect(byRow['eu-central-1']!.message).toMatch(/rejected the stored credential for eu-central-1/);
    expect(byRow.global).toMatchObject({ testedRegion: 'us-west-2', outcome: 'VALID' });
  });

  it('sends signed ListFoundationModels requests to the control plane', async () => {
    const before = fake.requests.length;
    await testBedrockCredentials(transport, { regions: [usEastRow] }, { defaultRegion: null }, { timeoutMs: 5_000 });
    const request = fake.requests[before]!;

    expect(request.host).toBe('bedrock.us-east-1.amazonaws.com');
    expect(request.rawTarget).toBe('/foundation-models?byProvider=anthropic');
    expect(request.accessKeyId).toBe(usEastRow.accessKeyId);
    expect(request.rejection).toBeUndefined();
  });

  it('tests the global row in us-east-1 without a default region', async () => {
    const [result] = await testBedrockCredentials(transport, { regions: [globalRow] }, { defaultRegion: null }, { timeoutMs: 5_000 });

    expect(result).toMatchObject({ row: 'global', testedRegion: 'us-east-1', outcome: 'VALID' });
  });

  it('reports missing permissions as NOT_PERMITTED', async () => {
    fake.enqueue({ error: { status: 403, exception: 'AccessDeniedException', message: 'User: arn:aws:iam::123456789012:user/gw is not authorized to perform: bedrock:ListFoundationModels' } });
    const [result] = await testBedrockCredentials(transport, { regions: [usEastRow] }, {}, { timeoutMs: 5_000 });

    expect(result!.outcome).toBe('NOT_PERMITTED');
    expect(result!.message).toMatch(/is not allowed to call this Bedrock operation in us-east-1/);
    expect(result!.message).toMatch(/Grant it bedrock:ListFoundationModels\.$/);
  });

  it('reports throttling as TRANSIENT', async () => {
    fake.enqueue({ error: { status: 429, exception: 'ThrottlingException', message: 'Rate exceeded' } });
    const [result] = await testBedrockCredentials(transport, { regions: [usEastRow] }, {}, { timeoutMs: 5_000 });

    expect(result!.outcome).toBe('TRANSIENT');
    expect(result!.httpStatus).toBe(429);
  });

  it('reports a timeout as TRANSIENT', async () => {
    fake.enqueue({ headersDelayMs: 1_000 });
    const [result] = await testBedrockCredentials(transport, { regions: [usEastRow] }, {}, { timeoutMs: 100 });

    expect(result!.outcome).toBe('TRANSIENT');
    expect(result!.message).toBe('AWS Bedrock did not respond within 100 ms in us-east-1.');
  });

  it('reports an unreachable region as TRANSIENT', async () => {
    const [result] = await testBedrockCredentials(transport, { regions: [{ ...usEastRow, region: 'sa-east-1' }] }, {}, { timeoutMs: 5_000 });

    expect(result!.outcome).toBe('TRANSIENT');
    expect(result!.httpStatus).toBeNull();
    expect(result!.message).toMatch(/https:\/\/bedrock\.sa-east-1\.amazonaws\.com/);
  });

  it('keeps the secrets out of every message', async () => {
    fake.enqueue({ error: { status: 400, exception: 'ValidationException', message: `bad key ${usEastRow.accessKeyId} ${usEastRow.secretAccessKey}` } });
    const [result] = await testBedrockCredentials(transport, { regions: [usEastRow] }, {}, { timeoutMs: 5_000 });

    expect(result!.message).not.toContain(usEastRow.secretAccessKey);
    expect(result!.message).not.toContain(usEastRow.accessKeyId);
  });
});

describe('summarizeBedrockTest', () => {
  const row = (overrides: Partial<BedrockRegionTestResult>): BedrockRegionTestResult => ({
    row: 'us-east-1',
    testedRegion: 'us-east-1',
    outcome: 'VALID',
    message: null,
    httpStatus: 200,
    latencyMs: 10,
    ...overrides,
  });

  it('is VALID when every row is', () => {
    expect(summarizeBedrockTest([row({}), row({ row: 'global', testedRegion: 'eu-west-1', latencyMs: 30 })])).toEqual({
      outcome: 'VALID',
      message: null,
      httpStatus: 200,
      latencyMs: 30,
    });
  });

  it('takes the most severe outcome and names the failing rows', () => {
    const summary = summarizeBedrockTest([
      row({ row: 'us-east-1', outcome: 'TRANSIENT', message: 'timed out', httpStatus: null }),
      row({ row: 'global', testedRegion: 'eu-west-1', outcome: 'INVALID', message: 'bad secret', httpStatus: 403 }),
      row({ row: 'eu-central-1', testedRegion: 'eu-central-1' }),
    ]);

    expect(summary.outcome).toBe('INVALID');
    expect(summary.httpStatus).toBe(403);
    expect(summary.message).toBe('us-east-1: timed out. global (tested in eu-west-1): bad secret.');
  });
});
