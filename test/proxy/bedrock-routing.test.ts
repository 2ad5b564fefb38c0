import { APIError as AnthropicApiError } from '@anthropic-ai/sdk';
import { APIError as OpenAiApiError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedBedrockRequest } from '../support/fake-upstreams/bedrock.js';
import { anthropicClient, openAiClient, rejectionOf } from './helpers.js';
import {
  claudeModelId,
  createBedrockTenant,
  credentialScopeOf,
  lastBedrockRequest,
  llamaModelId,
  newBedrockRow,
  rotateSecret,
  startBedrockProxyContext,
  type BedrockProxyContext,
  type BedrockTenant,
} from './bedrock-helpers.js';

// The Bedrock region rule through the route, with one test per step of the rule. The steps are the
// region of an ARN, the X-Keyroute-Bedrock-Region header, a cross-region profile's geography (with
// and without a row there), the key's default region, and the global row as the fallback
// credentials. The fake verifies each signature for the region of the host it was sent to, so a
// served request shows both the region and the row that signed it.

const messages = [{ role: 'user' as const, content: 'Hello there' }];

let context: BedrockProxyContext;
/** Rows in us-east-1 and eu-central-1 and a global row; default region us-east-1. */
let full: BedrockTenant;
/** A us-east-1 row and a global row; default region us-east-1. */
let usAndGlobal: BedrockTenant;
/** An eu-west-1 row and a global row, without a default region. */
let euWest: BedrockTenant;
/** Only a global row; default region us-west-2. */
let globalOnly: BedrockTenant;
/** Only a us-east-1 row; default region us-east-1. */
let usOnly: BedrockTenant;
/** Only a us-east-1 row and no default region. */
let noDefault: BedrockTenant;

beforeAll(async () => {
  context = await startBedrockProxyContext();
  full = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1'), newBedrockRow('eu-central-1'), newBedrockRow('global')], defaultRegion: 'us-east-1' });
  usAndGlobal = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1'), newBedrockRow('global')], defaultRegion: 'us-east-1' });
  euWest = await createBedrockTenant(context, { rows: [newBedrockRow('eu-west-1'), newBedrockRow('global')] });
  globalOnly = await createBedrockTenant(context, { rows: [newBedrockRow('global')], defaultRegion: 'us-west-2' });
  usOnly = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')], defaultRegion: 'us-east-1' });
  noDefault = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1')] });
});

afterAll(async () => {
  await context?.close();
});

/** Sends a chat completion for the tenant and returns the request the fake received for it. */
async function complete(tenant: BedrockTenant, model: string, headers: Record<string, string> = {}): Promise<RecordedBedrockRequest> {
  const before = context.bedrock.requests.length;
  await openAiClient(context.server, tenant.gatewayKey.secret).chat.completions.create({ model: `bedrock/${model}`, messages }, { headers });
  expect(context.bedrock.requests.length).toBe(before + 1);
  return lastBedrockRequest(context);
}

/** Returns where a served request went and which row signed it. */
function routeOf(tenant: BedrockTenant, request: RecordedBedrockRequest) {
  const row = tenant.rows.find((candidate) => candidate.accessKeyId === request.accessKeyId);
  return { rejection: request.rejection, host: request.host, signingRegion: credentialScopeOf(request)?.region, row: row?.region };
}

function served(region: string, row: string) {
  return { rejection: undefined, host: `bedrock-runtime.${region}.amazonaws.com`, signingRegion: region, row };
}

