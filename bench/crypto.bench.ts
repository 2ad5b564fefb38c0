import { randomBytes } from 'node:crypto';
import type { EncryptionContext } from '../src/crypto/encryption-context.js';
import { KeyringKeyBackend } from '../src/crypto/keyring-key-backend.js';
import { KmsKeyBackend, createKmsClient } from '../src/crypto/kms-key-backend.js';
import { SecretBox } from '../src/crypto/secret-box.js';
import { FAKE_KMS_CREDENTIALS, FAKE_KMS_REGION, FakeKmsServer } from '../test/support/fake-kms-server.js';

// Encrypt and decrypt operations per second for the keyring backend and for AWS KMS against the
// fake KMS server of the tests. The fake server runs in this process on loopback, so the KMS
// figures include its own work and measure SDK, signing and HTTP overhead, not the latency of the
// real service. Usage: npx tsx bench/crypto.bench.ts [milliseconds per phase]
// Each of the 8 phases runs for that long (default 1000), after a short warm-up per backend.

const phaseMs = Number(process.argv[2] ?? 1_000);
if (!Number.isInteger(phaseMs) || phaseMs < 100 || phaseMs > 60_000) {
  console.error('Usage: npx tsx bench/crypto.bench.ts [milliseconds per phase, 100 to 60000]');
  process.exit(2);
}

const context: EncryptionContext = {
  organizationId: '9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  recordId: '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d',
  purpose: 'provider-key-credentials',
};
// About the size of one provider credential: an API key in a small JSON document.
const secret = Buffer.from(JSON.stringify({ kind: 'ApiKey', apiKey: `sk-ant-api03-${randomBytes(70).toString('base64url')}` }));

/** Runs `operation` from `concurrency` loops for `durationMs` and returns completed operations per second. */
async function measure(operation: () => Promise<unknown>, concurrency: number, durationMs: number): Promise<number> {
  let completed = 0;
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await operation();
        completed += 1;
      }
    }),
  );
  return completed / ((performance.now() - started) / 1_000);
}

async function benchmark(name: string, secretBox: SecretBox): Promise<void> {
  const envelope = await secretBox.encrypt(secret, context);
  const encrypt = () => secretBox.encrypt(secret, context);
  const decrypt = async () => (await secretBox.decrypt(envelope, context)).fill(0);

  await measure(encrypt, 4, Math.min(200, phaseMs));
  for (const concurrency of [1, 16]) {
    const encryptRate = await measure(encrypt, concurrency, phaseMs);
    const decryptRate = await measure(decrypt, concurrency, phaseMs);
    console.log(
      `${name.padEnd(22)} concurrency ${String(concurrency).padStart(2)}   ` +
        `encrypt ${Math.round(encryptRate).toString().padStart(7)} ops/s   ` +
        `decrypt ${Math.round(decryptRate).toString().padStart(7)} ops/s`,
    );
  }
}

const kms = await FakeKmsServer.start({ keys: [{ aliases: ['alias/bench'] }] });
const keyringBackend = new KeyringKeyBackend({ keys: [{ id: 'bench', key: randomBytes(32) }], currentKeyId: 'bench' });
const kmsBackend = new KmsKeyBackend(
  createKmsClient({ region: FAKE_KMS_REGION, endpoint: kms.endpoint, timeoutMs: 5_000, credentials: FAKE_KMS_CREDENTIALS }),
  'alias/bench',
);

try {
  console.log(`Node ${process.version}, ${secret.length}-byte secret, ${phaseMs} ms per phase`);
  await benchmark('keyring', new SecretBox(keyringBackend));
  await benchmark('aws-kms (fake, local)', new SecretBox(kmsBackend));
} finally {
  keyringBackend.close();
  kmsBackend.close();
  await kms.close();
}
