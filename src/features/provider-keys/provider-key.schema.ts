import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { decodeCursor, encodeCursor } from '../../db/keyset.js';
import { ConflictError, EncryptionUnavailableError, ForbiddenError, NotFoundError, RateLimitedError, ValidationError } from '../../errors.js';
import type { KeyTestResult } from '../../proxy/key-test/provider-key-tester.js';
import type { BedrockRegionTestResult } from '../../proxy/upstream/bedrock/bedrock-key-test.js';
import { builder } from '../../graphql/builder.js';
import type { GraphqlContext } from '../../graphql/context.js';
import { decodeIdFor, isUuid } from '../../graphql/global-id.js';
import { OrganizationRef } from '../../graphql/viewer.schema.js';
import { providers, type ProviderId } from '../../providers/providers.js';
import { GatewayKeyRef } from '../gateway-keys/gateway-key.schema.js';
import type { WriteContext } from '../gateway-keys/gateway-key.service.js';
import type { Assignment } from './assignment.repository.js';
import { credentialsKindOf, secretIsSet, type MaskedCredentials } from './credentials.js';
import type { InputWarning } from './credentials-input.js';
import type { ProviderKey } from './provider-key.repository.js';
import type { AssignmentInput, ProviderKeyResult } from './provider-key.service.js';
import { resolveCredential, type Resolution } from './resolution.js';
import { defaultSettings, toProviderSettings, type ProviderSettings } from './settings.js';

export const ProviderEnum = builder.enumType('Provider', {
  values: Object.fromEntries(
    providers.map((provider) => [provider.id, { value: provider.id, description: provider.label }]),
  ) as unknown as Record<ProviderId, { value: ProviderId }>,
});

const CredentialsKindEnum = builder.enumType('CredentialsKind', {
  values: ['API_KEY', 'BEDROCK_REGIONS', 'VERTEX_SERVICE_ACCOUNT'] as const,
});

const ProviderKeyStatusEnum = builder.enumType('ProviderKeyStatus', {
  values: {
    OK: { description: 'The credentials decrypt.' },
    UNDECRYPTABLE: { description: 'The credentials could not be decrypted; `statusErrorCode` says why. Replace them.' },
  } as const,
});

const ZaiEndpointEnum = builder.enumType('ZaiEndpoint', {
  values: {
    INTERNATIONAL: { description: 'The international API.' },
    CODING_PLAN: { description: 'The GLM Coding Plan API.' },
    CHINA: { description: 'The mainland China API.' },
  } as const,
});

// Masked credentials: never a secret, only the parts the masking rule allows.

const ApiKeyRef = builder.objectRef<Extract<MaskedCredentials, { kind: 'API_KEY' }>>('ApiKey').implement({
  description: 'An API key, masked: at most its public prefix and last 4 characters.',
  fields: (t) => ({ maskedKey: t.exposeString('maskedKey') }),
});

const BedrockRegionRef = builder.objectRef<{ region: string; maskedAccessKeyId: string }>('BedrockRegion').implement({
  fields: (t) => ({
    region: t.exposeString('region', { description: 'An AWS region, or `global` for the fallback row.' }),
    accessKeyId: t.exposeString('maskedAccessKeyId', { description: 'AKIA and the last 4 characters.' }),
    secretAccessKey: t.string({ description: 'Always "set": the secret is never shown.', resolve: () => secretIsSet }),
  }),
});

const BedrockRegionsRef = builder.objectRef<Extract<MaskedCredentials, { kind: 'BEDROCK_REGIONS' }>>('BedrockRegions').implement({
  description: 'AWS IAM credentials, one row per region.',
  fields: (t) => ({ regions: t.field({ type: [BedrockRegionRef], resolve: (credentials) => credentials.regions }) }),
});

const VertexServiceAccountRef = builder
  .objectRef<Extract<MaskedCredentials, { kind: 'VERTEX_SERVICE_ACCOUNT' }>>('VertexServiceAccount')
  .implement({
    description: 'A Google Cloud service account, shown without its private key.',
    fields: (t) => ({
      projectId: t.exposeString('projectId'),
      clientEmail: t.exposeString('clientEmail'),
      privateKeyId: t.exposeString('maskedPrivateKeyId', { description: 'The first and last 4 characters.' }),
      privateKey: t.string({ description: 'Always "set": the key is never shown.', resolve: () => secretIsSet }),
    }),
  });

