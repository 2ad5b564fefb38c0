import type { BedrockRegionCredential } from '../../../features/provider-keys/credentials.js';
import { awsRegionPattern } from '../../../features/provider-keys/settings.js';
import type { BedrockModel, CrossRegionGeography } from './bedrock-model.js';
import { BedrockRequestError, type BedrockResult } from './bedrock-request-error.js';

/**
 * The Bedrock region rule. The region never comes from the server's own AWS environment variables
 * or instance metadata, only from the request and the provider key, in this order:
 *
 * | # | the request has                                   | region                                          |
 * |---|---------------------------------------------------|-------------------------------------------------|
 * | 1 | an ARN as model id                                | the ARN's region                                |
 * | 2 | the `X-Keyroute-Bedrock-Region` header            | the header's region                             |
 * | 3 | a cross-region profile id (`us.`, `eu.`, `apac.`, `jp.`, `au.`, `us-gov.`) | a region of that geography with a credential row, else the geography's default region below |
 * | 4 | anything else, `global.` profiles included        | the provider key's default region setting       |
 *
 * The credentials are the chosen region's row, else the key's `global` row, else the request is
 * rejected with a 400 that names the region and the fix.
 */

export const bedrockRegionHeader = 'x-keyroute-bedrock-region';

/** The region of the fallback credential row, which serves any region without a row of its own. */
export const globalRowRegion = 'global';

type Geography = Exclude<CrossRegionGeography, 'global'>;

/**
 * Source regions of each geography, from the documentation of aws-cdk's
 * `CrossRegionInferenceProfileRegion` enum (`@aws-cdk/aws-bedrock-alpha`,
 * cross-region-inference-profile.ts). Which of them a profile includes depends on the model.
 * us-west-1 is added to `us` because the same file grants `us` profiles every `us-` region.
 */
export const geographyRegions: Readonly<Record<Geography, readonly string[]>> = {
  us: ['us-east-1', 'us-east-2', 'us-west-2', 'us-west-1'],
  'us-gov': ['us-gov-west-1', 'us-gov-east-1'],
  eu: ['eu-central-1', 'eu-west-1', 'eu-west-3', 'eu-west-2', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-central-2'],
  apac: [
    'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-south-1', 'ap-south-2', 'ap-southeast-1', 'ap-southeast-2',
    'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-7', 'ap-east-2', 'me-central-1',
  ],
  jp: ['ap-northeast-1', 'ap-northeast-3'],
  au: ['ap-southeast-2', 'ap-southeast-4'],
};

/**
 * The region used for a cross-region profile when the key has no row in its geography (the
 * `global` row then signs). AWS names no default source region for a geography, so this table is
 * the gateway's own choice: the first region AWS lists for the geography, where the profiles of
 * current Claude models are offered. The README has the same table.
 */
// NOTE: unverified that every model's profile is offered in these source regions. A key whose
// profile is offered elsewhere needs a row in that geography or the X-Keyroute-Bedrock-Region header.
export const geographyDefaultRegions: Readonly<Record<Geography, string>> = {
  us: 'us-east-1',
  'us-gov': 'us-gov-west-1',
  eu: 'eu-central-1',
  apac: 'ap-northeast-1',
  jp: 'ap-northeast-1',
  au: 'ap-southeast-2',
};

/** The step of the rule that chose the region. */
export type BedrockRegionSource = 'arn' | 'header' | 'geography_row' | 'geography_default' | 'default_region';

export interface BedrockRegionChoice {
  region: string;
  source: BedrockRegionSource;
  /** The row that signs the request: the region's own row or the `global` row. */
  credentials: BedrockRegionCredential;
}

export interface BedrockRegionInput {
  model: BedrockModel;
  /** The value of the `X-Keyroute-Bedrock-Region` request header, if any. */
  regionHeader: string | undefined;
  /** The provider key's credential rows. */
  rows: readonly BedrockRegionCredential[];
  /** The key's settings; `defaultRegion` is read when it is a string, as stored settings are untyped JSON. */
  settings: { readonly defaultRegion?: unknown };
  /** The provider key id as clients see it, for error messages. */
  providerKeyLabel?: string | null;
}

function isGeography(geography: CrossRegionGeography | null): geography is Geography {
  return geography !== null && geography !== 'global';
}

/** Picks a region of the geography that has a row: the default region, then the geography's default, then row order. */
function regionForGeography(geography: Geography, rows: readonly BedrockRegionCredential[], defaultRegion: string | null): { region: string; source: BedrockRegionSource } {
  const members = geographyRegions[geography];
  const withRows = rows.map((row) => row.region).filter((region) => members.includes(region));
  if (defaultRegion !== null && withRows.includes(defaultRegion)) return { region: defaultRegion, source: 'geography_row' };
  if (withRows.includes(geographyDefaultRegions[geography])) return { region: geographyDefaultRegions[geography], source: 'geography_row' };
  if (withRows[0] !== undefined) return { region: withRows[0], source: 'geography_row' };
  return { region: geographyDefaultRegions[geography], source: 'geography_default' };
}

/** Chooses the region and credential row of a Bedrock request by the rule at the top of this file. */
export function chooseBedrockRegion(input: BedrockRegionInput): BedrockResult<BedrockRegionChoice> {
  const { model, rows } = input;
  const defaultRegion = typeof input.settings.defaultRegion === 'string' ? input.settings.defaultRegion : null;
  const keyName = input.providerKeyLabel ? `provider key ${input.providerKeyLabel}` : 'the Bedrock provider key';
  const capitalizedKeyName = input.providerKeyLabel ? `Provider key ${input.providerKeyLabel}` : 'The Bedrock provider key';

  let choice: { region: string; source: BedrockRegionSource };
  if (model.arn) {
    choice = { region: model.arn.region, source: 'arn' };
  } else if (input.regionHeader !== undefined) {
    const region = input.regionHeader.trim();
    if (!awsRegionPattern.test(region)) {
      const error = new BedrockRequestError(
        'invalid_region_header',
        `Invalid ${bedrockRegionHeader} header ${JSON.stringify(region.slice(0, 40))}: expected an AWS region such as us-east-1.`,
        bedrockRegionHeader,
      );
      return { ok: false, error };
    }
    choice = { region, source: 'header' };
  } else if (isGeography(model.geography)) {
    choice = regionForGeography(model.geography, rows, defaultRegion);
  } else if (defaultRegion !== null) {
    choice = { region: defaultRegion, source: 'default_region' };
  } else {
    const error = new BedrockRequestError(
      'region_unresolved',
      `No AWS region for Bedrock model ${model.id}: ${keyName} has no default region. Set the key's default region ` +
        `(settings.bedrock.defaultRegion), send the ${bedrockRegionHeader} header, or use an inference profile ARN or a ` +
        'cross-region profile id such as us.<model id>.',
      'model',
    );
    return { ok: false, error };
  }

  const row = rows.find((candidate) => candidate.region === choice.region) ?? rows.find((candidate) => candidate.region === globalRowRegion);
  if (!row) {
    const otherRegion = choice.source === 'arn' ? '' : `, or send the ${bedrockRegionHeader} header with a region that has a row`;
    const error = new BedrockRequestError(
      'credentials_missing',
      `${capitalizedKeyName} has no credentials for the AWS region ${choice.region} and no global row. ` +
        `Add a row for ${choice.region} or a global row to the provider key${otherRegion}.`,
      'model',
    );
    return { ok: false, error };
  }
  return { ok: true, value: { region: choice.region, source: choice.source, credentials: row } };
}
