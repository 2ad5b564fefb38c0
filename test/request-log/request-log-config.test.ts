import { describe, expect, it } from 'vitest';
import { requestLogEnvironment, toRequestLogConfig } from '../../src/config/request-log.config.js';

function messagesFor(variables: Record<string, string>): Record<string, string> {
  const parsed = requestLogEnvironment.safeParse(variables);
  if (parsed.success) return {};
  return Object.fromEntries(parsed.error.issues.map((issue) => [String(issue.path[0]), issue.message]));
}

describe('request log configuration', () => {
  it('has defaults for every setting', () => {
    const config = toRequestLogConfig(requestLogEnvironment.parse({}));

    expect(config).toEqual({ queueMaxEntries: 50_000, batchSize: 500, flushIntervalMs: 1_000, stopTimeoutMs: 10_000 });
  });

  it('reads every variable', () => {
    const config = toRequestLogConfig(
      requestLogEnvironment.parse({
        REQUEST_LOG_QUEUE_MAX_ENTRIES: '20000',
        REQUEST_LOG_BATCH_SIZE: '250',
        REQUEST_LOG_FLUSH_INTERVAL_MS: '200',
        REQUEST_LOG_STOP_TIMEOUT_MS: '0',
      }),
    );

    expect(config).toEqual({ queueMaxEntries: 20_000, batchSize: 250, flushIntervalMs: 200, stopTimeoutMs: 0 });
  });

  it('rejects a batch size above the parameter limit', () => {
    expect(messagesFor({ REQUEST_LOG_BATCH_SIZE: '5000' }).REQUEST_LOG_BATCH_SIZE).toMatch(/from 1 to 2000/);
  });

  it('rejects a queue smaller than a batch', () => {
    expect(messagesFor({ REQUEST_LOG_QUEUE_MAX_ENTRIES: '100' }).REQUEST_LOG_QUEUE_MAX_ENTRIES).toMatch(/from 2000/);
  });

  it('rejects a flush interval that is not an integer', () => {
    expect(messagesFor({ REQUEST_LOG_FLUSH_INTERVAL_MS: '1s' }).REQUEST_LOG_FLUSH_INTERVAL_MS).toMatch(/got "1s"/);
  });

  it('reports every invalid variable at once', () => {
    const messages = messagesFor({ REQUEST_LOG_BATCH_SIZE: '0', REQUEST_LOG_STOP_TIMEOUT_MS: '-1' });

    expect(Object.keys(messages).sort()).toEqual(['REQUEST_LOG_BATCH_SIZE', 'REQUEST_LOG_STOP_TIMEOUT_MS']);
  });
});
