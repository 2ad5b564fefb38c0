import { z } from 'zod';
import { RedactedKey } from '../crypto/redacted-key.js';
import { integer } from './fields.js';

/**
 * Environment variables of secret encryption: AWS KMS (`KMS_*`) or a local keyring (`KEYRING_*`),
 * at most one of the two. With neither, the embedded database generates a local key, and
 * PostgreSQL refuses to start (see select-key-backend.ts).
 *
 * Messages name the expected form and never quote a keyring entry, which would expose its key.
 */

const KEY_LENGTH = 32;
const keyringKeyIdPattern = /^[A-Za-z0-9._-]{1,64}$/;
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const regionPattern = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
// Key id forms that the AWS KMS KeyId parameter accepts for symmetric encryption keys.
const kmsKeyArnPattern = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:(?:key\/[A-Za-z0-9-]{1,256}|alias\/[A-Za-z0-9/_-]{1,250})$/;
const kmsAliasPattern = /^alias\/[A-Za-z0-9/_-]{1,250}$/;
const kmsBareKeyIdPattern = /^(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

const expectedKmsKeyId =
  'expected a key id (1234abcd-12ab-34cd-56ef-1234567890ab), an alias (alias/keyroute) or a key or alias ARN ' +
  '(arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab)';
const expectedKeyringEntry =
  'expected comma-separated id:base64 entries, where each id has 1 to 64 letters, digits, ".", "_" or "-" ' +
  `and each key is ${KEY_LENGTH} bytes in standard base64 (such as the output of \`openssl rand -base64 32\`)`;

/** One parsed KEYRING_KEYS entry. */
export interface KeyringKeyEntry {
  id: string;
  key: RedactedKey;
}

function optionalTrimmed() {
  return z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === '' ? undefined : raw.trim()));
}

const kmsKeyId = optionalTrimmed().transform((value, context) => {
  if (value === undefined) return undefined;
  if (kmsKeyArnPattern.test(value) || kmsAliasPattern.test(value) || kmsBareKeyIdPattern.test(value)) return value;
  context.addIssue({ code: 'custom', message: `${expectedKmsKeyId}, got ${JSON.stringify(value)}` });
  return z.NEVER;
});

const kmsRegion = optionalTrimmed().transform((value, context) => {
  if (value === undefined || regionPattern.test(value)) return value;
  context.addIssue({
    code: 'custom',
    message: `expected an AWS region such as us-east-1 or eu-central-1, got ${JSON.stringify(value)}`,
  });
  return z.NEVER;
});

// The URL is not quoted: a mistyped value could contain user information.
const kmsEndpoint = optionalTrimmed().transform((value, context) => {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    context.addIssue({
      code: 'custom',
      message: 'expected an http:// or https:// URL such as http://127.0.0.1:4566; the value is not one',
    });
    return z.NEVER;
  }
  if (url.username !== '' || url.password !== '') {
    context.addIssue({ code: 'custom', message: 'expected a URL without user name or password' });
    return z.NEVER;
  }
  return value;
});

const keyringKeys = z
  .string()
  .optional()
  .transform((raw, context): KeyringKeyEntry[] | undefined => {
    if (raw === undefined || raw.trim() === '') return undefined;

    const entries: KeyringKeyEntry[] = [];
    const problems: string[] = [];
    const parts = raw.split(',').map((part) => part.trim());
    parts.forEach((part, index) => {
      // Blank entries, as from a trailing comma, are skipped like in the other list variables.
      if (part === '') return;
      const position = `entry ${index + 1}`;
      const separator = part.indexOf(':');
      if (separator < 0) {
        problems.push(`${position} has no ":" between id and key`);
        return;
      }
      const id = part.slice(0, separator);
      if (!keyringKeyIdPattern.test(id)) {
        problems.push(`${position} has an invalid id`);
        return;
      }
      if (entries.some((entry) => entry.id === id)) {
        problems.push(`${position} repeats the id "${id}"`);
        return;
      }
      const encoded = part.slice(separator + 1);
      if (!base64Pattern.test(encoded)) {
        problems.push(`the key of "${id}" is not standard base64`);
        return;
      }
      const key = Buffer.from(encoded, 'base64');
      if (key.length !== KEY_LENGTH) {
        key.fill(0);
        problems.push(`the key of "${id}" is ${key.length} bytes, not ${KEY_LENGTH}`);
        return;
      }
      entries.push({ id, key: new RedactedKey(key) });
    });

    if (problems.length > 0) {
      for (const entry of entries) entry.key.reveal().fill(0);
      context.addIssue({ code: 'custom', message: `${expectedKeyringEntry}; ${problems.join('; ')}` });
      return z.NEVER;
    }
    return entries.length > 0 ? entries : undefined;
  });

const keyringCurrentKeyId = optionalTrimmed().transform((value, context) => {
  if (value === undefined || keyringKeyIdPattern.test(value)) return value;
  context.addIssue({
    code: 'custom',
    message: 'expected the id of a KEYRING_KEYS entry: 1 to 64 letters, digits, ".", "_" or "-"',
  });
  return z.NEVER;
});

function regionOfArn(keyId: string): string | undefined {
  return kmsKeyArnPattern.exec(keyId)?.[1];
}

/**
 * Checks that involve more than one variable. They run even when a single variable failed, so that
 * the start-up report lists every problem at once. A variable that failed its own check has the
 * value `{ status: 'aborted' }` here, and only counts as "set".
 */
