import { z } from 'zod';
import { integer } from './fields.js';

export const proxyEnvironment = z.object({
  PROVIDER_KEY_TESTS_PER_MINUTE: integer({ default: 10, min: 1, max: 1_000 }),
  PROVIDER_KEY_TEST_TIMEOUT_MS: integer({ default: 10_000, min: 100, max: 120_000, unit: 'milliseconds' }),
});