const credentialsTypeNames = {
  API_KEY: 'ApiKey',
  BEDROCK_REGIONS: 'BedrockRegions',
  VERTEX_SERVICE_ACCOUNT: 'VertexServiceAccount',
} as const;

const CredentialsUnion = builder.unionType('Credentials', {
  types: [ApiKeyRef, BedrockRegionsRef, VertexServiceAccountRef],
  resolveType: (credentials) => credentialsTypeNames[credentials.kind],
});

// Settings per provider.

type SettingsOf<P extends ProviderSettings['provider']> = Extract<ProviderSettings, { provider: P }>;
type ConfigurableSettings = SettingsOf<'OPENAI' | 'VERTEX_AI' | 'ZAI' | 'BEDROCK'>;

const OpenAiSettingsRef = builder.objectRef<SettingsOf<'OPENAI'>>('OpenAiSettings').implement({
  fields: (t) => ({
    organizationId: t.string({ nullable: true, description: 'Sent as OpenAI-Organization.', resolve: (s) => s.values.organizationId }),
    projectId: t.string({ nullable: true, description: 'Sent as OpenAI-Project.', resolve: (s) => s.values.projectId }),
  }),
});

const VertexAiSettingsRef = builder.objectRef<SettingsOf<'VERTEX_AI'>>('VertexAiSettings').implement({
  fields: (t) => ({
    location: t.string({ description: '`global` or a location such as `us-central1`.', resolve: (s) => s.values.location }),
    projectId: t.string({ nullable: true, description: "Null means the service account's project.", resolve: (s) => s.values.projectId }),
  }),
});

const ZaiSettingsRef = builder.objectRef<SettingsOf<'ZAI'>>('ZaiSettings').implement({
  fields: (t) => ({ endpoint: t.field({ type: ZaiEndpointEnum, resolve: (s) => s.values.endpoint }) }),
});

const BedrockSettingsRef = builder.objectRef<SettingsOf<'BEDROCK'>>('BedrockSettings').implement({
  fields: (t) => ({
    defaultRegion: t.string({
      nullable: true,
      description: 'Region used when neither the model id nor the request names one.',
      resolve: (s) => s.values.defaultRegion,
    }),
  }),
});

const settingsTypeNames: Partial<Record<ProviderId, string>> = {
  OPENAI: 'OpenAiSettings',
  VERTEX_AI: 'VertexAiSettings',
  ZAI: 'ZaiSettings',
  BEDROCK: 'BedrockSettings',
};

const ProviderSettingsUnion = builder.unionType('ProviderSettings', {
  types: [OpenAiSettingsRef, VertexAiSettingsRef, ZaiSettingsRef, BedrockSettingsRef],
  resolveType: (settings) => settingsTypeNames[settings.provider]!,
});

// Assignment.

const OrganizationAssignmentRef = builder.objectRef<{ organizationId: string }>('OrganizationAssignment').implement({
  description: 'The key serves every gateway key of the organization that has no key of its own for this provider.',
  fields: (t) => ({
    // A loader, so a page of organization-wide keys reads the organization once rather than once per key.
    organization: t.loadable({
      type: OrganizationRef,
      load: (ids: string[], context: GraphqlContext) =>
        Promise.all(ids.map(async (id) => (await context.services.organizations.find(id)) ?? new NotFoundError('Organization', id))),
      resolve: (assignment) => assignment.organizationId,
    }),
  }),
});

const GatewayKeysAssignmentRef = builder.objectRef<{ gatewayKeyIds: string[] }>('GatewayKeysAssignment').implement({
  description: 'The key serves the listed gateway keys only. An empty list serves nobody.',
  fields: (t) => ({
    gatewayKeys: t.field({ type: [GatewayKeyRef], resolve: (assignment) => assignment.gatewayKeyIds }),
  }),
});

