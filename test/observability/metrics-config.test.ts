import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/environment.js';
import { hashSecret } from '../../src/security/secrets.js';

function configErrorOf(variables: Record<string, string>): ConfigError {
  try {
    loadConfig(variables);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(Object.keys(variables))}`);
}

describe('metrics configuration defaults', () => {
  const config = loadConfig({});

  it('collects metrics', () => {
    expect(config.metrics.enabled).toBe(true);
  });

  it('requires no token', () => {
    expect(config.metrics.bearerTokenSha256).toBeUndefined();
  });

  it('opens no listener of its own', () => {
    expect(config.metrics.listener).toBeUndefined();
  });
});

describe('metrics configuration values', () => {
  it('METRICS_PORT gives a listener on 127.0.0.1', () => {
    const config = loadConfig({ METRICS_PORT: '9464' });

    expect(config.metrics.listener).toEqual({ host: '127.0.0.1', port: 9464 });
  });

  it('METRICS_HOST moves the listener', () => {
    const config = loadConfig({ METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' });

    expect(config.metrics.listener).toEqual({ host: '0.0.0.0', port: 9464 });
  });

  it('keeps the token as its SHA-256 only', () => {
    const token = 'a-metrics-token-of-32-characters';
    const config = loadConfig({ METRICS_BEARER_TOKEN: token });

    expect(config.metrics.bearerTokenSha256).toEqual(hashSecret(token));
    expect(JSON.stringify(config)).not.toContain(token);
  });

  it('METRICS_ENABLED=false turns metrics off', () => {
    expect(loadConfig({ METRICS_ENABLED: 'false' }).metrics.enabled).toBe(false);
  });
});

describe('invalid metrics configuration', () => {
  it('short token is rejected', () => {
    const error = configErrorOf({ METRICS_BEARER_TOKEN: 'short-secret' });

    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]!.variable).toBe('METRICS_BEARER_TOKEN');
  });

  it('token error hides the value', () => {
    const error = configErrorOf({ METRICS_BEARER_TOKEN: 'short-secret' });

    expect(error.message).not.toContain('short-secret');
    expect(error.message).toContain('12 characters');
  });

  it('token with a space is rejected', () => {
    const error = configErrorOf({ METRICS_BEARER_TOKEN: 'a metrics token with spaces' });

    expect(error.issues[0]!.variable).toBe('METRICS_BEARER_TOKEN');
  });

  it('port out of range is rejected', () => {
    const error = configErrorOf({ METRICS_PORT: '70000' });

    expect(error.issues[0]).toEqual({ variable: 'METRICS_PORT', message: 'expected an integer from 0 to 65535, got "70000"' });
  });

  it('non-numeric port is rejected', () => {
    const error = configErrorOf({ METRICS_PORT: 'metrics' });

    expect(error.issues[0]!.variable).toBe('METRICS_PORT');
  });

  it('invalid METRICS_HOST is rejected', () => {
    const error = configErrorOf({ METRICS_PORT: '9464', METRICS_HOST: 'not a host' });

    expect(error.issues[0]!.variable).toBe('METRICS_HOST');
  });
});
