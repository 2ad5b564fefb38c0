import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ReEncryptCommand,
  type KMSClientConfig,
} from '@aws-sdk/client-kms';
import { toKmsEncryptionContext, type EncryptionContext } from './encryption-context.js';
import { DATA_KEY_LENGTH } from './envelope.js';
import { KeyBackendError } from './errors.js';
import type { GeneratedDataKey, KeyBackend, WrappedDataKey } from './key-backend.js';
import { mapKmsError } from './kms-error-mapping.js';

export interface KmsClientSettings {
  region: string;
  /** Endpoint URL of a KMS-compatible server; unset for the regional AWS endpoint. */
  endpoint?: string | undefined;
  /** Limit for connecting and, separately, for each request attempt, in milliseconds. */
  timeoutMs: number;
  /**
   * Maximum number of attempts per request, the first one included.
   * @default 3
   */
  maxAttempts?: number;
  /** Unset in production, where the SDK's default credential chain applies; tests pass static credentials. */
  credentials?: KMSClientConfig['credentials'];
}

/**
 * Creates a KMS client with bounded retries and timeouts. The SDK's "standard" retry mode retries
 * throttling, timeouts, network failures and 5xx responses with exponential backoff, so with the
 * defaults a request that keeps failing gives up after 3 attempts and roughly 3 × timeoutMs plus
 * the backoff delays.
 */
export function createKmsClient(settings: KmsClientSettings): KMSClient {
  return new KMSClient({
    region: settings.region,
    endpoint: settings.endpoint,
    credentials: settings.credentials,
    maxAttempts: settings.maxAttempts ?? 3,
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: settings.timeoutMs,
      requestTimeout: settings.timeoutMs,
      throwOnRequestTimeout: true,
    },
  });
}

/**
 * Wraps data keys with an AWS KMS symmetric key: GenerateDataKey to encrypt, Decrypt to unwrap,
 * ReEncrypt to re-wrap. The envelope stores the key ARN that KMS returns, even when the configured
 * key id is an alias, and Decrypt names that ARN so that KMS rejects a blob of any other key.
 *
 * NOTE: the SDK decodes the plaintext data key from a base64 string in the response body. This
 * class zeroes the decoded bytes, but not that string, which stays in memory until collected.
 */
export class KmsKeyBackend implements KeyBackend {
  readonly kind = 'aws-kms';

  /** Takes ownership of the client: close() destroys it. */
  constructor(
    private readonly client: KMSClient,
    readonly currentKeyId: string,
  ) {}

  async generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
    const failure = { keyId: this.currentKeyId, recordId: context.recordId };
    const response = await this.#send('GenerateDataKey', failure, () =>
      this.client.send(
        new GenerateDataKeyCommand({
          KeyId: this.currentKeyId,
          KeySpec: 'AES_256',
          EncryptionContext: toKmsEncryptionContext(context),
        }),
      ),
    );

    const plaintextKey = takeDataKey(response.Plaintext, 'GenerateDataKey', failure);
    if (!response.KeyId || !response.CiphertextBlob) {
      plaintextKey.fill(0);
      throw incompleteResponse('GenerateDataKey', failure);
    }
    return { keyId: response.KeyId, plaintextKey, wrappedKey: Buffer.from(response.CiphertextBlob) };
  }

  async unwrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<Buffer> {
    const failure = { keyId: dataKey.keyId, recordId: context.recordId };
    const response = await this.#send('Decrypt', failure, () =>
      this.client.send(
        new DecryptCommand({
          CiphertextBlob: dataKey.wrappedKey,
          KeyId: dataKey.keyId,
          EncryptionContext: toKmsEncryptionContext(context),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        }),
      ),
    );
    return takeDataKey(response.Plaintext, 'Decrypt', failure);
  }

  async rewrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<WrappedDataKey> {
    const failure = { keyId: dataKey.keyId, recordId: context.recordId };
    const encryptionContext = toKmsEncryptionContext(context);
    const response = await this.#send('ReEncrypt', failure, () =>
      this.client.send(
        new ReEncryptCommand({
          CiphertextBlob: dataKey.wrappedKey,
          SourceKeyId: dataKey.keyId,
          SourceEncryptionContext: encryptionContext,
          DestinationKeyId: this.currentKeyId,
          DestinationEncryptionContext: encryptionContext,
        }),
      ),
    );

    if (!response.KeyId || !response.CiphertextBlob) throw incompleteResponse('ReEncrypt', failure);
    return { keyId: response.KeyId, wrappedKey: Buffer.from(response.CiphertextBlob) };
  }

  /**
   * Compares with the configured key id only. When that is an alias or a bare key id, an envelope
   * (which stores the ARN) never matches, and SecretBox learns from ReEncrypt whether the key changed.
   */
  isCurrentKey(keyId: string): boolean {
    return keyId === this.currentKeyId;
  }

  close(): void {
    this.client.destroy();
  }

  async #send<T>(operation: string, failure: { keyId: string; recordId: string }, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw mapKmsError(error, operation, failure);
    }
  }
}

/** Copies a plaintext data key out of an SDK response and zeroes the SDK's bytes. */
function takeDataKey(
  plaintext: Uint8Array | undefined,
  operation: string,
  failure: { keyId: string; recordId: string },
): Buffer {
  if (plaintext === undefined || plaintext.length !== DATA_KEY_LENGTH) {
    plaintext?.fill(0);
    throw incompleteResponse(operation, failure);
  }
  const copy = Buffer.from(plaintext);
  plaintext.fill(0);
  return copy;
}

function incompleteResponse(operation: string, failure: { keyId: string; recordId: string }): KeyBackendError {
  return new KeyBackendError({ ...failure, operation, errorName: 'an incomplete response' });
}