const AssignmentUnion = builder.unionType('Assignment', {
  types: [OrganizationAssignmentRef, GatewayKeysAssignmentRef],
  resolveType: (assignment) => ('organizationId' in assignment ? 'OrganizationAssignment' : 'GatewayKeysAssignment'),
});

export const ProviderKeyRef = builder.loadableNode('ProviderKey', {
  description: 'Credentials of one provider account, stored encrypted. Reads show masked values only.',
  id: { resolve: (key: ProviderKey) => key.id },
  load: async (ids: string[], context: GraphqlContext) => {
    // `node(id:)` passes the client's id text here; one that is no UUID cannot exist and must not reach SQL.
    const keys = await context.services.providerKeys.findMany(context.principal.organizationId, ids.filter(isUuid));
    const byId = new Map(keys.map((key) => [key.id, key]));
    return ids.map((id) => byId.get(id) ?? new NotFoundError('ProviderKey', id));
  },
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, resolve: (key) => key.provider }),
    name: t.exposeString('name'),
    enabled: t.exposeBoolean('enabled', { description: 'The proxy rejects requests that a disabled key would serve. It does not fall back to another key.' }),
    credentials: t.field({ type: CredentialsUnion, resolve: (key) => key.maskedCredentials }),
    settings: t.field({
      type: ProviderSettingsUnion,
      nullable: true,
      description: 'Null for providers without settings.',
      resolve: (key) =>
        settingsTypeNames[key.provider] ? (toProviderSettings(key.provider, key.settings) as ConfigurableSettings) : null,
    }),
    assignment: t.loadable({
      type: AssignmentUnion,
      load: async (ids: string[], context: GraphqlContext) => {
        const assignments = await context.services.providerKeys.loadAssignments(context.principal.organizationId, ids);
        return ids.map((id) => toAssignmentShape(assignments.get(id)!, context.principal.organizationId));
      },
      resolve: (key) => key.id,
    }),
    credentialsVersion: t.exposeInt('credentialsVersion', {
      description: 'Increments on every change of the credentials, so tooling can tell that a secret changed without reading it.',
    }),
    status: t.field({ type: ProviderKeyStatusEnum, resolve: (key) => key.status }),
    statusErrorCode: t.exposeString('statusErrorCode', { nullable: true, description: 'Why the status is UNDECRYPTABLE.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    credentialsUpdatedAt: t.expose('credentialsUpdatedAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
});

function toAssignmentShape(assignment: Assignment, organizationId: string) {
  return assignment.kind === 'ORGANIZATION' ? { organizationId } : { gatewayKeyIds: assignment.gatewayKeyIds };
}

// Which credential would serve a gateway key, per provider.

export const CredentialSourceEnum = builder.enumType('CredentialSource', {
  values: {
    GATEWAY_KEY: { description: 'A provider key assigned to this gateway key.' },
    ORGANIZATION: { description: 'The organization-wide provider key.' },
    PLATFORM: { description: "The operator's platform credentials." },
  } as const,
});

const ResolutionOutcomeEnum = builder.enumType('ResolutionOutcome', {
  values: {
    USE: { description: 'Requests are served with this credential.' },
    DISABLED: { description: 'The chosen provider key is disabled, so requests are rejected. There is no fallback.' },
    NONE: { description: 'No credential is configured, so requests are rejected.' },
  } as const,
});

const CredentialResolutionRef = builder
  .objectRef<{ provider: ProviderId; resolution: Resolution }>('CredentialResolution')
  .implement({
    fields: (t) => ({
      provider: t.field({ type: ProviderEnum, resolve: (row) => row.provider }),
      outcome: t.field({ type: ResolutionOutcomeEnum, resolve: (row) => row.resolution.outcome }),
      source: t.field({
        type: CredentialSourceEnum,
        nullable: true,
        resolve: (row) => (row.resolution.outcome === 'NONE' ? null : row.resolution.source),
      }),
      providerKey: t.field({
        type: ProviderKeyRef,
        nullable: true,
        resolve: (row) => ('providerKeyId' in row.resolution ? row.resolution.providerKeyId : null),
      }),
    }),
  });

