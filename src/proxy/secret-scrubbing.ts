const redacted = '[redacted]';

/**
 * Shapes of credentials that must not reach a client or a log even when the exact value is not
 * known, such as a key that an upstream echoes in part. Masked characters (`*`) count as part of
 * a key, because providers echo keys as `sk-proj-****abcd`.
 */
const credentialPatterns: readonly RegExp[] = [
  // PEM private keys, such as the one in a Google service account.
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  // JSON Web Tokens: three base64url parts, the first starting with `{"` encoded.
  /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g,
  // OpenAI, Anthropic and DeepSeek keys (sk-, sk-proj-, sk-ant-api03-) and xAI keys.
  /\b(?:sk|xai)-[\w*.-]{6,}/g,
  // AWS access key ids: long-term (AKIA) and temporary (ASIA).
  /\b(?:AKIA|ASIA)[A-Z0-9*]{12,}\b/g,
  // Google OAuth access tokens and API keys.
  /\bya29\.[\w.-]{8,}/g,
  /\bAIza[\w-]{30,}/g,
];

/**
 * `Bearer <token>` keeps its scheme word, so the message still shows what was rejected. Words
 * shorter than 16 characters after `Bearer` are kept, so prose such as "Bearer authentication"
 * survives.
 */
const bearerToken = /\b(Bearer)\s+[\w.~+/*=-]{16,}/gi;

/**
 * Removes every given secret from `text`, in plain and JSON-escaped form, and anything shaped
 * like a credential: `Bearer` tokens, `sk-…` and `xai-…` keys, AWS access key ids, Google tokens,
 * JWTs and PEM private keys. Each match becomes `[redacted]`. Empty secrets are ignored.
 */
export function scrubSecrets(text: string, secrets: Iterable<string> = []): string {
  let result = text;
  // Longest first, so a secret that contains another is removed whole.
  const values = [...new Set(secrets)].filter((secret) => secret.length > 0).sort((a, b) => b.length - a.length);
  for (const secret of values) {
    result = result.split(secret).join(redacted);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) result = result.split(escaped).join(redacted);
  }
  result = result.replace(bearerToken, `$1 ${redacted}`);
  for (const pattern of credentialPatterns) result = result.replace(pattern, redacted);
  return result;
}
