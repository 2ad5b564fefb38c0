/**
 * The record that a secret belongs to. All three fields are bound to the ciphertext as AES-GCM
 * additional data, and to the wrapped data key as the AWS KMS encryption context or the additional
 * data of the keyring wrap. An envelope therefore decrypts only with the context it was encrypted with.
 */
export interface EncryptionContext {
  organizationId: string;
  recordId: string;
  /** Use of the secret, such as `provider-key-credentials`. */
  purpose: string;
}

/**
 * Throws a TypeError when a field is empty. An empty id would bind nothing, so an envelope
 * encrypted under it could be moved to any record that also passes an empty id.
 */
export function assertEncryptionContext(context: EncryptionContext): void {
  for (const field of ['organizationId', 'recordId', 'purpose'] as const) {
    if (typeof context[field] !== 'string' || context[field].length === 0) {
      throw new TypeError(`Encryption context field ${field} must be a non-empty string.`);
    }
  }
}

/**
 * Encodes a list of strings so that two different lists never produce the same bytes: each string
 * becomes its UTF-8 byte length as an unsigned 32-bit big-endian integer, followed by its bytes.
 * Plain concatenation would let ("ab", "c") and ("a", "bc") collide.
 */
export function encodeLengthPrefixed(fields: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    const bytes = Buffer.from(field, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/**
 * Returns the AES-GCM additional data for one use of the cipher. The `domain` label differs per use
 * (the secret ciphertext, the keyring wrap), so the additional data of two uses never match.
 * `extraFields` come after the domain and before the context fields.
 */
export function encodeAdditionalData(
  domain: string,
  context: EncryptionContext,
  extraFields: readonly string[] = [],
): Buffer {
  return encodeLengthPrefixed([domain, ...extraFields, context.organizationId, context.recordId, context.purpose]);
}

/**
 * Returns the context as an AWS KMS encryption context. KMS binds it to the ciphertext blob and
 * records it in CloudTrail in clear, which is why it contains ids only.
 */
export function toKmsEncryptionContext(context: EncryptionContext): Record<string, string> {
  return {
    organizationId: context.organizationId,
    recordId: context.recordId,
    purpose: context.purpose,
  };
}