builder.objectFields(GatewayKeyRef, (t) => ({
  providerKeys: t.loadableList({
    type: ProviderKeyRef,
    description: 'Provider keys assigned to this gateway key specifically.',
    load: async (gatewayKeyIds: string[], context: GraphqlContext) => {
      const { organizationId } = context.principal;
      const candidates = await context.services.providerKeys.loadCandidateKeys(organizationId, gatewayKeyIds);
      const specific = candidates.filter((candidate) => candidate.gatewayKeyId !== null);
      const keys = await context.services.providerKeys.findMany(organizationId, [...new Set(specific.map((row) => row.providerKeyId))]);
      const byId = new Map(keys.map((key) => [key.id, key]));
      return gatewayKeyIds.map((gatewayKeyId) =>
        specific.filter((row) => row.gatewayKeyId === gatewayKeyId).map((row) => byId.get(row.providerKeyId)!),
      );
    },
    resolve: (gatewayKey) => gatewayKey.id,
  }),
  credentialResolution: t.loadableList({
    type: CredentialResolutionRef,
    description: 'For every provider, the credential that would serve this gateway key and where it comes from.',
    load: async (gatewayKeyIds: string[], context: GraphqlContext) => {
      const candidates = await context.services.providerKeys.loadCandidateKeys(context.principal.organizationId, gatewayKeyIds);
      return gatewayKeyIds.map((gatewayKeyId) =>
        providers.map(({ id: provider }) => ({
          provider,
          // NOTE: platform credentials are not configurable yet, so rule 5 of the resolution never applies.
          resolution: resolveCredential({ gatewayKeyId, provider, candidates, platformCredentialsAllowed: false }),
        })),
      );
    },
    resolve: (gatewayKey) => gatewayKey.id,
  }),
}));

// The providers query: what a console needs to build its forms.

const SettingsFieldRef = builder
  .objectRef<{ name: string; description: string; enumValues: string[] | null; defaultValue: string | null }>('ProviderSettingsField')
  .implement({
    fields: (t) => ({
      name: t.exposeString('name', { description: 'Field name in the settings input of this provider.' }),
      description: t.exposeString('description'),
      enumValues: t.exposeStringList('enumValues', { nullable: true, description: 'Allowed values, for enum fields.' }),
      defaultValue: t.exposeString('defaultValue', { nullable: true }),
    }),
  });

const settingsFieldDescriptions: Partial<Record<ProviderId, { settingsInput: string; fields: { name: string; description: string; enumValues?: string[] }[] }>> = {
  OPENAI: {
    settingsInput: 'openAi',
    fields: [
      { name: 'organizationId', description: 'OpenAI organization id (org-…), sent as OpenAI-Organization.' },
      { name: 'projectId', description: 'OpenAI project id (proj_…), sent as OpenAI-Project.' },
    ],
  },
  VERTEX_AI: {
    settingsInput: 'vertexAi',
    fields: [
      { name: 'location', description: '`global` or a Google Cloud location such as us-central1.' },
      { name: 'projectId', description: "Google Cloud project id; defaults to the service account's project." },
    ],
  },
  ZAI: {
    settingsInput: 'zai',
    fields: [{ name: 'endpoint', description: 'Which zAI API the key belongs to.', enumValues: ['INTERNATIONAL', 'CODING_PLAN', 'CHINA'] }],
  },
  BEDROCK: {
    settingsInput: 'bedrock',
    fields: [{ name: 'defaultRegion', description: 'AWS region used when neither the model id nor the request names one.' }],
  },
};

const ProviderDescriptionRef = builder.objectRef<(typeof providers)[number]>('ProviderDescription').implement({
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, resolve: (provider) => provider.id }),
    label: t.exposeString('label'),
    modelPrefix: t.exposeString('prefix', { description: 'Prefix of model references, as in `openai/gpt-4o`.' }),
    credentialsKind: t.field({ type: CredentialsKindEnum, resolve: (provider) => credentialsKindOf[provider.id] }),
    settingsInputField: t.string({
      nullable: true,
      description: 'Field of ProviderKeySettingsInput for this provider; null when it has no settings.',
      resolve: (provider) => settingsFieldDescriptions[provider.id]?.settingsInput ?? null,
    }),
    settingsFields: t.field({
      type: [SettingsFieldRef],
      resolve: (provider) => {
        const defaults = defaultSettings(provider.id);
        return (settingsFieldDescriptions[provider.id]?.fields ?? []).map((field) => ({
          name: field.name,
          description: field.description,
          enumValues: field.enumValues ?? null,
          defaultValue: defaults[field.name] === null || defaults[field.name] === undefined ? null : String(defaults[field.name]),
        }));
      },
    }),
  }),
});

