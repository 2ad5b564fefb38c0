import type { ProviderId } from '../../providers/providers.js';
import type { CandidateKey } from './assignment.repository.js';

export type CredentialSource = 'GATEWAY_KEY' | 'ORGANIZATION' | 'PLATFORM';

/**
 * Which credential serves gateway key G for provider P. The first matching rule wins:
 * 1. a key assigned to (G, P), enabled: use it; 2. the same, disabled: refuse, naming it;
 * 3. the organization-wide key for P, enabled: use it; 4. the same, disabled: refuse, naming it;
 * 5. platform credentials for P that the organization may use: use them; 6. otherwise: none.
 * An undecryptable chosen key is the proxy's concern and never falls through to the next rule.
 */
export type Resolution =
  | { outcome: 'USE'; source: 'GATEWAY_KEY' | 'ORGANIZATION'; providerKeyId: string }
  | { outcome: 'USE'; source: 'PLATFORM' }
  | { outcome: 'DISABLED'; source: 'GATEWAY_KEY' | 'ORGANIZATION'; providerKeyId: string }
  | { outcome: 'NONE' };

export function resolveCredential(options: {
  gatewayKeyId: string;
  provider: ProviderId;
  candidates: readonly CandidateKey[];
  platformCredentialsAllowed: boolean;
}): Resolution {
  const { gatewayKeyId, provider, candidates } = options;
  const specific = candidates.find((key) => key.provider === provider && key.gatewayKeyId === gatewayKeyId);
  if (specific) {
    return { outcome: specific.enabled ? 'USE' : 'DISABLED', source: 'GATEWAY_KEY', providerKeyId: specific.providerKeyId };
  }
  const organizationWide = candidates.find((key) => key.provider === provider && key.gatewayKeyId === null);
  if (organizationWide) {
    return {
      outcome: organizationWide.enabled ? 'USE' : 'DISABLED',
      source: 'ORGANIZATION',
      providerKeyId: organizationWide.providerKeyId,
    };
  }
  if (options.platformCredentialsAllowed) return { outcome: 'USE', source: 'PLATFORM' };
  return { outcome: 'NONE' };
}
