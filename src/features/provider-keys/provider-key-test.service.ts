import type { Kysely } from 'kysely';
import type { SecretBox } from '../../crypto/secret-box.js';
import type { Database } from '../../db/schema.js';
import { NotFoundError, RateLimitedError, ValidationError, toEncryptionUnavailable } from '../../errors.js';
import { canTestProvider, type KeyTestResult, type ProviderKeyTester } from '../../proxy/key-test/provider-key-tester.js';
import type { ProviderId } from '../../providers/providers.js';
import { InputChecker } from '../../validation/input-checker.js';
import type { Credentials } from './credentials.js';
import { credentialsFromInput, type CredentialsInput } from './credentials-input.js';
import type { KeyTestRateLimiter } from './key-test-rate-limiter.js';
import { findProviderKey, readCredentialsEnvelope } from './provider-key.repository.js';
import { credentialsPurpose } from './provider-key.service.js';
import { applySettingsInput, type SettingsInput } from './settings.js';

export interface UnsavedKeyInput {
  provider: ProviderId;
  credentials: CredentialsInput;
  settings?: SettingsInput | null;
}

/**
 * Tests a stored provider key or credentials not saved yet against the provider's fixed, cheap
 * endpoint. Submitted credentials are validated like a create and never stored; values that look
 * like references (`os.environ/…`) are sent as the literal text they are.
 */
export class ProviderKeyTestService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly secretBox: SecretBox,
    private readonly tester: ProviderKeyTester,
    private readonly limiter: KeyTestRateLimiter,
  ) {}

  async testStored(organizationId: string, id: string): Promise<KeyTestResult> {
    const key = await findProviderKey(this.db, organizationId, id);
    if (!key) throw new NotFoundError('ProviderKey', id);
    this.#checkSupported(key.provider, ['id']);
    this.#take(organizationId);
    const stored = await readCredentialsEnvelope(this.db, organizationId, id);
    if (!stored) throw new NotFoundError('ProviderKey', id);
    const plaintext = await this.secretBox
      .decrypt(stored.envelope, { organizationId, recordId: id, purpose: credentialsPurpose })
      .catch(toEncryptionUnavailable);
    let credentials: Credentials;
    try {
      credentials = JSON.parse(plaintext.toString('utf8')) as Credentials;
    } finally {
      plaintext.fill(0);
    }
    return this.tester.test(key.provider, credentials, key.settings);
  }

  async testUnsaved(organizationId: string, input: UnsavedKeyInput): Promise<KeyTestResult> {
    this.#checkSupported(input.provider, ['input', 'unsaved', 'provider']);
    const checker = new InputChecker();
    const credentials = credentialsFromInput(checker, ['input', 'unsaved', 'credentials'], input.provider, input.credentials, undefined, []);
    const settings = applySettingsInput(checker, ['input', 'unsaved', 'settings'], input.provider, {}, input.settings);
    checker.throwIfInvalid();
    this.#take(organizationId);
    return this.tester.test(input.provider, credentials!, settings);
  }

  #checkSupported(provider: ProviderId, path: string[]): void {
    if (!canTestProvider(provider)) {
      throw ValidationError.at(path, `testing ${provider} keys is not supported by this version; save the key and send a request through the proxy instead`);
    }
  }

  #take(organizationId: string): void {
    const decision = this.limiter.take(organizationId);
    if (!decision.allowed) {
      throw new RateLimitedError(`Too many key tests for this organization. Retry in ${decision.retryAfterSeconds} s.`, decision.retryAfterSeconds);
    }
  }
}
