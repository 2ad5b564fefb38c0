import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, startProxyContext, writeContext, type InProcessServer, type ProxyTestContext } from './helpers.js';

// A regenerated secret replaces the old one in every process's gateway key cache, which is keyed by
// the hash of the secret rather than by the key's id.

let context: ProxyTestContext;
let second: InProcessServer;

beforeAll(async () => {
  context = await startProxyContext();
  second = await context.startServer();
});

afterAll(async () => {
  await context?.close();
});

async function modelsStatus(server: InProcessServer, secret: string): Promise<number> {
  const response = await fetch(`${server.baseUrl}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Polls until `server` returns `status` for `secret`, and returns the elapsed milliseconds. */
async function millisecondsUntilStatus(server: InProcessServer, secret: string, status: number): Promise<number> {
  const started = Date.now();
  while ((await modelsStatus(server, secret)) !== status) {
    if (Date.now() - started > 5_000) throw new Error(`status ${status} not reached within 5 s`);
    await sleep(20);
  }
  return Date.now() - started;
}

describe('gateway key secret regeneration', () => {
  it('rejects the old secret on both servers', async () => {
    const { organizationId, gatewayKey } = await createTenant(context, ['OPENAI']);
    expect(await modelsStatus(context.server, gatewayKey.secret)).toBe(200);
    expect(await modelsStatus(second, gatewayKey.secret)).toBe(200);

    const { secret } = await context.server.running.app.services.gatewayKeys.regenerateSecret(writeContext(organizationId), gatewayKey.id);

    expect(await millisecondsUntilStatus(context.server, gatewayKey.secret, 401)).toBeLessThan(1_000);
    expect(await millisecondsUntilStatus(second, gatewayKey.secret, 401)).toBeLessThan(1_000);
    expect(await modelsStatus(context.server, secret)).toBe(200);
    expect(await modelsStatus(second, secret)).toBe(200);
  });

  it('accepts the new secret at once', async () => {
    const { organizationId, gatewayKey } = await createTenant(context, ['OPENAI']);
    const unknown = `kr_${'A'.repeat(43)}`;
    expect(await modelsStatus(context.server, unknown)).toBe(401);

    const { secret } = await context.server.running.app.services.gatewayKeys.regenerateSecret(writeContext(organizationId), gatewayKey.id);

    expect(await millisecondsUntilStatus(context.server, secret, 200)).toBeLessThan(1_000);
    expect(await modelsStatus(context.server, unknown)).toBe(401);
  });
});
