import type { ProviderId } from '../../providers/providers.js';
import type { InputChecker } from '../../validation/input-checker.js';

/**
 * Non-secret settings per provider, stored as JSON beside the key. Values are ids and enums,
 * never URLs: where a request goes is decided by code, not by stored text.
 */
export interface OpenAiSettings {
  organizationId: string | null;
  projectId: string | null;
}

export interface VertexAiSettings {
  /** `global` or a Google Cloud location such as `us-central1`. */
  location: string;
  /** Null means the service account's own project. */
  projectId: string | null;
}

export type ZaiEndpoint = 'INTERNATIONAL' | 'CODING_PLAN' | 'CHINA';

export interface ZaiSettings {
  endpoint: ZaiEndpoint;
}

export interface BedrockSettings {
  /** Region used when neither the model id nor the request names one. */
  defaultRegion: string | null;
}

export type ProviderSettings =
  | { provider: 'OPENAI'; values: OpenAiSettings }
  | { provider: 'VERTEX_AI'; values: VertexAiSettings }
  | { provider: 'ZAI'; values: ZaiSettings }
  | { provider: 'BEDROCK'; values: BedrockSettings }
  | { provider: Exclude<ProviderId, 'OPENAI' | 'VERTEX_AI' | 'ZAI' | 'BEDROCK'>; values: Record<string, never> };

/** Settings input: per field, `undefined` keeps the stored value and `null` restores the default. */
export interface SettingsInput {
  openAi?: { organizationId?: string | null; projectId?: string | null } | null;
  vertexAi?: { location?: string | null; projectId?: string | null } | null;
  zai?: { endpoint?: ZaiEndpoint | null } | null;
  bedrock?: { defaultRegion?: string | null } | null;
}

const settingsInputField: Partial<Record<ProviderId, keyof SettingsInput>> = {
  OPENAI: 'openAi',
  VERTEX_AI: 'vertexAi',
  ZAI: 'zai',
  BEDROCK: 'bedrock',
};

export const awsRegionPattern = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$/;
const vertexLocationPattern = /^(global|us|eu|[a-z]+-[a-z]+\d{1,2})$/;
const gcpProjectIdPattern = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const openAiOrganizationPattern = /^org-[A-Za-z0-9]{1,64}$/;
const openAiProjectPattern = /^proj_[A-Za-z0-9]{1,64}$/;

export function defaultSettings(provider: ProviderId): Record<string, unknown> {
  switch (provider) {
    case 'OPENAI':
      return { organizationId: null, projectId: null } satisfies OpenAiSettings;
    case 'VERTEX_AI':
      return { location: 'global', projectId: null } satisfies VertexAiSettings;
    case 'ZAI':
      return { endpoint: 'INTERNATIONAL' } satisfies ZaiSettings;
    case 'BEDROCK':
      return { defaultRegion: null } satisfies BedrockSettings;
    default:
      return {};
  }
}

function checkPattern(
  checker: InputChecker,
  path: (string | number)[],
  value: string | null | undefined,
  pattern: RegExp,
  expected: string,
): void {
  if (typeof value === 'string' && !pattern.test(value)) {
    checker.add(path, `expected ${expected}, got ${JSON.stringify(value.slice(0, 80))}`);
  }
}

/**
 * Applies a settings input to the stored (or default) settings of `provider`. Problems are added
 * to `checker` with their input paths; the merged settings are returned either way.
 */
export function applySettingsInput(
  checker: InputChecker,
  path: (string | number)[],
  provider: ProviderId,
  stored: Record<string, unknown>,
  input: SettingsInput | null | undefined,
): Record<string, unknown> {
  const current = { ...defaultSettings(provider), ...stored };
  if (input === undefined || input === null) return current;

  const expectedField = settingsInputField[provider];
  const given = (Object.keys(input) as (keyof SettingsInput)[]).filter((field) => input[field] !== undefined && input[field] !== null);
  for (const field of given) {
    if (field !== expectedField) {
      checker.add(
        [...path, field],
        expectedField
          ? `does not match the provider ${provider}; use settings.${expectedField}`
          : `does not match the provider ${provider}, which has no settings; omit settings`,
      );
    }
  }
  if (!expectedField) return current;
  const values = input[expectedField];
  if (!values) return current;

  const merged: Record<string, unknown> = { ...current };
  const defaults = defaultSettings(provider);
  for (const [field, value] of Object.entries(values)) {
    if (value === undefined) continue;
    merged[field] = value === null ? defaults[field] : value;
  }
  const fieldPath = (field: string) => [...path, expectedField, field];

  switch (provider) {
    case 'OPENAI':
      checkPattern(checker, fieldPath('organizationId'), merged.organizationId as string | null, openAiOrganizationPattern, 'an OpenAI organization id such as org-AbC123');
      checkPattern(checker, fieldPath('projectId'), merged.projectId as string | null, openAiProjectPattern, 'an OpenAI project id such as proj_AbC123');
      break;
    case 'VERTEX_AI':
      checkPattern(checker, fieldPath('location'), merged.location as string, vertexLocationPattern, 'global or a Google Cloud location such as us-central1');
      checkPattern(checker, fieldPath('projectId'), merged.projectId as string | null, gcpProjectIdPattern, 'a Google Cloud project id: 6 to 30 lowercase letters, digits or hyphens');
      break;
    case 'BEDROCK':
      checkPattern(checker, fieldPath('defaultRegion'), merged.defaultRegion as string | null, awsRegionPattern, 'an AWS region such as us-east-1');
      break;
    default:
      break;
  }
  return merged;
}

export function toProviderSettings(provider: ProviderId, stored: Record<string, unknown>): ProviderSettings {
  return { provider, values: { ...defaultSettings(provider), ...stored } } as ProviderSettings;
}
