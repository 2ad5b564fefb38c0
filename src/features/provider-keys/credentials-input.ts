import type { ProviderId } from '../../providers/providers.js';
import type { InputChecker } from '../../validation/input-checker.js';
import {
  checkApiKey,
  credentialsKindOf,
  looksMasked,
  parseServiceAccount,
  type BedrockRegionCredential,
  type Credentials,
} from './credentials.js';
import { awsRegionPattern } from './settings.js';

/** Write-only credentials input: exactly one field is set, matching the provider's credential kind. */
export interface CredentialsInput {
  apiKey?: string | null;
  bedrockRegions?: readonly BedrockRegionInput[] | null;
  vertexServiceAccount?: string | null;
}

export interface BedrockRegionInput {
  region: string;
  accessKeyId?: string | null;
  secretAccessKey?: string | null;
}

export interface InputWarning {
  path: (string | number)[];
  message: string;
}

const inputFieldOfKind = {
  API_KEY: 'apiKey',
  BEDROCK_REGIONS: 'bedrockRegions',
  VERTEX_SERVICE_ACCOUNT: 'vertexServiceAccount',
} as const;

/** Regions where AWS offers Bedrock or may soon; another region that matches the pattern gets a warning. */
const knownAwsRegions = new Set([
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'us-gov-east-1', 'us-gov-west-1', 'ca-central-1',
  'ca-west-1', 'mx-central-1', 'sa-east-1', 'eu-central-1', 'eu-central-2', 'eu-west-1', 'eu-west-2',
  'eu-west-3', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'il-central-1', 'me-central-1', 'me-south-1',
  'af-south-1', 'ap-east-1', 'ap-east-2', 'ap-south-1', 'ap-south-2', 'ap-northeast-1', 'ap-northeast-2',
  'ap-northeast-3', 'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4',
  'ap-southeast-5', 'ap-southeast-7',
]);

const maskedValueMessage = 'is a masked value shown by the API; leave the field empty to keep the stored secret';

/** True when the input keeps the stored credentials: omitted, null, or its field empty. */
export function keepsStoredCredentials(input: CredentialsInput | null | undefined): boolean {
  if (!input) return true;
  const values = [input.apiKey, input.bedrockRegions, input.vertexServiceAccount].filter((value) => value !== undefined && value !== null);
  if (values.length === 0) return true;
  if (values.length > 1) return false;
  const [value] = values;
  return (typeof value === 'string' && value.length === 0) || (Array.isArray(value) && value.length === 0);
}

/** True when applying the input needs the stored plaintext: Bedrock rows that keep stored values. */
export function needsStoredCredentials(input: CredentialsInput | null | undefined): boolean {
  return !!input?.bedrockRegions?.some((row) => !row.secretAccessKey);
}

/**
 * Turns the input into credentials for `provider`. `stored` is the current plaintext on update
 * (undefined on create). Problems are added to `checker` with their paths; the result is
 * undefined when there are any.
 */
export function credentialsFromInput(
  checker: InputChecker,
  path: (string | number)[],
  provider: ProviderId,
  input: CredentialsInput,
  stored: Credentials | undefined,
  warnings: InputWarning[],
): Credentials | undefined {
  const kind = credentialsKindOf[provider];
  const expectedField = inputFieldOfKind[kind];
  const given = (Object.keys(inputFieldOfKind) as (keyof typeof inputFieldOfKind)[])
    .map((key) => inputFieldOfKind[key])
    .filter((field) => input[field] !== undefined && input[field] !== null);
  if (given.length !== 1) {
    checker.add(path, `expected exactly one of apiKey, bedrockRegions, vertexServiceAccount; ${provider} takes ${expectedField}`);
    return undefined;
  }
  if (given[0] !== expectedField) {
    checker.add([...path, given[0]!], `does not match the provider ${provider}, which takes ${expectedField}`);
    return undefined;
  }
  const before = checker.issues.length;

  switch (kind) {
    case 'API_KEY': {
      const apiKey = input.apiKey!;
      const problem = looksMasked(apiKey) ? maskedValueMessage : checkApiKey(provider, apiKey);
      if (problem) checker.add([...path, 'apiKey'], problem);
      return checker.issues.length > before ? undefined : { kind, apiKey };
    }
    case 'VERTEX_SERVICE_ACCOUNT': {
      const parsed = parseServiceAccount(input.vertexServiceAccount!);
      if ('problems' in parsed) {
        for (const problem of parsed.problems) checker.add([...path, 'vertexServiceAccount'], problem);
        return undefined;
      }
      return { kind, serviceAccount: parsed.serviceAccount };
    }
    case 'BEDROCK_REGIONS': {
      const storedRows = stored?.kind === 'BEDROCK_REGIONS' ? stored.regions : [];
      const regions = bedrockRowsFromInput(checker, [...path, 'bedrockRegions'], input.bedrockRegions!, storedRows, warnings);
      return checker.issues.length > before ? undefined : { kind, regions };
    }
  }
}

