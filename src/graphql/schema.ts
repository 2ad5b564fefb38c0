import { builder } from './builder.js';
import './scalars.js';
import './errors.schema.js';
import './viewer.schema.js';
import '../features/gateway-keys/gateway-key.schema.js';
import '../features/provider-keys/provider-key.schema.js';
import '../features/usage/usage.schema.js';
import '../features/request-logs/request-log.schema.js';
import '../features/audit/audit.schema.js';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSchema({ sortSchema: true });
