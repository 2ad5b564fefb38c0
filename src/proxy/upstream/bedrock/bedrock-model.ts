import { awsRegionPattern } from '../../../features/provider-keys/settings.js';
import { BedrockRequestError, type BedrockResult } from './bedrock-request-error.js';

/**
 * Model references `bedrock/<model id>`. The id is one of:
 * - a foundation model id, such as `anthropic.claude-3-5-haiku-20241022-v1:0`,
 * - a cross-region (system) inference profile id: a geography prefix and a foundation model id,
 *   such as `us.anthropic.claude-sonnet-4-5-20250929-v1:0`,
 * - an ARN of a foundation model, an inference profile, an application inference profile, a
 *   provisioned or custom model, or a SageMaker endpoint of a Bedrock Marketplace model.
 * The id is always sent upstream as written. Parsing only decides the API and the region.
 */

/**
 * Geography prefixes of system inference profile ids. The list is the `CrossRegionInferenceProfileRegion`
 * enum of aws-cdk's `@aws-cdk/aws-bedrock-alpha` (cross-region-inference-profile.ts).
 */
export const crossRegionGeographies = ['us', 'us-gov', 'eu', 'apac', 'jp', 'au', 'global'] as const;

export type CrossRegionGeography = (typeof crossRegionGeographies)[number];

/** The runtime API that serves a model: InvokeModel with Anthropic's body, or the model-agnostic Converse. */
export type BedrockApi = 'invoke' | 'converse';

/** The request header that chooses the API where the model id does not settle it. */
export const bedrockApiHeader = 'x-keyroute-bedrock-api';

export interface BedrockArn {
  partition: 'aws' | 'aws-us-gov';
  service: 'bedrock' | 'sagemaker';
  region: string;
  /** Empty in foundation model ARNs, which belong to no account. */
  accountId: string | null;
  /** Such as `foundation-model`, `inference-profile` or `application-inference-profile`. */
  resourceType: string;
  resourceId: string;
}

export interface BedrockModel {
  /** The id exactly as the request gave it after `bedrock/`. */
  id: string;
  kind: 'foundation_model' | 'cross_region_profile' | 'arn';
  /** The geography of a cross-region profile, given as an id or as a system inference profile ARN. */
  geography: CrossRegionGeography | null;
  arn: BedrockArn | null;
  /**
   * The foundation model that the id names, such as `anthropic.claude-3-5-haiku-20241022-v1:0`.
   * Null for an ARN that does not name its model (an application inference profile, a provisioned
   * or custom model, a Marketplace endpoint).
   */
  foundationModelId: string | null;
}

const arnPattern = /^arn:(aws|aws-us-gov):(bedrock|sagemaker):([a-z0-9-]+):(\d{12})?:([a-z-]+)\/(.+)$/;
const foundationModelPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const maxModelIdLength = 2048;

function invalidModelId(id: string, detail: string): BedrockResult<BedrockModel> {
  return {
    ok: false,
    error: new BedrockRequestError(
      'invalid_model_id',
      `Invalid Bedrock model id ${JSON.stringify(id.slice(0, 200))}: ${detail}. Use a model id such as bedrock/anthropic.claude-3-5-haiku-20241022-v1:0, ` +
        'an inference profile id such as bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0, or an ARN.',
      'model',
    ),
  };
}

/** Splits `eu.anthropic.claude…` into its geography and foundation model id, or returns undefined. */
function splitProfileId(id: string): { geography: CrossRegionGeography; foundationModelId: string } | undefined {
  const dot = id.indexOf('.');
  if (dot <= 0) return undefined;
  const prefix = id.slice(0, dot);
  const rest = id.slice(dot + 1);
  const geography = crossRegionGeographies.find((candidate) => candidate === prefix);
  // A profile names a foundation model, which itself has a provider and a dot.
  if (!geography || !rest.includes('.')) return undefined;
  return { geography, foundationModelId: rest };
}

function parseArn(id: string): BedrockResult<BedrockModel> {
  const match = arnPattern.exec(id);
  if (!match) return invalidModelId(id, 'an ARN must look like arn:aws:bedrock:<region>:<account id>:<resource type>/<id>');
  const arn: BedrockArn = {
    partition: match[1] as BedrockArn['partition'],
    service: match[2] as BedrockArn['service'],
    region: match[3]!,
    accountId: match[4] ?? null,
    resourceType: match[5]!,
    resourceId: match[6]!,
  };
  const { service, region, resourceType, resourceId } = arn;
  if (!awsRegionPattern.test(region)) return invalidModelId(id, `the ARN's region ${JSON.stringify(region)} is not an AWS region`);

  let geography: CrossRegionGeography | null = null;
  let foundationModelId: string | null = null;
  if (service === 'bedrock' && resourceType === 'foundation-model') {
    foundationModelId = resourceId;
  } else if (service === 'bedrock' && resourceType === 'inference-profile') {
    const profile = splitProfileId(resourceId);
    geography = profile?.geography ?? null;
    foundationModelId = profile?.foundationModelId ?? resourceId;
  }
  return { ok: true, value: { id, kind: 'arn', geography, arn, foundationModelId } };
}

/** Parses the model id of a `bedrock/…` reference. */
export function parseBedrockModelId(id: string): BedrockResult<BedrockModel> {
  if (id.length === 0 || id.length > maxModelIdLength) return invalidModelId(id, `expected 1 to ${maxModelIdLength} characters`);
  if (id.startsWith('arn:')) return parseArn(id);
  if (!foundationModelPattern.test(id)) return invalidModelId(id, 'a model id contains only letters, digits and . _ : -');

  const profile = splitProfileId(id);
  if (profile) {
    return { ok: true, value: { id, kind: 'cross_region_profile', geography: profile.geography, arn: null, foundationModelId: profile.foundationModelId } };
  }
  return { ok: true, value: { id, kind: 'foundation_model', geography: null, arn: null, foundationModelId: id } };
}

/** True when the id names an Anthropic model, whose native body InvokeModel takes. */
export function isAnthropicModel(model: BedrockModel): boolean {
  return model.foundationModelId?.startsWith('anthropic.') ?? false;
}

/**
 * Chooses the runtime API. Anthropic models go through InvokeModel, which takes Anthropic's own
 * Messages body, and every other model through Converse. The `x-keyroute-bedrock-api` header
 * (`invoke` or `converse`) overrides that choice, which matters for an ARN that does not name its
 * model: without the header such an ARN uses Converse, which every text model accepts.
 */
export function chooseBedrockApi(model: BedrockModel, headerValue: string | undefined): BedrockResult<BedrockApi> {
  if (headerValue === undefined) return { ok: true, value: isAnthropicModel(model) ? 'invoke' : 'converse' };

  const api = headerValue.trim().toLowerCase();
  if (api !== 'invoke' && api !== 'converse') {
    return {
      ok: false,
      error: new BedrockRequestError(
        'invalid_api_header',
        `Invalid ${bedrockApiHeader} header ${JSON.stringify(headerValue.slice(0, 40))}: expected invoke or converse.`,
        bedrockApiHeader,
      ),
    };
  }
  if (api === 'invoke' && model.foundationModelId !== null && !isAnthropicModel(model)) {
    return {
      ok: false,
      error: new BedrockRequestError(
        'invalid_api_header',
        `${bedrockApiHeader}: invoke sends Anthropic's Messages body, which ${model.foundationModelId} does not take. Send converse or omit the header.`,
        bedrockApiHeader,
      ),
    };
  }
  return { ok: true, value: api };
}