describe('Bedrock region rule', () => {
  it('ARN region with the global row', async () => {
    const arn = `arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.${claudeModelId}`;
    const request = await complete(full, arn);

    expect(routeOf(full, request)).toEqual(served('us-west-2', 'global'));
    expect(request.modelId).toBe(arn);
  });

  it('ARN region before the header', async () => {
    const arn = `arn:aws:bedrock:eu-central-1::foundation-model/${claudeModelId}`;
    const request = await complete(full, arn, { 'x-keyroute-bedrock-region': 'us-east-1' });

    expect(routeOf(full, request)).toEqual(served('eu-central-1', 'eu-central-1'));
  });

  it('header region with its row', async () => {
    const request = await complete(full, claudeModelId, { 'X-Keyroute-Bedrock-Region': 'eu-central-1' });

    expect(routeOf(full, request)).toEqual(served('eu-central-1', 'eu-central-1'));
  });

  it('header region with the global row', async () => {
    const request = await complete(full, llamaModelId, { 'X-Keyroute-Bedrock-Region': 'eu-west-1' });

    expect(routeOf(full, request)).toEqual(served('eu-west-1', 'global'));
  });

  it('header before a profile geography', async () => {
    const request = await complete(full, `us.${claudeModelId}`, { 'x-keyroute-bedrock-region': 'eu-central-1' });

    expect(routeOf(full, request)).toEqual(served('eu-central-1', 'eu-central-1'));
    expect(request.modelId).toBe(`us.${claudeModelId}`);
  });

  it('eu profile with an EU row', async () => {
    const request = await complete(full, `eu.${claudeModelId}`);

    expect(routeOf(full, request)).toEqual(served('eu-central-1', 'eu-central-1'));
    expect(request.modelId).toBe(`eu.${claudeModelId}`);
  });

  it('eu profile with a row outside the default', async () => {
    const request = await complete(euWest, `eu.${claudeModelId}`);

    expect(routeOf(euWest, request)).toEqual(served('eu-west-1', 'eu-west-1'));
  });

  it('eu profile without an EU row', async () => {
    const request = await complete(usAndGlobal, `eu.${claudeModelId}`);

    expect(routeOf(usAndGlobal, request)).toEqual(served('eu-central-1', 'global'));
  });

  it('apac profile without an APAC row', async () => {
    const request = await complete(usAndGlobal, `apac.${claudeModelId}`);

    expect(routeOf(usAndGlobal, request)).toEqual(served('ap-northeast-1', 'global'));
  });

  it('global profile in the default region', async () => {
    const request = await complete(full, `global.${claudeModelId}`);

    expect(routeOf(full, request)).toEqual(served('us-east-1', 'us-east-1'));
    expect(request.modelId).toBe(`global.${claudeModelId}`);
  });

  it('bare id in the default region', async () => {
    const request = await complete(full, llamaModelId);

    expect(routeOf(full, request)).toEqual(served('us-east-1', 'us-east-1'));
  });

  it('global row only', async () => {
    const request = await complete(globalOnly, claudeModelId);

    expect(routeOf(globalOnly, request)).toEqual(served('us-west-2', 'global'));
  });

  it('region served in the request log', async () => {
    await complete(full, `eu.${claudeModelId}`);
    await context.server.running.app.requestLog.flush();
    const rows = await context.database.db
      .selectFrom('request_logs')
      .select(['region', 'model'])
      .where('gateway_key_id', '=', full.gatewayKey.id)
      .orderBy('occurred_at', 'desc')
      .limit(1)
      .execute();

    expect(rows[0]).toEqual({ region: 'eu-central-1', model: `bedrock/eu.${claudeModelId}` });
  });
});

