import type { Kysely } from 'kysely';
import type { LastUsedRecorder } from '../../db/last-used-recorder.js';
import type { Database } from '../../db/schema.js';
import { ValidationError } from '../../errors.js';
import { displayPrefix, generateSecret, hashSecret, secretPrefixes } from '../../security/secrets.js';
import {
  findUsableTokenByHash,
  insertManagementToken,
  revokeManagementToken,
  type ManagementToken,
  type TokenScope,
} from './management-token.repository.js';

/** The caller of the GraphQL API: a usable management token and its organization. */
export interface Principal {
  tokenId: string;
  organizationId: string;
  scope: TokenScope;
  actorLabel: string;
}

export type AuthenticationResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'missing' | 'malformed' | 'invalid' };

const tokenPattern = new RegExp(`^${secretPrefixes.managementToken}[A-Za-z0-9_-]{43}$`);

export class ManagementTokenService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly lastUsed: LastUsedRecorder,
  ) {}

  /** Creates a token and returns its secret; the secret is not stored and cannot be shown again. */
  async issue(input: { organizationId: string; scope: TokenScope; actorLabel: string }): Promise<{
    token: string;
    record: ManagementToken;
  }> {
    const actorLabel = input.actorLabel.trim();
    if (actorLabel.length === 0 || actorLabel.length > 100) {
      throw ValidationError.at(['actorLabel'], 'must be 1 to 100 characters, not only whitespace');
    }
    const token = generateSecret(secretPrefixes.managementToken);
    const record = await insertManagementToken(this.db, {
      organizationId: input.organizationId,
      actorLabel,
      scope: input.scope,
      tokenHash: hashSecret(token),
      displayPrefix: displayPrefix(token, secretPrefixes.managementToken),
    });
    return { token, record };
  }

  /** Checks an `Authorization` header value of the form `Bearer <token>`. */
  async authenticate(authorization: string | undefined): Promise<AuthenticationResult> {
    if (!authorization) return { ok: false, reason: 'missing' };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match || !tokenPattern.test(match[1]!)) return { ok: false, reason: 'malformed' };

    const record = await findUsableTokenByHash(this.db, hashSecret(match[1]!));
    if (!record) return { ok: false, reason: 'invalid' };
    this.lastUsed.mark(record.id);
    return {
      ok: true,
      principal: {
        tokenId: record.id,
        organizationId: record.organizationId,
        scope: record.scope,
        actorLabel: record.actorLabel,
      },
    };
  }

  revoke(id: string): Promise<boolean> {
    return revokeManagementToken(this.db, id);
  }
}