const ProviderKeyFilterInput = builder.inputType('ProviderKeyFilter', {
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum }),
    gatewayKey: t.id({ description: 'Only keys assigned to this gateway key specifically.' }),
    organizationWide: t.boolean({ description: 'True: only organization-wide keys. False: only keys assigned to gateway keys.' }),
  }),
});

builder.queryFields((t) => ({
  providers: t.field({
    type: [ProviderDescriptionRef],
    description: "Every provider with its credential kind and settings fields, for building forms.",
    resolve: () => [...providers],
  }),
  providerKeys: t.connection(
    {
      type: ProviderKeyRef,
      description: 'Provider keys of the organization, newest first.',
      args: { filter: t.arg({ type: ProviderKeyFilterInput }) },
      resolve: (_root, args, context) =>
        resolveCursorConnection(
          { args, toCursor: (key: ProviderKey) => encodeCursor({ createdMicros: key.createdMicros, id: key.id }), defaultSize: 20, maxSize: 100 },
          ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) =>
            context.services.providerKeys.list(
              context.principal.organizationId,
              {
                provider: args.filter?.provider ?? undefined,
                gatewayKeyId: args.filter?.gatewayKey ? decodeIdFor('GatewayKey', args.filter.gatewayKey, ['filter', 'gatewayKey']) : undefined,
                organizationWide: args.filter?.organizationWide ?? undefined,
              },
              { after: decodeCursor(after, 'after'), before: decodeCursor(before, 'before'), limit, inverted },
            ),
        ),
    },
    { name: 'ProviderKeyConnection' },
    { name: 'ProviderKeyEdge' },
  ),
}));

// Mutations.

const BedrockRegionInput = builder.inputType('BedrockRegionInput', {
  description: 'On update, a row with only its region keeps that region\'s stored access key id and secret.',
  fields: (t) => ({
    region: t.string({ required: true, description: 'An AWS region such as us-east-1, or `global` for the fallback row.' }),
    accessKeyId: t.string({ description: 'AKIA followed by 16 characters. Temporary ASIA keys are rejected.' }),
    secretAccessKey: t.string({ description: 'Required with a new access key id.' }),
  }),
});

const CredentialsInputRef = builder.inputType('CredentialsInput', {
  isOneOf: true,
  description:
    "Write-only credentials matching the provider's credential kind. On update, an empty value keeps the stored secret; a masked value is rejected.",
  fields: (t) => ({
    apiKey: t.string({ description: 'For Anthropic, OpenAI, Mistral, DeepSeek, xAI and zAI.' }),
    bedrockRegions: t.field({ type: [BedrockRegionInput], description: 'For AWS Bedrock: the complete list of region rows.' }),
    vertexServiceAccount: t.string({ description: 'For Vertex AI: the whole service-account key file as JSON text.' }),
  }),
});

const OpenAiSettingsInput = builder.inputType('OpenAiSettingsInput', {
  fields: (t) => ({ organizationId: t.string(), projectId: t.string() }),
});
const VertexAiSettingsInput = builder.inputType('VertexAiSettingsInput', {
  fields: (t) => ({ location: t.string(), projectId: t.string() }),
});
const ZaiSettingsInput = builder.inputType('ZaiSettingsInput', {
  fields: (t) => ({ endpoint: t.field({ type: ZaiEndpointEnum }) }),
});
const BedrockSettingsInput = builder.inputType('BedrockSettingsInput', {
  fields: (t) => ({ defaultRegion: t.string() }),
});