export function validateCryptoEnvironment(
  environment: {
    KMS_KEY_ID?: unknown;
    KMS_REGION?: unknown;
    KMS_ENDPOINT?: unknown;
    KEYRING_KEYS?: unknown;
    KEYRING_CURRENT_KEY_ID?: unknown;
  },
  context: z.RefinementCtx,
): void {
  const { KMS_KEY_ID, KMS_REGION, KMS_ENDPOINT, KEYRING_KEYS, KEYRING_CURRENT_KEY_ID } = environment;

  if (KMS_KEY_ID !== undefined && KEYRING_KEYS !== undefined) {
    context.addIssue({
      code: 'custom',
      path: ['KEYRING_KEYS'],
      message: 'expected either KMS_KEY_ID (AWS KMS) or KEYRING_KEYS (local keyring), but both are set',
    });
  }

  if (KMS_KEY_ID === undefined) {
    for (const [name, value] of [['KMS_REGION', KMS_REGION], ['KMS_ENDPOINT', KMS_ENDPOINT]] as const) {
      if (value !== undefined) {
        context.addIssue({ code: 'custom', path: [name], message: `${name} is set, so KMS_KEY_ID is expected too` });
      }
    }
  }

  if (typeof KMS_KEY_ID === 'string') {
    const arnRegion = regionOfArn(KMS_KEY_ID);
    if (arnRegion === undefined && KMS_REGION === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['KMS_REGION'],
        message: 'expected an AWS region such as us-east-1, because KMS_KEY_ID is not an ARN that names one',
      });
    }
    if (arnRegion !== undefined && typeof KMS_REGION === 'string' && KMS_REGION !== arnRegion) {
      context.addIssue({
        code: 'custom',
        path: ['KMS_REGION'],
        message: `expected ${arnRegion}, the region of the ARN in KMS_KEY_ID, or no value; got ${JSON.stringify(KMS_REGION)}`,
      });
    }
  }

  if (KEYRING_CURRENT_KEY_ID !== undefined && KEYRING_KEYS === undefined) {
    context.addIssue({
      code: 'custom',
      path: ['KEYRING_CURRENT_KEY_ID'],
      message: 'KEYRING_CURRENT_KEY_ID is set, so KEYRING_KEYS is expected too',
    });
  }
  if (typeof KEYRING_CURRENT_KEY_ID === 'string' && Array.isArray(KEYRING_KEYS)) {
    const ids = (KEYRING_KEYS as KeyringKeyEntry[]).map((entry) => entry.id);
    if (!ids.includes(KEYRING_CURRENT_KEY_ID)) {
      context.addIssue({
        code: 'custom',
        path: ['KEYRING_CURRENT_KEY_ID'],
        message: `expected one of the KEYRING_KEYS ids (${ids.join(', ')}), got ${JSON.stringify(KEYRING_CURRENT_KEY_ID)}`,
      });
    }
  }
}

/**
 * Encryption variables. Merging this schema into another by spreading `.shape` drops the checks
 * across variables; attach `validateCryptoEnvironment` to the merged object with
 * `.superRefine(validateCryptoEnvironment, { when: () => true })` instead.
 */
export const cryptoEnvironment = z
  .object({
    KMS_KEY_ID: kmsKeyId,
    KMS_REGION: kmsRegion,
    KMS_ENDPOINT: kmsEndpoint,
    KMS_TIMEOUT_MS: integer({ default: 5_000, min: 100, max: 120_000, unit: 'milliseconds' }),
    KEYRING_KEYS: keyringKeys,
    KEYRING_CURRENT_KEY_ID: keyringCurrentKeyId,
  })
  .superRefine(validateCryptoEnvironment, { when: () => true });

export type CryptoEnvironment = z.output<typeof cryptoEnvironment>;

export interface KmsConfig {
  keyId: string;
  region: string;
  endpoint: string | undefined;
  timeoutMs: number;
}

export interface KeyringConfig {
  keys: KeyringKeyEntry[];
  currentKeyId: string;
}

/** Secret encryption settings; both backends unset means "no backend configured". */
export interface CryptoConfig {
  kms: KmsConfig | undefined;
  keyring: KeyringConfig | undefined;
}

/** Builds the settings from a successfully validated environment. */
export function toCryptoConfig(environment: CryptoEnvironment): CryptoConfig {
  const { KMS_KEY_ID, KMS_REGION, KMS_ENDPOINT, KMS_TIMEOUT_MS, KEYRING_KEYS, KEYRING_CURRENT_KEY_ID } = environment;

  const kms =
    KMS_KEY_ID === undefined
      ? undefined
      : {
          keyId: KMS_KEY_ID,
          // Validation guarantees one of the two when KMS_KEY_ID is set.
          region: (KMS_REGION ?? regionOfArn(KMS_KEY_ID))!,
          endpoint: KMS_ENDPOINT,
          timeoutMs: KMS_TIMEOUT_MS,
        };

  const firstKey = KEYRING_KEYS?.[0];
  const keyring =
    KEYRING_KEYS === undefined || firstKey === undefined
      ? undefined
      : { keys: KEYRING_KEYS, currentKeyId: KEYRING_CURRENT_KEY_ID ?? firstKey.id };

  return { kms, keyring };
}
