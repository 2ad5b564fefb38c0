import type { Kysely } from 'kysely';
import { notifyChange } from '../../db/change-notification.js';
import type { Database } from '../../db/schema.js';
import { ValidationError } from '../../errors.js';
import { insertAuditEvent, type Actor } from '../audit/audit.repository.js';
import {
  findOrganization,
  insertOrganization,
  listOrganizations,
  updatePlatformCredentialsAllowed,
  type Organization,
} from './organization.repository.js';

export class OrganizationService {
  constructor(private readonly db: Kysely<Database>) {}

  find(id: string): Promise<Organization | undefined> {
    return findOrganization(this.db, id);
  }

  list(): Promise<Organization[]> {
    return listOrganizations(this.db);
  }

  create(name: string): Promise<Organization> {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > 100) {
      throw ValidationError.at(['name'], 'must be 1 to 100 characters, not only whitespace');
    }
    return insertOrganization(this.db, trimmed);
  }

  /**
   * Allows or forbids the proxy to use the operator's platform credentials for this organization
   * when it has no provider key for a provider. Returns false when no organization has this id.
   */
  setPlatformCredentialsAllowed(id: string, allowed: boolean, actor: Actor): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await updatePlatformCredentialsAllowed(trx, id, allowed))) return false;
      await insertAuditEvent(trx, {
        organizationId: id,
        actor,
        action: 'organization.platform_credentials_changed',
        subjectType: 'Organization',
        subjectId: id,
        changes: { platformCredentialsAllowed: allowed },
      });
      await notifyChange(trx, { organizationId: id, kind: 'organization', id, action: 'updated' });
      return true;
    });
  }
}
