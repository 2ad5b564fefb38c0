import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, hashSecretBase64, secretPrefixes } from '../../src/security/secrets.js';

describe('secret hashes', () => {
  it('hashSecret is SHA-256 of the secret text', () => {
    const secret = generateSecret(secretPrefixes.gatewayKey);

    expect(hashSecret(secret)).toEqual(createHash('sha256').update(secret, 'utf8').digest());
  });

  it('hashSecretBase64 encodes the same hash', () => {
    for (const secret of [generateSecret(secretPrefixes.gatewayKey), 'kr_é ünïcode', '']) {
      const base64 = hashSecretBase64(secret);

      expect(base64).toBe(hashSecret(secret).toString('base64'));
      expect(Buffer.from(base64, 'base64')).toEqual(hashSecret(secret));
    }
  });
});