function bedrockRowsFromInput(
  checker: InputChecker,
  path: (string | number)[],
  rows: readonly BedrockRegionInput[],
  storedRows: readonly BedrockRegionCredential[],
  warnings: InputWarning[],
): BedrockRegionCredential[] {
  if (rows.length === 0) {
    checker.add(path, 'must have at least one row of region, access key id and secret access key');
    return [];
  }
  const seen = new Set<string>();
  const result: BedrockRegionCredential[] = [];

  rows.forEach((row, index) => {
    const rowPath = [...path, index];
    const region = row.region.trim();
    if (region !== 'global' && !awsRegionPattern.test(region)) {
      checker.add([...rowPath, 'region'], `expected an AWS region such as us-east-1, or global for the fallback row; got ${JSON.stringify(region.slice(0, 40))}`);
    } else if (region !== 'global' && !knownAwsRegions.has(region)) {
      warnings.push({ path: [...rowPath, 'region'], message: `${region} is not a region this version knows; check the spelling` });
    }
    if (seen.has(region)) checker.add([...rowPath, 'region'], `${region} appears more than once; give each region one row`);
    seen.add(region);

    const storedRow = storedRows.find((candidate) => candidate.region === region);
    const accessKeyId = row.accessKeyId?.trim() || undefined;
    const secretAccessKey = row.secretAccessKey || undefined;

    const issuesBeforeRow = checker.issues.length;
    if (accessKeyId !== undefined) {
      if (looksMasked(accessKeyId)) checker.add([...rowPath, 'accessKeyId'], maskedValueMessage);
      else if (accessKeyId.startsWith('ASIA')) {
        checker.add([...rowPath, 'accessKeyId'], 'is a temporary key (ASIA…), which needs a session token and expires within hours; create a long-term access key (AKIA…) for an IAM user');
      } else if (!/^AKIA[A-Z0-9]{16}$/.test(accessKeyId)) {
        checker.add([...rowPath, 'accessKeyId'], 'expected AKIA followed by 16 uppercase letters or digits');
      }
    }
    if (secretAccessKey !== undefined && looksMasked(secretAccessKey)) {
      checker.add([...rowPath, 'secretAccessKey'], maskedValueMessage);
    }
    // An invalid value already has its message. Checks of the row as a whole would only add noise,
    // such as a request for a new secret next to a pasted masked access key id.
    if (checker.issues.length > issuesBeforeRow) return;

    if (accessKeyId === undefined && secretAccessKey === undefined) {
      // A row with only its region keeps that region's stored access key id and secret.
      if (storedRow) result.push({ ...storedRow });
      else checker.add(rowPath, `has no stored credentials for ${region}; give its access key id and secret access key`);
      return;
    }
    if (accessKeyId === undefined) {
      if (storedRow) result.push({ region, accessKeyId: storedRow.accessKeyId, secretAccessKey: secretAccessKey! });
      else checker.add([...rowPath, 'accessKeyId'], 'is missing; a new row needs its access key id');
      return;
    }
    if (secretAccessKey === undefined) {
      if (storedRow && storedRow.accessKeyId === accessKeyId) result.push({ ...storedRow });
      else checker.add([...rowPath, 'secretAccessKey'], 'is missing; a new access key id needs its secret access key');
      return;
    }
    result.push({ region, accessKeyId, secretAccessKey });
  });
  return result;
}
