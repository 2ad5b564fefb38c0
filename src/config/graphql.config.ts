import { z } from 'zod';
import { integer } from './fields.js';

export const graphqlEnvironment = z.object({
  GRAPHQL_MAX_BODY_BYTES: integer({ default: 102_400, min: 1_024, max: 10_485_760, unit: 'bytes' }),
  GRAPHQL_MAX_DEPTH: integer({ default: 12, min: 2, max: 100 }),
  GRAPHQL_MAX_ALIASES: integer({ default: 30, min: 1, max: 1_000 }),
  GRAPHQL_MAX_TOKENS: integer({ default: 2_000, min: 100, max: 100_000 }),
  // A full page of 100 provider keys with every field is estimated at about 38,000.
  GRAPHQL_MAX_COST: integer({ default: 50_000, min: 100, max: 1_000_000 }),
});

export type GraphqlEnvironment = z.output<typeof graphqlEnvironment>;