const SettingsInputRef = builder.inputType('ProviderKeySettingsInput', {
  isOneOf: true,
  description: "Settings of the key's provider. Per field, omitted keeps the stored value and null restores the default.",
  fields: (t) => ({
    openAi: t.field({ type: OpenAiSettingsInput }),
    vertexAi: t.field({ type: VertexAiSettingsInput }),
    zai: t.field({ type: ZaiSettingsInput }),
    bedrock: t.field({ type: BedrockSettingsInput }),
  }),
});

const AssignmentInputRef = builder.inputType('AssignmentInput', {
  isOneOf: true,
  fields: (t) => ({
    organization: t.boolean({ description: 'true: serve every gateway key of the organization.' }),
    gatewayKeys: t.idList({ description: 'Serve only these gateway keys.' }),
  }),
});

const CreateProviderKeyInput = builder.inputType('CreateProviderKeyInput', {
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, required: true }),
    name: t.string({ required: true, description: '1 to 100 characters.' }),
    enabled: t.boolean({ description: 'Defaults to true.' }),
    credentials: t.field({ type: CredentialsInputRef, required: true }),
    settings: t.field({ type: SettingsInputRef }),
    assignment: t.field({ type: AssignmentInputRef, required: true }),
    idempotencyKey: t.string({
      description: 'A retry with the same key and input within 24 hours returns the first result instead of creating another key.',
    }),
  }),
});

const UpdateProviderKeyInput = builder.inputType('UpdateProviderKeyInput', {
  description: 'Omitted or null fields keep their value.',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    enabled: t.boolean(),
    credentials: t.field({ type: CredentialsInputRef, description: 'Omit, or send an empty value, to keep the stored secret.' }),
    settings: t.field({ type: SettingsInputRef }),
    assignment: t.field({ type: AssignmentInputRef }),
  }),
});

const WarningRef = builder.objectRef<InputWarning>('Warning').implement({
  description: 'Accepted input that may be a mistake.',
  fields: (t) => ({
    path: t.stringList({ resolve: (warning) => warning.path.map(String) }),
    message: t.exposeString('message'),
  }),
});

const ProviderKeyPayloadRef = builder.objectRef<ProviderKeyResult>('ProviderKeyPayload').implement({
  fields: (t) => ({
    providerKey: t.field({ type: ProviderKeyRef, resolve: (result) => result.providerKey }),
    warnings: t.field({ type: [WarningRef], resolve: (result) => result.warnings }),
  }),
});

const DeletedProviderKeyRef = builder.objectRef<{ id: string }>('DeletedProviderKey').implement({
  fields: (t) => ({ deletedId: t.id({ resolve: (result) => result.id }) }),
});

function writeContext(context: GraphqlContext): WriteContext {
  return {
    organizationId: context.principal.organizationId,
    actor: { tokenId: context.principal.tokenId, label: context.principal.actorLabel },
    requestId: context.requestId,
  };
}

function decodeAssignment(input: { organization?: boolean | null; gatewayKeys?: readonly string[] | null }): AssignmentInput {
  return {
    organization: input.organization,
    gatewayKeyIds: input.gatewayKeys?.map((id, index) => decodeIdFor('GatewayKey', id, ['input', 'assignment', 'gatewayKeys', index])),
  };
}

const writeErrors = [ValidationError, ConflictError, EncryptionUnavailableError, ForbiddenError];

