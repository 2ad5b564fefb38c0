import type { AuditEventService } from './features/audit/audit.service.js';
import type { GatewayKeyService } from './features/gateway-keys/gateway-key.service.js';
import type { ManagementTokenService } from './features/management-tokens/management-token.service.js';
import type { ProviderKeyTestService } from './features/provider-keys/provider-key-test.service.js';
import type { ProviderKeyService } from './features/provider-keys/provider-key.service.js';
import type { OrganizationService } from './features/organizations/organization.service.js';
import type { RequestLogService } from './features/request-logs/request-log.service.js';
import type { UsageService } from './features/usage/usage.service.js';

/** Domain services, built once at start and shared by every request. */
export interface Services {
  organizations: OrganizationService;
  managementTokens: ManagementTokenService;
  gatewayKeys: GatewayKeyService;
  providerKeys: ProviderKeyService;
  providerKeyTests: ProviderKeyTestService;
  usage: UsageService;
  requestLogs: RequestLogService;
  auditEvents: AuditEventService;
}
