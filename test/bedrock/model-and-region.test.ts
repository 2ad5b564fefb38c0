import { describe, expect, it } from 'vitest';
import type { BedrockRegionCredential } from '../../src/features/provider-keys/credentials.js';
import { bedrockRuntimeUrl } from '../../src/proxy/upstream/bedrock/bedrock-endpoints.js';
import { chooseBedrockApi, parseBedrockModelId, type BedrockModel } from '../../src/proxy/upstream/bedrock/bedrock-model.js';
import { chooseBedrockRegion, geographyDefaultRegions, geographyRegions } from '../../src/proxy/upstream/bedrock/bedrock-region.js';
import { BedrockRequestError } from '../../src/proxy/upstream/bedrock/bedrock-request-error.js';
import { euRow, globalRow, usEastRow } from './helpers.js';

function model(id: string): BedrockModel {
  const parsed = parseBedrockModelId(id);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

describe('parseBedrockModelId', () => {
  const cases: { id: string; kind: BedrockModel['kind']; geography: BedrockModel['geography']; foundationModelId: string | null; arnRegion?: string }[] = [
    { id: 'anthropic.claude-3-5-haiku-20241022-v1:0', kind: 'foundation_model', geography: null, foundationModelId: 'anthropic.claude-3-5-haiku-20241022-v1:0' },
    { id: 'amazon.titan-text-express-v1', kind: 'foundation_model', geography: null, foundationModelId: 'amazon.titan-text-express-v1' },
    { id: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', kind: 'cross_region_profile', geography: 'us', foundationModelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0' },
    { id: 'eu.amazon.nova-pro-v1:0', kind: 'cross_region_profile', geography: 'eu', foundationModelId: 'amazon.nova-pro-v1:0' },
    { id: 'apac.anthropic.claude-3-5-sonnet-20240620-v1:0', kind: 'cross_region_profile', geography: 'apac', foundationModelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0' },
    { id: 'jp.anthropic.claude-sonnet-4-5-20250929-v1:0', kind: 'cross_region_profile', geography: 'jp', foundationModelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0' },
    { id: 'au.anthropic.claude-sonnet-4-5-20250929-v1:0', kind: 'cross_region_profile', geography: 'au', foundationModelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0' },
    { id: 'us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0', kind: 'cross_region_profile', geography: 'us-gov', foundationModelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0' },
    { id: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0', kind: 'cross_region_profile', geography: 'global', foundationModelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0' },
    {
      id: 'arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
      kind: 'arn',
      geography: null,
      foundationModelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      arnRegion: 'eu-west-1',
    },
    {
      id: 'arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0',
      kind: 'arn',
      geography: 'us',
      foundationModelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
      arnRegion: 'us-west-2',
    },
    {
      id: 'arn:aws:bedrock:us-east-2:123456789012:application-inference-profile/a1b2c3d4e5f6',
      kind: 'arn',
      geography: null,
      foundationModelId: null,
      arnRegion: 'us-east-2',
    },
    { id: 'arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:provisioned-model/abc123def456', kind: 'arn', geography: null, foundationModelId: null, arnRegion: 'us-gov-west-1' },
  ];

  for (const testCase of cases) {
    it(`reads ${testCase.id}`, () => {
      const parsed = model(testCase.id);

      expect(parsed.id).toBe(testCase.id);
      expect(parsed.kind).toBe(testCase.kind);
      expect(parsed.geography).toBe(testCase.geography);
      expect(parsed.foundationModelId).toBe(testCase.foundationModelId);
      expect(parsed.arn?.region).toBe(testCase.arnRegion);
    });
  }

  for (const [name, id, message] of [
    ['an id with a space', 'anthropic.claude 3', /only letters, digits/],
    ['an id with a slash', 'anthropic/claude', /only letters, digits/],
    ['an ARN of another service', 'arn:aws:s3:::bucket/key', /an ARN must look like/],
    ['an ARN with a bad region', 'arn:aws:bedrock:moon-base:123456789012:inference-profile/x.y', /is not an AWS region/],
    ['an empty id', '', /1 to 2048 characters/],
  ] as const) {
    it(`rejects ${name}`, () => {
      const parsed = parseBedrockModelId(id);

      expect(parsed.ok).toBe(false);
      if (parsed.ok) return;
      expect(parsed.error).toBeInstanceOf(BedrockRequestError);
      expect(parsed.error.reason).toBe('invalid_model_id');
      expect(parsed.error.status).toBe(400);
      expect(parsed.error.message).toMatch(message);
    });
  }
});

describe('chooseBedrockApi', () => {
  const cases: { name: string; id: string; header?: string; api?: 'invoke' | 'converse'; error?: RegExp }[] = [
    { name: 'Anthropic model', id: 'anthropic.claude-3-5-haiku-20241022-v1:0', api: 'invoke' },
    { name: 'Anthropic profile', id: 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0', api: 'invoke' },
    { name: 'Anthropic profile ARN', id: 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0', api: 'invoke' },
    { name: 'Nova model', id: 'amazon.nova-pro-v1:0', api: 'converse' },
    { name: 'Llama profile', id: 'us.meta.llama3-1-70b-instruct-v1:0', api: 'converse' },
    { name: 'application profile without header', id: 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc', api: 'converse' },
    { name: 'application profile with invoke header', id: 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc', header: 'invoke', api: 'invoke' },
    { name: 'Anthropic model with converse header', id: 'anthropic.claude-3-5-haiku-20241022-v1:0', header: ' Converse ', api: 'converse' },
    { name: 'Nova model with invoke header', id: 'amazon.nova-pro-v1:0', header: 'invoke', error: /does not take/ },
    { name: 'unknown header value', id: 'amazon.nova-pro-v1:0', header: 'chat', error: /expected invoke or converse/ },
  ];

  for (const testCase of cases) {
    it(`chooses for ${testCase.name}`, () => {
      const result = chooseBedrockApi(model(testCase.id), testCase.header);

      if (testCase.error) {
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.message).toMatch(testCase.error);
      } else {
        expect(result).toEqual({ ok: true, value: testCase.api });
      }
    });
  }
});

describe('bedrockRuntimeUrl', () => {
  it('encodes the model id as one path segment', () => {
    const url = bedrockRuntimeUrl('eu-west-1', 'arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0', 'converse-stream');

    expect(url.href).toBe(
      'https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.amazon.nova-pro-v1%3A0/converse-stream',
    );
  });
});

describe('chooseBedrockRegion', () => {
  const apSoutheastRow: BedrockRegionCredential = { ...usEastRow, region: 'ap-southeast-2' };
  const euWestRow: BedrockRegionCredential = { ...euRow, region: 'eu-west-1' };

  const cases: {
    name: string;
    id: string;
    header?: string;
    rows: BedrockRegionCredential[];
    defaultRegion?: string | null;
    region?: string;
    source?: string;
    row?: string;
    error?: { reason: string; message: RegExp };
  }[] = [
    {
      name: 'ARN region wins over the header and default',
      id: 'arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
      header: 'us-east-1',
      defaultRegion: 'us-east-1',
      rows: [usEastRow, euWestRow],
      region: 'eu-west-1',
      source: 'arn',
      row: 'eu-west-1',
    },
    { name: 'header region', id: 'amazon.nova-pro-v1:0', header: 'eu-central-1', defaultRegion: 'us-east-1', rows: [usEastRow, euRow], region: 'eu-central-1', source: 'header', row: 'eu-central-1' },
    { name: 'header wins over a geography', id: 'us.amazon.nova-pro-v1:0', header: 'eu-central-1', rows: [usEastRow, euRow], region: 'eu-central-1', source: 'header', row: 'eu-central-1' },
    { name: 'eu profile with an EU row', id: 'eu.amazon.nova-pro-v1:0', rows: [usEastRow, euWestRow], region: 'eu-west-1', source: 'geography_row', row: 'eu-west-1' },
    { name: 'eu profile prefers the default region', id: 'eu.amazon.nova-pro-v1:0', defaultRegion: 'eu-west-1', rows: [euRow, euWestRow], region: 'eu-west-1', source: 'geography_row', row: 'eu-west-1' },
    { name: 'eu profile prefers the geography default', id: 'eu.amazon.nova-pro-v1:0', rows: [euWestRow, euRow], region: 'eu-central-1', source: 'geography_row', row: 'eu-central-1' },
    { name: 'eu profile without an EU row', id: 'eu.amazon.nova-pro-v1:0', defaultRegion: 'us-east-1', rows: [usEastRow, globalRow], region: 'eu-central-1', source: 'geography_default', row: 'global' },
    { name: 'au profile with an Australian row', id: 'au.anthropic.claude-sonnet-4-5-20250929-v1:0', rows: [usEastRow, apSoutheastRow], region: 'ap-southeast-2', source: 'geography_row', row: 'ap-southeast-2' },
    { name: 'global row only', id: 'amazon.nova-pro-v1:0', defaultRegion: 'us-west-2', rows: [globalRow], region: 'us-west-2', source: 'default_region', row: 'global' },
    { name: 'global profile uses the default region', id: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0', defaultRegion: 'eu-central-1', rows: [usEastRow, euRow], region: 'eu-central-1', source: 'default_region', row: 'eu-central-1' },
    { name: 'default region', id: 'amazon.nova-pro-v1:0', defaultRegion: 'us-east-1', rows: [usEastRow, euRow], region: 'us-east-1', source: 'default_region', row: 'us-east-1' },
    {
      name: 'missing credentials',
      id: 'eu.amazon.nova-pro-v1:0',
      rows: [usEastRow],
      error: { reason: 'credentials_missing', message: /no credentials for the AWS region eu-central-1 and no global row\. Add a row for eu-central-1 or a global row/ },
    },
    {
      name: 'missing credentials of an ARN region',
      id: 'arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
      rows: [usEastRow],
      error: { reason: 'credentials_missing', message: /region eu-west-1 and no global row\. Add a row for eu-west-1 or a global row to the provider key\.$/ },
    },
    {
      name: 'no region at all',
      id: 'amazon.nova-pro-v1:0',
      rows: [usEastRow],
      defaultRegion: null,
      error: { reason: 'region_unresolved', message: /has no default region\. Set the key's default region/ },
    },
    { name: 'an invalid header', id: 'amazon.nova-pro-v1:0', header: 'Europe', rows: [usEastRow], error: { reason: 'invalid_region_header', message: /expected an AWS region such as us-east-1/ } },
  ];

  for (const testCase of cases) {
    it(testCase.name, () => {
      const result = chooseBedrockRegion({
        model: model(testCase.id),
        regionHeader: testCase.header,
        rows: testCase.rows,
        settings: { defaultRegion: testCase.defaultRegion ?? null },
        providerKeyLabel: 'UHJvdmlkZXJLZXk6MQ',
      });

      if (testCase.error) {
        expect(result.ok).toBe(false);
        if (result.ok) return;
        expect(result.error.reason).toBe(testCase.error.reason);
        expect(result.error.status).toBe(400);
        expect(result.error.message).toMatch(testCase.error.message);
        return;
      }
      expect(result.ok).toBe(true);
      if (!result.ok) return;
      expect(result.value.region).toBe(testCase.region);
      expect(result.value.source).toBe(testCase.source);
      expect(result.value.credentials.region).toBe(testCase.row);
    });
  }

  it('names the provider key in a credentials error', () => {
    const result = chooseBedrockRegion({ model: model('eu.amazon.nova-pro-v1:0'), regionHeader: undefined, rows: [usEastRow], settings: {}, providerKeyLabel: 'UHJvdmlkZXJLZXk6MQ' });

    expect(result.ok ? '' : result.error.message).toMatch(/^Provider key UHJvdmlkZXJLZXk6MQ has no credentials/);
  });

  for (const [geography, region] of Object.entries(geographyDefaultRegions)) {
    it(`default region of ${geography} is in the geography`, () => {
      expect(geographyRegions[geography as keyof typeof geographyRegions]).toContain(region);
    });
  }
});