builder.mutationFields((t) => ({
  createProviderKey: t.field({
    type: ProviderKeyPayloadRef,
    authScopes: { write: true },
    errors: { types: writeErrors, union: { name: 'CreateProviderKeyResult' } },
    args: { input: t.arg({ type: CreateProviderKeyInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.providerKeys.create(writeContext(context), {
        ...input,
        assignment: decodeAssignment(input.assignment),
      }),
  }),
  updateProviderKey: t.field({
    type: ProviderKeyPayloadRef,
    authScopes: { write: true },
    errors: { types: [...writeErrors, NotFoundError], union: { name: 'UpdateProviderKeyResult' } },
    args: { input: t.arg({ type: UpdateProviderKeyInput, required: true }) },
    resolve: (_root, { input }, context) => {
      const id = decodeIdFor('ProviderKey', input.id, ['input', 'id']);
      return context.services.providerKeys.update(writeContext(context), id, {
        ...input,
        assignment: input.assignment ? decodeAssignment(input.assignment) : undefined,
      });
    },
  }),
  deleteProviderKey: t.field({
    type: DeletedProviderKeyRef,
    authScopes: { write: true },
    errors: { types: [ValidationError, NotFoundError, ForbiddenError], union: { name: 'DeleteProviderKeyResult' } },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      await context.services.providerKeys.delete(writeContext(context), decodeIdFor('ProviderKey', args.id, ['id']));
      return { id: args.id };
    },
  }),
}));

// Testing a key against the provider.

const KeyTestOutcomeEnum = builder.enumType('ProviderKeyTestOutcome', {
  values: {
    VALID: { description: 'The provider accepted the credentials.' },
    INVALID: { description: 'The provider rejected the credentials.' },
    NO_FUNDS: { description: 'The credentials work but the account has no balance or quota left.' },
    NOT_PERMITTED: { description: 'The credentials work but lack a permission the gateway needs.' },
    TRANSIENT: { description: 'The provider could not be reached or failed; try again later.' },
  } as const,
});

const BedrockRegionTestResultRef = builder.objectRef<BedrockRegionTestResult>('BedrockRegionTestResult').implement({
  description: 'The test of one Bedrock credential row.',
  fields: (t) => ({
    row: t.exposeString('row', { description: 'The region of the row as stored: an AWS region, or global.' }),
    testedRegion: t.exposeString('testedRegion', { description: "The region the row was tested in; for the global row, the key's default region." }),
    outcome: t.field({ type: KeyTestOutcomeEnum, resolve: (result) => result.outcome }),
    message: t.exposeString('message', { nullable: true, description: "Bedrock's explanation, without secrets." }),
    httpStatus: t.exposeInt('httpStatus', { nullable: true }),
    latencyMs: t.exposeInt('latencyMs'),
  }),
});

const KeyTestResultRef = builder.objectRef<KeyTestResult>('ProviderKeyTestResult').implement({
  fields: (t) => ({
    outcome: t.field({ type: KeyTestOutcomeEnum, resolve: (result) => result.outcome, description: 'For Bedrock, the worst outcome of its rows.' }),
    message: t.exposeString('message', { nullable: true, description: "The provider's explanation, without secrets." }),
    httpStatus: t.exposeInt('httpStatus', { nullable: true }),
    latencyMs: t.exposeInt('latencyMs'),
    regions: t.field({
      type: [BedrockRegionTestResultRef],
      nullable: true,
      description: 'Bedrock keys only: one result per credential row, since each region row has its own IAM credentials. Null for other providers.',
      resolve: (result) => result.regions ?? null,
    }),
  }),
});

const UnsavedProviderKeyInput = builder.inputType('UnsavedProviderKeyInput', {
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, required: true }),
    credentials: t.field({ type: CredentialsInputRef, required: true }),
    settings: t.field({ type: SettingsInputRef }),
  }),
});

const TestProviderKeyInput = builder.inputType('TestProviderKeyInput', {
  isOneOf: true,
  fields: (t) => ({
    id: t.id({ description: 'A stored provider key.' }),
    unsaved: t.field({ type: UnsavedProviderKeyInput, description: 'Credentials to check before saving them; they are not stored.' }),
  }),
});

builder.mutationField('testProviderKey', (t) =>
  t.field({
    type: KeyTestResultRef,
    description: "Checks credentials against the provider's fixed, cheap endpoint. Limited per organization.",
    authScopes: { write: true },
    errors: {
      types: [ValidationError, NotFoundError, RateLimitedError, EncryptionUnavailableError, ForbiddenError],
      union: { name: 'TestProviderKeyResult' },
    },
    args: { input: t.arg({ type: TestProviderKeyInput, required: true }) },
    resolve: (_root, { input }, context) => {
      const { organizationId } = context.principal;
      if (input.id) return context.services.providerKeyTests.testStored(organizationId, decodeIdFor('ProviderKey', input.id, ['input', 'id']));
      return context.services.providerKeyTests.testUnsaved(organizationId, input.unsaved!);
    },
  }),
);
