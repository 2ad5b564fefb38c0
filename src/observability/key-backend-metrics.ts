import { Counter, Histogram, type Registry } from 'prom-client';
import type { EncryptionContext } from '../crypto/encryption-context.js';
import { CryptoError } from '../crypto/errors.js';
import type { GeneratedDataKey, KeyBackend, WrappedDataKey } from '../crypto/key-backend.js';
import { keyBackendBuckets } from './buckets.js';

type Operation = 'generate_data_key' | 'unwrap_data_key' | 'rewrap_data_key';

/**
 * Counts and times the calls to the key backend, and counts failures by error code. For AWS KMS
 * the operations are the GenerateDataKey, Decrypt and ReEncrypt requests. The SDK's own retries
 * happen inside one call, so a call counts once however many attempts it took.
 */
export class KeyBackendMetrics {
  readonly #calls: Counter<'backend' | 'operation'>;
  readonly #failures: Counter<'backend' | 'operation' | 'error'>;
  readonly #duration: Histogram<'backend' | 'operation'>;

  constructor(registry: Registry) {
    this.#calls = new Counter({
      name: 'keyroute_key_backend_calls_total',
      help: 'Calls to the key backend (aws-kms or keyring) by operation: generate_data_key, unwrap_data_key (KMS Decrypt) and rewrap_data_key (KMS ReEncrypt).',
      labelNames: ['backend', 'operation'],
      registers: [registry],
    });
    this.#failures = new Counter({
      name: 'keyroute_key_backend_failures_total',
      help:
        'Failed key backend calls by operation and error code, such as key_backend_timeout, key_backend_unavailable, ' +
        'key_backend_throttled, key_access_denied or decryption_failed; unexpected for an error that is not a crypto error.',
      labelNames: ['backend', 'operation', 'error'],
      registers: [registry],
    });
    this.#duration = new Histogram({
      name: 'keyroute_key_backend_call_duration_seconds',
      help: 'Duration of key backend calls, failed ones included, by operation.',
      labelNames: ['backend', 'operation'],
      buckets: keyBackendBuckets,
      registers: [registry],
    });
  }

  /** Returns a key backend that behaves exactly like `backend` and records every call. */
  instrument(backend: KeyBackend): KeyBackend {
    const metrics = this;
    return {
      kind: backend.kind,
      currentKeyId: backend.currentKeyId,
      generateDataKey(context: EncryptionContext): Promise<GeneratedDataKey> {
        return metrics.#record(backend.kind, 'generate_data_key', () => backend.generateDataKey(context));
      },
      unwrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<Buffer> {
        return metrics.#record(backend.kind, 'unwrap_data_key', () => backend.unwrapDataKey(dataKey, context));
      },
      rewrapDataKey(dataKey: WrappedDataKey, context: EncryptionContext): Promise<WrappedDataKey> {
        return metrics.#record(backend.kind, 'rewrap_data_key', () => backend.rewrapDataKey(dataKey, context));
      },
      // A local comparison, not a call to the backend.
      isCurrentKey: (keyId: string) => backend.isCurrentKey(keyId),
      close: () => backend.close(),
    };
  }

  async #record<T>(kind: string, operation: Operation, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.#calls.labels(kind, operation).inc();
    try {
      return await call();
    } catch (error) {
      this.#failures.labels(kind, operation, error instanceof CryptoError ? error.code : 'unexpected').inc();
      throw error;
    } finally {
      this.#duration.labels(kind, operation).observe((performance.now() - started) / 1000);
    }
  }
}
