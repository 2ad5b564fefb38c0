import type { Logger } from '../logger.js';
import type { Principal } from '../features/management-tokens/management-token.service.js';
import type { Services } from '../services.js';

/** Per-request GraphQL context. Requests without a usable token never reach GraphQL execution. */
export interface GraphqlContext {
  requestId: string;
  logger: Logger;
  principal: Principal;
  services: Services;
}
