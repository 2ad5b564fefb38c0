import { ValidationError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import type { GraphqlContext } from '../../graphql/context.js';
import { assertOwnOrganization } from '../../graphql/organization-scope.js';
import { OrganizationRef } from '../../graphql/viewer.schema.js';
import { GatewayKeyRef } from '../gateway-keys/gateway-key.schema.js';
import { CredentialSourceEnum, ProviderEnum, ProviderKeyRef } from '../provider-keys/provider-key.schema.js';
import { latencyBucketBoundsMs } from './latency-histogram.js';
import { maxUsageRangeDays, type Usage, type UsageBucket, type UsageFigures, type UsageRequest } from './usage.service.js';

const UsageBucketSizeEnum = builder.enumType('UsageBucketSize', {
  values: {
    HOUR: { description: `UTC hours. At most ${maxUsageRangeDays.HOUR} days per query.` },
    DAY: {
      description:
        `Local days of the time zone, 23 or 25 hours long on a daylight saving change. At most ${maxUsageRangeDays.DAY} days per query. ` +
        'Rejected for a time zone whose offset is not a whole number of hours, such as Asia/Kolkata, because usage is stored per UTC hour.',
    },
  } as const,
});

const UsageFilterInput = builder.inputType('UsageFilter', {
  description: 'Every field that is set must match.',
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum }),
    model: t.string({ description: 'The model as logged, such as `openai/gpt-4o`.' }),
    credentialSource: t.field({ type: CredentialSourceEnum }),
    tag: t.string({ description: 'Only requests with this tag. A request with several tags counts once for each of them.' }),
  }),
});

const wholeNumber = 'A whole number; Float because sums can exceed the 32 bits of Int.';
const latencyNote =
  `Estimated from a fixed histogram with bucket bounds ${latencyBucketBoundsMs.join(', ')} ms: ` +
  'the estimate lies in the bucket of the exact value. Null without requests.';

const UsageFiguresRef = builder.interfaceRef<UsageFigures>('UsageFigures').implement({
  description: 'Counts and sums of the requests in a period.',
  fields: (t) => ({
    requests: t.exposeFloat('requests', { description: wholeNumber }),
    errors: t.exposeFloat('errors', {
      description: `Requests whose response status is 400 or more, 499 (the client left) included. ${wholeNumber}`,
    }),
    inputUncachedTokens: t.exposeFloat('inputUncachedTokens', { description: wholeNumber }),
    cacheReadTokens: t.exposeFloat('cacheReadTokens', { description: wholeNumber }),
    cacheWriteTokens: t.exposeFloat('cacheWriteTokens', { description: wholeNumber }),
    outputTokens: t.exposeFloat('outputTokens', { description: wholeNumber }),
    reasoningTokens: t.exposeFloat('reasoningTokens', { description: wholeNumber }),
    costMicroUsd: t.exposeFloat('costMicroUsd', { description: `Cost at list prices in millionths of a US dollar. ${wholeNumber}` }),
    latencyP50Ms: t.exposeFloat('latencyP50Ms', { nullable: true, description: `Median latency in milliseconds. ${latencyNote}` }),
    latencyP95Ms: t.exposeFloat('latencyP95Ms', { nullable: true, description: `95th percentile latency in milliseconds. ${latencyNote}` }),
    latencyP99Ms: t.exposeFloat('latencyP99Ms', { nullable: true, description: `99th percentile latency in milliseconds. ${latencyNote}` }),
  }),
});

const UsageTotalsRef = builder.objectRef<UsageFigures>('UsageTotals').implement({
  description: 'Sums over the whole range.',
  interfaces: [UsageFiguresRef],
  fields: () => ({}),
});

const UsageBucketRef = builder.objectRef<UsageBucket>('UsageBucket').implement({
  description: 'Sums over one bucket of the range.',
  interfaces: [UsageFiguresRef],
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime' }),
    end: t.expose('end', { type: 'DateTime', description: 'Exclusive: the start of the next bucket.' }),
  }),
});