describe('Bedrock credential changes', () => {
  it('rotated secret signs the next request', async () => {
    const rotated = await createBedrockTenant(context, { rows: [newBedrockRow('us-east-1'), newBedrockRow('global')], defaultRegion: 'us-east-1' });
    const before = await complete(rotated, claudeModelId);
    const oldSecret = rotated.rows[0]!.secretAccessKey;

    const version = await rotateSecret(context, rotated, 'us-east-1');
    // The change reaches the proxy's credential cache through a notification, so the first requests
    // after the update may still be signed with the old secret.
    let after = before;
    for (let attempt = 0; attempt < 50; attempt += 1) {
      after = await complete(rotated, claudeModelId).catch(() => lastBedrockRequest(context));
      if (after.rejection === undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    expect(version).toBe(2);
    expect(rotated.rows[0]!.secretAccessKey).not.toBe(oldSecret);
    expect(routeOf(rotated, before)).toEqual(served('us-east-1', 'us-east-1'));
    expect(routeOf(rotated, after)).toEqual(served('us-east-1', 'us-east-1'));
  });
});

describe('Bedrock region errors', () => {
  it('no row for the header region', async () => {
    const before = context.bedrock.requests.length;
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, usOnly.gatewayKey.secret).chat.completions.create(
        { model: `bedrock/${claudeModelId}`, messages },
        { headers: { 'x-keyroute-bedrock-region': 'eu-west-1' } },
      ),
    );

    expect(error).toBeInstanceOf(OpenAiApiError);
    expect(error.status).toBe(400);
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain('no credentials for the AWS region eu-west-1');
    expect(error.message).toContain(usOnly.providerKey.globalId);
    expect(error.message).toContain('Add a row for eu-west-1 or a global row');
    expect(context.bedrock.requests.length).toBe(before);
  });

  it('no row for the profile geography', async () => {
    const before = context.bedrock.requests.length;
    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, usOnly.gatewayKey.secret).messages.create({ model: `bedrock/eu.${claudeModelId}`, max_tokens: 10, messages }),
    );

    expect(error).toBeInstanceOf(AnthropicApiError);
    expect(error.status).toBe(400);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(error.message).toContain('no credentials for the AWS region eu-central-1');
    expect(context.bedrock.requests.length).toBe(before);
  });

  it('no row for the ARN region', async () => {
    const arn = `arn:aws:bedrock:ap-northeast-1:123456789012:application-inference-profile/abc123`;
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, usOnly.gatewayKey.secret).chat.completions.create({ model: `bedrock/${arn}`, messages }),
    );

    expect(error.status).toBe(400);
    expect(error.message).toContain('no credentials for the AWS region ap-northeast-1');
    expect(error.message).not.toContain('X-Keyroute-Bedrock-Region');
  });

  it('no default region for a bare id', async () => {
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, noDefault.gatewayKey.secret).chat.completions.create({ model: `bedrock/${claudeModelId}`, messages }),
    );

    expect(error.status).toBe(400);
    expect(error.param).toBe('model');
    expect(error.message).toContain(`No AWS region for Bedrock model ${claudeModelId}`);
    expect(error.message).toContain('x-keyroute-bedrock-region');
  });

  it('invalid region header', async () => {
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, full.gatewayKey.secret).chat.completions.create(
        { model: `bedrock/${claudeModelId}`, messages },
        { headers: { 'x-keyroute-bedrock-region': 'bedrock.evil.example' } },
      ),
    );

    expect(error.status).toBe(400);
    expect(error.param).toBe('x-keyroute-bedrock-region');
    expect(error.message).toContain('"bedrock.evil.example"');
    expect(error.message).toContain('expected an AWS region such as us-east-1');
  });

  it('region outside the served ones', async () => {
    // A valid region that the test transport has no override for: the gateway must refuse to connect
    // rather than reach AWS.
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, full.gatewayKey.secret).chat.completions.create(
        { model: `bedrock/${claudeModelId}`, messages },
        { headers: { 'x-keyroute-bedrock-region': 'sa-east-1' } },
      ),
    );

    expect(error.status).toBe(502);
    expect(error.message).toContain('https://bedrock-runtime.sa-east-1.amazonaws.com');
    expect(error.message).toContain('no connection override');
    expect(context.bedrock.requests.every((request) => !request.host?.includes('sa-east-1'))).toBe(true);
  });
});

describe('Bedrock API header', () => {
  it('converse chosen for Claude', async () => {
    const request = await complete(full, claudeModelId, { 'x-keyroute-bedrock-api': 'converse' });

    expect(request.operation).toBe('converse');
    expect(request.modelId).toBe(claudeModelId);
  });

  it('invoke rejected for Llama', async () => {
    const error = await rejectionOf<OpenAiApiError>(
      openAiClient(context.server, full.gatewayKey.secret).chat.completions.create(
        { model: `bedrock/${llamaModelId}`, messages },
        { headers: { 'x-keyroute-bedrock-api': 'invoke' } },
      ),
    );

    expect(error.status).toBe(400);
    expect(error.param).toBe('x-keyroute-bedrock-api');
    expect(error.message).toContain(`${llamaModelId} does not take`);
  });

  it('invoke chosen for an application profile', async () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123';
    const withoutHeader = await complete(full, arn);
    const withHeader = await complete(full, arn, { 'x-keyroute-bedrock-api': 'invoke' });

    expect(withoutHeader.operation).toBe('converse');
    expect(withHeader.operation).toBe('invoke');
    expect(withHeader.body).toMatchObject({ anthropic_version: 'bedrock-2023-05-31' });
  });
});

describe('Bedrock count_tokens', () => {
  it('answers 404 without calling Bedrock', async () => {
    const before = context.bedrock.requests.length;

    const error = await rejectionOf<AnthropicApiError>(
      anthropicClient(context.server, full.gatewayKey.secret).messages.countTokens({ model: `bedrock/${claudeModelId}`, messages }),
    );

    expect(error.status).toBe(404);
    expect(error.message).toContain(`count_tokens is not available for bedrock/${claudeModelId}`);
    expect(context.bedrock.requests.length).toBe(before);
  });
});
