import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ValidationError } from '../../errors.js';
import { findOrganization, insertOrganization, listOrganizations, type Organization } from './organization.repository.js';

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
}