const UsageRef = builder.objectRef<Usage>('Usage').implement({
  description: 'Usage from the hourly rollups of the request log.',
  fields: (t) => ({
    from: t.expose('from', { type: 'DateTime', description: 'Start of the first bucket: the requested `from`, or earlier to start a whole bucket.' }),
    to: t.expose('to', { type: 'DateTime', description: 'End of the last bucket: the requested `to`, or later to end a whole bucket.' }),
    bucket: t.field({ type: UsageBucketSizeEnum, resolve: (usage) => usage.bucket }),
    timeZone: t.exposeString('timeZone', { description: 'The time zone of the day buckets, spelled canonically.' }),
    totals: t.field({ type: UsageTotalsRef, resolve: (usage) => usage.totals }),
    buckets: t.field({
      type: [UsageBucketRef],
      description: 'Every bucket of the range, oldest first, including those without requests.',
      resolve: (usage) => usage.buckets,
    }),
  }),
});

const usageDescription =
  'Usage in the range [from, to), widened to whole buckets. A range that starts before the usage retention ' +
  '(USAGE_ROLLUP_RETENTION_DAYS), or that is longer than the bucket size allows, is a ValidationError that names the limit.';

const usageArgs = builder.args((t) => ({
  from: t.field({ type: 'DateTime', required: true, description: 'Start of the range; moved back to the start of its bucket.' }),
  to: t.field({ type: 'DateTime', required: true, description: 'End of the range, exclusive; moved forward to the end of its bucket.' }),
  bucket: t.field({ type: UsageBucketSizeEnum, required: true, defaultValue: 'DAY' }),
  timeZone: t.string({
    required: true,
    defaultValue: 'UTC',
    description: 'IANA time zone name, such as Europe/Paris, whose local days are the DAY buckets.',
  }),
  filter: t.field({ type: UsageFilterInput }),
}));

interface UsageArgs {
  from: Date;
  to: Date;
  bucket: 'HOUR' | 'DAY';
  timeZone: string;
  filter?: {
    provider?: UsageRequest['filter']['provider'] | null;
    model?: string | null;
    credentialSource?: UsageRequest['filter']['credentialSource'] | null;
    tag?: string | null;
  } | null;
}

function toUsageRequest(args: UsageArgs): UsageRequest {
  return {
    from: args.from,
    to: args.to,
    bucket: args.bucket,
    timeZone: args.timeZone,
    filter: {
      provider: args.filter?.provider ?? undefined,
      model: args.filter?.model ?? undefined,
      credentialSource: args.filter?.credentialSource ?? undefined,
      tag: args.filter?.tag ?? undefined,
    },
  };
}

/**
 * Returns the usage of each key of `ids`, or the same ValidationError for each when the arguments
 * are invalid, as a dataloader's batch function must.
 */
async function loadKeyUsage(
  ids: readonly string[],
  load: (request: UsageRequest) => Promise<Map<string, Usage>>,
  args: UsageArgs,
): Promise<(Usage | Error)[]> {
  try {
    const usage = await load(toUsageRequest(args));
    return ids.map((id) => usage.get(id)!);
  } catch (error) {
    if (error instanceof ValidationError) return ids.map(() => error);
    throw error;
  }
}

// `byPath` gives every position in the query its own loader, so a page of keys that all pass the
// same arguments costs one query.
builder.objectFields(ProviderKeyRef, (t) => ({
  usage: t.loadable({
    type: UsageRef,
    description: usageDescription,
    byPath: true,
    args: usageArgs,
    errors: { types: [ValidationError], union: { name: 'ProviderKeyUsageResult' } },
    load: (ids: string[], context: GraphqlContext, args: UsageArgs) =>
      loadKeyUsage(ids, (request) => context.services.usage.forProviderKeys(context.principal.organizationId, ids, request), args),
    resolve: (key) => key.id,
  }),
}));

builder.objectFields(GatewayKeyRef, (t) => ({
  usage: t.loadable({
    type: UsageRef,
    description: usageDescription,
    byPath: true,
    args: usageArgs,
    errors: { types: [ValidationError], union: { name: 'GatewayKeyUsageResult' } },
    load: (ids: string[], context: GraphqlContext, args: UsageArgs) =>
      loadKeyUsage(ids, (request) => context.services.usage.forGatewayKeys(context.principal.organizationId, ids, request), args),
    resolve: (key) => key.id,
  }),
}));

builder.objectFields(OrganizationRef, (t) => ({
  usage: t.field({
    type: UsageRef,
    description: usageDescription,
    args: usageArgs,
    errors: { types: [ValidationError], union: { name: 'OrganizationUsageResult' } },
    resolve: (organization, args, context) => {
      assertOwnOrganization(organization.id, context);
      return context.services.usage.forOrganization(organization.id, toUsageRequest(args));
    },
  }),
}));
